"""Occlusion + LLM vocabulary + CLIP ("Automated Natural Language Explanation of Deep Visual
Neurons with Large Models", arXiv 2310.10708).

Steps, top to bottom:
  1. the unit's top images (from the activation cache);
  2. occlusion: a square occluder slides over each top image with stride 3 (as the paper states);
     the drop of the unit's activation at every position gives a map, and the occluder position
     with the largest drop is the patch that drives the unit;
  3. vocabulary: for every class of the dataset the LLM is asked "What are useful features for
     distinguishing a {class name} in an image? Please give me a list of short phrases." (answers
     cached by the LLM adapter), and the phrases of all answers, deduplicated, are the vocabulary;
  4. CLIP similarity between each patch and each phrase, averaged over the unit's top images;
  5. the best-matching phrases are the explanation (ranks 1..`labels_per_unit`).

Details the paper leaves open, and the choices made here (all in `OcclusionVocabularyParams`):
  * occluder size: `patch_fraction` of the shorter image side (1/4), on the network's input;
  * occluder fill: 0 in the network's normalised input space (the dataset mean colour);
  * the activation is the unit's spatial mean (the engine's summary);
  * the patch cut out for CLIP is the occluder's square at the best position, on the original
    image scaled to the network's input size, enlarged by `patch_margin` on each side;
  * number of top images per unit (`top_k`, 10, the platform's usual top-k);
  * phrases are the answer's lines with list markers removed, lower-cased, 1-8 words;
  * patch-phrase similarity is CLIP cosine, averaged over top images (no softmax, no
    subtraction of a generic baseline).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput

VOCABULARY_QUESTION = (
    "What are useful features for distinguishing a {class_name} in an image? Please give me a list of short phrases."
)


@dataclass
class OcclusionVocabularyParams:
    top_k: int = 10
    stride: int = 3
    patch_fraction: float = 0.25
    patch_margin: float = 0.0
    labels_per_unit: int = 3
    batch_size: int = 256
    temperature: float = 0.0


# 2. Occlusion -----------------------------------------------------------------------------------


def occluder_positions(height: int, width: int, patch: int, stride: int) -> list[tuple[int, int]]:
    ys = list(range(0, max(height - patch, 0) + 1, stride))
    xs = list(range(0, max(width - patch, 0) + 1, stride))
    return [(y, x) for y in ys for x in xs]


@torch.inference_mode()
def occlusion_drops(activation_fn: Callable[[torch.Tensor], np.ndarray], image: torch.Tensor, patch: int, stride: int,
                    fill: float = 0.0, batch_size: int = 256) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(positions, units) drop of every unit's activation when the occluder sits at each position.

    `activation_fn(batch (n, c, h, w)) -> (n, units)`; `image` is one (c, h, w) network input.
    """
    _, height, width = image.shape
    positions = occluder_positions(height, width, patch, stride)
    baseline = np.asarray(activation_fn(image[None]))[0]
    drops = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start:start + batch_size]
        batch = image.repeat(len(chunk), 1, 1, 1)
        for i, (y, x) in enumerate(chunk):
            batch[i, :, y:y + patch, x:x + patch] = fill
        drops.append(baseline[None, :] - np.asarray(activation_fn(batch)))
    return np.concatenate(drops), positions


