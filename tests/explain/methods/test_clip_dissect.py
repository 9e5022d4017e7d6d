import math
from types import SimpleNamespace

import numpy as np
import open_clip
import pytest
import torch

import foundation
from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.clip_dissect import SoftWPMIParams, WPMIParams, clip_concept_similarities, soft_wpmi, wpmi

from .fixtures import ArrayActivationCache, blocks_probe, maps_firing_on

# 6 probing images x 3 concepts, and 6 images x 4 units; no ties within a unit's column.
P = np.array(
    [
        [0.30, 0.10, 0.20],
        [0.05, 0.40, 0.10],
        [0.25, 0.20, 0.35],
        [0.10, 0.15, 0.05],
        [0.45, 0.30, 0.00],
        [0.20, 0.05, 0.50],
    ]
)
A = np.array(
    [
        [0.9, 0.1, 0.3, 0.2],
        [0.2, 0.8, 0.6, 0.1],
        [0.4, 0.3, 0.9, 0.5],
        [0.1, 0.7, 0.2, 0.4],
        [0.8, 0.2, 0.1, 0.3],
        [0.3, 0.6, 0.7, 0.9],
    ]
)


def soft_wpmi_by_hand(P, A, top_k, a, lam, p_start, p_end, eps=1e-7):
    """The formula of the CLIP-Dissect reference code, one unit and one concept at a time."""
    n_images, n_concepts = P.shape
    n_units = A.shape[1]
    soft_p = []
    for i in range(n_images):
        exps = [math.exp(a * P[i][c]) for c in range(n_concepts)]
        soft_p.append([e / sum(exps) for e in exps])
    log_given = [[0.0] * n_concepts for _ in range(n_units)]
    for u in range(n_units):
        ranked = sorted(range(n_images), key=lambda i: A[i][u], reverse=True)[:top_k]
        for c in range(n_concepts):
            for r, i in enumerate(ranked):
                p_in = p_start - r * (p_start - p_end) / top_k
                log_given[u][c] += math.log(1 - p_in + p_in * soft_p[i][c] + eps)
    scores = np.zeros((n_units, n_concepts))
    for c in range(n_concepts):
        mean_prob = sum(math.exp(log_given[u][c]) for u in range(n_units)) / n_units
        for u in range(n_units):
            scores[u, c] = log_given[u][c] - lam * math.log(mean_prob)
    return scores


def test_soft_wpmi_matches_an_independent_derivation_on_a_fixed_matrix():
    params = SoftWPMIParams(top_k=3)

    scores = soft_wpmi(P, A, params)

    expected = soft_wpmi_by_hand(P, A, top_k=3, a=10, lam=1, p_start=0.998, p_end=0.97)
    assert scores.shape == (4, 3)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_soft_wpmi_with_other_constants_still_matches():
    params = SoftWPMIParams(top_k=4, temperature=2.0, lam=0.6, p_start=0.99, p_end=0.9)

    scores = soft_wpmi(P, A, params)

    np.testing.assert_allclose(scores, soft_wpmi_by_hand(P, A, 4, 2.0, 0.6, 0.99, 0.9), rtol=1e-5, atol=1e-5)


def test_splitting_concepts_into_blocks_does_not_change_the_scores():
    rng = np.random.default_rng(0)
    concept_matrix, activations = rng.random((50, 7)), rng.random((50, 13))

    whole = soft_wpmi(concept_matrix, activations, SoftWPMIParams(top_k=10))
    blocked = soft_wpmi(concept_matrix, activations, SoftWPMIParams(top_k=10, max_chunk_elements=70))

    np.testing.assert_allclose(whole, blocked, rtol=1e-6)


@pytest.mark.parametrize("step_elements", [1, 1 << 40], ids=["one-unit-a-step", "whole-layer-a-step-as-on-cuda"])
def test_the_kernel_gives_the_same_scores_however_units_are_stepped(monkeypatch, step_elements):
    # A CUDA device takes every unit of a concept block in one step, a CPU as many as fit in _CPU_STEP_ELEMENTS:
    # both shapes of the one kernel, run here on torch.device("cpu"), give the hand-derived scores.
    import explain.methods.clip_dissect as clip_dissect

    monkeypatch.setattr(clip_dissect, "_CPU_STEP_ELEMENTS", step_elements)

    scores = soft_wpmi(torch.tensor(P), torch.tensor(A), SoftWPMIParams(top_k=3), device=torch.device("cpu"))

    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, soft_wpmi_by_hand(P, A, 3, 10, 1, 0.998, 0.97), rtol=1e-5, atol=1e-5)


