"""Where the LLM explainers' and the simulator's worked examples come from, recorded with the result.

First choice: units a researcher labelled by hand in the admin (`FewShotExample`, the paper
hand-labels 2-3 a layer). Otherwise: another method's first-rank explanations of units of the same
layer. Never the unit being explained.
"""
from __future__ import annotations

from dataclasses import dataclass

from explain.models import Explanation, FewShotExample


@dataclass
class FewShotChoice:
    source: str  # "hand-labelled", "method:<name>" or "none"
    units: list[tuple[int, str]]  # (unit, explanation)


def choose_few_shot_units(layer, kind: str, exclude_unit: int, count: int, fallback_method: str = "") -> FewShotChoice:
    hand = list(
        FewShotExample.objects.filter(layer=layer, kind=kind).exclude(unit=exclude_unit).order_by("unit")[:count]
    )
    if hand:
        return FewShotChoice("hand-labelled", [(example.unit, example.explanation) for example in hand])
    if fallback_method:
        rows = (
            Explanation.objects.filter(neuron__layer=layer, method__name=fallback_method, rank=1)
            .exclude(neuron__unit=exclude_unit)
            .select_related("neuron")
            .order_by("neuron__unit")[:count]
        )
        units = [(row.neuron.unit, row.text) for row in rows]
        if units:
            return FewShotChoice(f"method:{fallback_method}", units)
    return FewShotChoice("none", [])
