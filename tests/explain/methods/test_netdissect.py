import numpy as np
import pytest

from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.netdissect import (
    IoUTally,
    NetDissectParams,
    active_pixels,
    best_concepts,
    dead_units,
    dissect_layer,
    quantile_thresholds,
)

from .fixtures import ArrayActivationCache, blocks_probe, maps_firing_on


def test_threshold_is_the_top_half_percent_of_all_map_pixels_of_a_unit():
    values = np.arange(2000, dtype=np.float32)  # 20 images x 10 x 10 pixels, one unit
    maps = np.stack([values.reshape(20, 10, 10), -values.reshape(20, 10, 10)], axis=1)

    thresholds = quantile_thresholds(maps, quantile=0.005, max_chunk_elements=2000)  # one unit a step

    assert thresholds[0] == pytest.approx(np.quantile(values, 0.995))
    assert (values > thresholds[0]).sum() == 10  # 0.5% of 2000 pixels
    assert thresholds[1] == pytest.approx(np.quantile(-values, 0.995))


def test_maps_are_upsampled_bilinearly_to_the_mask_size_before_thresholding():
    maps = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.2, 0.2], [0.2, 0.2]]], dtype=np.float32)  # unit 0: right half on

    [(units, active)] = active_pixels(maps[None], np.array([0.5, 0.5]), size=(4, 4))

    assert units.tolist() == [0]  # unit 1 never reaches its threshold
    assert active[0].reshape(4, 4).tolist() == [[False, False, True, True]] * 4


def test_iou_is_summed_over_images_and_counts_unit_pixels_only_where_the_category_is_annotated():
    tally = IoUTally(n_units=1, concept_categories=["colour", "shape"])
    red = np.array([[1, 1], [0, 0]], bool)
    disc = np.array([[0, 1], [0, 1]], bool)
    # image 1: unit on the top row; red annotated there, disc on the right column
    tally.add_image(np.array([0]), np.array([[1, 1, 0, 0]], bool), {0: red, 1: disc})
    # image 2: unit on the bottom row, only red annotated (and not touched): no colour overlap
    tally.add_image(np.array([0]), np.array([[0, 0, 1, 1]], bool), {0: red})

    iou = tally.iou()

    # red: intersection 2; union = unit pixels of image 1 only (2) + red pixels (4) - 2
    assert iou[0, 0] == pytest.approx(2 / 4)
    # disc: intersection 1; union = 2 + 2 - 1
    assert iou[0, 1] == pytest.approx(1 / 3)


def test_unit_firing_on_a_concept_mask_plus_noise_gets_that_concept_with_iou_above_half():
    probe = blocks_probe()
    maps = maps_firing_on(probe, concept=probe.concept_names.index("disc"))

    iou, _ = dissect_layer(maps, probe.concept_masks, len(probe.masks), probe.concept_categories)
    best, score = best_concepts(iou)

    assert probe.concept_names[best[0]] == "disc"
    assert score[0] > 0.5
    assert (score[1:] < 0.04).all()  # pure-noise units detect nothing


def test_netdissect_method_labels_every_unit_and_marks_weak_ones_below_threshold():
    probe = blocks_probe()
    maps = maps_firing_on(probe, concept=probe.concept_names.index("disc"))
    cache = ArrayActivationCache("conv2", maps, probe.image_ids)
    method = get_method("netdissect")

    records = method.explain(MethodInput(network=None, layer=None, probe=probe, activations=cache), units=range(6))

    assert [r.unit for r in records] == list(range(6))
    detector = records[0]
    assert (detector.text, detector.score_name, detector.details["category"]) == ("disc", "iou", "shape")
    assert detector.details["below_threshold"] is False
    assert all(r.details["below_threshold"] and r.score < 0.04 for r in records[1:])
    assert all(r.text in probe.concept_names for r in records)


def test_cache_rows_are_matched_to_probe_images_by_id_not_position():
    probe = blocks_probe()
    concept = probe.concept_names.index("disc")
    maps = maps_firing_on(probe, concept=concept)
    order = np.random.default_rng(3).permutation(len(probe.masks))
    shuffled_cache = ArrayActivationCache("conv2", maps[order], [probe.image_ids[i] for i in order])

    records = get_method("netdissect").explain(
        MethodInput(network=None, layer=None, probe=probe, activations=shuffled_cache), units=[0]
    )

    assert records[0].text == "disc" and records[0].score > 0.5


def test_probe_without_concepts_is_refused_with_a_clear_error():
    probe = blocks_probe(n_images=4)
    probe.concept_names, probe.concept_categories = [], []
    cache = ArrayActivationCache("conv2", np.zeros((4, 2, 8, 8), np.float32), probe.image_ids)

    with pytest.raises(ValueError, match="annotated probing set"):
        get_method("netdissect").explain(MethodInput(None, None, probe, cache), units=[0])


