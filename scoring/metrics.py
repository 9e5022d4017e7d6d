"""Automatic agreement between explanations and reference texts (e.g. a final-layer unit's class name).

Pure functions over texts and the foundation adapters handed in; every function returns one value
per (explanation, reference) pair, in order. As the DnD paper warns, agreement with reference
annotations rewards generic labels: a constant label such as "objects" can score well against
every class, so read these beside the human ratings, never instead of them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _check_pairs(explanations: Sequence[str], references: Sequence[str]) -> None:
    if len(explanations) != len(references):
        raise ValueError(f"{len(explanations)} explanations but {len(references)} references")


def text_cosine(embedder, explanations: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Sentence-embedding cosine of each explanation with its reference (`TextEmbedder`: normalised rows)."""
    _check_pairs(explanations, references)
    if not explanations:
        return np.zeros(0, dtype=np.float32)
    return np.sum(embedder.encode(explanations) * embedder.encode(references), axis=1)


def clip_text_cosine(clip, explanations: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Cosine of CLIP text embeddings (`ClipEmbedder.encode_texts`: normalised rows)."""
    _check_pairs(explanations, references)
    if not explanations:
        return np.zeros(0, dtype=np.float32)
    return (clip.encode_texts(list(explanations)) * clip.encode_texts(list(references))).sum(dim=1).numpy()


def bertscore_f1(explanations: Sequence[str], references: Sequence[str], *, model_type: str, num_layers: int | None = None,
                 lang: str | None = None, device: str | None = None, batch_size: int = 64) -> np.ndarray:
    """BERTScore F1 (the `bert-score` package) of each explanation against its reference."""
    _check_pairs(explanations, references)
    if not explanations:
        return np.zeros(0, dtype=np.float32)
    from bert_score import score

    _, _, f1 = score(list(explanations), list(references), model_type=model_type, num_layers=num_layers, lang=lang,
                     device=device, batch_size=batch_size, verbose=False)
    return f1.numpy()


def imagenet_class_references(labels_path) -> list[str]:
    """The reference text of each ImageNet class: its whole line of `imagenet_labels.txt`."""
    from pathlib import Path

    lines = Path(labels_path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]
