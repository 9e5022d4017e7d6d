"""The CoSy scoring job: generate images from each explanation, compare the unit on them with control images.

Stored as MetricScore rows `cosy-auc` and `cosy-mad` (one each per explanation; a rerun replaces them).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Sequence

import numpy as np
import torch

from .cosy import CosyParams, cosy_auc, cosy_mad, prompts_for
from .faithfulness_jobs import layer_activations
from .jobs import ScoringError, layer_explanations

COSY_METRICS = ("cosy-auc", "cosy-mad")


def score_cosy(network: str, layer: str, probe: str, *, methods: Sequence[str] = (), params: CosyParams | None = None,
               text_to_image=None, model_and_preprocess=None) -> dict[str, dict[str, float]]:
    """CoSy AUC and MAD of every first-rank explanation of the layer; returns {metric: {method: mean}}."""
    from django.db import transaction

    from explain.activations import unit_activations
    from explain.networks import load_network

    from .jobs import mean_per_method
    from .models import MetricScore

    params = params or CosyParams()
    if params.images_per_explanation < 1 or params.control_images < 1:
        raise ScoringError("CoSy needs at least one generated and one control image per explanation")
    layer_row, rows = layer_explanations(network, layer, methods)
    rows = [row for row in rows if row.rank == 1]
    control_all, probe_set = layer_activations(layer_row.network, layer_row.name, probe, params.summary)
    rng = np.random.default_rng(params.seed)
    control_rows = np.sort(rng.choice(len(probe_set), size=min(params.control_images, len(probe_set)), replace=False))
    if text_to_image is None:
        import foundation

        text_to_image = foundation.get_text_to_image()
    model, preprocess = model_and_preprocess or load_network(layer_row.network)

    generated_activations = {}
    for text in sorted({row.text for row in rows}):
        prompts = prompts_for(text, params)
        images = text_to_image.generate(prompts, [params.seed + i for i in range(len(prompts))])
        batch = torch.stack([preprocess(image.convert("RGB")) for image in images])
        generated_activations[text] = unit_activations(model, layer_row.name, batch, summary=params.summary)

    values = {metric: [] for metric in COSY_METRICS}
    for row in rows:
        unit = row.neuron.unit
        generated, control = generated_activations[row.text][:, unit], control_all[control_rows, unit]
        values["cosy-auc"].append(cosy_auc(generated, control))
        values["cosy-mad"].append(cosy_mad(generated, control))
    details = {**asdict(params), "probe": probe, "control_rows": len(control_rows)}
    model_name = getattr(text_to_image, "model_id", "") or type(text_to_image).__name__
    with transaction.atomic():
        for index, row in enumerate(rows):
            for metric in COSY_METRICS:
                MetricScore.objects.update_or_create(
                    explanation=row, metric=metric,
                    defaults={"value": values[metric][index], "reference": prompts_for(row.text, params)[0],
                              "model_name": model_name, "details": details},
                )
    return {metric: mean_per_method(rows, values[metric]) for metric in COSY_METRICS}
