"""Shuffled-label negative control.

Each neuron receives the explanation that a source method gave to a randomly
chosen *other* neuron of the same layer. The descriptions look exactly like
real ones, but they are unrelated to what the neuron does, so attentive raters
should rate them low; studies use them to catch careless raters.

The draw is seeded by (seed, layer name), so the same run gives the same
control whatever the database ids are.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput


@dataclass
class ShuffledControlParams:
    source: str = "netdissect"  # method whose explanations are handed out
    seed: int = 0


def layer_rng(seed: int, layer_name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(layer_name.encode("utf-8"))])


def draw_donors(targets: Sequence[int], donors: Sequence[int], rng: np.random.Generator) -> dict[int, int]:
    """For each target unit, a donor unit drawn uniformly from `donors` other than the target itself."""
    donors = sorted(set(int(d) for d in donors))
    if len(donors) < 2:
        raise ValueError(f"need explanations of at least 2 units to shuffle, found {len(donors)}")
    position = {unit: i for i, unit in enumerate(donors)}
    assignment = {}
    for target in targets:
        own = position.get(int(target))
        if own is None:
            assignment[int(target)] = donors[int(rng.integers(len(donors)))]
            continue
        pick = int(rng.integers(len(donors) - 1))
        assignment[int(target)] = donors[pick + 1 if pick >= own else pick]
    return assignment


def source_explanations(layer, method_name: str) -> dict[int, str]:
    """{unit: first-ranked text} of `method_name` for the neurons of `layer`."""
    from explain.models import Explanation

    rows = Explanation.objects.filter(method__name=method_name, neuron__layer=layer, rank=1).values_list(
        "neuron__unit", "text"
    )
    return dict(rows)


@register
class ShuffledControl(ExplanationMethod):
    name = "shuffled-control"
    display_name = "Shuffled-label control"
    kind = "control"
    description = "Negative control: each neuron gets another method's explanation of a random other neuron of its layer."
    params_class = ShuffledControlParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        params = self.parse_params(inputs.params)
        texts = source_explanations(inputs.layer, params.source)
        if len(texts) < 2:
            raise ValueError(
                f"shuffled-control needs explanations from method {params.source!r} for layer {inputs.layer}; "
                f"found {len(texts)} (run {params.source!r} on this layer first)"
            )
        donors = draw_donors(units, list(texts), layer_rng(params.seed, inputs.layer.name))
        return [
            ExplanationRecord(
                unit=int(unit),
                text=texts[donor],
                details={"source_method": params.source, "donor_unit": donor, "params": asdict(params)},
            )
            for unit, donor in donors.items()
        ]
