"""The LLM explainers of "TeLLMe what you see" (Guertler et al.), after Bills et al. (2023).

GPT (Caption-Activation): the unit's most activating probing images, captioned, each with the
unit's activation scaled to 0-10; GPT (Weight-Label): the unit's positive weights to the output
classes (equation 1, `explain.unit_weights`), with the class names; GPT (Weight-CLIP): the unit's
positive weights to the units of the next layer, labelled by CLIP-Dissect.

Steps, for every method:
  1. the pairs of each unit, the strongest `pairs` of them, shown weakest first;
  2. few-shot examples: units of the same layer labelled by hand in the admin, else another
     method's explanations of them (`explain.few_shot`), with their own pairs; the source is
     recorded in every explanation's details;
  3. the prompt of `explain.methods.tellme_prompts.build_explanation_messages`, one per unit, sent
     concurrently through the shared, cached LLM adapter;
  4. the completion of "the main thing this neuron does is find" is the explanation.

Choices the paper leaves open: one explanation a unit at temperature 0 (deterministic and cached;
Bills et al. sample several at temperature 1 and keep the best-scoring, which costs a simulation
per candidate); the target unit of Weight-Label shows as many pairs as its few-shot examples (25);
images without a stored caption are captioned by the captioner adapter (BLIP by default) and the
caption source is recorded.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .tellme_prompts import FewShotUnit, Pair, build_explanation_messages, strip_explanation_prefix
from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput

logger = logging.getLogger(__name__)


@dataclass
class CaptionActivationParams:
    pairs: int = 75  # top caption-activation pairs shown for the unit and each example
    few_shot_examples: int = 2
    few_shot_fallback_method: str = "netdissect"
    temperature: float = 0.0
    max_tokens: int = 60


@dataclass
class WeightLabelParams:
    pairs: int = 25
    few_shot_examples: int = 2
    few_shot_fallback_method: str = ""
    temperature: float = 0.0
    max_tokens: int = 60


@dataclass
class WeightClipParams(WeightLabelParams):
    next_layer_method: str = "clip-dissect"
    next_layer: str = ""  # the next layer's name; blank: the first module the layer feeds


# 1. Pairs ---------------------------------------------------------------------------------------


def strongest_pairs_weakest_first(values: np.ndarray, names: Sequence[str], count: int, positive_only: bool) -> list[tuple[int, Pair]]:
    """(index, Pair) of the `count` largest values, ascending; only values > 0 when `positive_only`."""
    order = np.argsort(-values, kind="stable")
    if positive_only:
        order = [i for i in order if values[i] > 0]
    chosen = list(order[:count])[::-1]
    return [(int(i), Pair(names[i], float(values[i]))) for i in chosen]


# 2-4. Prompts, LLM, explanations ----------------------------------------------------------------


@dataclass
class UnitPrompt:
    unit: int
    messages: list[dict]
    details: dict = field(default_factory=dict)


def explain_with_llm(llm, prompts: Sequence[UnitPrompt], temperature: float, max_tokens: int) -> list[ExplanationRecord]:
    replies = llm.chat_many([p.messages for p in prompts], temperature=temperature, max_tokens=max_tokens)
    records = []
    for prompt, reply in zip(prompts, replies):
        text = strip_explanation_prefix(reply)
        details = {**prompt.details, "llm_model": getattr(llm, "model", ""), "reply": reply}
        if text:
            records.append(ExplanationRecord(unit=prompt.unit, text=text, details=details))
        else:
            logger.warning("unit %s: the LLM's reply %r holds no explanation; no record", prompt.unit, reply)
    return records


def build_unit_prompts(
    units: Sequence[int],
    pairs_of_unit,  # callable(unit) -> list[(index, Pair)] weakest first
    few_shot_for_unit,  # callable(unit) -> FewShotChoice
    kind: str,
    params,
) -> list[UnitPrompt]:
    prompts = []
    for unit in units:
        target = pairs_of_unit(unit)
        if not target:
            logger.warning("unit %s has no %s pairs to show (no positive value); no explanation", unit, kind)
            continue
        choice = few_shot_for_unit(unit)
        examples = [FewShotUnit(explanation, [p for _, p in pairs_of_unit(u)]) for u, explanation in choice.units]
        prompts.append(
            UnitPrompt(
                unit=unit,
                messages=build_explanation_messages([p for _, p in target], examples, kind=kind),
                details={
                    "kind": kind,
                    "few_shot_source": choice.source,
                    "few_shot_units": [u for u, _ in choice.units],
                    "pairs": [[index, pair.description, pair.value] for index, pair in target],
                    "params": asdict(params),
                },
            )
        )
    return prompts


def _few_shot_chooser(layer, kind: str, params):
    from explain.few_shot import choose_few_shot_units

    return lambda unit: choose_few_shot_units(layer, kind, unit, params.few_shot_examples, params.few_shot_fallback_method)


def image_captions(probe, rows: Sequence[int], captioner=None) -> tuple[dict[int, str], str]:
    """{row: caption}: the stored caption where every asked image has one, else the captioner's.

    Captioner output is kept in a JSON file per probing set and captioner under VAR_DIR/captions,
    keyed by image id, so each image is captioned once across jobs (simulation asks for many).
    """
    images = getattr(probe, "images", None)
    stored = {row: (images[row].caption or "").strip() for row in rows} if images is not None else {}
    if stored and all(stored.values()):
        return stored, "stored"
    if captioner is None:
        from foundation import get_captioner

        captioner = get_captioner()
    name = getattr(captioner, "name", "") or type(captioner).__name__
    cache_path = _caption_cache_path(probe, name)
    known = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.exists() else {}
    rows = list(rows)
    missing = [row for row in rows if str(probe.image_ids[row]) not in known]
    for start in range(0, len(missing), 256):
        chunk = missing[start:start + 256]
        for row, caption in zip(chunk, captioner.caption([probe.load_image(row) for row in chunk])):
            known[str(probe.image_ids[row])] = caption
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_path.with_suffix(".partial")
        temporary.write_text(json.dumps(known), encoding="utf-8")
        temporary.replace(cache_path)
    return {row: known[str(probe.image_ids[row])] for row in rows}, f"captioner:{name}"


def _caption_cache_path(probe, captioner_name: str) -> Path:
    from django.conf import settings

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", captioner_name)
    return Path(settings.VAR_DIR) / "captions" / re.sub(r"[^A-Za-z0-9_.-]+", "_", str(probe.name)) / f"{safe}.json"


@register
class CaptionActivationMethod(ExplanationMethod):
    name = "gpt-caption-activation"
    display_name = "GPT (Caption-Activation)"
    description = "LLM explanation from captions of the top images and the unit's activations (TeLLMe, Bills et al.)."
    params_class = CaptionActivationParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        import foundation

        params = self.parse_params(inputs.params)
        summaries = inputs.activations.summaries()
        few_shot = _few_shot_chooser(inputs.layer, "caption", params)
        tops: dict[int, list] = {}

        def top_rows(unit):
            if unit not in tops:
                tops[unit] = strongest_pairs_weakest_first(summaries[:, unit], [""] * len(summaries), params.pairs, False)
            return tops[unit]

        needed = sorted({u for unit in units for u in [unit, *[x for x, _ in few_shot(unit).units]]})
        rows = sorted({i for u in needed for i, _ in top_rows(u)})
        captions, caption_source = image_captions(inputs.probe, rows)

        def pairs_of_unit(unit):
            return [(i, Pair(captions[i], p.value)) for i, p in top_rows(unit)]

        prompts = build_unit_prompts(units, pairs_of_unit, few_shot, "caption", params)
        for prompt in prompts:
            prompt.details["caption_source"] = caption_source
            prompt.details["pairs"] = [[inputs.probe.image_ids[i], text, value] for i, text, value in prompt.details["pairs"]]
        return explain_with_llm(foundation.get_llm(), prompts, params.temperature, params.max_tokens)


def _layer_holding(network, module_name: str) -> str:
    """The recorded layer that is, or contains, `module_name` (conv4 holds conv4.conv)."""
    names = [name for name in network.layers.values_list("name", flat=True) if module_name == name or module_name.startswith(name + ".")]
    return max(names, key=len) if names else module_name


def _model_of(inputs: MethodInput):
    from explain.networks import load_network

    model, _ = load_network(inputs.network)
    return model


def _weight_prompts(inputs: MethodInput, units, params, kind: str, weights: np.ndarray, names: Sequence[str]):
    """Each unit's prompt from its strongest positive weights to the things named (`weights`: names x units)."""

    def pairs_of_unit(unit):
        return strongest_pairs_weakest_first(weights[:, unit], names, params.pairs, positive_only=True)

    return build_unit_prompts(units, pairs_of_unit, _few_shot_chooser(inputs.layer, kind, params), kind, params)


