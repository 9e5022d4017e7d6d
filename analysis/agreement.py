"""Agreement of automatic metrics with people: plain functions on the ratings and metric-score frames.

For every metric with scores for a study's explanations, the rank correlation (Kendall's tau-b and
Spearman's rho) between the metric and the mean human rating per (neuron, method), with percentile
bootstrap intervals that resample neurons (all of a neuron's methods together, since a neuron's
explanations share its difficulty), and whether the metric orders the methods as the people did.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

AGREEMENT_RESAMPLES = 1000
AGREEMENT_COLUMNS = [
    "metric", "pairs", "neurons", "kendall_tau_b", "tau_ci_low", "tau_ci_high", "spearman", "spearman_ci_low",
    "spearman_ci_high", "people_order", "metric_order", "same_order",
]


def paired_scores(used: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (layer, unit, method, metric): mean human rating and the metric's value."""
    human = used.groupby(["layer", "unit", "method"], as_index=False)["rating"].mean().rename(columns={"rating": "human"})
    if scores is None or scores.empty or human.empty:
        return pd.DataFrame(columns=["layer", "unit", "method", "metric", "human", "value"])
    return human.merge(scores, on=["layer", "unit", "method"], how="inner")


def _correlations(human: np.ndarray, value: np.ndarray) -> tuple[float, float]:
    if len(human) < 2 or np.ptp(human) == 0 or np.ptp(value) == 0:
        return np.nan, np.nan
    return float(stats.kendalltau(human, value, variant="b").statistic), float(stats.spearmanr(human, value).statistic)


def method_order(pairs: pd.DataFrame, column: str) -> list[str]:
    """Methods from best to worst by their mean `column` over the paired rows (ties by name)."""
    means = pairs.groupby("method")[column].mean()
    return sorted(means.index, key=lambda method: (-means[method], method))


def metric_agreement(used: pd.DataFrame, scores: pd.DataFrame, n_resamples: int = AGREEMENT_RESAMPLES, seed: int = 0,
                     level: float = 0.95) -> pd.DataFrame:
    """One row per metric (AGREEMENT_COLUMNS). Metrics that cannot be correlated (fewer than 2 pairs,
    a constant side) get NaN correlations; a bootstrap resample that is constant on one side is skipped."""
    pairs = paired_scores(used, scores)
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    rows = []
    for metric, group in pairs.groupby("metric", sort=True):
        group = group.reset_index(drop=True)
        tau, rho = _correlations(group["human"].to_numpy(), group["value"].to_numpy())
        neurons = list(group.groupby(["layer", "unit"]).indices.values())
        boot_tau, boot_rho = [], []
        if not np.isnan(tau) and len(neurons) > 1:
            for _ in range(n_resamples):
                chosen = np.concatenate([neurons[i] for i in rng.integers(len(neurons), size=len(neurons))])
                t, r = _correlations(group["human"].to_numpy()[chosen], group["value"].to_numpy()[chosen])
                if not np.isnan(t):
                    boot_tau.append(t)
                    boot_rho.append(r)
        tau_ci = np.quantile(boot_tau, [tail, 1 - tail]) if boot_tau else (np.nan, np.nan)
        rho_ci = np.quantile(boot_rho, [tail, 1 - tail]) if boot_rho else (np.nan, np.nan)
        people, by_metric = method_order(group, "human"), method_order(group, "value")
        rows.append({
            "metric": metric, "pairs": len(group), "neurons": len(neurons), "kendall_tau_b": tau,
            "tau_ci_low": float(tau_ci[0]), "tau_ci_high": float(tau_ci[1]), "spearman": rho,
            "spearman_ci_low": float(rho_ci[0]), "spearman_ci_high": float(rho_ci[1]),
            "people_order": " > ".join(people), "metric_order": " > ".join(by_metric), "same_order": people == by_metric,
        })
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
