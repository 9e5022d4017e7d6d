"""Concept vectors: where an explanation's concept is present over the probing images, from three sources.

- the probing set's own labels, when the explanation names labelled concepts (synthetic set, Broden);
- a vision-language model's image-text similarity (open_clip through the foundation CLIP adapter);
- people, who answered "Does this image show: <description>?" (see `concept_from_answers`).

Pure functions over arrays, texts and the adapters handed in.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from .faithfulness import ConceptVector

CONCEPT_SOURCES = {
    "labels": "probing-set labels",
    "clip": "CLIP similarity, continuous",
    "clip-binary": "CLIP similarity, thresholded",
    "people": "raters' yes/no answers",
}

# CLIP thresholded: an image shows the explanation's concept when its image-text cosine lies at least
# one standard deviation above that text's mean cosine over the probing set. A fixed cut on raw cosines
# does not carry over between CLIP models or texts (their cosines sit in narrow, text-dependent bands);
# a z-score does, and one deviation marks about the most similar sixth of the images for a normal spread.
CLIP_Z_THRESHOLD = 1.0


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def named_concepts(text: str, concept_names: Sequence[str]) -> list[int]:
    """Indices of the labelled concepts an explanation names, as whole words (longest names first).

    "red" names concept red; "a red circle" names red and circle; "reddish" names none.
    Broden-style names ("dog-s", "sky_blue") match on their words.
    """
    haystack = _words(text)
    found = []
    for index in sorted(range(len(concept_names)), key=lambda i: -len(concept_names[i])):
        needle = _words(concept_names[index])
        if needle.strip() and needle in haystack:
            found.append(index)
            haystack = haystack.replace(needle, " ")
    return sorted(found)


def concept_from_labels(text: str, concept_names: Sequence[str], presence: np.ndarray) -> ConceptVector | None:
    """Images showing every concept the explanation names (image-level labels); None when it names none."""
    indices = named_concepts(text, concept_names)
    if not indices:
        return None
    return ConceptVector.from_labels(presence[:, indices].astype(bool).all(axis=1), source="labels")


def scaled_similarity(similarity: np.ndarray) -> np.ndarray:
    """Image-text cosines of one text over the probing set, scaled to [0, 1] (0 for a constant row)."""
    similarity = np.asarray(similarity, dtype=np.float64)
    spread = np.ptp(similarity)
    return (similarity - similarity.min()) / spread if spread else np.zeros_like(similarity)


def concept_from_similarity(similarity: np.ndarray, z_threshold: float = CLIP_Z_THRESHOLD, *, binary: bool = False) -> ConceptVector:
    """Continuous values: the scaled cosines; labels: cosines `z_threshold` deviations above their mean."""
    similarity = np.asarray(similarity, dtype=np.float64)
    std = similarity.std()
    labels = similarity >= similarity.mean() + z_threshold * std if std else np.zeros(len(similarity), dtype=bool)
    if binary:
        return ConceptVector.from_labels(labels, source="clip-binary")
    return ConceptVector(values=scaled_similarity(similarity), labels=labels, source="clip")


def clip_similarities(clip, images: Sequence, texts: Sequence[str]) -> np.ndarray:
    """(texts, images) cosines between CLIP text and image embeddings (the adapter returns normalised rows)."""
    image_embeddings = clip.encode_images(list(images))
    text_embeddings = clip.encode_texts(list(texts))
    return (text_embeddings @ image_embeddings.T).numpy().astype(np.float64)


def concept_from_answers(n_images: int, answers: Mapping[int, Sequence[bool]]) -> ConceptVector:
    """People's concept vector over the images they were asked about.

    `answers`: image row -> the yes/no answers raters gave for it. Values are the share of yes answers;
    an image counts as showing the concept when most raters said yes (a tie counts as no). Rows nobody
    was asked about are not part of the vector: use `rows_answered` to restrict the activations to them.
    """
    rows = rows_answered(answers)
    if rows.size and (rows.min() < 0 or rows.max() >= n_images):
        raise ValueError(f"answers name image rows outside 0..{n_images - 1}")
    values = np.array([np.mean([bool(a) for a in answers[row]]) for row in rows], dtype=np.float64)
    return ConceptVector(values=values, labels=values > 0.5, source="people")


def rows_answered(answers: Mapping[int, Sequence[bool]]) -> np.ndarray:
    return np.array(sorted(row for row, given in answers.items() if len(given)), dtype=np.int64)
