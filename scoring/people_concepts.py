"""Concept vectors from people: raters' yes/no answers to "Does this image show: <description>?".

Answers arrive as a CSV (one row per rater x explanation x image): columns `method`, `unit`, `image` (the
probing image's index in its set), `answer` (yes/no, true/false, 1/0), optional `rater` and `rank` (default 1).
Each explanation is scored only on the images people were asked about; which images those were (a unit's
top images, random ones, or a mix) shapes the scores as the sampling of the sanity checks does, so it is
stored with every score.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from .concept_vectors import concept_from_answers, rows_answered
from .faithfulness import METRICS
from .faithfulness_jobs import layer_activations, metric_key
from .jobs import ScoringError, layer_explanations, mean_per_method

_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0"}
REQUIRED = ("method", "unit", "image", "answer")
MAX_ERRORS_SHOWN = 10


def read_answers(path) -> list[dict]:
    """The answer rows of a CSV, checked; errors name the file, the row (header = row 1) and the field."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"answers file {path} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in REQUIRED if column not in (reader.fieldnames or [])]
        if missing:
            raise ScoringError(f"{path}: missing column(s) {', '.join(missing)}")
        rows, problems = [], []
        for number, raw in enumerate(reader, start=2):
            try:
                answer = raw["answer"].strip().lower()
                if answer not in _YES | _NO:
                    raise ValueError(f"answer {raw['answer']!r} is not yes/no")
                rows.append({"row": number, "method": raw["method"].strip(), "unit": int(raw["unit"]), "image": int(raw["image"]),
                             "rank": int(raw.get("rank") or 1), "rater": (raw.get("rater") or "").strip(), "answer": answer in _YES})
            except ValueError as error:
                problems.append(f"{path}, row {number}: {error}")
        if problems:
            shown = problems[:MAX_ERRORS_SHOWN]
            more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
            raise ScoringError("\n".join(shown) + more)
    if not rows:
        raise ScoringError(f"{path}: no answers")
    return rows


def score_with_answers(network: str, layer: str, probe: str, answers: list[dict], *, metrics: Sequence[str] = tuple(METRICS),
                       summary: str = "mean", source_name: str = "") -> dict:
    """Score every explanation people answered about; returns {"means": {metric key: {method: mean}}}. All or nothing."""
    from django.db import transaction

    from .models import MetricScore

    layer_row, rows = layer_explanations(network, layer)
    activations, probe_set = layer_activations(layer_row.network, layer_row.name, probe, summary)
    explanation_of = {(row.method.name, row.neuron.unit, row.rank): row for row in rows}
    by_explanation = defaultdict(lambda: defaultdict(list))
    problems = []
    for answer in answers:
        key = (answer["method"], answer["unit"], answer["rank"])
        if key not in explanation_of:
            problems.append(f"row {answer['row']}: no explanation by {key[0]!r} of unit {key[1]} (rank {key[2]}) in {network}/{layer}")
        elif not 0 <= answer["image"] < len(probe_set):
            problems.append(f"row {answer['row']}: image {answer['image']} is outside probing set {probe!r} (0..{len(probe_set) - 1})")
        else:
            by_explanation[key][answer["image"]].append(answer["answer"])
    if problems:
        raise ScoringError("\n".join(problems[:MAX_ERRORS_SHOWN]) + (f"\n... and {len(problems) - MAX_ERRORS_SHOWN} more"
                                                                      if len(problems) > MAX_ERRORS_SHOWN else ""))
    scored, values = [], {metric: [] for metric in metrics}
    with transaction.atomic():
        for key, image_answers in sorted(by_explanation.items()):
            explanation = explanation_of[key]
            concept = concept_from_answers(len(probe_set), image_answers)
            answered = rows_answered(image_answers)
            unit_activations = activations[answered, explanation.neuron.unit]
            scored.append(explanation)
            for metric in metrics:
                value = METRICS[metric](unit_activations, concept)
                values[metric].append(value)
                MetricScore.objects.update_or_create(
                    explanation=explanation, metric=metric_key(metric, "people"),
                    defaults={"value": float(value), "reference": explanation.text, "model_name": source_name,
                              "details": {"probe": probe, "summary": summary, "images": len(answered),
                                          "answers": sum(len(a) for a in image_answers.values()),
                                          "positives": int(concept.labels.sum())}},
                )
    return {"means": {metric_key(m, "people"): mean_per_method(scored, values[m]) for m in metrics}}
