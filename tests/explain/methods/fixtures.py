"""Small in-memory stand-ins for a probing set and an activation cache, built in tests.

They follow the `ProbeSet` and `ActivationCache` protocols of explain/methods/base.py,
so the methods see exactly what the real recorder and probe loaders give them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class ArrayProbeSet:
    name: str
    concept_names: list[str]
    concept_categories: list[str]
    masks: list[dict[int, np.ndarray]]  # per image {concept index: bool (H, W)}
    image_ids: list[int] = field(default_factory=list)

    def __post_init__(self):
        if not self.image_ids:
            self.image_ids = list(range(1000, 1000 + len(self.masks)))

    def load_image(self, row):
        """An RGB picture painting each present concept's mask in its own grey level."""
        first = next(iter(self.masks[row].values()), np.zeros((16, 16), bool))
        pixels = np.zeros(first.shape + (3,), dtype=np.uint8)
        for concept, mask in self.masks[row].items():
            pixels[mask] = 40 + 20 * concept
        return Image.fromarray(pixels)

    def concept_masks(self, row):
        return self.masks[row]

    def concept_presence(self):
        presence = np.zeros((len(self.masks), len(self.concept_names)))
        for row, masks in enumerate(self.masks):
            for concept, mask in masks.items():
                presence[row, concept] = float(np.any(mask))
        return presence


@dataclass
class ArrayActivationCache:
    layer_name: str
    activation_maps: np.ndarray  # (n_images, n_units, h, w)
    image_ids: list[int]

    @property
    def unit_count(self):
        return self.activation_maps.shape[1]

    def summaries(self):
        return self.activation_maps.mean(axis=(2, 3)).astype(np.float32)

    def maps(self):
        return self.activation_maps

    def top_indices(self, k):
        return np.argsort(-self.summaries(), axis=0, kind="stable")[:k].T


def blocks_probe(n_images=200, size=32, seed=0) -> ArrayProbeSet:
    """Four concepts of three categories placed as random 8x8 blocks, plus a background colour.

    'disc' (shape) is rare on purpose: it appears in 12 images only, so its pixels are
    a bit fewer than the top 0.5% at which Network Dissection thresholds a unit.
    """
    rng = np.random.default_rng(seed)
    names = ["grey", "red", "stripes", "disc"]
    categories = ["colour", "colour", "texture", "shape"]
    masks = []
    disc_images = set(rng.choice(n_images, size=min(12, n_images), replace=False).tolist())
    for image in range(n_images):
        image_masks = {}
        taken = np.zeros((size, size), bool)
        for concept in (1, 2, 3):
            if concept == 3 and image not in disc_images:
                continue
            if concept != 3 and rng.random() < 0.5:
                continue
            y, x = rng.integers(0, size // 8, size=2) * 8
            mask = np.zeros((size, size), bool)
            mask[y : y + 8, x : x + 8] = True
            mask &= ~taken
            if mask.any():
                image_masks[concept] = mask
                taken |= mask
        image_masks[0] = ~taken
        masks.append(image_masks)
    return ArrayProbeSet("blocks", names, categories, masks)


def maps_firing_on(probe: ArrayProbeSet, concept: int, map_size=8, n_units=6, noise=0.1, seed=1) -> np.ndarray:
    """(n_images, n_units, map_size, map_size): unit 0 = the concept's mask pooled to map size plus noise; others noise."""
    rng = np.random.default_rng(seed)
    maps = rng.normal(0.0, noise, size=(len(probe.masks), n_units, map_size, map_size)).astype(np.float32)
    for row, masks in enumerate(probe.masks):
        if concept in masks:
            mask = masks[concept].astype(np.float32)
            factor = mask.shape[0] // map_size
            pooled = mask.reshape(map_size, factor, map_size, factor).mean(axis=(1, 3))
            maps[row, 0] += pooled
    return maps


def shared_data_dir() -> Path | None:
    """The project's real data: $NEURONEVAL_SHARED_DATA, else the first shared/data folder above the tests."""
    if os.environ.get("NEURONEVAL_SHARED_DATA"):
        return Path(os.environ["NEURONEVAL_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def maps_of_concepts(probe, concepts: list[str], map_size=16, noise=0.1, seed=2) -> np.ndarray:
    """(n_images, len(concepts), map_size, map_size): unit k is concept k's mask pooled to map size, plus noise."""
    rng = np.random.default_rng(seed)
    n_images = len(probe.image_ids)
    maps = rng.normal(0.0, noise, size=(n_images, len(concepts), map_size, map_size)).astype(np.float32)
    indices = [list(probe.concept_names).index(name) for name in concepts]
    for row in range(n_images):
        masks = probe.concept_masks(row)
        for unit, concept in enumerate(indices):
            if concept in masks:
                mask = masks[concept].astype(np.float32)
                factor = mask.shape[0] // map_size
                maps[row, unit] += mask.reshape(map_size, factor, map_size, factor).mean(axis=(1, 3))
    return maps
