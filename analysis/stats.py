"""Statistics on the tidy ratings frame (one row per response x shown description).

Plain functions on pandas/numpy, no Django. Columns used: response_id, rater, layer,
unit, method, rating, best, uninterpretable, none_fit, position, is_valid,
invalid_reason (see analysis.frames).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

CONTROL_METHOD = "shuffled-control"
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
# Rows of weights drawn at once in the cluster bootstrap: bounds memory at
# about chunk x clusters x 8 bytes whatever the study size.
_BOOTSTRAP_CELLS_PER_CHUNK = 8_000_000


# ---------------------------------------------------------------- selection


def select_responses(
    frame: pd.DataFrame,
    include_invalid: bool = False,
    exclude_flagged: bool = False,
    methods: list[str] | None = None,
    exclude_raters: list[str] | None = None,
) -> pd.DataFrame:
    """The rows an analysis uses; `methods` also fixes the column order downstream."""
    keep = np.ones(len(frame), dtype=bool)
    if not include_invalid:
        keep &= frame["is_valid"].to_numpy(dtype=bool)
    if exclude_flagged:
        keep &= ~(frame["uninterpretable"].to_numpy(dtype=bool) | frame["none_fit"].to_numpy(dtype=bool))
    if exclude_raters:
        keep &= ~frame["rater"].astype(str).isin([str(r) for r in exclude_raters]).to_numpy()
    if methods:
        keep &= frame["method"].isin(methods).to_numpy()
    selected = frame.loc[keep]
    selected.attrs = dict(frame.attrs)
    if methods:
        selected.attrs["methods"] = list(methods)
    return selected


def method_order(frame: pd.DataFrame) -> list[str]:
    present = set(frame["method"].unique())
    ordered = [m for m in frame.attrs.get("methods", []) if m in present]
    return ordered + sorted(present - set(ordered))


def layer_order(frame: pd.DataFrame) -> list[str]:
    present = set(frame["layer"].unique())
    ordered = [layer for layer in frame.attrs.get("layers", []) if layer in present]
    return ordered + sorted(present - set(ordered))


# ---------------------------------------------------------------- intervals


@dataclass(frozen=True)
class MeanSummary:
    n: int
    mean: float
    sd: float
    se: float
    ci_low: float
    ci_high: float


def summarize_mean(values, level: float = 0.95) -> MeanSummary:
    """Mean, sample SD (ddof=1), SE and the t-distribution CI of independent values."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return MeanSummary(0, np.nan, np.nan, np.nan, np.nan, np.nan)
    mean = float(values.mean())
    if n == 1:
        return MeanSummary(1, mean, np.nan, np.nan, np.nan, np.nan)
    sd = float(values.std(ddof=1))
    se = sd / np.sqrt(n)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return MeanSummary(n, mean, sd, se, mean - half, mean + half)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (np.nan, np.nan)
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return (float(low), float(high))


