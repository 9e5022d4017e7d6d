"""Vision-language embedder: open_clip, image and text embeddings in one normalised space."""
from __future__ import annotations

from typing import Sequence

import torch


class ClipEmbedder:
    """`encode_images(images)` and `encode_texts(texts)` -> L2-normalised float32 tensors on CPU."""

    def __init__(self, model, preprocess, tokenizer, device: torch.device | str = "cpu", batch_size: int = 256,
                 name: str = ""):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.name = name

    @classmethod
    def from_pretrained(cls, model_name: str, pretrained: str, device: torch.device, batch_size: int = 256):
        import open_clip

        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained, device=device)
        tokenizer = open_clip.get_tokenizer(model_name)
        return cls(model, preprocess, tokenizer, device=device, batch_size=batch_size, name=f"{model_name}/{pretrained}")

    def _dtype(self):
        return next(self.model.parameters()).dtype

    @torch.inference_mode()
    def encode_images(self, images: Sequence) -> torch.Tensor:
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(image.convert("RGB")) for image in images[start:start + self.batch_size]])
            features = self.model.encode_image(batch.to(self.device, self._dtype()))
            chunks.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, 0)

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start:start + self.batch_size])).to(self.device)
            features = self.model.encode_text(tokens)
            chunks.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, 0)
