"""Ablation job: every asked unit of a layer zeroed in turn on a labelled probing set; results stored per unit."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from django.db import transaction
from tqdm import tqdm

from scoring.ablation import ablation_effect, accuracy_per_class, predictions
from explain.lookups import named
from explain.models import Layer, Neuron, ProbeDataset

from .models import AblationResult


class AblationError(ValueError):
    """An ablation request that cannot be carried out; the message says what is wrong."""


def probe_targets(probe_set, class_names: Sequence[str]) -> np.ndarray:
    """Multi-label presence (n, classes) when the network's outputs are the probe's concepts,
    class indices (n,) when they are the probe's classes."""
    class_names = list(class_names)
    if not class_names:
        raise AblationError("the network has no class names, so its outputs cannot be matched to the probe's labels")
    if class_names == list(probe_set.concept_names):
        return probe_set.concept_presence().astype(bool)
    if class_names == list(getattr(probe_set, "class_names", [])):
        indices = probe_set.class_indices()
        missing = [row for row, index in enumerate(indices) if index is None]
        if missing:
            raise AblationError(f"probe {probe_set.name!r}: {len(missing)} images have no class (first row {missing[0]})")
        return np.asarray(indices, dtype=np.int64)
    raise AblationError(
        f"probe {probe_set.name!r} is labelled neither with the network's {len(class_names)} classes nor with them as concepts"
    )


def probe_inputs(probe_set, preprocess) -> torch.Tensor:
    return torch.stack([preprocess(probe_set.load_image(row)) for row in range(len(probe_set.image_ids))])


def ablate_units(network: str, layer: str, units: Sequence[int] | None, probe: str, *, most_hurt: int = 5,
                 show_progress: bool = True) -> list[AblationResult]:
    from explain.networks import load_network
    from explain.probes import get_probe_set

    layer_row = named(Layer.objects.select_related("network").filter(network__name=network), layer,
                      what=f"layer of network {network!r}", error=AblationError)
    dataset = named(ProbeDataset, probe, what="probing dataset", error=AblationError)
    model, preprocess = load_network(layer_row.network)
    probe_set = get_probe_set(dataset)
    class_names = list(layer_row.network.class_names)
    targets = probe_targets(probe_set, class_names)
    inputs = probe_inputs(probe_set, preprocess)
    unit_count = layer_row.unit_count or _unit_count(model, layer, inputs[:1])
    units = list(range(unit_count)) if not units else list(units)
    bad = [u for u in units if not 0 <= u < unit_count]
    if bad:
        raise AblationError(f"layer {layer!r} has {unit_count} units; no unit {bad[0]}")
    baseline = accuracy_per_class(predictions(model, inputs, targets.ndim == 2), targets, len(class_names))
    effects = [ablation_effect(model, layer, [u], inputs, targets, len(class_names), baseline=baseline)
               for u in tqdm(units, desc=f"ablating {network}/{layer}", disable=not show_progress)]
    with transaction.atomic():
        results = []
        for effect in effects:
            neuron, _ = Neuron.objects.get_or_create(layer=layer_row, unit=effect.units[0])
            per_class = {
                name: {"n": int(n), "baseline": _num(b), "ablated": _num(a), "drop": _num(b - a)}
                for name, n, b, a in zip(class_names, effect.counts, effect.baseline, effect.ablated)
            }
            result, _ = AblationResult.objects.update_or_create(
                neuron=neuron, dataset=dataset,
                defaults=dict(n_images=len(inputs), baseline_accuracy=effect.baseline_accuracy, ablated_accuracy=effect.ablated_accuracy,
                              per_class=per_class, most_hurt_classes=[list(x) for x in effect.most_hurt(class_names, most_hurt)]),
            )
            results.append(result)
    return results


def _num(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _unit_count(model, layer: str, sample: torch.Tensor) -> int:
    captured = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: captured.setdefault("shape", o.shape))
    with torch.inference_mode():
        model(sample)
    handle.remove()
    return int(captured["shape"][1])
