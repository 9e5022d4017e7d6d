"""The one small interface every explanation method implements.

A method reads the cached activations of one layer over one probing set,
asks `foundation` for any pretrained model it needs (never loading one
itself), and returns plain records. `explain.services.store_explanations` turns
them into `Explanation` rows, updating earlier ones in place.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np


class ActivationCache(Protocol):
    """What the one-pass recorder leaves behind for one (network, probe set, layer)."""

    layer_name: str
    unit_count: int
    image_ids: Sequence[int]  # ProbeImage primary keys, in the order of the rows below

    def summaries(self) -> np.ndarray:
        """(n_images, n_units) float32: the per-image scalar summary of every unit."""

    def maps(self) -> np.ndarray:
        """(n_images, n_units, h, w) activation maps (may be a read-only memmap)."""

    def top_indices(self, k: int) -> np.ndarray:
        """(n_units, k) row indices into image_ids, most activating first."""


class ProbeSet(Protocol):
    """A probing dataset as methods see it."""

    name: str
    image_ids: Sequence[int]
    concept_names: Sequence[str]
    concept_categories: Sequence[str]  # same length as concept_names

    def load_image(self, row: int):
        """PIL image of row `row`."""

    def concept_masks(self, row: int) -> dict[int, np.ndarray]:
        """{concept index: boolean (H, W) mask} of the concepts present in image `row`."""

    def concept_presence(self) -> np.ndarray:
        """(n_images, n_concepts) float matrix: 1 where the concept is annotated in the image."""


@dataclass
class MethodInput:
    network: Any  # explain.models.Network
    layer: Any  # explain.models.Layer
    probe: ProbeSet
    activations: ActivationCache
    foundation: Any = None  # foundation registry, for methods that need pretrained models
    params: dict = field(default_factory=dict)
    progress: Any = None  # callable(done, total, message) or None


@dataclass
class ExplanationRecord:
    unit: int
    text: str
    rank: int = 1
    score: float | None = None
    score_name: str = ""
    details: dict = field(default_factory=dict)
    source_row: int | None = None  # 1-based data row of an imported file


@dataclass
class NoParams:
    """The hyperparameters of a method that has none."""


class ExplanationMethod(ABC):
    name: str = ""
    display_name: str = ""
    kind: str = "generated"  # explain.models.Method.Kind value
    description: str = ""
    params_class: type = NoParams  # dataclass of the method's hyperparameters, with the paper's defaults
    extra_params: tuple[str, ...] = ()  # names the method reads from the params itself (objects handed in by code)
    needs_activations: bool = True  # False: the method reads only stored rows (a chunked job then records nothing)

    def parse_params(self, given: dict):
        """`given` as an instance of `params_class`; raises ParamError naming the param on a typo or a wrong type."""
        from .params import parse_params

        return parse_params(self.params_class, given, self.name, self.extra_params)

    def annotated_probe(self, inputs: MethodInput):
        """The probing set, refused unless it is annotated with concepts (the methods that match concept masks)."""
        if not len(inputs.probe.concept_names):
            raise ValueError(f"{self.display_name} needs an annotated probing set; {inputs.probe.name!r} has no concepts")
        return inputs.probe

    @abstractmethod
    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        """Explanations for `units` of `inputs.layer`; several ranked records per unit allowed."""