def best_patch_box(drops: np.ndarray, positions: Sequence[tuple[int, int]], patch: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the occluder position with the largest drop."""
    y, x = positions[int(np.argmax(drops))]
    return y, x, y + patch, x + patch


# 3. Vocabulary ----------------------------------------------------------------------------------

_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|[a-z][.)])\s*", re.IGNORECASE)


def parse_phrases(answer: str, max_words: int = 8) -> list[str]:
    """The answer's list items (every line when it has no list markers), cleaned."""
    lines = [line for line in answer.splitlines() if line.strip() and not line.strip().endswith(":")]
    if any(_LIST_MARKER.match(line) for line in lines):
        lines = [line for line in lines if _LIST_MARKER.match(line)]
    phrases = []
    for line in lines:
        phrase = _LIST_MARKER.sub("", line).strip().strip(".;,:").strip().lower()
        phrase = re.sub(r"\*\*", "", phrase)
        if phrase and 1 <= len(phrase.split()) <= max_words and not phrase.endswith("?"):
            phrases.append(phrase)
    return phrases


def class_vocabulary(llm, class_names: Sequence[str], temperature: float = 0.0) -> tuple[list[str], dict[str, list[str]]]:
    """(deduplicated phrases in first-seen order, {class name: its phrases})."""
    conversations = [[{"role": "user", "content": VOCABULARY_QUESTION.format(class_name=name)}] for name in class_names]
    answers = llm.chat_many(conversations, temperature=temperature)
    per_class = {name: parse_phrases(answer) for name, answer in zip(class_names, answers)}
    vocabulary = list(dict.fromkeys(phrase for phrases in per_class.values() for phrase in phrases))
    return vocabulary, per_class


# 4-5. CLIP matching -----------------------------------------------------------------------------


def best_phrases(patch_embeddings: torch.Tensor, phrase_embeddings: torch.Tensor, vocabulary: Sequence[str], count: int) -> list[tuple[str, float]]:
    """Phrases by mean cosine over the patches (normalised embeddings), best first."""
    similarity = (patch_embeddings @ phrase_embeddings.T).mean(dim=0)
    order = torch.argsort(similarity, descending=True)[:count]
    return [(vocabulary[int(i)], float(similarity[int(i)])) for i in order]


def _class_name_for_prompt(name: str) -> str:
    """ImageNet lines list synonyms ("tench, Tinca tinca"); the first is the name."""
    return name.split(",")[0].strip()


@register
class OcclusionVocabularyMethod(ExplanationMethod):
    name = "occlusion-vocabulary"
    display_name = "Occlusion + LLM vocabulary + CLIP"
    description = "Occlusion patches of the top images matched by CLIP to an LLM-written class-feature vocabulary (2310.10708)."
    params_class = OcclusionVocabularyParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        import foundation
        from explain.activations import unit_activations
        from explain.networks import load_network

        params = self.parse_params(inputs.params)
        class_names = list(inputs.network.class_names) or list(getattr(inputs.probe, "class_names", []))
        if not class_names:
            raise ValueError(f"network {inputs.network} has no class names to build the vocabulary from")
        vocabulary, _ = class_vocabulary(foundation.get_llm(), [_class_name_for_prompt(n) for n in class_names], params.temperature)
        if not vocabulary:
            raise ValueError("the LLM's answers gave no phrase for the vocabulary")
        clip = foundation.get_clip()
        phrase_embeddings = clip.encode_texts(vocabulary)
        model, preprocess = load_network(inputs.network)
        layer_name = inputs.layer.name

        def activation_fn(batch):
            return unit_activations(model, layer_name, batch, summary="mean")

        top = inputs.activations.top_indices(params.top_k)
        records = []
        for unit in units:
            patches, boxes = [], []
            for row in top[unit]:
                image = inputs.probe.load_image(int(row))
                tensor = preprocess(image)
                patch = max(1, int(round(params.patch_fraction * min(tensor.shape[1:]))))
                drops, positions = occlusion_drops(lambda b: activation_fn(b)[:, [unit]], tensor, patch, params.stride,
                                                   batch_size=params.batch_size)
                box = best_patch_box(drops[:, 0], positions, patch)
                patches.append(_crop(image, box, tensor.shape[1:], params.patch_margin))
                boxes.append([int(inputs.probe.image_ids[int(row)]), *box])
            ranked = best_phrases(clip.encode_images(patches), phrase_embeddings, vocabulary, params.labels_per_unit)
            for rank, (phrase, similarity) in enumerate(ranked, start=1):
                records.append(ExplanationRecord(unit=unit, text=phrase, rank=rank, score=similarity, score_name="clip-cosine",
                                                 details={"patches": boxes, "vocabulary_size": len(vocabulary), "params": asdict(params)}))
        return records


def _crop(image, box, input_size, margin: float):
    """The occluder's square, mapped from the network input back onto the image."""
    top, left, bottom, right = box
    height, width = input_size
    scale_y, scale_x = image.height / height, image.width / width
    pad_y, pad_x = margin * (bottom - top), margin * (right - left)
    return image.crop((
        max(0, int((left - pad_x) * scale_x)), max(0, int((top - pad_y) * scale_y)),
        min(image.width, int(np.ceil((right + pad_x) * scale_x))), min(image.height, int(np.ceil((bottom + pad_y) * scale_y))),
    ))
