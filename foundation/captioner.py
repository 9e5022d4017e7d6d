"""Image captioner: BLIP through transformers, batched."""
from __future__ import annotations

from typing import Sequence

import torch


class BlipCaptioner:
    """`caption(images) -> list[str]`, one caption per PIL image, in order."""

    def __init__(self, model, processor, device: torch.device | str = "cpu", batch_size: int = 32,
                 max_new_tokens: int = 32, min_length: int = 5, model_id: str = ""):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.batch_size = batch_size
        # DnD's reference captioning uses these generation limits.
        self.max_new_tokens = max_new_tokens
        self.min_length = min_length
        self.model_id = model_id

    @classmethod
    def from_pretrained(cls, model_id: str, device: torch.device, dtype: torch.dtype, batch_size: int = 32):
        from transformers import BlipForConditionalGeneration, BlipProcessor

        processor = BlipProcessor.from_pretrained(model_id)
        model = BlipForConditionalGeneration.from_pretrained(model_id, torch_dtype=dtype)
        return cls(model, processor, device=device, batch_size=batch_size, model_id=model_id)

    @torch.inference_mode()
    def caption(self, images: Sequence) -> list[str]:
        captions: list[str] = []
        dtype = next(self.model.parameters()).dtype
        for start in range(0, len(images), self.batch_size):
            batch = [image.convert("RGB") for image in images[start:start + self.batch_size]]
            pixel_values = self.processor(images=batch, return_tensors="pt").pixel_values.to(self.device, dtype)
            tokens = self.model.generate(
                pixel_values=pixel_values, max_new_tokens=self.max_new_tokens, min_length=self.min_length
            )
            captions.extend(text.strip() for text in self.processor.batch_decode(tokens, skip_special_tokens=True))
        return captions
