"""Study-level analyses: read the study once (analysis.frames), then the pure statistics."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from analysis import stats
from analysis.frames import judge_raters, metric_scores_frame, ratings_frame
from analysis.tables import policy_sentence


@dataclass
class Selection:
    """Which responses an analysis uses; mirrors the management command options."""

    include_invalid: bool = False
    exclude_flagged: bool = False
    methods: list[str] | None = None
    exclude_raters: list[str] = field(default_factory=list)
    include_excluded: bool = False
    ignore_policy: bool = False

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(rows in scope before the validity filter, rows used by the statistics)."""
        in_scope = stats.select_responses(
            frame, include_invalid=True, exclude_flagged=self.exclude_flagged, methods=self.methods,
            exclude_raters=self.exclude_raters, include_excluded=self.include_excluded, ignore_policy=self.ignore_policy,
        )
        used = stats.select_responses(in_scope, include_invalid=self.include_invalid, include_excluded=True,
                                      ignore_policy=True)
        return in_scope, used

    def applies_policy(self, frame: pd.DataFrame) -> bool:
        return not self.ignore_policy and bool(frame.attrs.get("policy"))

    def everyone(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows the statistics would use with every rater (the exclusion policy ignored)."""
        return replace(self, ignore_policy=True).apply(frame)[1]


def check_methods(frame: pd.DataFrame, methods: list[str] | None) -> None:
    if not methods:
        return
    known = set(frame["method"].unique()) | set(frame.attrs.get("methods", []))
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; the study has {', '.join(sorted(known))}")


def comparison_for_frame(
    frame: pd.DataFrame, selection: Selection | None = None, by_layer: bool = False,
    n_resamples: int = stats.DEFAULT_RESAMPLES, seed: int = stats.DEFAULT_SEED, mixed_model: bool = False,
    metric_scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    selection = selection or Selection()
    check_methods(frame, selection.methods)
    in_scope, used = selection.apply(frame)
    table = stats.comparison_table(in_scope, used, by_layer=by_layer, n_resamples=n_resamples, seed=seed)
    if mixed_model and len(used):
        means = stats.mixed_model_means(used, by_layer=by_layer)
        by_scope = {(layer, method): row for layer, method, row in zip(means["layer"], means["method"], means.to_dict("records"))}
        for column in ("mm_mean", "mm_ci_low", "mm_ci_high", "mm_converged"):
            table[column] = [by_scope.get((layer, method), {}).get(column) for layer, method in zip(table["layer"], table["method"])]
    return _decorate(table, frame, in_scope, selection, metric_scores)


def _decorate(table: pd.DataFrame, frame: pd.DataFrame, in_scope: pd.DataFrame, selection: Selection,
              metric_scores) -> pd.DataFrame:
    """Display names, the control flag, automatic-metric and exclusion columns; validity summary in attrs."""
    labels = frame.attrs.get("method_labels", {})
    table.insert(2, "label", [labels.get(method, method) for method in table["method"]])
    controls = set(frame.attrs.get("controls", [stats.CONTROL_METHOD]))
    table.insert(3, "is_control", [method in controls for method in table["method"]])
    table = stats.add_metric_columns(table, metric_scores)
    if not selection.include_excluded:
        table = stats.add_exclusion_columns(table, frame if not selection.methods else frame[frame["method"].isin(selection.methods)])
    if selection.applies_policy(frame):
        table = _add_policy_columns(table, frame, selection)
    table.attrs["validity"] = stats.validity_summary(in_scope)
    return table


def _add_policy_columns(table: pd.DataFrame, frame: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """`n_before_policy` (the row's n with every rater) and `policy` (what the exclusion policy removed, the same
    sentence on every row so CSV and JSON carry it too); the figures in attrs["policy"]."""
    everyone = selection.everyone(frame)
    _, used = selection.apply(frame)
    counts = {(None, method): int(n) for method, n in everyone.groupby("method", observed=True).size().items()}
    counts.update({(layer, method): int(n) for (layer, method), n in everyone.groupby(["layer", "method"], observed=True).size().items()})
    table = table.copy()
    table["n_before_policy"] = [counts.get((stats.scope_key(layer), method), 0)
                                for layer, method in zip(table["layer"], table["method"])]
    summary = {**frame.attrs["policy"], "responses_before": int(everyone["response_id"].nunique()),
               "responses_after": int(used["response_id"].nunique())}
    table["policy"] = policy_sentence(summary)
    table.attrs["policy"] = summary
    return table


@dataclass
class ReportFrames:
    """Everything the study page and its downloads show, from one read of the study and one bootstrap."""

    comparison: pd.DataFrame
    pairwise: pd.DataFrame
    agreement: pd.DataFrame
    raters: pd.DataFrame
    positions: pd.DataFrame
    used: pd.DataFrame
    in_scope: pd.DataFrame
    sensitivity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=stats.SENSITIVITY_COLUMNS))


def agreement_frame(used: pd.DataFrame) -> pd.DataFrame:
    """Krippendorff's ordinal alpha per method and overall, and how often raters of a neuron picked the same best."""
    alpha = stats.krippendorff_alpha(used)
    rows = [{"measure": "krippendorff_alpha_ordinal", "method": row.method, "units": row.units, "value": row.alpha}
            for row in alpha.itertuples(index=False)]
    same = stats.best_agreement(used)
    rows.append({"measure": "same_best_pick_share", "method": "(all)", "units": same["neurons"], "value": same["share"]})
    return pd.DataFrame(rows, columns=["measure", "method", "units", "value"])


def report_frames(
    frame: pd.DataFrame, selection: Selection | None = None, n_resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED, metric_scores: pd.DataFrame | None = None,
) -> ReportFrames:
    selection = selection or Selection()
    check_methods(frame, selection.methods)
    in_scope, used = selection.apply(frame)
    if used.empty:
        table = stats.comparison_table(in_scope, used, by_layer=True, n_resamples=n_resamples, seed=seed)
        pairs = stats.pairwise_comparisons(used)
    else:
        table, pairs = stats.comparison_and_pairwise(in_scope, used, by_layer=True, n_resamples=n_resamples, seed=seed)
    table = stats.mark_leaders(_decorate(table, frame, in_scope, selection, metric_scores), pairs)
    everyone = stats.select_responses(frame, include_invalid=True, include_excluded=True)
    return ReportFrames(
        comparison=table,
        pairwise=pairs,
        agreement=agreement_frame(used) if len(used) else pd.DataFrame(columns=["measure", "method", "units", "value"]),
        raters=stats.rater_summary(everyone) if len(everyone) else pd.DataFrame(columns=stats.RATER_COLUMNS),
        positions=stats.position_bias(used),
        used=used,
        in_scope=in_scope,
        sensitivity=sensitivity_for_frame(frame, selection),
    )


def sensitivity_for_frame(frame: pd.DataFrame, selection: Selection | None = None) -> pd.DataFrame:
    """Every rater vs the raters the exclusion policy keeps (stats.policy_sensitivity); empty without a policy."""
    selection = selection or Selection()
    if not selection.applies_policy(frame):
        return pd.DataFrame(columns=stats.SENSITIVITY_COLUMNS)
    return stats.policy_sensitivity(selection.everyone(frame), selection.apply(frame)[1])


def comparison_for_study(study, include_unverified: bool = False, **options) -> pd.DataFrame:
    if "metric_scores" not in options:
        options["metric_scores"] = metric_scores_frame(study)
    return comparison_for_frame(ratings_frame(study, include_unverified=include_unverified), **options)


class NoResponses(ValueError):
    """Nothing to analyse: no response is left with these options."""


def pairwise_for_frame(
    frame: pd.DataFrame, selection: Selection | None = None, by_layer: bool = False,
    n_resamples: int = stats.DEFAULT_RESAMPLES, seed: int = stats.DEFAULT_SEED,
) -> pd.DataFrame:
    """Every pair of methods on the same responses (what `compare_methods` prints)."""
    selection = selection or Selection()
    check_methods(frame, selection.methods)
    _, used = selection.apply(frame)
    if used.empty:
        raise NoResponses("no responses to compare with these options")
    return stats.pairwise_comparisons(used, by_layer=by_layer, n_resamples=n_resamples, seed=seed)


def agreement_for_frame(frame: pd.DataFrame, selection: Selection | None = None) -> dict[str, pd.DataFrame]:
    """Rater agreement, per-rater summary and position bias (what `rater_agreement` prints), by section."""
    selection = selection or Selection()
    check_methods(frame, selection.methods)
    in_scope, used = selection.apply(frame)
    if in_scope.empty:
        raise NoResponses("no responses with these options")
    return {
        "krippendorff_alpha": stats.krippendorff_alpha(used),
        "best_agreement": pd.DataFrame([stats.best_agreement(used)]),
        "raters": stats.rater_summary(in_scope),
        "position_bias": stats.position_bias(used),
    }


def quality_section(outcome) -> pd.DataFrame:
    """Every rater's quality signals (evaluation.quality.SIGNAL_COLUMNS) with the policy's verdict: excluded, reasons."""
    verdict = outcome.raters.set_index("rater")[["excluded", "reasons"]]
    return outcome.signals.join(verdict, on="rater")


def agreement_for_study(study, frame: pd.DataFrame, selection: Selection | None = None,
                        include_unverified: bool = False) -> dict[str, pd.DataFrame]:
    """agreement_for_frame's sections and `rater_quality`: every rater's quality signals with the verdict of the
    exclusion policy in force (none when the selection ignores it)."""
    selection = selection or Selection()
    sections = agreement_for_frame(frame, selection)
    policy = "" if selection.ignore_policy else (frame.attrs.get("policy") or {}).get("policy", "")
    sections["rater_quality"] = quality_section(judge_raters(frame, study, policy, include_unverified))
    return sections
