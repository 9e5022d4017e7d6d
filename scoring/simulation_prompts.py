"""The simulator's prompts (Bills et al. 2023, as "TeLLMe what you see" uses them): the
explainers' pair format (explain/methods/tellme_prompts.py) with ``unk`` in place of every
activation to predict. Pure functions only: no Django, no network.
"""
from __future__ import annotations

from typing import Sequence

from explain.methods.tellme_prompts import (
    EXPLANATION_PREFIX,
    NEURON_STUDY_INTRO,
    FewShotUnit,
    format_pairs,
    pair_block,
    pair_format,
    strip_explanation_prefix,
)

UNKNOWN_ACTIVATION = "unk"


def format_unknown_pairs(descriptions: Sequence[str]) -> str:
    """The simulator's question: the same block with ``unk`` for every value."""
    return pair_block((description, UNKNOWN_ACTIVATION) for description in descriptions)


def simulation_system_prompt(kind: str = "caption") -> str:
    return (
        NEURON_STUDY_INTRO + "Read the explanation of what a neuron does and predict its activation "
        "for each description.\n\n"
        + pair_format(kind) + f", an integer from 0 to 10. \"{UNKNOWN_ACTIVATION}\" marks an "
        "activation you have to predict."
    )


SIMULATION_INSTRUCTION = (
    "Repeat every line between <start> and <end> in the same order, replacing "
    f"{UNKNOWN_ACTIVATION} with your predicted activation (an integer from 0 to 10)."
)


def _simulation_request(index: int, explanation: str) -> str:
    return (
        f"\n\nNeuron {index}\nExplanation of neuron {index} behavior: "
        f"{EXPLANATION_PREFIX} {strip_explanation_prefix(explanation)}"
    )


def build_simulation_messages(
    explanation: str,
    descriptions: Sequence[str],
    examples: Sequence[FewShotUnit],
    kind: str = "caption",
) -> list[dict]:
    """Chat messages asking the simulator to fill in the activations of `descriptions`.

    Few-shot examples show an explanation (user) and its true scaled pairs (assistant); the target
    turn carries the explanation under test and the descriptions with ``unk``.
    """
    messages = [{"role": "system", "content": simulation_system_prompt(kind)}]
    for number, example in enumerate(examples, start=1):
        messages.append({"role": "user", "content": _simulation_request(number, example.explanation)})
        messages.append(
            {"role": "assistant", "content": f"\nActivations:\n{format_pairs(example.pairs, example.max_value)}\n"}
        )
    target = len(examples) + 1
    messages.append(
        {
            "role": "user",
            "content": (
                f"{_simulation_request(target, explanation)}\nActivations:\n"
                f"{format_unknown_pairs(descriptions)}\n{SIMULATION_INSTRUCTION}"
            ),
        }
    )
    return messages
