"""An adaptive study read from the database for evaluation.adaptive, and its stop recorded.

Counted responses are those the analysis uses by default: valid, verified, not excluded by a
researcher, and not from a rater the study's exclusion policy leaves out; such raters get no new task.

Called by assignment under the study lock, so the state read here is the state the
choice is made on: no other claim or answer of the study can come in between.
"""
from __future__ import annotations

import math

import pandas as pd
from django.db.models import Count, Q
from django.utils import timezone

from .adaptive import AdaptiveSettings, Stop, estimate_components, choose_neuron, projected_stop, quantity_values, stop_decision
from .exclusions import active_exclusions, excluded_response_reasons
from .models import Assignment, CollectionStop, Rating, Response, Study, StudyNeuron
from .rater_scores import study_rater_signals


def adaptive_settings(study: Study) -> AdaptiveSettings:
    """The study's settings; a money budget becomes the responses it pays for at the study's cost per response."""
    budgets = [study.adaptive_budget_responses] if study.adaptive_budget_responses is not None else []
    if study.adaptive_budget_money is not None and study.cost_per_response > 0:
        budgets.append(math.floor(study.adaptive_budget_money / study.cost_per_response))
    return AdaptiveSettings(
        min_raters=study.adaptive_min_raters,
        max_raters=study.raters_per_neuron,
        target_half_width=study.adaptive_target_half_width,
        budget_responses=min(budgets) if budgets else None,
        draw_neurons=study.adaptive_draw_neurons,
        calibration_neurons=study.adaptive_start_neurons,
    )


def policy_excluded_raters(study: Study) -> set[int]:
    """Ids of the raters the study's exclusion policy leaves out now (evaluation.quality on its answers so far)."""
    if not study.exclusion_policy:
        return set()
    signals = study_rater_signals(study)
    return set(signals.loc[signals["excluded"].astype(bool), "rater_id"].dropna().astype(int))


def counted_ratings(study: Study, left_out: set[int] = frozenset()) -> pd.DataFrame:
    """The ratings the analysis counts by default: valid, verified answers to real tasks, neither excluded
    by a researcher nor by raters in `left_out` (policy_excluded_raters)."""
    excluded = excluded_response_reasons(study)
    rows = (
        Rating.objects.filter(response__study=study, response__is_check=False, response__verified=True,
                              response__is_valid=True)
        .exclude(response_id__in=list(excluded))
        .exclude(response__rater_id__in=list(left_out))
        .values_list("response__study_neuron_id", "response_id", "item__method__name", "value")
    )
    return pd.DataFrame(list(rows), columns=["neuron", "response", "method", "rating"])


def _neurons(study: Study, rater, counted: pd.DataFrame) -> pd.DataFrame:
    """One row per study neuron: order, load, expected, drawn, available (see evaluation.adaptive.choose_neuron)."""
    now = timezone.now()
    live = Q(assignments__is_check=False, assignments__status=Assignment.Status.RESERVED,
             assignments__response__isnull=True, assignments__expires_at__gt=now)
    rows = StudyNeuron.objects.filter(study=study).annotate(
        reserved=Count("assignments", filter=live, distinct=True),
        handed=Count("assignments", filter=Q(assignments__is_check=False), distinct=True),
    ).values_list("pk", "order", "reserved", "handed")
    neurons = pd.DataFrame(list(rows), columns=["neuron", "order", "reserved", "handed"]).set_index("neuron")
    responses = Response.objects.filter(study=study, is_check=False, verified=True)
    stored = pd.Series(dict(responses.order_by().values("study_neuron").annotate(n=Count("pk")).values_list("study_neuron", "n")),
                       dtype=float)
    neurons["stored"] = stored.reindex(neurons.index).fillna(0)
    neurons["counted"] = counted.groupby("neuron")["response"].nunique().reindex(neurons.index).fillna(0)
    neurons["load"] = neurons["stored"] + neurons["reserved"]
    neurons["expected"] = neurons["counted"] + neurons["reserved"]
    if study.adaptive_draw_neurons:
        neurons["drawn"] = (neurons["handed"] > 0) | (neurons["order"] < study.adaptive_start_neurons)
    else:
        neurons["drawn"] = True
    if rater is None:
        neurons["available"] = True
    else:
        taken = set(rater.assignments.filter(is_check=False).values_list("study_neuron_id", flat=True))
        taken |= set(Response.objects.filter(rater=rater, is_check=False).values_list("study_neuron_id", flat=True))
        neurons["available"] = ~neurons.index.isin(list(taken))
    return neurons


def next_adaptive_neuron(study: Study, rater, record: bool = True) -> StudyNeuron | None:
    """The neuron the adaptive rule gives `rater` now, or None: stopped (recorded when `record`, as the caller
    holds the study lock), waiting on reservations that would meet the target or budget, or nothing for them."""
    if CollectionStop.objects.filter(study=study).exists():
        return None
    if rater is not None and active_exclusions(study).filter(rater=rater).exists():
        return None  # answers the analysis leaves out would only spend the budget
    left_out = policy_excluded_raters(study)
    if rater is not None and rater.pk in left_out:
        return None
    settings = adaptive_settings(study)
    counted = counted_ratings(study, left_out)
    neurons = _neurons(study, rater, counted)
    components = estimate_components(quantity_values(counted, _methods(study))) if len(counted) else None
    pool_left = bool((neurons["stored"] < settings.max_raters).any())
    stop = stop_decision(components, neurons["counted"], int(neurons["stored"].sum()), settings, pool_left)
    if stop is not None:
        if record:
            record_stop(study, stop)
        return None
    if projected_stop(components, neurons["expected"], int(neurons["load"].sum()), settings):
        return None
    chosen = choose_neuron(neurons, components, settings)
    return None if chosen is None else StudyNeuron.objects.get(pk=chosen)


def _methods(study: Study) -> list[str]:
    return list(study.study_methods.order_by("order").values_list("method__name", flat=True))


def record_stop(study: Study, stop: Stop) -> CollectionStop:
    figures = dict(stop.figures)
    figures["spend"] = round(float(study.cost_per_response) * figures.get("responses", 0), 2)
    figures["cost_per_response"] = float(study.cost_per_response)
    record, _ = CollectionStop.objects.get_or_create(
        study=study, defaults={"stopped_at": timezone.now(), "reason": stop.reason, "figures": figures}
    )
    return record


def is_stopped(study: Study) -> bool:
    return study.collection == Study.Collection.ADAPTIVE and CollectionStop.objects.filter(study=study).exists()
