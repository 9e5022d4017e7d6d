"""Storing automatic scores: every write for one explanation (or one batch) is one transaction."""
from __future__ import annotations

from dataclasses import asdict
from typing import Sequence

from django.db import transaction

from scoring.simulation import SimulationOutcome, SimulationParams

from .models import MetricScore, SimulationPass, SimulationScore


@transaction.atomic
def store_simulation(
    explanation,
    outcome: SimulationOutcome,
    *,
    kind: str,
    llm_model: str,
    few_shot_source: str,
    params: SimulationParams,
) -> SimulationScore:
    """The Algorithm 1 result with every pass; the mean also becomes the explanation's `simulation` metric."""
    simulation = SimulationScore.objects.create(
        explanation=explanation,
        kind=kind,
        llm_model=llm_model,
        mean=outcome.mean,
        ci_halfwidth=outcome.ci_halfwidth if outcome.ci_halfwidth != float("inf") else None,
        stop_reason=outcome.stop_reason,
        few_shot_source=few_shot_source,
        params=asdict(params),
    )
    SimulationPass.objects.bulk_create(
        SimulationPass(
            simulation=simulation,
            index=index,
            score=result.score,
            reason=result.reason,
            n_pairs=result.n_pairs,
            n_parsed=result.parse["parsed"],
            n_malformed=result.parse["malformed"],
            n_missing=result.parse["missing"],
            n_from_logprobs=result.parse["from_logprobs"],
            details={
                "descriptions": result.descriptions,
                "true_values": result.true_values,
                "predictions": result.predictions,
                "malformed_lines": result.malformed_lines,
                "reply_model": result.reply_model,
            },
        )
        for index, result in enumerate(outcome.passes)
    )
    if outcome.mean is not None:
        MetricScore.objects.update_or_create(
            explanation=explanation,
            metric=MetricScore.Metric.SIMULATION,
            defaults={
                "value": outcome.mean,
                "model_name": llm_model,
                "details": {"simulation_id": simulation.pk, "passes": len(outcome.passes), "stop_reason": outcome.stop_reason},
            },
        )
    return simulation


@transaction.atomic
def store_metric_scores(explanations: Sequence, values: Sequence[float], references: Sequence[str], *, metric: str, model_name: str) -> int:
    """One MetricScore per explanation (replacing an earlier one of the same metric)."""
    for explanation, value, reference in zip(explanations, values, references, strict=True):
        MetricScore.objects.update_or_create(
            explanation=explanation,
            metric=metric,
            defaults={"value": float(value), "reference": reference, "model_name": model_name},
        )
    return len(explanations)
