"""The LLM conversations of Describe-and-Dissect (Bai et al., appendix A.1.3), with the paper's few-shot examples."""
from __future__ import annotations

from typing import Sequence

SIMPLIFY_EXAMPLE_QUESTION = (
    "State one coherent and concise concept label that is 1-5 words long that simplifies the following description: "
    "a red background with a red background and a red background with a red background."
)
SIMPLIFY_EXAMPLE_ANSWER = "A red background"
SIMPLIFY_INSTRUCTION = (
    "Only state your answer without a period and quotation marks. Do not number your answer. State one coherent and "
    "concise concept label that simplifies the following description and deletes any unnecessary details: "
)

_SUMMARY_QUESTION = (
    "State one coherent and concise concept label that is 1-5 words long that can semantically summarize and "
    "represent most, not necessarily all, of the conceptual similarities in the following descriptions: "
)
SUMMARY_EXAMPLES = (
    (
        [
            "a purple background with a very soft texture.",
            "a brown background with a diagonal pattern of lines and lines.",
            "a white windmill with a red door and a red door in the middle of the picture.",
            "a beige background with a rough texture of linen.",
            "a beige background with a rough texture and a very soft texture.",
        ],
        "multicolored textiles",
    ),
    (
        [
            "a little girl is sitting in a red tractor with the word sofy on the front.",
            "a toy car sits on a red ottoman in a play room.",
            "a red dress with silver studs and a silver belt.",
            "a red chevrolet camaro is on display at a car show.",
            "a red spool of a cable with the word red on it.",
        ],
        "red-themed scenes",
    ),
)
SUMMARY_INSTRUCTION = (
    "Only state your answer without a period and quotation marks and do not simply repeat the descriptions. "
    "State one coherent and concise concept label that is 1-5 words long and can semantically summarize and "
    "represent most, not necessarily all, of the conceptual similarities in the following descriptions: "
)
# Sent when the summary came back as a list: the list is summarised once more.
RESUMMARY_INSTRUCTION = (
    "Only state your answer without a period and do not simply repeat the descriptions. State one coherent and "
    "concise concept label that is 1-5 words long that can semantically summarize and represent most, not "
    "necessarily all, of the conceptual similarities in the following descriptions: "
)


def simplify_messages(caption: str) -> list[dict]:
    return [
        {"role": "user", "content": SIMPLIFY_EXAMPLE_QUESTION},
        {"role": "assistant", "content": SIMPLIFY_EXAMPLE_ANSWER},
        {"role": "user", "content": SIMPLIFY_INSTRUCTION + caption},
    ]


def summary_messages(descriptions: Sequence[str]) -> list[dict]:
    messages = []
    for example_descriptions, example_answer in SUMMARY_EXAMPLES:
        messages.append({"role": "user", "content": _SUMMARY_QUESTION + ", ".join(example_descriptions)})
        messages.append({"role": "assistant", "content": example_answer})
    messages.append({"role": "user", "content": SUMMARY_INSTRUCTION + ", ".join(descriptions)})
    return messages


def resummary_messages(parts: Sequence[str]) -> list[dict]:
    return [{"role": "user", "content": RESUMMARY_INSTRUCTION + ", ".join(part.strip() for part in parts)}]


def strip_label_prefix(answer: str) -> str:
    """'Concept: red cars' -> 'red cars' (models sometimes name the field)."""
    return answer.split(":", 1)[1].strip() if ":" in answer else answer.strip()
