"""The reference code's behaviour where the project's DnD differs from it, each behind a named option.

Every case is built by hand from what the Describe-and-Dissect code does (read, not copied).
"""
import numpy as np
import pytest
import torch
from PIL import Image

from explain.methods import get_method
from explain.methods.dnd import DnDConfig, clean_candidates
from explain.methods.dnd_crops import attention_boxes, crop_images
from explain.methods.dnd_scoring import concept_ranks, descending_order, order_concepts

VAGUE = ("design", "designs", "graphic", "graphics")


def two_blobs():
    activation_map = np.zeros((7, 7), dtype=np.float32)
    activation_map[1:3, 1:3] = 0.6  # weaker region, top left
    activation_map[4:6, 4:6] = 1.2  # stronger region, bottom right: above 1
    return activation_map


def test_project_heatmap_is_min_max_scaled_and_finds_both_regions():
    boxes = attention_boxes(two_blobs(), image_size=(70, 70))

    assert len(boxes) == 2 and boxes[0][0] > 35  # the stronger region comes first (it is larger after resizing)


def test_reference_heatmap_wraps_values_above_one_and_loses_the_strongest_region():
    # 1.2 x 255 = 306 wraps to 50 in uint8, below 0.6 x 255 = 153: only the weaker region passes Otsu
    assert torch.tensor([0.6, 1.2]).mul(255).byte().tolist() == [153, 50]

    boxes = attention_boxes(two_blobs(), image_size=(70, 70), heatmap="reference")

    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert x1 < 35 and y1 < 35  # top left


def test_reference_whole_image_box_is_transposed_for_non_square_images():
    # a unit active everywhere but one corner of a wide 200 x 40 image: its box is (almost) the whole image
    activation_map = np.full((10, 10), 0.9, dtype=np.float32)
    activation_map[0, 0] = 0.0
    wide = (200, 40)

    project = attention_boxes(activation_map, wide)
    reference = attention_boxes(activation_map, wide, heatmap="reference")

    assert project == []  # IoU with (0, 0, 200, 40) is about 1: not a crop
    # the reference compares with (0, 0, 40, 200): overlap 40 x 40 of a union of 14400, IoU ~0.11, kept
    assert len(reference) == 1 and reference[0][2] - reference[0][0] > 150


def test_reference_crops_are_resized_to_height_by_width():
    image = Image.new("RGB", (200, 40))

    [project] = crop_images(image, [(0, 0, 50, 20)])
    [reference] = crop_images(image, [(0, 0, 50, 20)], heatmap="reference")

    assert project.size == (200, 40) and reference.size == (40, 200)


def test_reference_activation_ties_follow_torch_sort_not_a_stable_sort():
    activations = np.array([1.0] * 40 + [2.0] * 40, dtype=np.float32)

    stable = descending_order(activations)
    reference = descending_order(activations, ties="reference")

    assert stable[:3].tolist() == [40, 41, 42]
    assert reference.tolist() == torch.sort(torch.tensor(activations), descending=True).indices.tolist()
    assert reference.tolist() != stable.tolist()
    assert sorted(reference[:40].tolist()) == list(range(40, 80))  # still the larger values first


def test_rank_tables_use_the_chosen_tie_order():
    activations = np.array([1.0] * 40 + [2.0] * 40, dtype=np.float32)
    concept_of_image = [i // 20 for i in range(80)]  # four concepts of 20 images

    project = concept_ranks(activations, concept_of_image, 4)
    reference = concept_ranks(activations, concept_of_image, 4, ties="reference")

    assert project[2][:3] == [0, 1, 2]
    order = torch.sort(torch.tensor(activations), descending=True).indices.tolist()
    assert reference[2] == sorted(position for position, image in enumerate(order) if image // 20 == 2)


def test_reference_score_ties_go_to_the_later_candidate_when_higher_is_better():
    scores = np.array([0.5, 0.9, 0.9, 0.1])

    assert order_concepts(scores, higher_is_better=True).tolist() == [1, 2, 0, 3]
    assert order_concepts(scores, higher_is_better=True, ties="reference").tolist() == [2, 1, 0, 3]


def test_reference_score_ties_go_to_the_earlier_candidate_when_lower_is_better():
    scores = np.array([4.0, 1.0, 1.0, 9.0])  # TopK Squared / mean rank: lower is better

    assert order_concepts(scores, higher_is_better=False, ties="reference").tolist() == [1, 2, 0, 3]
    assert order_concepts(scores, higher_is_better=False).tolist() == [1, 2, 0, 3]


def test_project_cleanup_strips_the_period_before_looking_for_a_vague_last_word():
    assert clean_candidates(["Abstract design.", "Red car"], VAGUE) == ["abstract design", "abstract design background", "red car"]


def test_reference_cleanup_looks_for_the_vague_word_before_stripping_the_period():
    assert clean_candidates(["Abstract design.", "Red car"], VAGUE, "reference") == ["abstract design", "red car"]
    assert clean_candidates(["floral graphics"], VAGUE, "reference") == ["floral graphics", "floral graphics background"]
    assert clean_candidates(["stripes.."], VAGUE, "reference") == ["stripes."]  # one period only


def test_options_are_named_fields_with_project_defaults_and_bad_values_are_refused():
    config = DnDConfig()
    assert (config.crop_heatmap, config.ties, config.candidate_cleanup) == ("project", "project", "project")
    parsed = get_method("dnd").parse_params({"ties": "reference", "crop_heatmap": "reference"})
    assert (parsed.ties, parsed.crop_heatmap) == ("reference", "reference")
    with pytest.raises(ValueError, match="ties='lower'"):
        DnDConfig(ties="lower")
