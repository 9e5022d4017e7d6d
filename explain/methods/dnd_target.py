"""Activations of the target network's units on new images (crops, generated images), in batches."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


class TargetActivations:
    """`activations(images) -> (n_images, n_units)` spatial-mean activations of one layer."""

    def __init__(self, model: torch.nn.Module, preprocess, layer_name: str, batch_size: int = 64):
        self.model = model.eval()
        self.preprocess = preprocess
        self.layer_name = layer_name
        self.batch_size = batch_size
        self.device = next(model.parameters()).device

    @classmethod
    def for_network(cls, network, layer_name: str, batch_size: int = 64):
        from explain.networks import load_network

        model, preprocess = load_network(network)
        return cls(model, preprocess, layer_name, batch_size=batch_size)

    @torch.inference_mode()
    def activations(self, images: Sequence) -> np.ndarray:
        if not len(images):
            return np.zeros((0, 0), dtype=np.float32)
        captured = []

        def keep_summary(module, inputs, output):
            if output.dim() == 4:  # conv channels: spatial mean
                captured.append(output.float().mean(dim=(2, 3)).cpu())
            elif output.dim() == 3:  # transformer tokens: the class token
                captured.append(output[:, 0].float().cpu())
            else:
                captured.append(output.float().cpu())

        hook = self.model.get_submodule(self.layer_name).register_forward_hook(keep_summary)
        try:
            for start in range(0, len(images), self.batch_size):
                batch = torch.stack([self.preprocess(image.convert("RGB")) for image in images[start:start + self.batch_size]])
                self.model(batch.to(self.device))
        finally:
            hook.remove()
        return torch.cat(captured).numpy()
