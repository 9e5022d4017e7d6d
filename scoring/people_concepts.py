"""Concept vectors from people: raters' yes/no answers to "Does this image show: <description>?".

Answers arrive as a CSV (one row per rater x explanation x image): columns `method`, `unit`, `image` (the
probing image's index in its set), `answer` (yes/no, true/false, 1/0), optional `rater`, `rank` (default 1) and
`sample` (top / random: whether the image was one of the unit's top images or a random one). A labelling study
(evaluation.labelling) stores such answers; `score_study` reads them through the reader analysis installs (scoring.answer_reader).
Each explanation is scored only on the images people were asked about; which images those were (a unit's
top images, random ones, or a mix) shapes the scores as the sampling of the sanity checks does, so it is
stored with every score.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from .answer_reader import read_study_answers
from .concept_vectors import concept_from_answers, rows_answered
from .faithfulness import METRICS
from .faithfulness_jobs import layer_activations, metric_key
from .jobs import ScoringError, layer_explanations, mean_per_method

_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0"}
REQUIRED = ("method", "unit", "image", "answer")
SAMPLES = ("", "top", "random")  # the optional `sample` column: why the image was asked about
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
        return checked_answers(enumerate(reader, start=2), where=str(path))


def checked_answers(numbered_rows, where: str) -> list[dict]:
    """(row number, raw row) pairs -> answer dicts; every problem names `where`, the row and the field."""
    rows, problems = [], []
    for number, raw in numbered_rows:
        try:
            answer = str(raw["answer"]).strip().lower()
            if answer not in _YES | _NO:
                raise ValueError(f"answer {raw['answer']!r} is not yes/no")
            sample = str(raw.get("sample") or "").strip()
            if sample not in SAMPLES:
                raise ValueError(f"sample {sample!r} is not one of {', '.join(s for s in SAMPLES if s)} (or empty)")
            rows.append({"row": number, "method": str(raw["method"]).strip(), "unit": int(raw["unit"]),
                         "image": int(raw["image"]), "rank": int(raw.get("rank") or 1),
                         "rater": str(raw.get("rater") or "").strip(), "answer": answer in _YES, "sample": sample})
        except ValueError as error:
            problems.append(f"{where}, row {number}: {error}")
    if problems:
        shown = problems[:MAX_ERRORS_SHOWN]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ScoringError("\n".join(shown) + more)
    if not rows:
        raise ScoringError(f"{where}: no answers")
    return rows


def score_study(study: str, *, metrics: Sequence[str] = tuple(METRICS), summary: str = "mean") -> dict:
    """Score every explanation a labelling study's raters answered about, layer by layer, all or nothing;
    returns {"means": {metric key: {method: mean}}, "layers": [(network, layer, probe, answers)]}."""
    from django.db import transaction

    groups = defaultdict(list)
    for row in read_study_answers(study):
        if row.get("rank") in ("", None):
            raise ScoringError(f"study {study}: response {row['response']} answered a description whose explanation "
                               "was deleted; it cannot be matched to activations")
        groups[(row["network"], row["layer"], row["probe"])].append((f"response {row['response']}", row))
    if not groups:
        raise ScoringError(f"study {study} has no stored answers yet")
    means, layers = defaultdict(dict), []
    with transaction.atomic():
        for (network, layer, probe), rows in sorted(groups.items()):
            answers = checked_answers(rows, where=f"study {study}")
            outcome = score_with_answers(network, layer, probe, answers, metrics=metrics, summary=summary,
                                         source_name=f"study {study}")
            for key, per_method in outcome["means"].items():
                means[key].update({f"{layer}/{method}": mean for method, mean in per_method.items()})
            layers.append((network, layer, probe, len(answers)))
    return {"means": dict(means), "layers": layers}


def score_with_answers(network: str, layer: str, probe: str, answers: list[dict], *, metrics: Sequence[str] = tuple(METRICS),
                       summary: str = "mean", source_name: str = "") -> dict:
    """Score every explanation people answered about; returns {"means": {metric key: {method: mean}}}. All or nothing."""
    from django.db import transaction

    from .models import MetricScore

    layer_row, rows = layer_explanations(network, layer)
    activations, probe_set = layer_activations(layer_row.network, layer_row.name, probe, summary)
    explanation_of = {(row.method.name, row.neuron.unit, row.rank): row for row in rows}
    by_explanation = defaultdict(lambda: defaultdict(list))
    samples = defaultdict(dict)
    problems = []
    for answer in answers:
        key = (answer["method"], answer["unit"], answer["rank"])
        if key not in explanation_of:
            problems.append(f"row {answer['row']}: no explanation by {key[0]!r} of unit {key[1]} (rank {key[2]}) in {network}/{layer}")
        elif not 0 <= answer["image"] < len(probe_set):
            problems.append(f"row {answer['row']}: image {answer['image']} is outside probing set {probe!r} (0..{len(probe_set) - 1})")
        else:
            by_explanation[key][answer["image"]].append(answer["answer"])
            samples[key][answer["image"]] = answer.get("sample", "")
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
                                          "positives": int(concept.labels.sum()),
                                          "top_images": sum(s == "top" for s in samples[key].values()),
                                          "random_images": sum(s == "random" for s in samples[key].values())}},
                )
    return {"means": {metric_key(m, "people"): mean_per_method(scored, values[m]) for m in metrics}}