@register
class WeightLabelMethod(ExplanationMethod):
    name = "gpt-weight-label"
    display_name = "GPT (Weight-Label)"
    description = "LLM explanation from the unit's weights to the output classes (TeLLMe, equation 1)."
    params_class = WeightLabelParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        import foundation
        from explain.unit_weights import class_weights

        params = self.parse_params(inputs.params)
        class_names = list(inputs.network.class_names)
        weights = class_weights(_model_of(inputs), inputs.layer.name, inputs.activations.unit_count).numpy()
        if weights.shape[0] != len(class_names):
            raise ValueError(f"network {inputs.network} has {len(class_names)} class names but {weights.shape[0]} outputs")
        prompts = _weight_prompts(inputs, units, params, "class", weights, class_names)
        return explain_with_llm(foundation.get_llm(), prompts, params.temperature, params.max_tokens)


@register
class WeightClipMethod(ExplanationMethod):
    name = "gpt-weight-clip"
    display_name = "GPT (Weight-CLIP)"
    description = "LLM explanation from the unit's weights to next-layer units labelled by CLIP-Dissect (TeLLMe)."
    params_class = WeightClipParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        import foundation
        from explain.models import Explanation
        from explain.unit_weights import next_layer_weights

        params = self.parse_params(inputs.params)
        module_name, matrix = next_layer_weights(_model_of(inputs), inputs.layer.name, inputs.activations.unit_count)
        next_layer = params.next_layer or _layer_holding(inputs.network, module_name)
        labels = dict(
            Explanation.objects.filter(
                neuron__layer__network=inputs.network, neuron__layer__name=next_layer, method__name=params.next_layer_method, rank=1
            ).values_list("neuron__unit", "text")
        )
        if not labels:
            raise ValueError(
                f"no {params.next_layer_method} explanations of layer {next_layer!r} to label the next layer's units; "
                "run that method on it first"
            )
        weights = matrix.numpy()  # (next units, units)
        labelled = np.array(sorted(u for u in labels if u < weights.shape[0]))
        prompts = _weight_prompts(inputs, units, params, "unit", weights[labelled], [labels[u] for u in labelled])
        for prompt in prompts:
            prompt.details["next_layer"] = next_layer
            prompt.details["next_layer_method"] = params.next_layer_method
        return explain_with_llm(foundation.get_llm(), prompts, params.temperature, params.max_tokens)