def wpmi_by_hand(P, A, top_k, a, lam, eps=1e-7):
    """The reference's plain WPMI, one unit and concept at a time: every top image counts fully."""
    soft = np.exp(a * P) / np.exp(a * P).sum(axis=1, keepdims=True)
    log_given = np.array(
        [[sum(math.log(soft[i, c] + eps) for i in np.argsort(-A[:, u])[:top_k]) for c in range(P.shape[1])] for u in range(A.shape[1])]
    )
    log_prior = np.log(np.exp(log_given).mean(axis=0))
    return log_given - lam * log_prior


def test_wpmi_is_the_references_own_function_with_its_own_defaults():
    assert (WPMIParams().top_k, WPMIParams().temperature, WPMIParams().lam, WPMIParams().min_prob) == (28, 2.0, 0.6, 1e-7)

    scores = wpmi(P, A, WPMIParams(top_k=3))

    np.testing.assert_allclose(scores, wpmi_by_hand(P, A, top_k=3, a=2.0, lam=0.6), rtol=1e-5, atol=1e-5)
    assert not np.allclose(scores, soft_wpmi(P, A, SoftWPMIParams(top_k=3, temperature=2.0, lam=0.6)))


def test_tiny_probabilities_do_not_underflow_the_grouped_products():
    # temperature 60 over [0, 1] similarities: softmax probabilities down to ~1e-27, each a factor of a product
    rng = np.random.default_rng(1)
    concept_matrix, activations = rng.random((40, 30)), rng.random((40, 5))

    scores = wpmi(concept_matrix, activations, WPMIParams(top_k=20, temperature=60.0, min_prob=0.0))

    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, wpmi_by_hand(concept_matrix, activations, 20, 60.0, 0.6, eps=0.0), rtol=1e-4)


def test_probabilities_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match="p_start"):
        SoftWPMIParams(p_start=1.2)


def test_reference_code_constants_are_the_defaults():
    params = SoftWPMIParams()
    assert (params.top_k, params.temperature, params.lam, params.min_prob, params.p_start, params.p_end) == (
        100, 10.0, 1.0, 1e-7, 0.998, 0.97,
    )


def test_mismatched_image_counts_are_refused():
    with pytest.raises(ValueError, match="same images"):
        soft_wpmi(P, A[:5])


def test_unit_firing_on_one_annotated_concept_is_labelled_with_it():
    probe = blocks_probe()
    stripes = probe.concept_names.index("stripes")
    maps = maps_firing_on(probe, concept=stripes)
    cache = ArrayActivationCache("conv2", maps, probe.image_ids)

    records = get_method("clip-dissect-annotations").explain(MethodInput(None, None, probe, cache), units=range(6))

    assert records[0].text == "stripes"
    assert records[0].score_name == "soft-wpmi"
    assert records[0].score == max(r.score for r in records)  # the real detector is the most specific unit


# -- CLIP-fed variant, with a tiny random open_clip model (no download) ---------------

TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1),
)


@pytest.fixture
def tiny_clip():
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP).eval()
    return model, open_clip.image_transform(32, is_train=False), open_clip.SimpleTokenizer(context_length=16)


def test_clip_similarities_are_cosines_of_image_and_bare_concept_embeddings(tiny_clip):
    model, preprocess, tokenizer = tiny_clip
    probe = blocks_probe(n_images=5)
    images = [probe.load_image(i) for i in range(5)]

    similarities = clip_concept_similarities(model, tokenizer, preprocess, images, probe.concept_names, batch_size=2)

    with torch.no_grad():
        image = model.encode_image(torch.stack([preprocess(im) for im in images]))
        text = model.encode_text(tokenizer(probe.concept_names))
    expected = torch.nn.functional.cosine_similarity(image[:, None, :], text[None, :, :], dim=-1).numpy()
    assert similarities.shape == (5, 4)
    np.testing.assert_allclose(similarities, expected, atol=1e-5)


