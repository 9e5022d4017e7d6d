"""Automatic agreement metrics on real texts with the packaged all-MiniLM-L6-v2."""
import numpy as np
import pytest

from scoring.metrics import imagenet_class_references, text_cosine


def test_text_cosine_pairs_each_explanation_with_its_own_reference(minilm):
    references = ["goldfish, Carassius auratus", "toilet tissue, toilet paper, bathroom tissue"]
    matching = text_cosine(minilm, ["small orange fish", "rolls of toilet paper"], references)
    swapped = text_cosine(minilm, ["rolls of toilet paper", "small orange fish"], references)
    assert matching.shape == (2,)
    assert np.all(matching > swapped)


def test_text_cosine_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 explanations but 1 references"):
        text_cosine(None, ["a", "b"], ["c"])


def test_imagenet_reference_is_the_whole_line(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("tench, Tinca tinca\ngoldfish, Carassius auratus\n")
    assert imagenet_class_references(path) == ["tench, Tinca tinca", "goldfish, Carassius auratus"]