def cluster_bootstrap_ci(
    values,
    clusters,
    groups,
    n_groups: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> np.ndarray:
    """Percentile CI of each group's mean when whole clusters (neurons) are resampled.

    values: per-row numbers; clusters: integer cluster code per row; groups:
    integer group code per row in [0, n_groups). The same resampled clusters
    serve every group, so differences computed as groups are paired.
    Returns an (n_groups, 2) array of (low, high).
    """
    values = np.asarray(values, dtype=float)
    clusters = np.asarray(clusters)
    groups = np.asarray(groups, dtype=np.int64)
    result = np.full((n_groups, 2), np.nan)
    if len(values) == 0:
        return result
    cluster_codes, cluster_index = np.unique(clusters, return_inverse=True)
    n_clusters = len(cluster_codes)
    cell = cluster_index.astype(np.int64) * n_groups + groups
    sums = np.bincount(cell, weights=values, minlength=n_clusters * n_groups).reshape(n_clusters, n_groups)
    counts = np.bincount(cell, minlength=n_clusters * n_groups).reshape(n_clusters, n_groups).astype(float)

    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOTSTRAP_CELLS_PER_CHUNK // n_clusters))
    boot_means = np.empty((n_resamples, n_groups))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters))
        draws += (np.arange(size) * n_clusters)[:, None]
        weights = np.bincount(draws.ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_means[done : done + size] = (weights @ sums) / (weights @ counts)
        done += size
    tail = (1 - level) / 2
    for g in range(n_groups):
        column = boot_means[:, g]
        column = column[np.isfinite(column)]
        if len(column):
            result[g] = np.quantile(column, [tail, 1 - tail])
    return result


# ---------------------------------------------------------------- comparison table


TABLE_COLUMNS = [
    "layer", "method", "n", "mean", "sd", "se", "ci_low", "ci_high", "boot_ci_low", "boot_ci_high",
    "best_n", "best_total", "best_rate", "best_ci_low", "best_ci_high",
    "n_valid", "n_invalid", "invalid_reasons",
]


def _response_level(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop_duplicates("response_id")[
        ["response_id", "rater", "layer", "unit", "is_valid", "invalid_reason", "uninterpretable", "none_fit"]
    ]


def _best_flags(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(picked, answered) per row: this row was the best pick; its response picked a best."""
    best = frame["best"]
    picked = best.fillna(False).to_numpy(dtype=bool)
    answered_ids = frame.loc[picked, "response_id"].unique()
    answered = frame["response_id"].isin(answered_ids).to_numpy()
    return picked, answered


def _validity_counts(all_rows: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Valid / invalid responses that showed each method, with the reasons counted."""
    shown = all_rows.drop_duplicates(["response_id", "method"])
    rows = []
    for method in methods:
        mine = shown[shown["method"] == method]
        invalid = mine[~mine["is_valid"].to_numpy(dtype=bool)]
        reasons = invalid["invalid_reason"].fillna("").replace("", "unspecified").value_counts()
        rows.append(
            {
                "method": method,
                "n_valid": int(len(mine) - len(invalid)),
                "n_invalid": int(len(invalid)),
                "invalid_reasons": "; ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items())),
            }
        )
    return pd.DataFrame(rows, columns=["method", "n_valid", "n_invalid", "invalid_reasons"])


def _scope_rows(used: pd.DataFrame, scope_all: pd.DataFrame, methods: list[str], layer, n_resamples, seed, level):
    method_code = {m: i for i, m in enumerate(methods)}
    groups = used["method"].map(method_code).to_numpy()
    clusters = _cluster_codes(used)
    boot = cluster_bootstrap_ci(used["rating"].to_numpy(float), clusters, groups, len(methods), n_resamples, seed, level)
    picked, answered = _best_flags(used)
    validity = _validity_counts(scope_all, methods).set_index("method")
    rows = []
    ratings = used["rating"].to_numpy(float)
    for i, method in enumerate(methods):
        mask = groups == i
        summary = summarize_mean(ratings[mask], level)
        best_total = int((mask & answered).sum())
        best_n = int((mask & picked).sum())
        best_low, best_high = wilson_interval(best_n, best_total, level)
        rows.append(
            {
                "layer": layer,
                "method": method,
                "n": summary.n,
                "mean": summary.mean,
                "sd": summary.sd,
                "se": summary.se,
                "ci_low": summary.ci_low,
                "ci_high": summary.ci_high,
                "boot_ci_low": boot[i, 0],
                "boot_ci_high": boot[i, 1],
                "best_n": best_n,
                "best_total": best_total,
                "best_rate": best_n / best_total if best_total else np.nan,
                "best_ci_low": best_low,
                "best_ci_high": best_high,
                "n_valid": int(validity.at[method, "n_valid"]),
                "n_invalid": int(validity.at[method, "n_invalid"]),
                "invalid_reasons": validity.at[method, "invalid_reasons"],
            }
        )
    return rows


def _cluster_codes(frame: pd.DataFrame) -> np.ndarray:
    """One integer per neuron (layer, unit)."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    return frame.groupby(["layer", "unit"], sort=False, observed=True).ngroup().to_numpy(np.int64)


def comparison_table(
    all_rows: pd.DataFrame,
    used: pd.DataFrame,
    by_layer: bool = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per method (overall, then per layer when `by_layer`): the paper's table with its uncertainty.

    all_rows: every row in scope before the validity filter (for the valid /
    invalid counts); used: the rows the statistics use (select_responses).
    Best rates are shares of the used responses that picked a best, so the
    shares of one scope sum to 1 when every method is kept.
    """
    methods = method_order(used) if len(used) else method_order(all_rows)
    all_rows = all_rows[all_rows["method"].isin(methods)]
    rows = _scope_rows(used, all_rows, methods, None, n_resamples, seed, level)
    if by_layer:
        for layer in layer_order(all_rows):
            rows += _scope_rows(
                used[used["layer"] == layer], all_rows[all_rows["layer"] == layer], methods, layer, n_resamples, seed, level
            )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["layer"] = table["layer"].astype(object)
    return table


def mixed_model_means(used: pd.DataFrame, by_layer: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Per-method mean from `rating ~ 0 + method` with crossed random intercepts for neuron and rater.

    statsmodels fits crossed effects as variance components of one group, which
    is exact but grows with neurons x raters: meant for studies of a few
    thousand responses.
    """
    import statsmodels.formula.api as smf

    def fit(rows: pd.DataFrame, layer):
        data = pd.DataFrame(
            {
                "rating": rows["rating"].astype(float).to_numpy(),
                "method": rows["method"].astype(str).to_numpy(),
                "neuron": (rows["layer"].astype(str) + "#" + rows["unit"].astype(str)).to_numpy(),
                "rater": rows["rater"].astype(str).to_numpy(),
                "all": 1,
            }
        )
        model = smf.mixedlm(
            "rating ~ 0 + C(method)",
            data,
            groups="all",
            re_formula="0",
            vc_formula={"neuron": "0 + C(neuron)", "rater": "0 + C(rater)"},
        )
        with warnings.catch_warnings():
            # Non-convergence is reported in the mm_converged column instead.
            warnings.simplefilter("ignore")
            result = model.fit(reml=True)
        intervals = result.conf_int(alpha=1 - level)
        out = []
        for method in method_order(rows):
            term = f"C(method)[{method}]"
            out.append(
                {
                    "layer": layer,
                    "method": method,
                    "mm_mean": float(result.fe_params[term]),
                    "mm_ci_low": float(intervals.loc[term, 0]),
                    "mm_ci_high": float(intervals.loc[term, 1]),
                    "mm_converged": bool(result.converged),
                }
            )
        return out

    rows = fit(used, None)
    if by_layer:
        for layer in layer_order(used):
            rows += fit(used[used["layer"] == layer], layer)
    table = pd.DataFrame(rows)
    table["layer"] = table["layer"].astype(object)
    return table


# ---------------------------------------------------------------- pairwise


PAIRWISE_COLUMNS = [
    "layer", "method_a", "method_b", "n_responses", "n_neurons", "mean_diff", "diff_ci_low", "diff_ci_high",
    "wilcoxon_statistic", "p_value", "p_holm", "best_n", "best_rate_diff", "best_diff_ci_low", "best_diff_ci_high",
]


def pairwise_comparisons(
    used: pd.DataFrame,
    by_layer: bool = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every pair of methods on the responses that rated both.

    Rating difference: mean of per-response differences (a - b), paired
    cluster-bootstrap CI over neurons; Wilcoxon signed-rank on per-neuron mean
    differences (responses to one neuron are not independent), Holm-adjusted
    over all pairs of a scope. Best: difference of best-selection rates on the
    responses that picked a best, with the same bootstrap.
    """
    rows = _pairwise_scope(used, None, n_resamples, seed, level)
    if by_layer:
        for layer in layer_order(used):
            rows += _pairwise_scope(used[used["layer"] == layer], layer, n_resamples, seed, level)
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS).astype({"layer": object})


def _pairwise_scope(used: pd.DataFrame, layer, n_resamples, seed, level) -> list[dict]:
    methods = method_order(used)
    pairs = list(combinations(methods, 2))
    if not pairs:
        return []
    picked, _ = _best_flags(used)
    wide_rating = used.pivot(index="response_id", columns="method", values="rating")
    wide_best = pd.Series(picked, index=used.index).groupby([used["response_id"], used["method"]]).any().unstack()
    responses = used.drop_duplicates("response_id").set_index("response_id")
    cluster_of_response = pd.Series(_cluster_codes(responses.reset_index()), index=responses.index)
    answered = wide_best.any(axis=1)

    diff_values, diff_clusters, diff_groups = [], [], []
    best_values, best_clusters, best_groups = [], [], []
    per_pair = []
    for index, (a, b) in enumerate(pairs):
        both = wide_rating[[a, b]].dropna()
        diff = (both[a] - both[b]).astype(float)
        clusters = cluster_of_response.loc[both.index].to_numpy()
        diff_values.append(diff.to_numpy())
        diff_clusters.append(clusters)
        diff_groups.append(np.full(len(diff), index))
        neuron_means = diff.groupby(clusters).mean()
        nonzero = neuron_means[neuron_means != 0]
        if len(nonzero):
            wilcoxon = scipy_stats.wilcoxon(neuron_means.to_numpy())
            statistic, p_value = float(wilcoxon.statistic), float(wilcoxon.pvalue)
        else:
            statistic, p_value = np.nan, 1.0

        best_ids = both.index[answered.reindex(both.index, fill_value=False).to_numpy()]
        best_diff = (
            wide_best.loc[best_ids, a].fillna(False).astype(float) - wide_best.loc[best_ids, b].fillna(False).astype(float)
        )
        best_values.append(best_diff.to_numpy())
        best_clusters.append(cluster_of_response.loc[best_ids].to_numpy())
        best_groups.append(np.full(len(best_diff), index))
        per_pair.append(
            {
                "layer": layer,
                "method_a": a,
                "method_b": b,
                "n_responses": int(len(diff)),
                "n_neurons": int(len(neuron_means)),
                "mean_diff": float(diff.mean()) if len(diff) else np.nan,
                "wilcoxon_statistic": statistic,
                "p_value": p_value,
                "best_n": int(len(best_diff)),
                "best_rate_diff": float(best_diff.mean()) if len(best_diff) else np.nan,
            }
        )
    diff_ci = cluster_bootstrap_ci(
        np.concatenate(diff_values), np.concatenate(diff_clusters), np.concatenate(diff_groups), len(pairs),
        n_resamples, seed, level,
    )
    best_ci = cluster_bootstrap_ci(
        np.concatenate(best_values), np.concatenate(best_clusters), np.concatenate(best_groups), len(pairs),
        n_resamples, seed, level,
    )
    p_values = np.array([row["p_value"] for row in per_pair])
    p_holm = multipletests(p_values, method="holm")[1]
    for index, row in enumerate(per_pair):
        row["diff_ci_low"], row["diff_ci_high"] = diff_ci[index]
        row["best_diff_ci_low"], row["best_diff_ci_high"] = best_ci[index]
        row["p_holm"] = float(p_holm[index])
    return per_pair


# ---------------------------------------------------------------- agreement


def krippendorff_alpha(used: pd.DataFrame) -> pd.DataFrame:
    """Ordinal alpha per method (units: neurons) and overall (units: neuron x method).

    Built from per-unit counts of each rating value, so it does not depend on
    how many distinct raters there are.
    """
    rows = []
    for method in method_order(used) + [None]:
        subset = used if method is None else used[used["method"] == method]
        unit_keys = ["layer", "unit"] if method is not None else ["layer", "unit", "method"]
        counts = (
            subset.groupby(unit_keys + ["rating"], observed=True).size().unstack("rating", fill_value=0)
            .reindex(columns=[1, 2, 3, 4, 5], fill_value=0)
        )
        paired = counts[counts.sum(axis=1) >= 2]
        alpha = np.nan
        if len(paired) and (paired.sum(axis=0) > 0).sum() >= 2:
            alpha = float(
                krippendorff.alpha(value_counts=paired.to_numpy(), value_domain=[1, 2, 3, 4, 5], level_of_measurement="ordinal")
            )
        rows.append({"method": method if method is not None else "(all)", "units": int(len(paired)), "alpha": alpha})
    return pd.DataFrame(rows)


def best_agreement(used: pd.DataFrame) -> dict:
    """Among neurons with at least two best picks: share where every pick named the same method."""
    picked, _ = _best_flags(used)
    picks = used.loc[picked, ["layer", "unit", "method"]]
    per_neuron = picks.groupby(["layer", "unit"], observed=True)["method"].agg(["size", "nunique"])
    per_neuron = per_neuron[per_neuron["size"] >= 2]
    same = int((per_neuron["nunique"] == 1).sum())
    total = int(len(per_neuron))
    return {"neurons": total, "same_best": same, "share": same / total if total else np.nan}


RATER_COLUMNS = [
    "rater", "responses", "invalid", "invalid_rate", "flagged", "mean_rating", "mean_abs_diff_from_others",
    "best_matches_others", "control_mean",
]


def rater_summary(all_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per rater, to spot careless ones.

    mean_abs_diff_from_others: mean |rating - mean of the other raters' ratings
    of the same description|; best_matches_others: share of this rater's best
    picks that at least one other rater of the neuron also picked;
    control_mean: mean rating given to the shuffled control.
    """
    frame = all_rows.copy()
    frame["rating"] = frame["rating"].astype(float)
    item = ["layer", "unit", "method"]
    item_sum = frame.groupby(item, observed=True)["rating"].transform("sum")
    item_count = frame.groupby(item, observed=True)["rating"].transform("size")
    others = item_count - 1
    frame["abs_diff"] = np.where(
        others > 0, (frame["rating"] - (item_sum - frame["rating"]) / others.where(others > 0, 1)).abs(), np.nan
    )
    picked, _ = _best_flags(frame)
    frame["picked"] = picked
    pick_count = frame.groupby(item, observed=True)["picked"].transform("sum")
    frame["pick_shared"] = np.where(frame["picked"], pick_count >= 2, np.nan)
    frame["is_control"] = frame["method"] == CONTROL_METHOD

    responses = _response_level(frame)
    per_response = responses.groupby("rater").agg(
        responses=("response_id", "size"),
        invalid=("is_valid", lambda v: int((~v.astype(bool)).sum())),
        flagged=("uninterpretable", "size"),
    )
    flagged = responses[responses["uninterpretable"].astype(bool) | responses["none_fit"].astype(bool)]
    per_response["flagged"] = flagged.groupby("rater").size().reindex(per_response.index, fill_value=0)
    per_row = frame.groupby("rater").agg(
        mean_rating=("rating", "mean"),
        mean_abs_diff_from_others=("abs_diff", "mean"),
        best_matches_others=("pick_shared", "mean"),
    )
    control = frame[frame["is_control"]].groupby("rater")["rating"].mean().rename("control_mean")
    summary = per_response.join(per_row).join(control)
    summary["invalid_rate"] = summary["invalid"] / summary["responses"]
    summary = summary.reset_index()
    summary["rater"] = summary["rater"].astype(str)
    return summary.reindex(columns=RATER_COLUMNS).sort_values("rater", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- position bias


POSITION_COLUMNS = ["position", "n", "mean", "se", "ci_low", "ci_high", "best_n", "best_total", "best_rate",
                    "best_ci_low", "best_ci_high"]


def position_bias(used: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean rating and best-selection rate by shown position: flat when the shuffle works."""
    frame = used[used["position"].notna()]
    picked, answered = _best_flags(frame)
    positions = frame["position"].astype(int).to_numpy()
    ratings = frame["rating"].to_numpy(float)
    rows = []
    for position in sorted(set(positions.tolist())):
        mask = positions == position
        summary = summarize_mean(ratings[mask], level)
        best_total = int((mask & answered).sum())
        best_n = int((mask & picked).sum())
        low, high = wilson_interval(best_n, best_total, level)
        rows.append(
            {
                "position": position,
                "n": summary.n,
                "mean": summary.mean,
                "se": summary.se,
                "ci_low": summary.ci_low,
                "ci_high": summary.ci_high,
                "best_n": best_n,
                "best_total": best_total,
                "best_rate": best_n / best_total if best_total else np.nan,
                "best_ci_low": low,
                "best_ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)
