"""Sentence embeddings with sentence-transformers."""
from __future__ import annotations

from typing import Sequence

import numpy as np


class TextEmbedder:
    """`encode(texts) -> (n, d) float32`, unit-normalised rows."""

    def __init__(self, model, batch_size: int = 64, name: str = ""):
        self.model = model
        self.batch_size = batch_size
        self.name = name

    @classmethod
    def from_pretrained(cls, model_id: str, device, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        return cls(SentenceTransformer(model_id, device=str(device)), batch_size=batch_size, name=model_id)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )

    def similarity(self, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
        """(len(a), len(b)) cosine similarities."""
        return self.encode(texts_a) @ self.encode(texts_b).T
