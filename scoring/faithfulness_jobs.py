"""Faithfulness scoring job: every explanation of a layer against its unit's activations over a probing set.

A plain function; `score_explanations --metric pearson --concepts labels --probe P` wraps it. Scores are
stored as MetricScore rows named `<metric>@<concept source>` (e.g. `auprc@labels`), beside the text and
simulation metrics, so the comparison table and the agreement analysis pick them up.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .concept_vectors import CONCEPT_SOURCES, clip_similarities, concept_from_labels, concept_from_similarity, named_concepts
from .faithfulness import ACTIVATION_TOP_SHARE, METRICS
from .jobs import ScoringError, layer_explanations, mean_per_method

FAITHFULNESS_METRICS = tuple(METRICS)
AUTOMATIC_SOURCES = ("labels", "clip", "clip-binary")


def metric_key(metric: str, source: str) -> str:
    return f"{metric}@{source}"


def layer_activations(network, layer: str, probe: str, summary: str = "mean"):
    """((images, units) per-image activations, the StoredProbeSet) of a network's layer over a probing set."""
    from explain.activations import ActivationError, get_activation_cache
    from explain.models import ProbeDataset
    from explain.networks import NetworkError
    from explain.probes import get_probe_set

    try:
        dataset = ProbeDataset.objects.get(name=probe)
    except ProbeDataset.DoesNotExist:
        known = ", ".join(ProbeDataset.objects.values_list("name", flat=True)) or "none"
        raise ScoringError(f"no probing dataset named {probe!r} (known: {known})") from None
    try:
        cache = get_activation_cache(network, dataset, layer, summary=summary)
    except (ActivationError, NetworkError) as error:
        raise ScoringError(str(error)) from error
    return np.asarray(cache.summaries(), dtype=np.float64), get_probe_set(dataset)


def score_faithfulness(network: str, layer: str, probe: str, *, metrics: Sequence[str] = FAITHFULNESS_METRICS,
                       source: str = "labels", methods: Sequence[str] = (), summary: str = "mean", clip=None) -> dict:
    """Score and store every explanation of the layer; returns {"means": {metric key: {method: mean}}, "skipped": [...]}.

    source "labels": explanations naming none of the probing set's labelled concepts are skipped (listed);
    "clip" / "clip-binary": the foundation CLIP adapter (or `clip`) scores every probing image against every text.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ScoringError(f"unknown faithfulness metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    if source not in AUTOMATIC_SOURCES:
        raise ScoringError(f"unknown concept source {source!r}; choose from {', '.join(AUTOMATIC_SOURCES)}"
                           + (" (people's concept vectors come from a labelling study)" if source == "people" else ""))
    layer_row, rows = layer_explanations(network, layer, methods)
    activations, probe_set = layer_activations(layer_row.network, layer_row.name, probe, summary)
    outside = sorted({row.neuron.unit for row in rows if row.neuron.unit >= activations.shape[1]})
    if outside:
        raise ScoringError(f"{layer} has {activations.shape[1]} recorded units; explanations name units up to {outside[-1]}")

    concepts, skipped = {}, []
    if source == "labels":
        if not probe_set.concept_names:
            raise ScoringError(f"probing set {probe!r} has no labelled concepts; use --concepts clip")
        presence = probe_set.concept_presence()
        for row in rows:
            concept = concept_from_labels(row.text, probe_set.concept_names, presence)
            if concept is None:
                skipped.append(row)
            else:
                concepts[row.pk] = (concept, " + ".join(probe_set.concept_names[i] for i in named_concepts(row.text, probe_set.concept_names)))
    else:
        if clip is None:
            import foundation

            clip = foundation.get_clip()
        texts = sorted({row.text for row in rows})
        images = [probe_set.load_image(i) for i in range(len(probe_set))]
        similarity = dict(zip(texts, clip_similarities(clip, images, texts)))
        for row in rows:
            concepts[row.pk] = (concept_from_similarity(similarity[row.text], binary=source == "clip-binary"), row.text)

    scored = [row for row in rows if row.pk in concepts]
    if not scored:
        raise ScoringError(f"no explanation of {network}/{layer} names a labelled concept of {probe!r}; use --concepts clip")
    model_name = getattr(clip, "name", "") if clip is not None else probe
    values = {metric: [] for metric in metrics}
    for row in scored:
        concept, reference = concepts[row.pk]
        for metric in metrics:
            values[metric].append(METRICS[metric](activations[:, row.neuron.unit], concept))
    _store(scored, values, concepts, source=source, model_name=model_name, probe=probe, summary=summary)
    return {
        "means": {metric_key(m, source): mean_per_method(scored, values[m]) for m in metrics},
        "skipped": [(row.method.name, row.neuron.unit, row.text) for row in skipped],
    }


def _store(rows, values, concepts, *, source, model_name, probe, summary):
    from django.db import transaction

    from .models import MetricScore

    with transaction.atomic():
        for index, row in enumerate(rows):
            concept, reference = concepts[row.pk]
            for metric, scores in values.items():
                MetricScore.objects.update_or_create(
                    explanation=row, metric=metric_key(metric, source),
                    defaults={
                        "value": float(scores[index]), "reference": reference, "model_name": model_name,
                        "details": {"probe": probe, "summary": summary, "concept_source": CONCEPT_SOURCES[source],
                                    "positives": int(concept.labels.sum()), "images": len(concept),
                                    "activation_top_share": ACTIVATION_TOP_SHARE},
                    },
                )
