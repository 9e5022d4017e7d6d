"""The one place analysis reads the ORM: a study's responses as a tidy DataFrame.

One row per response x shown description. Columns: response_id, rater, network,
layer, unit, method, rating, best, uninterpretable, none_fit, position,
submitted_at, seconds, visible_seconds, source, is_valid, invalid_reason, text,
excluded, exclusion_reason. `seconds` is the time on task (first shown to
submitted, server clock) and `visible_seconds` the browser's time with the page
visible; both NaN when not recorded. Attention-check answers are never part of
the frame (this is the one place that leaves them out, so no table, plot or
export can count them). `excluded` marks responses a researcher left out
(evaluation.Exclusion, active ones only), with the reason in
`exclusion_reason`. `policy_excluded` marks every response of a rater the
study's exclusion policy leaves out (evaluation.quality), with the rules the
rater matched in `policy_reason`. `best` is True on the
row picked as best, False on the others, and missing on every row when the
study asked no best question. frame.attrs carries the study's method and
layer order, its name, whether it asked the best question and, under "policy",
what the exclusion policy did (evaluation.quality.PolicyOutcome.summary; None
without a policy).
"""
from __future__ import annotations

import pandas as pd

from evaluation.exclusions import excluded_response_reasons
from evaluation.models import Rater, Rating, Response, Study, StudyItem, StudyMethod, rater_name
from evaluation.quality import PolicyOutcome, apply_policy, parse_policy, rater_signals
from evaluation.rater_scores import check_answers
from explain.models import Layer, Method

FRAME_COLUMNS = [
    "response_id", "rater", "network", "layer", "unit", "method", "rating", "best", "uninterpretable", "none_fit",
    "position", "submitted_at", "seconds", "visible_seconds", "source", "is_valid", "invalid_reason", "text",
    "excluded", "exclusion_reason", "policy_excluded", "policy_reason",
]


def get_study(name_or_study) -> Study:
    if isinstance(name_or_study, Study):
        return name_or_study
    return Study.objects.select_related("network").get(name=name_or_study)


def study_method_names(study: Study) -> list[str]:
    return list(StudyMethod.objects.filter(study=study).order_by("order", "pk").values_list("method__name", flat=True))


def study_method_labels(study: Study) -> dict[str, str]:
    """Method name -> the display name tables print (the name when no display name is set)."""
    return {
        name: display or name
        for name, display in StudyMethod.objects.filter(study=study).values_list("method__name", "method__display_name")
    }


def study_control_methods(study: Study) -> list[str]:
    """The study's negative controls (Method.kind control): tables mark their rows as controls."""
    return list(StudyMethod.objects.filter(study=study, method__kind=Method.Kind.CONTROL).values_list("method__name", flat=True))


def study_layer_names(study: Study) -> list[str]:
    """The study's layers, input side first (StudyNeuron.neuron has no reverse name, so go through items)."""
    layer_ids = set(StudyItem.objects.filter(study_neuron__study=study).values_list("study_neuron__neuron__layer_id", flat=True))
    return list(Layer.objects.filter(pk__in=layer_ids).order_by("order", "name").values_list("name", flat=True))


METRIC_COLUMNS = ["layer", "unit", "method", "metric", "value"]


def metric_scores_frame(study) -> pd.DataFrame:
    """Automatic metric scores (scoring.MetricScore) of the explanations the study froze, one row per score."""
    from scoring.models import MetricScore

    study = get_study(study)
    items = StudyItem.objects.filter(study_neuron__study=study, explanation__isnull=False)
    rows = MetricScore.objects.filter(explanation__in=items.values("explanation")).values_list(
        "explanation_id", "metric", "value"
    )
    item_keys = {
        explanation_id: (layer, unit, method)
        for explanation_id, layer, unit, method in items.values_list(
            "explanation_id", "study_neuron__neuron__layer__name", "study_neuron__neuron__unit", "method__name"
        )
    }
    return pd.DataFrame.from_records(
        [(*item_keys[explanation_id], metric, value) for explanation_id, metric, value in rows], columns=METRIC_COLUMNS
    )


RESPONSE_COLUMNS = [
    "external_id", "rater_id", "best_item_id", "uninterpretable", "none_fit", "is_valid", "invalid_reason", "source",
    "submitted_at", "seconds", "visible_seconds",
]


def _counted_responses(include_invalid: bool, include_unverified: bool) -> dict:
    """The Response filters for what a table counts: never attention checks; invalid and unverified on request."""
    counted = {"is_check": False}
    if not include_invalid:
        counted["is_valid"] = True
    if not include_unverified:
        counted["verified"] = True
    return counted


