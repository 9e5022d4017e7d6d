"""Sanity checks of faithfulness metrics (Oikarinen, Yan and Weng, ICML 2025, sections 4 and 5).

Missing-labels test: a share of the concept vector's positives is set to 0; extra-labels test: as many
negatives as that share of the positives are set to 1. Either way the concept vector got worse, so a metric
that deserves trust must score it lower. We run both at growing shares on real units with the probing
set's labels and call a test passed when, at every share,

- the score fell for at least `min_fall_share` (90%) of the units, and
- the score fell by at least `min_relative_fall` (10%) of the clean score, as the median over units.

The second condition is ours, after the paper's complaint that failing metrics "do not change their score
after massive changes to the concept labels": a metric that moves by 1% when half of the labels are wrong
cannot tell a half-wrong explanation from a right one in practice, even when it moves in the right direction.

Known-neuron test: on a classifier's output layer each unit's class is its true explanation. Every metric
scores every (unit, concept) pair; meta-AUPRC is the average precision of those scores at telling the true
pairs from the others, pooled over all units (so a metric whose scale drifts from unit to unit is punished),
and top-1 is the share of units whose true concept scores strictly highest (ties count as misses).

Pure functions of numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score

from .faithfulness import METRICS, ConceptVector

SHARES = (0.25, 0.5, 0.75)
DECISIVE_SHARE = 0.5
MIN_FALL_SHARE = 0.9
MIN_RELATIVE_FALL = 0.1
TESTS = ("missing", "extra")


def missing_labels(labels: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """`labels` with round(share x positives) of its positives, chosen at random, set to 0."""
    labels = np.asarray(labels, dtype=bool).copy()
    positives = np.flatnonzero(labels)
    count = int(round(share * len(positives)))
    labels[rng.choice(positives, size=count, replace=False)] = False
    return labels


def extra_labels(labels: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """`labels` with round(share x positives) of its negatives, chosen at random, set to 1."""
    labels = np.asarray(labels, dtype=bool).copy()
    negatives = np.flatnonzero(~labels)
    count = min(len(negatives), int(round(share * labels.sum())))
    labels[rng.choice(negatives, size=count, replace=False)] = True
    return labels


MANIPULATIONS = {"missing": missing_labels, "extra": extra_labels}


@dataclass
class LabelTestResult:
    metric: str
    test: str
    fall_share: dict[float, float] = field(default_factory=dict)  # share manipulated -> share of units whose score fell
    relative_fall: dict[float, float] = field(default_factory=dict)  # share manipulated -> median relative fall
    mean_score: dict[float, float] = field(default_factory=dict)  # share manipulated (0: clean) -> mean over units
    min_fall_share: float = MIN_FALL_SHARE
    min_relative_fall: float = MIN_RELATIVE_FALL

    @property
    def falls_monotonically(self) -> bool:
        means = [self.mean_score[share] for share in sorted(self.mean_score)]
        return all(later < earlier for earlier, later in zip(means, means[1:]))

    @property
    def passed(self) -> bool:
        return (self.falls_monotonically and self.fall_share[DECISIVE_SHARE] >= self.min_fall_share
                and self.relative_fall[DECISIVE_SHARE] >= self.min_relative_fall)


def rare_concept_rows(labels: np.ndarray, concept_share: float | None, rng: np.random.Generator) -> np.ndarray:
    """Image rows for one unit's test: every negative and enough random positives that they make up
    `concept_share` of the rows (all rows when None, or when the concept is already that rare)."""
    labels = np.asarray(labels, dtype=bool)
    if not concept_share or labels.mean() <= concept_share:
        return np.arange(len(labels))
    negatives, positives = np.flatnonzero(~labels), np.flatnonzero(labels)
    keep = max(2, int(round(concept_share * len(negatives) / (1 - concept_share))))
    return np.sort(np.concatenate([negatives, rng.choice(positives, size=min(keep, len(positives)), replace=False)]))


def label_tests(activations: np.ndarray, labels: np.ndarray, metrics=tuple(METRICS), shares=SHARES, seed: int = 0,
                concept_share: float | None = None, min_fall_share: float = MIN_FALL_SHARE,
                min_relative_fall: float = MIN_RELATIVE_FALL) -> dict[tuple[str, str], LabelTestResult]:
    """Both label tests for every metric.

    activations: (images, units) per-image activations; labels: (images, units) bool, the concept vector of
    each unit's concept. `concept_share`: test each unit on all negatives and a random subset of its
    positives making up that share of the images (see `rare_concept_rows`). Returns {(metric, test): result}.
    Each unit's manipulations are drawn once per (test, share) and shared by all metrics, so the metrics
    are compared on the same corrupted vectors.
    """
    activations = np.asarray(activations, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if activations.shape != labels.shape:
        raise ValueError(f"activations {activations.shape} and labels {labels.shape} differ in shape")
    if not labels.any(axis=0).all():
        raise ValueError("every unit's concept needs at least one positive image")
    if DECISIVE_SHARE not in shares:
        raise ValueError(f"the shares must include {DECISIVE_SHARE}")
    units = activations.shape[1]
    clean = {name: np.zeros(units) for name in metrics}
    corrupted = {(name, test, share): np.zeros(units) for name in metrics for test in TESTS for share in shares}
    for unit in range(units):
        rng = np.random.default_rng([seed, unit])
        rows = rare_concept_rows(labels[:, unit], concept_share, rng)
        unit_activations, unit_labels = activations[rows, unit], labels[rows, unit]
        for name in metrics:
            clean[name][unit] = METRICS[name](unit_activations, ConceptVector.from_labels(unit_labels))
        for test in TESTS:
            for share in shares:
                concept = ConceptVector.from_labels(MANIPULATIONS[test](unit_labels, share, rng))
                for name in metrics:
                    corrupted[(name, test, share)][unit] = METRICS[name](unit_activations, concept)

    results = {}
    for name in metrics:
        magnitude = np.abs(clean[name])
        for test in TESTS:
            result = LabelTestResult(name, test, min_fall_share=min_fall_share, min_relative_fall=min_relative_fall)
            result.mean_score[0.0] = float(clean[name].mean())
            for share in shares:
                scores = corrupted[(name, test, share)]
                fall = clean[name] - scores
                relative = np.divide(fall, magnitude, out=np.zeros(units), where=magnitude > 0)
                result.fall_share[share] = float(np.mean(fall > 1e-12))
                result.relative_fall[share] = float(np.median(relative))
                result.mean_score[share] = float(scores.mean())
            results[(name, test)] = result
    return results


def pair_scores(activations: np.ndarray, presence: np.ndarray, metric: str) -> np.ndarray:
    """(units, concepts) score of every unit against every concept's labels."""
    activations = np.asarray(activations, dtype=np.float64)
    presence = np.asarray(presence, dtype=bool)
    return np.array([[METRICS[metric](activations[:, u], ConceptVector.from_labels(presence[:, c]))
                      for c in range(presence.shape[1])] for u in range(activations.shape[1])])


