"""CLIP-Dissect (Oikarinen & Weng, ICLR 2023) with its soft-WPMI score.

The paper's steps:

1. A concept-activation matrix P (probing images x concepts). In the paper
   P[i, c] is the cosine similarity between CLIP's embedding of image i and
   of the bare concept word c. Offline, P can instead be the concept-presence
   matrix of an annotated probing set (1 where the concept is annotated).
2. Each unit's activation on each probing image (spatial mean of its map).
3. soft-WPMI between every unit and every concept, over the unit's top-k
   images (constants of the reference implementation, `similarity.soft_wpmi`):
   - P is turned into per-image concept probabilities by a softmax over
     concepts with temperature `a` = 10;
   - the k = 100 most activating images of a unit are its "examples"; image of
     rank r counts as in the example set with probability linearly decreasing
     from p_start = 0.998 (p_start - r/k (p_start - p_end), p_end = 0.97);
   - log p(concept | examples) = sum_r log(1 + p_r (P_soft[r, c] - 1) + 1e-7);
   - log p(concept) = log of the mean over all units of the layer of
     p(concept | examples);
   - score = log p(c | examples) - lambda log p(c), lambda = 1.
4. Label = concept of highest score; the score is stored with it.

`soft_wpmi` and the reference's plain `wpmi` (its own function and defaults:
top_k 28, a = 2, lambda 0.6, every top image a certain example) share one
kernel that knows nothing of where P came from. It computes in float32 like the
reference, over all units of a layer at once, one block of concepts at a time
(the softmax is taken only on images that are some unit's example), and takes
one log per group of factors instead of one per factor (the group is sized so
the product cannot underflow): same formula, same labels as a per-unit loop,
several times faster, and memory bounded by `max_chunk_elements` instead of a
copy of P. With a CUDA device (`default_device()`) it runs there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput


@dataclass
class SoftWPMIParams:
    top_k: int = 100  # examples per unit (capped at the number of probing images)
    temperature: float = 10.0  # `a`: softmax(a * P) over concepts
    lam: float = 1.0  # weight of the concept prior log p(c)
    min_prob: float = 1e-7  # keeps log finite
    p_start: float = 0.998  # probability that the top image belongs to the example set
    p_end: float = 0.97  # ... decreasing linearly towards this over the top_k ranks
    max_chunk_elements: int = 16_000_000  # images x concepts of softmaxed P held at once: memory only

    def __post_init__(self):
        for name in ("p_start", "p_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)} is a probability: it must lie in [0, 1]")
        if self.top_k < 1 or self.max_chunk_elements < 1:
            raise ValueError("top_k and max_chunk_elements must be at least 1")


@dataclass
class WPMIParams:
    """Plain WPMI: every top image counts fully (no rank-decayed membership), the reference's own defaults."""

    top_k: int = 28
    temperature: float = 2.0
    lam: float = 0.6
    min_prob: float = 1e-7
    max_chunk_elements: int = 16_000_000

    def __post_init__(self):
        if self.top_k < 1 or self.max_chunk_elements < 1:
            raise ValueError("top_k and max_chunk_elements must be at least 1")


def example_probabilities(top_k: int, p_start: float = 0.998, p_end: float = 0.97) -> torch.Tensor:
    """(top_k,) probability that the example of each rank is in the unit's example set."""
    ranks = torch.arange(top_k, dtype=torch.float64)
    return p_start - ranks / top_k * (p_start - p_end)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def soft_wpmi(concept_activations, unit_activations, params: SoftWPMIParams | None = None, device="cpu") -> np.ndarray:
    """(n_units, n_concepts) soft-WPMI of every unit of a layer with every concept.

    concept_activations: (n_images, n_concepts) P, e.g. CLIP image-text cosine similarities.
    unit_activations: (n_images, n_units) one scalar per image and unit.
    device: where to compute ("cuda" makes 20k-concept sets fast); the result comes back as numpy float32.
    """
    params = params or SoftWPMIParams()
    top_k = min(params.top_k, np.shape(unit_activations)[0])
    in_examples = example_probabilities(top_k, params.p_start, params.p_end).tolist()
    return _pointwise_mutual_information(
        concept_activations, unit_activations, top_k, params.temperature, params.lam, params.min_prob,
        in_examples, params.max_chunk_elements, device,
    )


