"""Scoring jobs: plain functions; the `score_explanations` command wraps them."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from explain.lookups import named
from explain.models import Explanation, Layer

from .services import store_metric_scores, store_simulation

EMBEDDING_METRICS = ("text-cosine", "clip-cosine", "bertscore")


class ScoringError(ValueError):
    """A scoring request that cannot be carried out; the message says what is wrong."""


def layer_explanations(network: str, layer: str, methods: Sequence[str] = ()) -> tuple[Layer, list[Explanation]]:
    layer_row = named(Layer.objects.select_related("network").filter(network__name=network), layer,
                      what=f"layer of network {network!r}", error=ScoringError)
    rows = Explanation.objects.filter(neuron__layer=layer_row).select_related("neuron", "method").order_by("method__name", "neuron__unit", "rank")
    if methods:
        rows = rows.filter(method__name__in=methods)
    rows = list(rows)
    if not rows:
        raise ScoringError(f"no explanations of {network}/{layer}" + (f" by {', '.join(methods)}" if methods else ""))
    return layer_row, rows


def unit_references(layer: Layer, references_file: str | None) -> list[str]:
    """One reference text per unit: the lines of `references_file` (whole lines), else the network's class names."""
    if references_file:
        path = Path(references_file)
        if not path.is_file():
            raise ScoringError(f"reference file {path} does not exist")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if layer.network.class_names:
        return list(layer.network.class_names)
    raise ScoringError(f"no references for {layer}: give --references FILE (one line a unit) or set the network's class names")


def metric_values(metric: str, texts: list[str], references: list[str], *, bertscore_model: str = "roberta-large",
                  bertscore_layers: int | None = None) -> tuple[np.ndarray, str]:
    import foundation
    from scoring.metrics import bertscore_f1, clip_text_cosine, text_cosine

    if metric == "text-cosine":
        embedder = foundation.get_text_embedder()
        return text_cosine(embedder, texts, references), getattr(embedder, "name", "")
    if metric == "clip-cosine":
        clip = foundation.get_clip()
        return clip_text_cosine(clip, texts, references), getattr(clip, "name", "")
    if metric == "bertscore":
        return bertscore_f1(texts, references, model_type=bertscore_model, num_layers=bertscore_layers), bertscore_model
    raise ScoringError(f"unknown metric {metric!r}; choose from {', '.join(EMBEDDING_METRICS + ('simulation',))}")


def score_with_references(network: str, layer: str, metric: str, *, methods: Sequence[str] = (), references_file: str | None = None,
                          **metric_options) -> dict[str, float]:
    """Agreement of every explanation of the layer with its unit's reference; stores it and returns the mean per method."""
    layer_row, rows = layer_explanations(network, layer, methods)
    references = unit_references(layer_row, references_file)
    outside = sorted({row.neuron.unit for row in rows if row.neuron.unit >= len(references)})
    if outside:
        raise ScoringError(f"{len(references)} references but explanations of units up to {outside[-1]} (e.g. units {outside[:5]})")
    paired = [references[row.neuron.unit] for row in rows]
    values, model_name = metric_values(metric, [row.text for row in rows], paired, **metric_options)
    store_metric_scores(rows, values, paired, metric=metric, model_name=model_name)
    return mean_per_method(rows, values)


def mean_per_method(rows: Sequence[Explanation], values) -> dict[str, float]:
    grouped = defaultdict(list)
    for row, value in zip(rows, values):
        grouped[row.method.name].append(float(value))
    return {method: float(np.mean(v)) for method, v in sorted(grouped.items())}


