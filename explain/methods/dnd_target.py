"""Activations of the target network's units on new images (crops, generated images), in batches."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


class TargetActivations:
    """`activations(images) -> (n_images, n_units)` spatial-mean activations of one layer."""

    def __init__(self, model: torch.nn.Module, preprocess, layer_name: str, batch_size: int = 64,
                 summary: str = "mean"):
        self.model = model.eval()
        self.summary = summary
        self.preprocess = preprocess
        self.layer_name = layer_name
        self.batch_size = batch_size

    @classmethod
    def for_network(cls, network, layer_name: str, batch_size: int = 64):
        from foundation.device import pick_device
        from explain.networks import load_network

        model, preprocess = load_network(network)
        return cls(model.to(pick_device()), preprocess, layer_name, batch_size=batch_size)

    def activations(self, images: Sequence) -> np.ndarray:
        """The same per-image summary (spatial mean) the engine records for probe images."""
        from explain.activations import unit_activations

        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(image.convert("RGB")) for image in images[start:start + self.batch_size]])
            chunks.append(unit_activations(self.model, self.layer_name, batch, summary=self.summary,
                                           batch_size=self.batch_size))
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