def test_paper_defaults():
    params = NetDissectParams()
    assert (params.quantile, params.iou_threshold, params.upsample_mode) == (0.005, 0.04, "bilinear")


@pytest.mark.django_db
def test_on_the_synthetic_probing_set_each_concept_unit_is_labelled_with_its_concept():
    from explain.probes import get_probe_set
    from demo.synthetic import CONCEPT_NAMES, SyntheticConfig, ensure_synthetic_probe

    from .fixtures import maps_of_concepts

    probe = get_probe_set(ensure_synthetic_probe("synthetic-small", seed=0, config=SyntheticConfig(n_images=120)))
    cache = ArrayActivationCache("conv", maps_of_concepts(probe, CONCEPT_NAMES), probe.image_ids)

    records = get_method("netdissect").explain(MethodInput(None, None, probe, cache), units=range(len(CONCEPT_NAMES)))

    assert [r.text for r in records] == CONCEPT_NAMES
    assert [r.details["category"] for r in records] == list(probe.concept_categories)


def test_batching_images_does_not_change_the_iou():
    probe = blocks_probe(n_images=60)
    maps = maps_firing_on(probe, concept=3)
    run = lambda batch: dissect_layer(  # noqa: E731
        maps, probe.concept_masks, 60, probe.concept_categories, NetDissectParams(images_per_batch=batch)
    )[0]

    np.testing.assert_allclose(run(1), run(64))
    np.testing.assert_allclose(run(7), run(64))


# -- dead units (IoU 0 with every concept) get no label -------------------------


def test_a_unit_with_zero_iou_for_every_concept_is_dead():
    iou = np.array([[0.0, 0.2, 0.0], [0.0, 0.0, 0.0], [0.01, 0.0, 0.0]])

    assert dead_units(iou).tolist() == [1]


def test_dead_units_get_no_record_while_live_ones_keep_their_label():
    probe = blocks_probe()
    maps = maps_firing_on(probe, concept=probe.concept_names.index("disc"))
    maps[:, 2] = 0.0  # never fires: threshold 0, no pixel above it
    cache = ArrayActivationCache("conv2", maps, probe.image_ids)

    records = get_method("netdissect").explain(MethodInput(None, None, probe, cache), units=range(6))

    assert [r.unit for r in records] == [0, 1, 3, 4, 5]
    assert records[0].text == "disc"
    assert all(r.score > 0 for r in records)


# -- maps of a center-cropped input are aligned with the visible part of the masks --------------


def test_the_visible_region_of_a_resize_then_center_crop():
    from explain.networks import visible_region

    assert visible_region(64, 64, {"resize": 256, "crop": 224}) == (4, 4, 60, 60)  # 1/16 cut off each side
    assert visible_region(300, 400, {"resize": 256, "crop": 224}) == (19, 68, 281, 330)  # wide: more cut left/right
    assert visible_region(64, 64, {"squash": 224}) is None and visible_region(64, 64, {}) is None


def test_masks_are_cut_to_the_visible_region_and_concepts_outside_it_dropped():
    from explain.methods.netdissect import visible_masks

    inside = np.zeros((64, 64), bool)
    inside[10:20, 10:20] = True
    border = np.zeros((64, 64), bool)
    border[:3, :] = True  # only in the strip the crop removes

    cut = visible_masks({0: inside, 1: border}, {"resize": 256, "crop": 224})

    assert list(cut) == [0] and cut[0].shape == (56, 56) and cut[0][6:16, 6:16].all() and cut[0].sum() == 100


def test_a_center_cropping_network_is_dissected_against_what_it_saw():
    from explain.models import Network

    from .fixtures import ArrayProbeSet

    corner, far = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    corner[4:12, 4:12] = True  # the top-left cell of a 7x7 map over the visible 56x56 region
    far[40:56, 40:56] = True
    probe = ArrayProbeSet("cropped", ["corner", "far"], ["shape", "shape"], [{0: corner, 1: far} for _ in range(20)])
    maps = np.random.default_rng(0).uniform(0, 0.5, (20, 1, 7, 7)).astype(np.float32)
    maps[:, 0, 0, 0] = 1.0 + np.arange(20) * 0.01
    cache = ArrayActivationCache("layer4", maps, probe.image_ids)
    cropping = Network(name="rn18", architecture="resnet18", weights_source="random:0")  # resize 256 / crop 224
    method, params = get_method("netdissect"), {"quantile": 0.02}

    [aligned] = method.explain(MethodInput(cropping, None, probe, cache, params=params), units=[0])
    [whole_image] = method.explain(MethodInput(None, None, probe, cache, params=params), units=[0])

    assert aligned.text == "corner" and aligned.score > 0.5
    assert aligned.score > whole_image.score + 0.1
