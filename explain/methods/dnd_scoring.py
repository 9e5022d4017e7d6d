"""Describe-and-Dissect step 3 scoring functions, as plain functions on a rank table.

A rank table lists, for each candidate concept, the 0-based positions that its
generated images take when all of the unit's generated images (every concept's)
are sorted by the unit's activation, most activating first. Lower ranks mean the
concept's images excite the unit more.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def mean_rank(ranks: Sequence[Sequence[int]]) -> np.ndarray:
    """Mean: the average rank of each concept's images (lower is better)."""
    return np.array([np.mean(r) if len(r) else np.inf for r in ranks], dtype=float)


def topk_squared(ranks: Sequence[Sequence[int]], beta: int = 5) -> np.ndarray:
    """TopK Squared: mean of the squares of each concept's beta best (lowest) ranks (lower is better)."""
    scores = []
    for concept_ranks in ranks:
        best = np.sort(np.asarray(concept_ranks, dtype=float))[:beta]
        scores.append(np.mean(best ** 2) if len(best) else np.inf)
    return np.array(scores, dtype=float)


def image_products(top_image_embeddings: np.ndarray, highly_activating_embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """Image Products: mean inner product between the unit's top images and each concept's generated images
    that are among the t most activating generated images (higher is better; -1 when none made the cut).

    Embeddings are L2-normalised CLIP image embeddings.
    """
    scores = []
    for generated in highly_activating_embeddings:
        generated = np.asarray(generated, dtype=float)
        scores.append(float(np.mean(top_image_embeddings @ generated.T)) if len(generated) else -1.0)
    return np.array(scores, dtype=float)


def topk_squared_with_image_products(topk_scores: np.ndarray, image_product_scores: np.ndarray) -> np.ndarray:
    """TopK Squared + Image Products: the concept's TopK-Squared standing (n for the best of n concepts,
    1 for the worst) times its Image Products score (higher is better)."""
    order = order_concepts(topk_scores, higher_is_better=False)
    standing = np.empty(len(order), dtype=float)
    standing[order] = len(order) - np.arange(len(order))
    return standing * np.asarray(image_product_scores, dtype=float)


def order_concepts(scores: np.ndarray, higher_is_better: bool, ties: str = "project") -> np.ndarray:
    """Concept indices, best first.

    Ties: "project" keeps the candidates' own order (earlier first) in both directions; "reference" sorts
    (score, candidate index) pairs in the score's direction, as the DnD code sorts its tuples: a tie goes
    to the later candidate when higher is better, to the earlier one when lower is better.
    """
    scores = np.asarray(scores, dtype=float)
    keys = -scores if higher_is_better else scores
    if ties == "reference" and higher_is_better:
        index = np.arange(len(scores))
        return np.lexsort((-index, keys))
    return np.argsort(keys, kind="stable")


def descending_order(values, ties: str = "project") -> np.ndarray:
    """Positions of `values`, largest first. Ties: "project" keeps their order (a stable sort); "reference"
    takes torch.sort(descending=True)'s order, as the DnD code does, which does not promise any order of ties."""
    if ties == "reference":
        import torch

        return torch.sort(torch.as_tensor(np.asarray(values, dtype=np.float32)), descending=True).indices.numpy()
    return np.argsort(-np.asarray(values, dtype=float), kind="stable")


def concept_ranks(activations: np.ndarray, concept_of_image: Sequence[int], n_concepts: int, ties: str = "project") -> list[list[int]]:
    """The rank table for one unit from its activations on all generated images (ties: see `descending_order`)."""
    order = descending_order(activations, ties)
    ranks: list[list[int]] = [[] for _ in range(n_concepts)]
    for position, image in enumerate(order):
        ranks[concept_of_image[image]].append(position)
    return ranks
