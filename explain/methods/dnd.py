"""Describe-and-Dissect (Bai et al., 2024): training-free open-vocabulary neuron descriptions.

Step 1 augments each unit's top images with attention crops; step 2 captions the
top images, has an LLM simplify and summarise the captions into candidate
concepts; step 3 generates images of every candidate with Stable Diffusion and
keeps the candidates whose images excite the unit most.

Batched across units: the union of all units' images is captioned once, LLM calls
run concurrently (and are cached), Stable Diffusion runs over all units'
candidates in batches, and the target network sees all new images in batches.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from . import dnd_prompts as prompts
from . import dnd_scoring as scoring
from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput
from .dnd_crops import attention_boxes, crop_images


@dataclass
class DnDConfig:
    """The paper's hyperparameters and their defaults."""

    top_k: int = 10  # top images per unit, over originals and crops
    crops_per_image: int = 4
    max_iou_between_crops: float = 0.5
    max_iou_with_image: float = 0.8
    candidates: int = 5  # N candidate concepts from the LLM
    llm_temperature: float = 0.3
    images_per_concept: int = 10  # Q Stable Diffusion images per candidate
    sd_prompt: str = "One realistic image of {}"
    # Vague last words that Stable Diffusion draws poorly; a "<concept> background" candidate is added.
    vague_words: tuple = ("design", "designs", "graphic", "graphics")
    beta: int = 5  # TopK Squared: best ranks averaged
    image_products_top: int = 10  # t: generated images counted by Image Products
    scoring: str = "topk-squared+image-products"
    labels: int = 3  # ranked labels kept per unit
    multiple_labels: bool = False
    label_similarity_limit: float = 0.81  # CLIP text similarity above which a label repeats a kept one
    use_step3: bool = True
    seed: int = 0
    # Not from the paper: how many generated images are held in memory at once (a group of units).
    generation_group_images: int = 640
    # Where the reference code differs from this implementation: "project" (default) or "reference".
    # See docs/methods.md for why the defaults differ.
    crop_heatmap: str = "project"  # reference: map x 255 cast to uint8 (wraps), bicubic, transposed image box
    ties: str = "project"  # reference: torch.sort order for equal activations, later candidate wins a score tie
    candidate_cleanup: str = "project"  # reference: vague last word checked before the final period is dropped

    SCORINGS = ("mean", "topk-squared", "image-products", "topk-squared+image-products")
    FIDELITY = ("project", "reference")

    def __post_init__(self):
        if self.scoring not in self.SCORINGS:
            raise ValueError(f"unknown DnD scoring function {self.scoring!r}; choose from {', '.join(self.SCORINGS)}")
        for name in ("crop_heatmap", "ties", "candidate_cleanup"):
            if getattr(self, name) not in self.FIDELITY:
                raise ValueError(f"DnD {name}={getattr(self, name)!r}: choose project or reference")
        if self.images_per_concept >= 100:
            raise ValueError("images_per_concept must be below 100")