def score_by_simulation(network: str, layer: str, probe: str | None = None, *, kind: str = "caption", methods: Sequence[str] = (),
                        params=None, chat=None, few_shot_method: str = "", show_progress: bool = True) -> dict[str, float]:
    """Simulation score (Algorithm 1) of every first-rank explanation of the layer.

    kind "caption": the simulator predicts the unit's activation on captions of the probing images;
    kind "class": it predicts the unit's weight to each output class (equation 1) from the class name.
    """
    from scoring.simulation import SimulationParams, few_shot_unit
    from scoring.simulation import score_by_simulation as simulate

    from explain.few_shot import choose_few_shot_units

    params = params or SimulationParams()
    layer_row, rows = layer_explanations(network, layer, methods)
    rows = [row for row in rows if row.rank == 1]
    if kind == "caption":
        if not probe:
            raise ScoringError("caption simulation needs a probing set (--probe)")
        pairs_of, shown_of = _caption_pairs(layer_row, probe)
    elif kind == "class":
        pairs_of, shown_of = _class_weight_pairs(layer_row)
    else:
        raise ScoringError(f"unknown simulation kind {kind!r}; choose caption or class")
    model_name = getattr(chat, "model", "")
    if chat is None:
        import foundation
        from foundation.llm_chat import openai_chat

        llm = foundation.get_llm()
        chat = openai_chat(llm.client, llm.model, temperature=params.temperature, top_logprobs=params.top_logprobs, cache=llm.cache)
        model_name = llm.model

    means = []
    for row in tqdm(rows, desc=f"simulating {network}/{layer}", disable=not show_progress):
        choice = choose_few_shot_units(layer_row, kind, row.neuron.unit, params.few_shot_examples, few_shot_method)
        examples = [few_shot_unit(text, pairs_of(u), params.pairs_per_example, seed=params.seed + u, highest_share=params.highest_share)
                    for u, text in choice.units]
        outcome = simulate(chat, row.text, pairs_of(row.neuron.unit), examples, params, kind=kind, shown_to_explainer=shown_of(row))
        store_simulation(row, outcome, kind=kind, llm_model=model_name, few_shot_source=choice.source, params=params)
        means.append(np.nan if outcome.mean is None else outcome.mean)
    scored = [(row, value) for row, value in zip(rows, means) if not np.isnan(value)]
    return mean_per_method([r for r, _ in scored], [v for _, v in scored])


def _caption_pairs(layer_row: Layer, probe: str):
    """(unit -> caption-activation pairs over the probing set, explanation -> rows shown to its explainer)."""
    from explain.methods.tellme_prompts import Pair
    from explain.methods.tellme import image_captions

    summaries, probe_set = _layer_summaries(layer_row, probe)
    captions, _ = image_captions(probe_set, range(summaries.shape[0]))
    texts = [captions[i] for i in range(summaries.shape[0])]
    row_of_image = {image_id: row for row, image_id in enumerate(probe_set.image_ids)}

    def pairs_of(unit):
        return [Pair(text, float(value)) for text, value in zip(texts, summaries[:, unit])]

    def shown_of(explanation):
        # Caption-Activation records [image id, caption, activation] for the images its prompt showed.
        pairs = explanation.details.get("pairs", []) if explanation.details.get("kind") == "caption" else []
        return [row_of_image[p[0]] for p in pairs if isinstance(p, list) and p and p[0] in row_of_image]

    return pairs_of, shown_of


def _class_weight_pairs(layer_row: Layer):
    from explain.methods.tellme_prompts import Pair
    from explain.networks import load_network
    from explain.unit_weights import class_weights

    class_names = list(layer_row.network.class_names)
    if not class_names:
        raise ScoringError(f"network {layer_row.network} has no class names to simulate weights with")
    model, _ = load_network(layer_row.network)
    unit_count = layer_row.unit_count or _count_units(layer_row)
    weights = class_weights(model, layer_row.name, unit_count).numpy()

    def pairs_of(unit):
        return [Pair(name, float(w)) for name, w in zip(class_names, weights[:, unit])]

    def shown_of(explanation):
        pairs = explanation.details.get("pairs", []) if explanation.details.get("kind") == "class" else []
        return [p[0] for p in pairs if isinstance(p, list) and p]

    return pairs_of, shown_of


def _count_units(layer_row: Layer) -> int:
    if layer_row.unit_count:
        return layer_row.unit_count
    raise ScoringError(f"layer {layer_row} has no unit count recorded")


def _layer_summaries(layer: Layer, probe: str):
    from explain.activations import get_activation_cache
    from explain.models import ProbeDataset
    from explain.probes import get_probe_set

    dataset = named(ProbeDataset, probe, what="probing dataset", error=ScoringError)
    cache = get_activation_cache(layer.network, dataset, layer.name)
    return cache.summaries(), get_probe_set(dataset)
