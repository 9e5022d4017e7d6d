"""The metric_sanity job: the sanity checks of `scoring.sanity` on real units of a stored network.

Each unit of the layer is tested against one concept of the probing set's labels: on a classifier's output
layer whose class names are probing-set concepts, the unit's own class; elsewhere the label whose images
raise the unit most (largest difference of mean activation, positives minus negatives, in units of the
unit's standard deviation), keeping units with at least `min_selectivity` of that difference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .faithfulness_jobs import layer_activations
from .jobs import ScoringError
from .sanity import KnownNeuronResult, LabelTestResult, known_neuron_test, label_tests

DEFAULT_MIN_SELECTIVITY = 0.5
# The paper's probing concepts are rare (an ImageNet class is 0.1% of its images); the synthetic set's
# are dense (25-35% of the images). Each unit is tested on every negative and a random subset of its
# concept's positives making up 5% of the images, the regime the metrics are used in; 0 turns it off.
DEFAULT_CONCEPT_SHARE = 0.05
# Known-neuron distractors: besides every labelled concept, "a and b" and "a or b" of every pair of labels
# (ands with at least this many images). A handful of labels, each a perfect match for one output unit,
# lets every metric find the truth; compound concepts are what a metric partial to specific (precision)
# or generic (recall) explanations falls for, as the paper's large concept sets are.
MIN_COMPOUND_IMAGES = 5


@dataclass
class SanityReport:
    layer: str
    units: list[int]
    concepts: list[str]
    unit_concepts_from: str
    label_results: dict[tuple[str, str], LabelTestResult]
    known_layer: str | None
    known_results: dict[str, KnownNeuronResult] | None
    known_skipped_reason: str = ""
    known_concepts: int = 0


def with_compound_concepts(presence: np.ndarray, min_images: int = MIN_COMPOUND_IMAGES) -> np.ndarray:
    """The labels followed by "a and b" (when shown by at least `min_images` images) and "a or b" of every pair."""
    presence = np.asarray(presence, dtype=bool)
    columns = [presence]
    for first in range(presence.shape[1]):
        for second in range(first + 1, presence.shape[1]):
            both = presence[:, first] & presence[:, second]
            if both.sum() >= min_images:
                columns.append(both[:, None])
            columns.append((presence[:, first] | presence[:, second])[:, None])
    return np.concatenate(columns, axis=1)


def standardised_differences(activations: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(units, concepts): mean activation on the concept's images minus elsewhere, over the unit's std."""
    presence = np.asarray(presence, dtype=bool)
    counts = presence.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        on = (activations.T @ presence) / counts
        off = (activations.T @ ~presence) / (len(presence) - counts)
        spread = activations.std(axis=0)[:, None]
        differences = (on - off) / spread
    return np.nan_to_num(differences, nan=-np.inf)


def class_concepts(network, concept_names: list[str], unit_count: int) -> list[int] | None:
    """Concept index of each output unit's class, when the layer is the network's classifier output."""
    classes = list(network.class_names or [])
    if len(classes) != unit_count or not all(name in concept_names for name in classes):
        return None
    return [concept_names.index(name) for name in classes]


def run_sanity(network: str, layer: str, probe: str, *, summary: str = "mean", known_layer: str | None = None,
               min_selectivity: float = DEFAULT_MIN_SELECTIVITY, concept_share: float | None = DEFAULT_CONCEPT_SHARE,
               seed: int = 0, compound_concepts: bool = True) -> SanityReport:
    """Label tests on the units of `layer`; the known-neuron test on `known_layer`, or on `layer` itself when it
    is the classifier output, or else on the network's last linear layer when that is."""
    network_row = _network(network)
    activations, probe_set = layer_activations(network_row, layer, probe, summary)
    if not probe_set.concept_names:
        raise ScoringError(f"probing set {probe!r} has no labelled concepts; the sanity checks need its labels")
    presence = probe_set.concept_presence().astype(bool)
    usable = presence.any(axis=0) & ~presence.all(axis=0)
    classes = class_concepts(network_row, probe_set.concept_names, activations.shape[1])
    if classes is not None:
        units = [u for u in range(activations.shape[1]) if usable[classes[u]]]
        unit_concepts = [classes[u] for u in units]
        concepts_from = "the unit's class"
    else:
        differences = standardised_differences(activations, presence)
        differences[:, ~usable] = -np.inf
        best = differences.argmax(axis=1)
        units = [u for u in range(activations.shape[1]) if differences[u, best[u]] >= min_selectivity]
        unit_concepts = [int(best[u]) for u in units]
        concepts_from = f"the label raising the unit most (at least {min_selectivity} standard deviations)"
    if not units:
        raise ScoringError(f"no unit of {network}/{layer} responds to a labelled concept of {probe!r} "
                           f"by {min_selectivity} standard deviations; lower --min-selectivity")
    results = label_tests(activations[:, units], presence[:, unit_concepts], seed=seed, concept_share=concept_share or None)

    known_name = known_layer or (layer if classes is not None else _last_linear_layer(network_row))
    known_results, reason, known_count = None, "", 0
    if known_name is None:
        reason = f"{network} has no linear output layer; name one with --known-layer"
    else:
        output = activations if known_name == layer else layer_activations(network_row, known_name, probe, summary)[0]
        truth = class_concepts(network_row, probe_set.concept_names, output.shape[1])
        if truth is None:
            reason = (f"{network}/{known_name} is not a classifier output whose {output.shape[1]} class names are "
                      f"concepts of {probe!r}")
            if known_layer:
                raise ScoringError(reason)
            known_name = None
        else:
            candidates = with_compound_concepts(presence) if compound_concepts else presence
            known_results = known_neuron_test(output, candidates, np.array(truth))
            known_count = candidates.shape[1]
    return SanityReport(layer, units, [probe_set.concept_names[c] for c in unit_concepts], concepts_from, results,
                        known_name, known_results, reason, known_count)


def _network(name: str):
    from explain.models import Network

    try:
        return Network.objects.get(name=name)
    except Network.DoesNotExist:
        known = ", ".join(Network.objects.values_list("name", flat=True)) or "none"
        raise ScoringError(f"no network named {name!r} (known: {known})") from None


def _last_linear_layer(network) -> str | None:
    import torch

    from explain.networks import NetworkError, load_network

    try:
        model, _ = load_network(network)
    except NetworkError as error:
        raise ScoringError(str(error)) from error
    linear = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    return linear[-1] if linear else None
