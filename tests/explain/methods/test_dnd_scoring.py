"""DnD's scoring functions on a rank table worked out by hand.

Three candidate concepts, three generated images each, nine images ranked by the
unit's activation (0 = most activating):
    A: ranks 0, 1, 5     B: ranks 2, 3, 4     C: ranks 6, 7, 8
"""
import numpy as np
import pytest

from explain.methods.dnd_scoring import (concept_ranks, image_products, mean_rank, order_concepts, topk_squared,
                                         topk_squared_with_image_products)

RANKS = [[0, 1, 5], [2, 3, 4], [6, 7, 8]]


def test_mean_averages_each_concepts_ranks():
    # A: 6/3 = 2, B: 9/3 = 3, C: 21/3 = 7
    assert mean_rank(RANKS).tolist() == [2.0, 3.0, 7.0]


def test_topk_squared_averages_the_squares_of_the_beta_best_ranks():
    # beta = 2: A (0 + 1) / 2 = 0.5, B (4 + 9) / 2 = 6.5, C (36 + 49) / 2 = 42.5
    assert topk_squared(RANKS, beta=2).tolist() == [0.5, 6.5, 42.5]
    # beta = 5 (the paper's) covers all three: A (0 + 1 + 25) / 3
    assert topk_squared(RANKS, beta=5)[0] == pytest.approx(26 / 3)


def test_image_products_averages_similarities_of_top_images_to_highly_activating_generated_images():
    top_images = np.array([[1.0, 0.0], [0.0, 1.0]])
    generated_in_top_t = [
        np.array([[1.0, 0.0]]),  # A: similarities 1 and 0 -> 0.5
        np.array([[0.6, 0.8], [0.8, 0.6]]),  # B: 0.6, 0.8, 0.8, 0.6 -> 0.7
        np.zeros((0, 2)),  # C: no image among the t most activating -> -1
    ]
    assert image_products(top_images, generated_in_top_t) == pytest.approx([0.5, 0.7, -1.0])


def test_topk_squared_plus_image_products_weights_the_topk_standing_by_image_products():
    # TopK standing: A best of 3 -> 3, B -> 2, C -> 1; times 0.5, 0.7, -1
    combined = topk_squared_with_image_products(np.array([0.5, 6.5, 42.5]), np.array([0.5, 0.7, -1.0]))
    assert combined == pytest.approx([1.5, 1.4, -1.0])
    assert order_concepts(combined, higher_is_better=True).tolist() == [0, 1, 2]


def test_image_products_can_overturn_the_topk_winner():
    combined = topk_squared_with_image_products(np.array([0.5, 6.5, 42.5]), np.array([0.2, 0.9, 0.1]))
    # A: 3 * 0.2 = 0.6, B: 2 * 0.9 = 1.8, C: 1 * 0.1 = 0.1
    assert order_concepts(combined, higher_is_better=True).tolist() == [1, 0, 2]


def test_rank_table_from_activations():
    # images 0-2 belong to A, 3-5 to B, 6-8 to C
    activations = np.array([9.0, 8.0, 4.0, 7.0, 6.0, 5.0, 3.0, 2.0, 1.0])
    assert concept_ranks(activations, [0, 0, 0, 1, 1, 1, 2, 2, 2], 3) == RANKS


def test_lower_is_better_ordering_for_rank_based_scores():
    assert order_concepts(mean_rank(RANKS), higher_is_better=False).tolist() == [0, 1, 2]


def test_dnd_settings_come_from_job_params_and_typos_are_named():
    from explain.methods import get_method

    dnd = get_method("dnd")
    assert dnd.parse_params({"images_per_concept": "4", "beta": 3, "top_k": 10}).beta == 3
    assert dnd.parse_params({"images_per_concept": 4}).images_per_concept == 4
    assert get_method("dnd-without-step3").parse_params({"use_step3": True}).use_step3 is False
    with pytest.raises(ValueError, match="dnd: unknown param.s. images_per_concep; known: .*images_per_concept"):
        dnd.parse_params({"images_per_concep": 3})
    with pytest.raises(ValueError, match="dnd: unknown DnD scoring function 'best'"):
        dnd.parse_params({"scoring": "best"})


def test_units_are_grouped_for_generation_within_the_image_budget():
    from explain.methods.dnd import _groups

    assert list(_groups([30, 30, 50, 70, 10], lambda n: n, 60)) == [[30, 30], [50], [70], [10]]
