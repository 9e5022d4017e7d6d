"""The ORM side of rater quality: a study's answers read into the frames evaluation.quality judges.

Raters are named as every table names them: their external id (worker, participant, imported id),
else `rater-<pk>`. Crowd answers the provider has not confirmed yet are left out unless asked for,
as in the analysis.
"""
from __future__ import annotations

import pandas as pd

from .models import Rater, Rating, Response, Study, rater_name
from .quality import PolicyOutcome, apply_policy, parse_policy, rater_signals

QUALITY_INPUT_COLUMNS = ["response_id", "rater", "layer", "unit", "method", "rating", "position", "best", "is_valid",
                         "uninterpretable", "none_fit", "seconds"]


def rater_label(rater: Rater) -> str:
    return rater_name(rater.pk, rater.external_id)


def _labels(study: Study) -> dict[int, str]:
    return {pk: rater_name(pk, external) for pk, external in Rater.objects.filter(study=study).values_list("pk", "external_id")}


def check_answers(study: Study, include_unverified: bool = False) -> pd.DataFrame:
    """One row per attention-check answer: rater, check_passed."""
    checks = Response.objects.filter(study=study, is_check=True)
    if not include_unverified:
        checks = checks.filter(verified=True)
    labels = _labels(study)
    return pd.DataFrame([(labels[rater_id], bool(passed)) for rater_id, passed in checks.values_list("rater_id", "check_passed")],
                        columns=["rater", "check_passed"])


def quality_ratings(study: Study, include_unverified: bool = False) -> pd.DataFrame:
    """The study's ratings (checks apart, invalid answers included) as rows of QUALITY_INPUT_COLUMNS."""
    ratings = Rating.objects.filter(response__study=study, response__is_check=False)
    if not include_unverified:
        ratings = ratings.filter(response__verified=True)
    rows = ratings.values_list(
        "response_id", "response__rater_id", "item__study_neuron__neuron__layer__name", "item__study_neuron__neuron__unit",
        "item__method__name", "value", "position", "item_id", "response__best_item_id", "response__is_valid",
        "response__uninterpretable", "response__none_fit", "response__seconds",
    )
    labels = _labels(study)
    frame = pd.DataFrame([
        (response_id, labels[rater_id], layer, unit, method, value, position,
         (item_id == best_id) if study.ask_best else pd.NA, is_valid, uninterpretable, none_fit, seconds)
        for (response_id, rater_id, layer, unit, method, value, position, item_id, best_id, is_valid, uninterpretable,
             none_fit, seconds) in rows.iterator(chunk_size=10000)
    ], columns=QUALITY_INPUT_COLUMNS)
    frame["seconds"] = pd.to_numeric(frame["seconds"], errors="coerce")
    return frame


def study_policy_outcome(study: Study, policy: str | None = None, include_unverified: bool = False) -> PolicyOutcome:
    """Which of the study's raters the policy (`policy`, else the study's) leaves out, and why; the signals ride along."""
    signals = rater_signals(quality_ratings(study, include_unverified), check_answers(study, include_unverified))
    return apply_policy(signals, parse_policy(study.exclusion_policy if policy is None else policy))


def study_rater_signals(study: Study, policy: str | None = None, include_unverified: bool = False) -> pd.DataFrame:
    """evaluation.quality.SIGNAL_COLUMNS per rater of the study, plus rater_id and the verdict of the exclusion
    policy (`policy`, else the study's): excluded (bool) and reasons (the rules the rater matched)."""
    outcome = study_policy_outcome(study, policy, include_unverified)
    by_label = {label: pk for pk, label in _labels(study).items()}
    signals = outcome.signals.copy()
    signals.insert(1, "rater_id", [by_label.get(label) for label in signals["rater"]])
    return signals.join(outcome.raters.set_index("rater")[["excluded", "reasons"]], on="rater")
