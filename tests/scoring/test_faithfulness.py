"""Faithfulness metrics on small explicit vectors: each value checked by hand or against its definition."""
import numpy as np
import pytest

from scoring.faithfulness import (
    METRICS,
    RELIABLE_METRICS,
    ConceptVector,
    auc,
    auprc,
    correlation_top_and_random,
    cosine,
    f1,
    iou,
    pearson,
    precision,
    recall,
    top_active,
    top_and_random_rows,
)

# 20 images: the unit is strongly active on images 0-3, weakly on 4, silent elsewhere.
ACTIVATIONS = np.array([9.0, 8.0, 7.0, 6.0, 1.0] + [0.0] * 15)


def labels(*rows, n=20):
    vector = np.zeros(n, dtype=bool)
    vector[list(rows)] = True
    return ConceptVector.from_labels(vector)


def test_the_five_reliable_metrics_are_the_papers():
    assert set(RELIABLE_METRICS) == {"pearson", "cosine", "auprc", "f1", "iou"}
    assert set(METRICS) - set(RELIABLE_METRICS) == {"recall", "precision", "auc", "corr-top-random"}


def test_top_active_marks_the_top_share_and_breaks_ties_by_image_order():
    assert top_active(ACTIVATIONS, 0.1).tolist() == [True, True] + [False] * 18
    assert top_active(np.zeros(10), 0.2).tolist() == [True, True] + [False] * 8
    assert top_active(np.arange(3.0), 0.01).sum() == 1  # never empty


def test_a_concept_on_exactly_the_active_images_scores_high_on_every_metric():
    concept = labels(0, 1, 2, 3)
    assert pearson(ACTIVATIONS, concept) == pytest.approx(np.corrcoef(ACTIVATIONS, concept.values)[0, 1])
    assert pearson(ACTIVATIONS, concept) > 0.95
    assert cosine(ACTIVATIONS, concept) == pytest.approx(30 / (np.sqrt(231) * 2))
    # Unlike Pearson, cosine moves with a constant floor under the activations.
    assert cosine(ACTIVATIONS + 5.0, concept) < cosine(ACTIVATIONS, concept)
    assert pearson(ACTIVATIONS + 5.0, concept) == pytest.approx(pearson(ACTIVATIONS, concept))
    assert auprc(ACTIVATIONS, concept) == 1.0
    assert auc(ACTIVATIONS, concept) == 1.0
    # Top 20% = images 0-3: binary agreement is perfect.
    for metric in (f1, iou, recall, precision):
        assert metric(ACTIVATIONS, concept, top_share=0.2) == 1.0


def test_recall_and_precision_read_the_unit_as_the_truth():
    # Concept on images 0, 1 and 10-17; the unit's top 20% are images 0-3.
    concept = labels(0, 1, *range(10, 18))
    assert recall(ACTIVATIONS, concept, top_share=0.2) == 0.5  # half of the top images show it
    assert precision(ACTIVATIONS, concept, top_share=0.2) == 0.2  # the unit is active on 2 of its 10 images
    assert f1(ACTIVATIONS, concept, top_share=0.2) == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert iou(ACTIVATIONS, concept, top_share=0.2) == pytest.approx(2 / 12)


def test_undefined_similarities_score_zero_not_nan():
    empty = labels()
    assert pearson(ACTIVATIONS, empty) == 0.0
    assert cosine(ACTIVATIONS, empty) == 0.0
    assert auprc(ACTIVATIONS, empty) == 0.0
    assert auc(ACTIVATIONS, empty) == 0.5
    assert pearson(np.ones(20), labels(1, 2)) == 0.0


def test_continuous_values_feed_pearson_and_cosine_and_labels_the_rest():
    concept = ConceptVector.from_values(ACTIVATIONS / 9.0)  # labels: images >= 0.5 -> 0-3
    assert pearson(ACTIVATIONS, concept) == pytest.approx(1.0)
    assert cosine(ACTIVATIONS, concept) == pytest.approx(1.0)
    assert concept.labels.tolist() == [True] * 4 + [False] * 16
    assert auprc(ACTIVATIONS, concept) == 1.0


def test_top_and_random_looks_only_at_the_top_and_a_seeded_sample():
    rng = np.random.default_rng(1)
    activations = rng.normal(size=500)
    rows = top_and_random_rows(activations, top=20, random=20, seed=0)
    assert len(rows) == 40
    assert set(np.argsort(-activations)[:20]) <= set(rows)
    assert rows.tolist() == top_and_random_rows(activations, top=20, random=20, seed=0).tolist()
    # A label flipped on an image outside the sample leaves the score unchanged.
    concept = np.zeros(500, dtype=bool)
    concept[np.argsort(-activations)[:10]] = True
    outside = next(i for i in range(500) if i not in set(rows))
    flipped = concept.copy()
    flipped[outside] = True
    assert correlation_top_and_random(activations, ConceptVector.from_labels(concept)) == \
        correlation_top_and_random(activations, ConceptVector.from_labels(flipped))


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="does not match"):
        pearson(ACTIVATIONS[:5], labels(1))