@dataclass(frozen=True)
class KnownNeuronResult:
    metric: str
    meta_auprc: float
    top1: float
    units: int


def known_neuron_test(activations: np.ndarray, presence: np.ndarray, true_concepts: np.ndarray,
                      metrics=tuple(METRICS)) -> dict[str, KnownNeuronResult]:
    """Meta-AUPRC and top-1 share of every metric at finding each output unit's own class among all concepts."""
    true_concepts = np.asarray(true_concepts, dtype=np.int64)
    activations = np.asarray(activations, dtype=np.float64)
    if activations.shape[1] != len(true_concepts):
        raise ValueError(f"{activations.shape[1]} units but {len(true_concepts)} true concepts")
    truth = np.zeros((len(true_concepts), presence.shape[1]), dtype=bool)
    truth[np.arange(len(true_concepts)), true_concepts] = True
    results = {}
    for name in metrics:
        scores = pair_scores(activations, presence, name)
        # First means strictly above every other concept: a tie with a distractor is not a find.
        true_scores = scores[truth]
        others = np.where(truth, -np.inf, scores).max(axis=1)
        top1 = float(np.mean(true_scores > others))
        results[name] = KnownNeuronResult(name, float(average_precision_score(truth.ravel(), scores.ravel())), top1, len(true_concepts))
    return results
