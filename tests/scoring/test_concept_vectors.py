"""Concept vectors from the probing set's labels, from CLIP similarities and from people's answers."""
import numpy as np
import pytest
from PIL import Image

from scoring.concept_vectors import (
    CLIP_Z_THRESHOLD,
    clip_similarities,
    concept_from_answers,
    concept_from_labels,
    concept_from_similarity,
    named_concepts,
    rows_answered,
)

NAMES = ["red", "blue", "circle", "sky blue", "dog-s"]
PRESENCE = np.array([
    [1, 0, 1, 0, 0],
    [1, 0, 0, 0, 0],
    [0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
], dtype=np.float32)


def test_an_explanation_names_concepts_as_whole_words():
    assert named_concepts("red", NAMES) == [0]
    assert named_concepts("A red circle.", NAMES) == [0, 2]
    assert named_concepts("reddish things", NAMES) == []
    # The longest name wins: "sky blue" is not also "blue".
    assert named_concepts("sky blue", NAMES) == [3]
    assert named_concepts("dog s", NAMES) == [4]


def test_labels_give_the_images_showing_every_named_concept():
    assert concept_from_labels("red", NAMES, PRESENCE).labels.tolist() == [True, True, False, False]
    assert concept_from_labels("red circle", NAMES, PRESENCE).labels.tolist() == [True, False, False, False]
    assert concept_from_labels("a cat", NAMES, PRESENCE) is None


def test_clip_similarity_continuous_is_scaled_and_thresholded_at_one_deviation():
    similarity = np.array([0.20, 0.21, 0.22, 0.30, 0.21, 0.20])
    concept = concept_from_similarity(similarity)
    assert concept.values.min() == 0.0 and concept.values.max() == 1.0
    assert concept.values[3] == 1.0
    assert CLIP_Z_THRESHOLD == 1.0
    assert concept.labels.tolist() == [False, False, False, True, False, False]
    binary = concept_from_similarity(similarity, binary=True)
    assert binary.values.tolist() == [0, 0, 0, 1, 0, 0] and binary.source == "clip-binary"


def test_clip_similarities_come_from_the_foundation_clip_adapter():
    from tests.fakes.tiny_models import tiny_clip_embedder

    clip = tiny_clip_embedder()
    images = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue", "white")]
    similarity = clip_similarities(clip, images, ["red", "blue"])
    assert similarity.shape == (2, 3)
    expected = (clip.encode_texts(["red"]) @ clip.encode_images(images[:1]).T).item()
    assert similarity[0, 0] == pytest.approx(expected, abs=1e-5)
    assert np.all(np.abs(similarity) <= 1 + 1e-6)


def test_people_answers_become_majority_labels_over_the_images_asked_about():
    answers = {4: [True, True, False], 0: [False, False], 7: [True, False], 2: []}
    assert rows_answered(answers).tolist() == [0, 4, 7]
    concept = concept_from_answers(10, answers)
    assert concept.values.tolist() == pytest.approx([0.0, 2 / 3, 0.5])
    assert concept.labels.tolist() == [False, True, False]  # a tie is a no
    with pytest.raises(ValueError, match="outside"):
        concept_from_answers(5, {7: [True]})