def stable_seed(*parts) -> int:
    """A seed from its parts: the same on every run and machine (unlike hash())."""
    digest = hashlib.sha256("/".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class UnitWork:
    unit: int
    pool: list[dict] = field(default_factory=list)  # originals and crops: {"image", "kind", "probe_image", ...}
    top: list[dict] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    concepts: list[dict] = field(default_factory=list)
    labels: list[tuple[str, float | None]] = field(default_factory=list)


class DescribeAndDissect(ExplanationMethod):
    name = "dnd"
    display_name = "Describe-and-Dissect"
    description = "Attention crops, BLIP captions, LLM summaries, Stable Diffusion concept selection (Bai et al. 2024)."
    params_class = DnDConfig
    # "target" hands in the target network's activation function (tests, benchmarks).
    extra_params = ("target",)
    config_overrides: dict = {}

    def __init__(self):
        self.timings: dict[str, float] = {}

    def parse_params(self, given: dict) -> DnDConfig:
        return replace(super().parse_params(given), **self.config_overrides)

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        import foundation

        config = self.parse_params(inputs.params)
        target = inputs.params.get("target")
        if target is None:
            from .dnd_target import TargetActivations

            target = TargetActivations.for_network(inputs.network, inputs.layer.name)
        self.timings = {}
        work = [UnitWork(unit=int(unit)) for unit in sorted(set(units))]
        steps = 3 if config.use_step3 else 2
        report = inputs.progress or (lambda done, total, message: None)

        with self._timed("step1_crops"):
            self.attention_crops(inputs, work, config, target)
        report(1, steps, "DnD step 1: attention crops")
        with self._timed("step2_captions"):
            self.caption_top_images(work, foundation.get_captioner())
        with self._timed("step2_llm"):
            self.candidate_concepts(work, foundation.get_llm(), config)
        report(2, steps, "DnD step 2: candidate concepts")
        if config.use_step3:
            self.select_concepts(inputs, work, config, target, foundation)
            report(3, steps, "DnD step 3: concept selection")
        else:
            for unit_work in work:
                unit_work.labels = [(unit_work.candidates[0], None)] if unit_work.candidates else []
        return self.records(work, config)

    @contextlib.contextmanager
    def _timed(self, step):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - start

    # Step 1 ------------------------------------------------------------------------------------------
    def attention_crops(self, inputs: MethodInput, work: list[UnitWork], config: DnDConfig, target) -> None:
        """Crop each top image around where the unit fires; keep the K most activating of originals ∪ crops."""
        from .dnd_store import crops_dataset, store_images

        cache, probe = inputs.activations, inputs.probe
        top_rows = cache.top_indices(config.top_k)
        map_of = top_image_maps(cache, config.top_k) if config.crops_per_image else (lambda *a: None)
        crop_rows = []
        for unit_work in tqdm(work, desc="DnD crops", disable=len(work) < 5):
            column = cache_column(cache, unit_work.unit)
            for position, row in enumerate(top_rows[column]):
                image = probe.load_image(int(row)).convert("RGB")
                image_id = int(cache.image_ids[int(row)])
                unit_work.pool.append({"image": image, "kind": "original", "probe_image": image_id})
                activation_map = map_of(column, position, int(row))
                if activation_map is None:
                    continue
                boxes = attention_boxes(activation_map, image.size, config.crops_per_image,
                                        config.max_iou_between_crops, config.max_iou_with_image, config.crop_heatmap)
                crops = crop_images(image, boxes, config.crop_heatmap)
                for crop_number, (box, crop) in enumerate(zip(boxes, crops)):
                    entry = {"image": crop, "kind": "crop", "parent": image_id, "box": list(box)}
                    unit_work.pool.append(entry)
                    crop_rows.append({
                        "entry": entry, "image": crop, "parent_id": image_id,
                        "index": (unit_work.unit * config.top_k + position) * config.crops_per_image + crop_number,
                    })
        if crop_rows:
            ids = store_images(crops_dataset(inputs.network, inputs.layer), crop_rows)
            for row, image_id in zip(crop_rows, ids):
                row["entry"]["probe_image"] = image_id

        pooled = [entry["image"] for unit_work in work for entry in unit_work.pool]
        activations = target.activations(pooled)
        offset = 0
        for unit_work in work:
            unit_acts = activations[offset:offset + len(unit_work.pool), unit_work.unit]
            offset += len(unit_work.pool)
            for entry, value in zip(unit_work.pool, unit_acts):
                entry["activation"] = float(value)
            order = scoring.descending_order(unit_acts, config.ties)[:config.top_k]
            unit_work.top = [unit_work.pool[i] for i in order]

    # Step 2 ------------------------------------------------------------------------------------------
    def caption_top_images(self, work: list[UnitWork], captioner) -> None:
        """One captioning pass over the union of the units' top images (a shared image is captioned once)."""
        unique: dict[int, object] = {}
        for unit_work in work:
            for entry in unit_work.top:
                unique.setdefault(entry["probe_image"], entry["image"])
        captions = dict(zip(unique, captioner.caption(list(unique.values()))))
        for unit_work in work:
            for entry in unit_work.top:
                entry["caption"] = captions[entry["probe_image"]]

    def candidate_concepts(self, work: list[UnitWork], llm, config: DnDConfig) -> None:
        """Simplify every caption, then summarise each unit's simplified captions N times, reshuffled."""
        unique_captions = sorted({entry["caption"] for unit_work in work for entry in unit_work.top})
        simplified = dict(zip(unique_captions, llm.chat_many(
            [prompts.simplify_messages(caption) for caption in unique_captions], temperature=config.llm_temperature)))
        conversations, owners = [], []
        for unit_work in work:
            descriptions = [simplified[entry["caption"]] for entry in unit_work.top]
            for entry in unit_work.top:
                entry["simplified"] = simplified[entry["caption"]]
            for attempt in range(config.candidates):
                order = np.random.default_rng(stable_seed(config.seed, "summary", unit_work.unit, attempt)).permutation(
                    len(descriptions))
                shuffled = [descriptions[i] for i in order]
                conversations.append(prompts.summary_messages(shuffled))
                owners.append((unit_work, shuffled))
        # Each of the N summaries is its own sample: the per-attempt seed keeps identical conversations
        # (a unit whose captions are all alike) from collapsing into one cached answer.
        answers = llm.chat_many(conversations, temperature=config.llm_temperature,
                                seeds=[stable_seed(config.seed, "summary-sample", unit_work.unit, attempt)
                                       for unit_work in work for attempt in range(config.candidates)])

        # A summary that came back as a list is summarised once more.
        parts_per_answer = [prompts.strip_label_prefix(answer).split(",") for answer in answers]
        resummarise = [i for i, parts in enumerate(parts_per_answer) if len(parts) > 1]
        reanswers = llm.chat_many([prompts.resummary_messages(parts_per_answer[i]) for i in resummarise],
                                  temperature=config.llm_temperature)
        final = [prompts.strip_label_prefix(answer) for answer in answers]
        for i, answer in zip(resummarise, reanswers):
            final[i] = prompts.strip_label_prefix(answer)
        for (unit_work, shuffled), answer, concept in zip(owners, answers, final):
            unit_work.summaries.append({"descriptions": shuffled, "answer": answer, "concept": concept})
        for unit_work in work:
            unit_work.candidates = clean_candidates([s["concept"] for s in unit_work.summaries], config.vague_words,
                                                    config.candidate_cleanup)

    # Step 3 ------------------------------------------------------------------------------------------
    def select_concepts(self, inputs: MethodInput, work: list[UnitWork], config: DnDConfig, target, foundation) -> None:
        """Generate, store, run and score the candidates' images, a group of units at a time.

        Groups hold about `generation_group_images` images, so full Stable Diffusion
        batches span candidates and units while memory stays bounded on big layers.
        """
        from .dnd_store import generated_dataset, store_images

        needs_clip = config.scoring in ("image-products", "topk-squared+image-products") or config.multiple_labels
        clip = foundation.get_clip() if needs_clip else None
        text_to_image = foundation.get_text_to_image()
        dataset = generated_dataset(inputs.network, inputs.layer)
        for unit_work in work:
            for concept in unit_work.candidates:
                unit_work.concepts.append({
                    "concept": concept, "prompt": config.sd_prompt.format(concept),
                    "seeds": [stable_seed(config.seed, "sd", unit_work.unit, concept, q)
                              for q in range(config.images_per_concept)],
                })

        for group in _groups(work, lambda w: len(w.candidates) * config.images_per_concept,
                             config.generation_group_images):
            with self._timed("step3_generation"):
                jobs = [(unit_work, c, q, concept["prompt"], seed)
                        for unit_work in group for c, concept in enumerate(unit_work.concepts)
                        for q, seed in enumerate(concept["seeds"])]
                images = text_to_image.generate([job[3] for job in jobs], [job[4] for job in jobs])
                ids = store_images(dataset, [
                    {"image": image, "caption": prompt, "concepts": [unit_work.candidates[c]],
                     "index": (unit_work.unit * 100 + c) * 100 + q}
                    for (unit_work, c, q, prompt, _), image in zip(jobs, images)])
            with self._timed("step3_activations"):
                activations = target.activations(images)
            with self._timed("step3_scoring"):
                offset = 0
                for unit_work in group:
                    n_images = len(unit_work.candidates) * config.images_per_concept
                    self.score_unit(unit_work, activations[offset:offset + n_images, unit_work.unit],
                                    images[offset:offset + n_images], ids[offset:offset + n_images], config, clip)
                    offset += n_images

    def score_unit(self, unit_work: UnitWork, activations, images, image_ids, config: DnDConfig, clip) -> None:
        q = config.images_per_concept
        n_concepts = len(unit_work.candidates)
        if n_concepts == 0:
            return
        concept_of_image = [i // q for i in range(len(images))]
        ranks = scoring.concept_ranks(activations, concept_of_image, n_concepts, config.ties)
        scores = {"mean": scoring.mean_rank(ranks), "topk-squared": scoring.topk_squared(ranks, config.beta)}
        if clip is not None and config.scoring in ("image-products", "topk-squared+image-products"):
            top_embeddings = clip.encode_images([entry["image"] for entry in unit_work.top]).numpy()
            most_activating = set(scoring.descending_order(activations, config.ties)[:config.image_products_top].tolist())
            generated = clip.encode_images(images).numpy()
            per_concept = [generated[[i for i in range(c * q, (c + 1) * q) if i in most_activating]]
                           for c in range(n_concepts)]
            scores["image-products"] = scoring.image_products(top_embeddings, per_concept)
            scores["topk-squared+image-products"] = scoring.topk_squared_with_image_products(
                scores["topk-squared"], scores["image-products"])
        chosen = scores[config.scoring]
        order = scoring.order_concepts(chosen, higher_is_better=config.scoring in ("image-products",
                                                                                  "topk-squared+image-products"),
                                       ties=config.ties)
        for c, concept in enumerate(unit_work.concepts):
            concept.update({
                "generated_images": image_ids[c * q:(c + 1) * q],
                "activations": [float(a) for a in activations[c * q:(c + 1) * q]],
                "ranks": ranks[c],
                "scores": {name: _json_number(values[c]) for name, values in scores.items()},
            })
        kept = [int(i) for i in order]
        if config.multiple_labels:
            similarity = clip.encode_texts(unit_work.candidates).numpy() @ clip.encode_texts(unit_work.candidates).numpy().T
            distinct = []
            for i in kept:
                if all(similarity[i, j] <= config.label_similarity_limit for j in distinct):
                    distinct.append(i)
            kept = distinct
        unit_work.labels = [(unit_work.candidates[i], float(chosen[i])) for i in kept[:config.labels]]

    # Records ---------------------------------------------------------------------------------------
    def records(self, work: list[UnitWork], config: DnDConfig) -> list[ExplanationRecord]:
        records = []
        score_name = config.scoring if config.use_step3 else ""
        for unit_work in work:
            details = {
                "config": _json_config(config),
                "top_images": [{key: entry.get(key) for key in
                                ("probe_image", "kind", "parent", "box", "activation", "caption", "simplified")}
                               for entry in unit_work.top],
                "crops": [{"probe_image": e["probe_image"], "parent": e["parent"], "box": e["box"]}
                          for e in unit_work.pool if e["kind"] == "crop"],
                "summaries": unit_work.summaries,
                "candidates": unit_work.candidates,
                "concepts": unit_work.concepts,
                "labels": [label for label, _ in unit_work.labels],
            }
            for rank, (label, score) in enumerate(unit_work.labels, start=1):
                records.append(ExplanationRecord(
                    unit=unit_work.unit, text=label, rank=rank, score=_json_number(score), score_name=score_name,
                    details=details if rank == 1 else {"intermediates_on_rank": 1, "label_rank": rank},
                ))
        return records


def _groups(items, size_of, budget: int):
    """Consecutive groups whose sizes add up to about `budget` (an item bigger than it is a group alone)."""
    group, total = [], 0
    for item in items:
        if group and total + size_of(item) > budget:
            yield group
            group, total = [], 0
        group.append(item)
        total += size_of(item)
    if group:
        yield group


def cache_column(cache, unit: int) -> int:
    """Where `unit` sits in a cache that may hold only some of the layer's units."""
    recorded = getattr(cache, "units", None)
    if not recorded:
        return unit
    try:
        return list(recorded).index(unit)
    except ValueError:
        raise ValueError(f"unit {unit} was not recorded in this activation cache (it holds {len(recorded)} units)") from None


def top_image_maps(cache, top_k: int):
    """`map_of(column, position, row)`: the activation map of a unit's top image, or None where no map exists.

    The recorder keeps the maps of each unit's top images; the full maps are the
    fallback when more top images are asked for than it kept. Layers without a
    spatial extent (fully connected units) have nothing to crop.
    """
    top_maps = cache.top_maps() if hasattr(cache, "top_maps") else None
    if top_maps is not None and top_maps.shape[1] >= top_k:
        maps = top_maps
        has_area = maps.shape[2] * maps.shape[3] > 1
        return lambda column, position, row: np.asarray(maps[column, position]) if has_area else None
    try:
        maps = cache.maps()
    except ValueError:  # the recording kept no full maps
        return lambda column, position, row: None
    if maps is None or maps.ndim != 4 or maps.shape[2] * maps.shape[3] <= 1:
        return lambda column, position, row: None
    return lambda column, position, row: np.asarray(maps[row, column])


def clean_candidates(concepts: Sequence[str], vague_words: Sequence[str], cleanup: str = "project") -> list[str]:
    """Lower-case, drop quotes and a final period, add '<concept> background' for vague endings, de-duplicate in order.

    cleanup="project" drops every final period before looking at the last word, so "abstract design."
    gets its background variant. cleanup="reference" does as the DnD code: it drops one final period but
    looks at the last word of the text as it was, so "abstract design." gets none. (The reference then
    de-duplicates through a Python set, whose order changes from run to run; both keep the first seen.)
    """
    cleaned = []
    for concept in concepts:
        concept = concept.strip().strip("\"'").lower()
        if not concept.rstrip(".").strip():
            continue
        if cleanup == "reference":
            last_word_of = concept
            concept = concept[:-1] if concept.endswith(".") else concept
        else:
            concept = last_word_of = concept.rstrip(".").strip()
        cleaned.append(concept)
        if last_word_of.split()[-1] in vague_words:
            cleaned.append(f"{concept} background")
    return list(dict.fromkeys(cleaned))


def _json_number(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_config(config: DnDConfig) -> dict:
    values = asdict(config)
    values["vague_words"] = list(values["vague_words"])
    return values


@register
class DescribeAndDissectWithoutStep3(DescribeAndDissect):
    """The paper's ablation: the first candidate concept, without image generation."""

    name = "dnd-without-step3"
    display_name = "Describe-and-Dissect (without step 3)"
    config_overrides = {"use_step3": False}


register(DescribeAndDissect)