def judge_raters(frame: pd.DataFrame, study, policy: str | None = None, include_unverified: bool = False) -> PolicyOutcome:
    """The quality signals of every rater of the frame (all their answers, attention checks from the study) and the
    verdict of `policy` (the study's when None)."""
    study = get_study(study)
    signals = rater_signals(frame, check_answers(study, include_unverified))
    return apply_policy(signals, parse_policy(study.exclusion_policy if policy is None else policy))


def _mark_policy(frame: pd.DataFrame, study: Study, policy: str | None, include_unverified: bool) -> dict | None:
    frame["policy_excluded"] = False
    frame["policy_reason"] = ""
    if not parse_policy(study.exclusion_policy if policy is None else policy) or frame.empty:
        return None
    outcome = judge_raters(frame, study, policy, include_unverified)
    reasons = outcome.raters.set_index("rater")["reasons"]
    frame["policy_reason"] = frame["rater"].astype(str).map(reasons).fillna("").astype(str)
    frame["policy_excluded"] = frame["policy_reason"] != ""
    return outcome.summary()


def ratings_frame(study, include_invalid: bool = True, include_unverified: bool = False,
                  policy: str | None = None) -> pd.DataFrame:
    """The study's tidy frame. Crowd answers the provider has not confirmed yet (Response.verified
    False: anyone can post to the MTurk frame with made-up ids) are left out unless `include_unverified`.
    `policy` replaces the study's exclusion policy for this frame ("" for none)."""
    study = get_study(study)
    items = pd.DataFrame.from_records(
        StudyItem.objects.filter(study_neuron__study=study).values_list(
            "id", "method__name", "study_neuron__neuron__layer__name", "study_neuron__neuron__unit", "text"
        ),
        columns=["item_id", "method", "layer", "unit", "text"],
    )
    counted = _counted_responses(include_invalid, include_unverified)
    responses = pd.DataFrame.from_records(
        Response.objects.filter(study=study, **counted).values_list("pk", *RESPONSE_COLUMNS),
        columns=["pk", *RESPONSE_COLUMNS],
    )
    raters = pd.DataFrame.from_records(
        Rater.objects.filter(study=study).values_list("id", "external_id"), columns=["rater_id", "rater_external_id"]
    )
    ratings = pd.DataFrame.from_records(
        Rating.objects.filter(
            response__study=study, **{f"response__{field}": value for field, value in counted.items()}
        ).values_list("response_id", "item_id", "position", "value"),
        columns=["pk", "item_id", "position", "rating"],
    )

    raters["rater"] = [rater_name(pk, external) for pk, external in zip(raters["rater_id"], raters["rater_external_id"])]
    responses["response_id"] = responses["external_id"].where(responses["external_id"] != "", responses["pk"].astype(str))
    responses = responses.merge(raters[["rater_id", "rater"]], on="rater_id", how="left")
    frame = ratings.merge(responses, on="pk", how="inner").merge(items, on="item_id", how="left")
    if study.ask_best:
        frame["best"] = pd.array(frame["item_id"].to_numpy() == frame["best_item_id"].to_numpy(), dtype="boolean")
    else:
        frame["best"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    frame["network"] = study.network.name
    frame["position"] = frame["position"].astype("Int64")
    frame["rating"] = frame["rating"].astype("int64")
    frame["unit"] = frame["unit"].astype("int64")
    for flag in ("uninterpretable", "none_fit", "is_valid"):
        frame[flag] = frame[flag].astype(bool)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    exclusion_reasons = excluded_response_reasons(study)
    frame["exclusion_reason"] = frame["pk"].map(exclusion_reasons).astype(object).fillna("").astype(str)
    frame["excluded"] = frame["exclusion_reason"] != ""
    for column in ("seconds", "visible_seconds"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame = frame.sort_values(["submitted_at", "pk", "position", "item_id"], kind="stable")
    policy_summary = _mark_policy(frame, study, policy, include_unverified)
    frame = frame[FRAME_COLUMNS].reset_index(drop=True)
    # Few distinct values over up to millions of rows: categories keep memory and grouping cheap.
    for column in ("response_id", "rater", "network", "layer", "method", "source", "invalid_reason", "exclusion_reason",
                   "policy_reason"):
        frame[column] = frame[column].astype("category")
    frame.attrs = {
        "study": study.name,
        "network": study.network.name,
        "ask_best": study.ask_best,
        "methods": study_method_names(study),
        "method_labels": study_method_labels(study),
        "controls": study_control_methods(study),
        "layers": study_layer_names(study),
        "policy": policy_summary,
    }
    return frame