def wpmi(concept_activations, unit_activations, params: WPMIParams | None = None, device="cpu") -> np.ndarray:
    """(n_units, n_concepts) WPMI of the reference code (`similarity.wpmi`): log p(c | examples) sums
    log(P_soft + min_prob) over a unit's top_k images, all counted as certain examples."""
    params = params or WPMIParams()
    top_k = min(params.top_k, np.shape(unit_activations)[0])
    return _pointwise_mutual_information(
        concept_activations, unit_activations, top_k, params.temperature, params.lam, params.min_prob,
        [1.0] * top_k, params.max_chunk_elements, device,
    )


# The log of a product of this many factors is taken at once (one log instead of `group`); the
# group is sized so the product cannot fall below it (float32's smallest normal is ~1.2e-38).
_SMALLEST_PRODUCT = 1e-30
_MAX_GROUP = 16
# Factors gathered per step on a CPU (ranks of a group x units x concepts, 32 MiB): few large tensor ops,
# which on a shared, oversubscribed CPU beat many cache-sized ones (each op is a thread barrier).
_CPU_STEP_ELEMENTS = 1 << 23


def _pointwise_mutual_information(
    concept_activations, unit_activations, top_k, temperature, lam, min_prob, in_examples, max_chunk_elements, device
) -> np.ndarray:
    """score[u, c] = sum_r log(1 + q_r (P_soft[e_ur, c] - 1) + min_prob) - lam log mean_u' p(c | u').

    e_ur is unit u's image of activation rank r and q_r the probability that it is a true example
    (1 for plain WPMI). float32 like the reference. Memory stays bounded: P is softmaxed one
    block of concepts at a time, only on the images that are someone's example, and each block is
    consumed rank by rank into two small buffers.
    """
    concepts = _float32_tensor(concept_activations)
    activations = _float32_tensor(unit_activations)
    if concepts.ndim != 2 or activations.ndim != 2 or concepts.shape[0] != activations.shape[0]:
        raise ValueError(
            f"need P (images, concepts) and activations (images, units) over the same images, "
            f"got {tuple(concepts.shape)} and {tuple(activations.shape)}"
        )
    device = torch.device(device)
    n_concepts, n_units = concepts.shape[1], activations.shape[1]
    examples = torch.topk(activations.to(device), k=top_k, dim=0).indices  # (top_k, n_units)
    used_images, examples = torch.unique(examples, return_inverse=True)
    used_images = used_images.cpu()
    row_log_norm = _row_logsumexp(concepts, used_images, temperature, max_chunk_elements, device)

    log_given_examples = torch.zeros((n_units, n_concepts), dtype=torch.float32, device=device)
    block_width = max(1, min(n_concepts, max_chunk_elements // max(1, len(used_images))))
    q = torch.tensor(in_examples, dtype=torch.float32, device=device)[:, None, None]
    offset = (1.0 - q) + min_prob
    block_space, factor_space, product_space = _Scratch("cpu"), _Scratch(device), _Scratch(device)
    for c0 in range(0, n_concepts, block_width):
        c1 = min(n_concepts, c0 + block_width)
        block = block_space.view(len(used_images), c1 - c0)
        torch.index_select(concepts[:, c0:c1], 0, used_images, out=block)
        block = block.to(device)
        block.mul_(temperature).sub_(row_log_norm[:, None]).exp_()  # softmax over all concepts
        group = _safe_group_size(float(block.min()), in_examples, min_prob)
        step_units = n_units if device.type != "cpu" else max(1, min(n_units, _CPU_STEP_ELEMENTS // (group * (c1 - c0))))
        factors = factor_space.view(group * step_units, c1 - c0)
        product = product_space.view(step_units, c1 - c0)
        for u0 in range(0, n_units, step_units):
            u1 = min(n_units, u0 + step_units)
            out = log_given_examples[u0:u1, c0:c1]
            for r0 in range(0, top_k, group):
                r1 = min(top_k, r0 + group)
                f = factors[: (r1 - r0) * (u1 - u0)]
                torch.index_select(block, 0, examples[r0:r1, u0:u1].reshape(-1), out=f)
                f = f.view(r1 - r0, u1 - u0, c1 - c0)
                torch.addcmul(offset[r0:r1], f, q[r0:r1], out=f)  # 1 - q + q x + min_prob, one pass
                prod = product[: u1 - u0]
                torch.prod(f, dim=0, out=prod)
                out.add_(prod.log_())

    # log of the mean over units, without underflow
    log_p_concept = torch.logsumexp(log_given_examples, dim=0, keepdim=True) - math.log(n_units)
    return log_given_examples.sub_(lam * log_p_concept).cpu().numpy()


def _float32_tensor(values) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float32)
    array = np.asarray(values, dtype=np.float32)
    if not array.flags.writeable:  # read-only memmaps of the activation cache
        array = array.copy()
    return torch.from_numpy(array)


def _row_logsumexp(concepts, rows, temperature, max_chunk_elements, device) -> torch.Tensor:
    """log sum_c exp(temperature * P[i, c]) of each row i of `rows` (sorted, unique), a few rows at a time."""
    n_rows, n_concepts = len(rows), concepts.shape[1]
    every_row = n_rows == concepts.shape[0]  # then rows are 0..n-1: read P in place, no gather
    step = max(1, min(n_rows, max_chunk_elements // max(1, n_concepts)))
    space = _Scratch("cpu")
    result = torch.empty(n_rows, dtype=torch.float32, device=device)
    for i in range(0, n_rows, step):
        chunk = space.view(min(step, n_rows - i), n_concepts)
        if every_row:
            torch.mul(concepts[i : i + len(chunk)], temperature, out=chunk)
        else:
            torch.index_select(concepts, 0, rows[i : i + len(chunk)], out=chunk).mul_(temperature)
        chunk = chunk.to(device)
        peak = chunk.amax(dim=1, keepdim=True)
        peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))  # rows of +-inf: as logsumexp
        result[i : i + len(chunk)] = chunk.sub_(peak).exp_().sum(dim=1).log_().add_(peak[:, 0])
    return result


class _Scratch:
    """One flat float32 buffer handed out as tensors of the shapes asked for: a fresh large tensor for every
    block would be new memory from the OS each time, paid for in page faults."""

    def __init__(self, device):
        self.device = device
        self.flat = torch.empty(0, dtype=torch.float32, device=device)

    def view(self, *shape) -> torch.Tensor:
        size = math.prod(shape)
        if size > self.flat.numel():
            self.flat = torch.empty(size, dtype=torch.float32, device=self.device)
        return self.flat[:size].view(*shape)


def _safe_group_size(smallest_probability: float, in_examples, min_prob: float) -> int:
    smallest_factor = min(1.0 - q + q * smallest_probability for q in in_examples) + min_prob
    if smallest_factor <= 0.0:  # log(0) = -inf either way; keep it per factor
        return 1
    if smallest_factor >= 1.0:
        return _MAX_GROUP
    return int(min(_MAX_GROUP, max(1, math.log(_SMALLEST_PRODUCT) // math.log(smallest_factor))))


def best_concepts(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best = scores.argmax(axis=1)
    return best, scores[np.arange(scores.shape[0]), best]


# -- P from CLIP --------------------------------------------------------------


@torch.inference_mode()
def clip_concept_similarities(model, tokenizer, preprocess, images, concepts: Sequence[str], batch_size: int = 64, device="cpu") -> np.ndarray:
    """(n_images, n_concepts) cosine similarity of CLIP image and text embeddings.

    As in the reference code: the prompt is the bare concept, both embeddings are
    L2-normalised, no logit scale. `images` are PIL images; `preprocess` is the
    model's open_clip eval transform, `tokenizer` its open_clip tokenizer.
    """
    model = model.to(device).eval()
    dtype = next(model.parameters()).dtype  # half-precision models take half-precision pixels
    text_features = []
    for start in range(0, len(concepts), batch_size):
        tokens = tokenizer([str(c) for c in concepts[start : start + batch_size]]).to(device)
        text_features.append(model.encode_text(tokens).float())
    text = torch.cat(text_features)
    text = text / text.norm(dim=-1, keepdim=True)

    image_features = []
    batch = []
    for image in images:
        batch.append(preprocess(image.convert("RGB")))
        if len(batch) == batch_size:
            image_features.append(model.encode_image(torch.stack(batch).to(device, dtype)).float())
            batch = []
    if batch:
        image_features.append(model.encode_image(torch.stack(batch).to(device, dtype)).float())
    image = torch.cat(image_features)
    image = image / image.norm(dim=-1, keepdim=True)
    return (image @ text.T).cpu().numpy()


# -- the methods ----------------------------------------------------------------


def _aligned_rows(probe, cache) -> list[int]:
    """Probe-set row of each activation-cache row."""
    probe_row = {image_id: row for row, image_id in enumerate(probe.image_ids)}
    try:
        return [probe_row[image_id] for image_id in cache.image_ids]
    except KeyError as missing:
        raise ValueError(f"activation cache has image {missing} that is not in probing set {probe.name!r}") from None


def _records(scores: np.ndarray, concepts: Sequence[str], units, params: SoftWPMIParams, source: str):
    best, best_score = best_concepts(scores)
    return [
        ExplanationRecord(
            unit=int(unit),
            text=str(concepts[int(best[unit])]),
            score=float(best_score[unit]),
            score_name="soft-wpmi",
            details={"concept_source": source, "params": {f.name: getattr(params, f.name) for f in fields(SoftWPMIParams)}},
        )
        for unit in units
    ]


@register
class ClipDissectAnnotations(ExplanationMethod):
    """soft-WPMI with P = the probing set's concept annotations instead of CLIP (runs offline)."""

    name = "clip-dissect-annotations"
    display_name = "CLIP-Dissect (soft-WPMI on annotations)"
    kind = "generated"
    description = "CLIP-Dissect's soft-WPMI with the concept-presence matrix of an annotated probing set as P."
    params_class = SoftWPMIParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        params = self.parse_params(inputs.params)
        probe, cache = self.annotated_probe(inputs), inputs.activations
        presence = np.asarray(probe.concept_presence(), dtype=np.float32)[_aligned_rows(probe, cache)]
        scores = soft_wpmi(presence, cache.summaries(), params, device=default_device())
        return _records(scores, probe.concept_names, units, params, source="annotations")


@dataclass
class ClipDissectParams(SoftWPMIParams):
    concepts: tuple[str, ...] = ()  # the concept set; blank: concept_file, else the probe's concepts
    concept_file: str = ""  # one concept a line (e.g. the 20k most common English words)


def _concept_set(params: ClipDissectParams, probe) -> list[str]:
    """Concepts from param `concepts`, else `concept_file` (one a line), else the probe's concepts."""
    if params.concepts:
        concepts = list(params.concepts)
    elif params.concept_file:
        lines = Path(params.concept_file).read_text(encoding="utf-8").splitlines()
        concepts = [line.strip() for line in lines if line.strip()]
    else:
        concepts = list(probe.concept_names)
    if not concepts:
        raise ValueError("clip-dissect needs a concept set: pass params 'concepts' or 'concept_file', or an annotated probe")
    return concepts


def _clip_parts(handle):
    """(model, preprocess, tokenizer) from what foundation.get_clip() returns."""
    if isinstance(handle, (tuple, list)) and len(handle) == 3:
        return tuple(handle)
    try:
        return handle.model, handle.preprocess, handle.tokenizer
    except AttributeError:
        raise TypeError(
            "foundation.get_clip() must give (model, preprocess, tokenizer) or an object with those attributes"
        ) from None


@register
class ClipDissect(ExplanationMethod):
    """The paper's method: P from CLIP image-text similarities (model from foundation)."""

    name = "clip-dissect"
    display_name = "CLIP-Dissect"
    kind = "generated"
    description = "Oikarinen & Weng 2023: soft-WPMI between unit activations and CLIP image-concept similarities."
    params_class = ClipDissectParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        params = self.parse_params(inputs.params)
        try:
            from foundation import get_clip
        except ImportError:
            raise RuntimeError(
                "clip-dissect needs foundation.get_clip(), which is not available in this installation"
            ) from None
        model, preprocess, tokenizer = _clip_parts(get_clip())
        probe, cache = inputs.probe, inputs.activations
        concepts = _concept_set(params, probe)
        rows = _aligned_rows(probe, cache)
        device = next(model.parameters()).device
        similarities = clip_concept_similarities(
            model, tokenizer, preprocess, (probe.load_image(row) for row in rows), concepts, device=device
        )
        scores = soft_wpmi(similarities, cache.summaries(), params, device=device)
        return _records(scores, concepts, units, params, source="clip")
