"""A cheap method for the distributed-job tests, imported by the test's Celery worker (`-I`).

It needs no activations; it sleeps per unit so a test can kill a worker mid-chunk,
and leaves a marker file per unit it starts.
"""
import os
import time
from dataclasses import dataclass
from pathlib import Path

from explain.methods import register
from explain.methods.base import ExplanationMethod, ExplanationRecord


@dataclass
class SlowUnitsParams:
    marker_dir: str = ""
    seconds_per_unit: float = 0.0


@register
class SlowUnitsMethod(ExplanationMethod):
    name = "test-slow-units"
    display_name = "Slow units (test)"
    kind = "control"
    needs_activations = False
    params_class = SlowUnitsParams

    def explain(self, inputs, units):
        markers = Path(inputs.params.get("marker_dir") or os.environ.get("NEURONEVAL_TEST_MARKERS", "."))
        records = []
        for unit in units:
            (markers / f"started-{unit}-{os.getpid()}").touch()
            time.sleep(float(inputs.params.get("seconds_per_unit", 0)))
            records += [ExplanationRecord(unit=unit, text=f"unit {unit} first", rank=1),
                        ExplanationRecord(unit=unit, text=f"unit {unit} second", rank=2)]
        return records


@register
class TopImageMethod(ExplanationMethod):
    """Reads the recorded activations: each unit is labelled with its most activating probe image."""

    name = "test-top-image"
    display_name = "Top image (test)"
    kind = "control"

    def explain(self, inputs, units):
        top = inputs.activations.top_indices(1)
        return [ExplanationRecord(unit=unit, text=f"top image {inputs.activations.image_ids[top[unit, 0]]}")
                for unit in units]