@pytest.mark.parametrize("handle", ["tuple", "adapter"])
def test_clip_dissect_method_takes_clip_from_the_foundation_adapters(tiny_clip, monkeypatch, handle):
    model, preprocess, tokenizer = tiny_clip
    # foundation's ClipEmbedder exposes model, preprocess and tokenizer as attributes
    given = tiny_clip if handle == "tuple" else SimpleNamespace(model=model, preprocess=preprocess, tokenizer=tokenizer)
    monkeypatch.setattr(foundation, "get_clip", lambda: given, raising=False)
    probe = blocks_probe(n_images=12)
    cache = ArrayActivationCache("conv2", maps_firing_on(probe, concept=1, n_units=3), probe.image_ids)
    concepts = ["red", "blue", "dots", "stripes", "disc"]

    records = get_method("clip-dissect").explain(
        MethodInput(None, None, probe, cache, params={"concepts": concepts, "top_k": 5}), units=range(3)
    )

    similarities = clip_concept_similarities(*_reordered(tiny_clip), [probe.load_image(i) for i in range(12)], concepts)
    expected = soft_wpmi(similarities, cache.summaries(), SoftWPMIParams(top_k=5))
    assert [r.text for r in records] == [concepts[i] for i in expected.argmax(axis=1)]
    assert [r.score for r in records] == pytest.approx(expected.max(axis=1).tolist())
    assert all(r.details["concept_source"] == "clip" for r in records)


def _reordered(clip_parts):
    model, preprocess, tokenizer = clip_parts
    return model, tokenizer, preprocess


def test_clip_dissect_without_a_clip_adapter_says_so(monkeypatch):
    monkeypatch.delattr(foundation, "get_clip", raising=False)
    probe = blocks_probe(n_images=4)
    cache = ArrayActivationCache("conv2", np.zeros((4, 2, 8, 8), np.float32), probe.image_ids)

    with pytest.raises(RuntimeError, match="get_clip"):
        get_method("clip-dissect").explain(MethodInput(None, None, probe, cache), units=[0])


@pytest.mark.django_db
def test_on_the_synthetic_probing_set_each_concept_unit_is_labelled_with_its_concept():
    from explain.probes import get_probe_set
    from demo.synthetic import CONCEPT_NAMES, SyntheticConfig, ensure_synthetic_probe

    from .fixtures import maps_of_concepts

    probe = get_probe_set(ensure_synthetic_probe("synthetic-small", seed=0, config=SyntheticConfig(n_images=120)))
    cache = ArrayActivationCache("conv", maps_of_concepts(probe, CONCEPT_NAMES), probe.image_ids)

    records = get_method("clip-dissect-annotations").explain(
        MethodInput(None, None, probe, cache), units=range(len(CONCEPT_NAMES))
    )

    assert [r.text for r in records] == CONCEPT_NAMES


def test_clip_dissect_reads_its_concept_set_from_a_file_one_concept_a_line(tiny_clip, monkeypatch, tmp_path):
    monkeypatch.setattr(foundation, "get_clip", lambda: tiny_clip, raising=False)
    concept_file = tmp_path / "concepts.txt"
    concept_file.write_text("zebra\n\n  giraffe \n")
    probe = blocks_probe(n_images=6)
    cache = ArrayActivationCache("conv2", maps_firing_on(probe, concept=1, n_units=2), probe.image_ids)

    records = get_method("clip-dissect").explain(
        MethodInput(None, None, probe, cache, params={"concept_file": str(concept_file)}), units=range(2)
    )

    assert {r.text for r in records} <= {"zebra", "giraffe"}


def test_annotation_variant_refuses_a_probe_without_concepts():
    probe = blocks_probe(n_images=4)
    probe.concept_names, probe.concept_categories = [], []
    cache = ArrayActivationCache("conv2", np.zeros((4, 2, 8, 8), np.float32), probe.image_ids)

    with pytest.raises(ValueError, match="annotated probing set"):
        get_method("clip-dissect-annotations").explain(MethodInput(None, None, probe, cache), units=[0])
