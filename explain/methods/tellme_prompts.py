"""Prompts of the LLM explainers, in the format of Bills et al. (2023) as "TeLLMe what you see"
(Guertler et al.) carries it over to vision models. The simulator's prompts
(scoring/simulation_prompts.py) reuse this format.

The format, pinned by tests:
  * one pair a line, ``description<tab>activation`` (a caption or a class name, then the
    value scaled to an integer 0-10);
  * a unit's list of pairs sits between a ``<start>`` and an ``<end>`` line;
  * the simulator sees the held-out descriptions with ``unk`` in place of the activation;
  * explanations are completions of "the main thing this neuron does is find".

Pure functions only: no Django, no network.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

EXPLANATION_PREFIX = "the main thing this neuron does is find"
START_MARK = "<start>"
END_MARK = "<end>"
MAX_SCALED_ACTIVATION = 10

# What the pairs stand for, per explainer input: (what the description is, what the number is).
PAIR_KINDS = {
    "caption": ("a description of an image", "the activation of the neuron on that image"),
    "class": ("the name of an output class", "the weight from the neuron to that class"),
    "unit": ("the label of a unit of the next layer", "the weight from the neuron to that unit"),
}


@dataclass(frozen=True)
class Pair:
    """One description with its (unscaled) value: a caption and an activation, or a class and a weight."""

    description: str
    value: float


@dataclass(frozen=True)
class FewShotUnit:
    """A unit shown as a worked example: its explanation and the pairs that go with it."""

    explanation: str
    pairs: Sequence[Pair]
    max_value: float | None = None  # scale reference; the largest pair value when None


def clean_description(text: str) -> str:
    """One line, no tabs: the format is line- and tab-delimited."""
    return re.sub(r"\s+", " ", str(text)).strip()


def scale_to_0_10(value: float, max_value: float) -> int:
    """Bills et al.'s normalisation: floor(10 * value / max), negatives to 0, the max to 10."""
    if not max_value or max_value <= 0 or not math.isfinite(value) or value <= 0:
        return 0
    return int(min(MAX_SCALED_ACTIVATION, math.floor(MAX_SCALED_ACTIVATION * value / max_value)))


def strip_explanation_prefix(text: str) -> str:
    """The explanation proper, without the prompt's prefix and the final full stop."""
    text = text.strip()
    if text.lower().startswith(EXPLANATION_PREFIX):
        text = text[len(EXPLANATION_PREFIX):]
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    return text[:-1].rstrip() if text.endswith(".") else text


def pair_block(rows) -> str:
    """``<start>`` / ``description<tab>value`` lines / ``<end>`` for (description, value) rows, in order."""
    return "\n".join([START_MARK, *(f"{clean_description(description)}\t{value}" for description, value in rows), END_MARK])


def format_pairs(pairs: Sequence[Pair], max_value: float | None = None) -> str:
    """The pairs' block, values scaled to 0-10, in the order given."""
    if max_value is None:
        max_value = max((p.value for p in pairs), default=0.0)
    return pair_block((p.description, scale_to_0_10(p.value, max_value)) for p in pairs)


# The first words of both the explainer's and the simulator's system prompt.
NEURON_STUDY_INTRO = (
    "We are studying neurons in a vision neural network. Each neuron looks for some particular thing in an image. "
)


def pair_format(kind: str) -> str:
    """How a system prompt explains the pair lines of `kind` (both prompts go on from here)."""
    description, number = PAIR_KINDS[kind]
    return f"The format is description<tab>activation, one pair a line: the description is {description} and the activation is {number}"


def explanation_system_prompt(kind: str = "caption") -> str:
    return (
        NEURON_STUDY_INTRO + "Look at the pairs below and summarise in a single short phrase what the "
        "neuron is looking for. Do not list every example.\n\n"
        + pair_format(kind) + ", scaled to an integer from 0 to 10. A non-zero value means "
        "the neuron found what it looks for; the higher the value, the stronger the match."
    )


def _explanation_request(index: int, pairs: Sequence[Pair], max_value: float | None) -> str:
    return (
        f"\n\nNeuron {index}\nActivations:\n{format_pairs(pairs, max_value)}\n"
        f"Explanation of neuron {index} behavior: {EXPLANATION_PREFIX}"
    )


def build_explanation_messages(
    target_pairs: Sequence[Pair],
    examples: Sequence[FewShotUnit],
    kind: str = "caption",
    target_max_value: float | None = None,
) -> list[dict]:
    """Chat messages asking for the explanation of the target unit.

    Pairs are shown in the order given (the explainers pass them weakest first); each few-shot
    example is a user turn with its pairs and the assistant's completion of the prefix.
    """
    messages = [{"role": "system", "content": explanation_system_prompt(kind)}]
    for number, example in enumerate(examples, start=1):
        messages.append({"role": "user", "content": _explanation_request(number, example.pairs, example.max_value)})
        messages.append({"role": "assistant", "content": f" {strip_explanation_prefix(example.explanation)}."})
    messages.append(
        {"role": "user", "content": _explanation_request(len(examples) + 1, target_pairs, target_max_value)}
    )
    return messages
