"""Label manipulations and the sanity verdicts on simulated units whose true concept is known."""
import numpy as np
import pytest

from scoring.faithfulness import RELIABLE_METRICS
from scoring.sanity import extra_labels, known_neuron_test, label_tests, missing_labels


def simulated_units(n_images=600, n_units=12, frequency=0.1, seed=0):
    """Units that fire (noisily) exactly on their concept's images."""
    rng = np.random.default_rng(seed)
    labels = rng.random((n_images, n_units)) < frequency
    activations = labels * rng.uniform(1.0, 2.0, size=labels.shape) + rng.normal(0, 0.2, size=labels.shape)
    return activations, labels


def test_missing_labels_drops_the_asked_share_of_positives_only():
    labels = np.array([True] * 8 + [False] * 12)
    corrupted = missing_labels(labels, 0.25, np.random.default_rng(0))
    assert corrupted.sum() == 6
    assert not (corrupted & ~labels).any()


def test_extra_labels_adds_the_asked_share_of_positives_among_negatives():
    labels = np.array([True] * 8 + [False] * 12)
    corrupted = extra_labels(labels, 0.5, np.random.default_rng(0))
    assert corrupted.sum() == 12
    assert corrupted[labels].all()
    # Never more than there are negatives.
    assert extra_labels(np.array([True, True, False]), 5.0, np.random.default_rng(0)).all()


def test_reliable_metrics_pass_both_tests_and_recall_and_precision_each_fail_one():
    activations, labels = simulated_units()
    results = label_tests(activations, labels)
    for metric in RELIABLE_METRICS:
        assert results[(metric, "missing")].passed, results[(metric, "missing")]
        assert results[(metric, "extra")].passed, results[(metric, "extra")]
    # Recall (share of the top images showing the concept) cannot see labels added elsewhere ...
    assert not results[("recall", "extra")].passed
    assert results[("recall", "missing")].passed
    # ... and precision (share of the concept's images the unit fires on) cannot see labels removed at random.
    assert not results[("precision", "missing")].passed
    assert results[("precision", "extra")].relative_fall[0.5] > 0.1


def test_the_verdict_needs_a_falling_mean_and_a_fall_in_most_units_at_half():
    activations, labels = simulated_units()
    result = label_tests(activations, labels, metrics=("pearson",))[("pearson", "missing")]
    assert set(result.fall_share) == {0.25, 0.5, 0.75}
    assert result.relative_fall[0.75] > result.relative_fall[0.25] > 0
    assert result.falls_monotonically and list(result.mean_score) == [0.0, 0.25, 0.5, 0.75]
    strict = label_tests(activations, labels, metrics=("pearson",), min_relative_fall=0.99)[("pearson", "missing")]
    assert not strict.passed


def test_label_tests_refuse_units_without_positives():
    activations, labels = simulated_units(n_units=3)
    labels[:, 1] = False
    with pytest.raises(ValueError, match="at least one positive"):
        label_tests(activations, labels)


def test_known_neurons_are_found_by_the_reliable_metrics():
    # Four classes, each output unit fires on its own class's images.
    rng = np.random.default_rng(3)
    presence = rng.random((400, 4)) < 0.25
    activations = presence * 2.0 + rng.normal(0, 0.3, size=presence.shape)
    results = known_neuron_test(activations, presence, np.arange(4), metrics=("pearson", "auprc", "recall"))
    assert results["pearson"].top1 == 1.0
    assert results["pearson"].meta_auprc == pytest.approx(1.0)
    assert results["auprc"].meta_auprc > 0.9
    # Unit 2 scored against a wrongly assigned truth ranks poorly.
    shuffled = known_neuron_test(activations, presence, np.array([1, 0, 3, 2]), metrics=("pearson",))
    assert shuffled["pearson"].top1 == 0.0 and shuffled["pearson"].meta_auprc < 0.5


def test_rare_concept_rows_keep_every_negative_and_thin_the_positives():
    from scoring.sanity import rare_concept_rows

    labels = np.array([True] * 50 + [False] * 95)
    rows = rare_concept_rows(labels, 0.05, np.random.default_rng(0))
    assert set(np.flatnonzero(~labels)) <= set(rows)
    assert labels[rows].sum() == 5 and len(rows) == 100
    assert len(rare_concept_rows(labels, None, np.random.default_rng(0))) == 145
    # A concept already rarer than asked is left as it is.
    assert len(rare_concept_rows(labels, 0.5, np.random.default_rng(0))) == 145


def test_compound_concepts_add_ands_with_enough_images_and_every_or():
    from scoring.sanity_jobs import with_compound_concepts

    presence = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [0, 0, 1]], dtype=bool)
    extended = with_compound_concepts(presence, min_images=2)
    # labels (3) + "0 and 1" (2 images) + "0 or 1" + "0 or 2" + "1 or 2"; "0 and 2" and "1 and 2" are too rare.
    assert extended.shape == (4, 7)
    assert extended[:, 3].tolist() == [True, False, True, False]
    assert extended[:, 4].tolist() == [True, True, True, False]
