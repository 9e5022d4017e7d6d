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
_BOOTSTRAP_CELLS_PER_CHUNK = 2_000_000
# statsmodels builds dense random-effect design matrices (rows x (neurons + raters)).
MIXED_MODEL_MAX_CELLS = 50_000_000


# ---------------------------------------------------------------- selection


def select_responses(
    frame: pd.DataFrame,
    include_invalid: bool = False,
    exclude_flagged: bool = False,
    methods: list[str] | None = None,
    exclude_raters: list[str] | None = None,
    include_excluded: bool = False,
    ignore_policy: bool = False,
) -> pd.DataFrame:
    """The rows an analysis uses; `methods` also fixes the column order downstream.

    Responses a researcher excluded (column `excluded`, when the frame has it) are
    left out unless `include_excluded`; responses of raters the study's exclusion
    policy leaves out (column `policy_excluded`) unless `ignore_policy`.
    """
    keep = np.ones(len(frame), dtype=bool)
    if not include_excluded and "excluded" in frame.columns:
        keep &= ~frame["excluded"].to_numpy(dtype=bool)
    if not ignore_policy and "policy_excluded" in frame.columns:
        keep &= ~frame["policy_excluded"].to_numpy(dtype=bool)
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


def resampled_cluster_sums(cluster_sums, cluster_strata, n_strata: int, n_resamples: int = DEFAULT_RESAMPLES,
                           seed: int = DEFAULT_SEED) -> np.ndarray:
    """Column totals over clusters drawn with replacement within each stratum.

    cluster_sums: (clusters, k) per-cluster totals (e.g. sum of ratings and
    number of ratings per method); cluster_strata: stratum code per cluster
    (the layer: studies sample neurons per layer). Returns (n_strata,
    n_resamples, k); a stratum's resample draws as many clusters as it has.
    Weights are drawn in chunks, so memory stays bounded for any study size.
    """
    cluster_sums = np.asarray(cluster_sums, dtype=float)
    strata = np.asarray(cluster_strata, dtype=np.int64)
    rng = np.random.default_rng(seed)
    totals = np.zeros((n_strata, n_resamples, cluster_sums.shape[1]))
    for stratum in range(n_strata):
        block = cluster_sums[strata == stratum]
        n = len(block)
        if n == 0:
            continue
        chunk = max(1, min(n_resamples, _BOOTSTRAP_CELLS_PER_CHUNK // n))
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            draws = rng.integers(0, n, size=(size, n))
            draws += (np.arange(size) * n)[:, None]
            weights = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(float)
            totals[stratum, start : start + size] = weights @ block
    return totals


def ratio_interval(numerators, denominators, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of resampled ratios (resamples with a zero denominator are left out)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.asarray(numerators, dtype=float) / np.asarray(denominators, dtype=float)
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return (np.nan, np.nan)
    tail = (1 - level) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return (float(low), float(high))


def cluster_bootstrap_ci(
    values,
    clusters,
    groups,
    n_groups: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    strata=None,
) -> np.ndarray:
    """Percentile CI of each group's mean when whole clusters (neurons) are resampled.

    values, clusters, groups (integer code in [0, n_groups)) and optional
    strata are per row. Returns an (n_groups, 2) array of (low, high).
    """
    values = np.asarray(values, dtype=float)
    result = np.full((n_groups, 2), np.nan)
    if len(values) == 0:
        return result
    cluster_index = np.unique(np.asarray(clusters), return_inverse=True)[1].astype(np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    n_clusters = int(cluster_index.max()) + 1
    cell = cluster_index * n_groups + groups
    sums = np.bincount(cell, weights=values, minlength=n_clusters * n_groups).reshape(n_clusters, n_groups)
    counts = np.bincount(cell, minlength=n_clusters * n_groups).reshape(n_clusters, n_groups)
    cluster_strata = np.zeros(n_clusters, dtype=np.int64)
    if strata is not None:
        cluster_strata[cluster_index] = np.asarray(strata, dtype=np.int64)
    totals = resampled_cluster_sums(np.hstack([sums, counts]), cluster_strata, int(cluster_strata.max()) + 1,
                                    n_resamples, seed).sum(axis=0)
    for g in range(n_groups):
        result[g] = ratio_interval(totals[:, g], totals[:, n_groups + g], level)
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
    picked = frame["best"].fillna(False).to_numpy(dtype=bool)
    codes = pd.factorize(frame["response_id"])[0]
    answered_codes = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=bool)
    answered_codes[codes[picked]] = True
    return picked, answered_codes[codes]


class _Design:
    """Integer codes of the used rows: method, layer, neuron (cluster), response; each neuron's layer; best flags."""

    def __init__(self, frame: pd.DataFrame, methods: list[str], layers: list[str]):
        self.methods, self.layers = methods, layers
        self.method = pd.Index(methods).get_indexer(frame["method"]).astype(np.int64)
        self.layer = pd.Index(layers).get_indexer(frame["layer"]).astype(np.int64)
        self.rating = frame["rating"].to_numpy(float)
        units = frame["unit"].to_numpy(np.int64)
        neuron_key = self.layer * (int(units.max()) + 1 if len(units) else 1) + units
        _, self.cluster = np.unique(neuron_key, return_inverse=True)
        self.cluster = self.cluster.astype(np.int64).ravel()
        self.n_clusters = int(self.cluster.max()) + 1 if len(self.cluster) else 0
        self.cluster_layer = np.zeros(self.n_clusters, dtype=np.int64)
        self.cluster_layer[self.cluster] = self.layer
        self.response, response_ids = pd.factorize(frame["response_id"])
        self.n_responses = len(response_ids)
        self.picked = frame["best"].fillna(False).to_numpy(dtype=bool)
        answered = np.zeros(self.n_responses, dtype=bool)
        answered[self.response[self.picked]] = True
        self.answered = answered[self.response]

    def scopes(self, by_layer: bool) -> list:
        present = set(np.unique(self.layer).tolist())
        return [None] + ([layer for i, layer in enumerate(self.layers) if i in present] if by_layer else [])

    def resample(self, per_neuron: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
        return resampled_cluster_sums(per_neuron, self.cluster_layer, len(self.layers), n_resamples, seed)

    def scope_totals(self, boot: np.ndarray, scope) -> np.ndarray:
        return boot.sum(axis=0) if scope is None else boot[self.layers.index(scope)]


def _validity_by_scope(all_rows: pd.DataFrame) -> dict:
    """(layer or None, method) -> (valid, invalid, reasons text); each row is one response showing one method."""
    counts = all_rows.groupby(["layer", "method", "is_valid", "invalid_reason"], observed=True, dropna=False).size()
    tallies: dict = {}
    for (layer, method, is_valid, reason), count in counts.items():
        reason = reason if isinstance(reason, str) and reason else "unspecified"
        for scope in (None, layer):
            entry = tallies.setdefault((scope, method), [0, 0, {}])
            if is_valid:
                entry[0] += int(count)
            else:
                entry[1] += int(count)
                entry[2][reason] = entry[2].get(reason, 0) + int(count)
    return {
        key: (valid, invalid, "; ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items())))
        for key, (valid, invalid, reasons) in tallies.items()
    }


def _table_sums(design: _Design) -> np.ndarray:
    """Per neuron: sum of ratings per method, then number of ratings per method."""
    n_methods = len(design.methods)
    cell = design.cluster * n_methods + design.method
    size = design.n_clusters * n_methods
    sums = np.bincount(cell, weights=design.rating, minlength=size).reshape(design.n_clusters, n_methods)
    counts = np.bincount(cell, minlength=size).reshape(design.n_clusters, n_methods)
    return np.hstack([sums, counts])


def _table_rows(design: _Design, validity: dict, boot: np.ndarray, by_layer: bool, level: float) -> list[dict]:
    n_methods = len(design.methods)
    rows = []
    scopes = [None] + (design.layers if by_layer else [])
    for scope in scopes:
        in_scope = np.ones(len(design.rating), dtype=bool) if scope is None else design.layer == design.layers.index(scope)
        totals = design.scope_totals(boot, scope)
        for i, method in enumerate(design.methods):
            mask = in_scope & (design.method == i)
            summary = summarize_mean(design.rating[mask], level)
            boot_low, boot_high = ratio_interval(totals[:, i], totals[:, n_methods + i], level)
            best_total = int((mask & design.answered).sum())
            best_n = int((mask & design.picked).sum())
            best_low, best_high = wilson_interval(best_n, best_total, level)
            n_valid, n_invalid, reasons = validity.get((scope, method), (0, 0, ""))
            rows.append({
                "layer": scope, "method": method, "n": summary.n, "mean": summary.mean, "sd": summary.sd,
                "se": summary.se, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
                "boot_ci_low": boot_low, "boot_ci_high": boot_high, "best_n": best_n, "best_total": best_total,
                "best_rate": best_n / best_total if best_total else np.nan, "best_ci_low": best_low,
                "best_ci_high": best_high, "n_valid": n_valid, "n_invalid": n_invalid, "invalid_reasons": reasons,
            })
    return rows


def _table_frame(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["layer"] = table["layer"].astype(object)
    return table


def _prepare(all_rows: pd.DataFrame, used: pd.DataFrame) -> tuple[pd.DataFrame, _Design]:
    methods = method_order(used) if len(used) else method_order(all_rows)
    all_rows = all_rows[all_rows["method"].isin(methods)]
    return all_rows, _Design(used, methods, layer_order(all_rows))


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
    boot_ci_*: percentile interval over resamples of neurons drawn with
    replacement within each layer (studies sample neurons per layer). Best
    rates are shares of the used responses that picked a best, so the shares
    of one scope sum to 1 when every method is kept.
    """
    all_rows, design = _prepare(all_rows, used)
    boot = design.resample(_table_sums(design), n_resamples, seed)
    return _table_frame(_table_rows(design, _validity_by_scope(all_rows), boot, by_layer, level))


def mixed_model_means(used: pd.DataFrame, by_layer: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Per-method mean from `rating ~ 0 + method` with crossed random intercepts for neuron and rater.

    statsmodels fits crossed effects as variance components of one group, which
    is exact but grows with neurons x raters: meant for studies of a few
    thousand responses.
    """
    import statsmodels.formula.api as smf

    neurons = used.groupby(["layer", "unit"], observed=True).ngroups
    raters = used["rater"].nunique()
    if len(used) * (neurons + raters) > MIXED_MODEL_MAX_CELLS:
        raise ValueError(
            f"the mixed model's crossed random effects need a {len(used):,} x {neurons + raters:,} design matrix, "
            f"too large to fit here; use the neuron-bootstrap interval (boot_ci_low/high) instead"
        )

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
    "best_p_value", "best_p_holm",
]


def _pairs(design: _Design) -> list[tuple[int, int]]:
    return list(combinations(range(len(design.methods)), 2))


def _pair_sums(design: _Design) -> np.ndarray:
    """Per neuron and pair: sum of rating differences, responses, sum of best differences, responses with a best."""
    n_methods = len(design.methods)
    wide_rating = np.full((design.n_responses, n_methods), np.nan)
    wide_rating[design.response, design.method] = design.rating
    wide_best = np.zeros((design.n_responses, n_methods))
    wide_best[design.response, design.method] = design.picked
    answered = wide_best.any(axis=1)
    response_cluster = np.zeros(design.n_responses, dtype=np.int64)
    response_cluster[design.response] = design.cluster
    columns = []
    for a, b in _pairs(design):
        both = ~np.isnan(wide_rating[:, a]) & ~np.isnan(wide_rating[:, b])
        diff = np.where(both, wide_rating[:, a] - wide_rating[:, b], 0.0)
        with_best = both & answered
        best_diff = np.where(with_best, wide_best[:, a] - wide_best[:, b], 0.0)
        for weights in (diff, both, best_diff, with_best):
            columns.append(np.bincount(response_cluster, weights=weights.astype(float), minlength=design.n_clusters))
    return np.column_stack(columns) if columns else np.zeros((design.n_clusters, 0))


def _pair_rows(design: _Design, per_neuron: np.ndarray, boot: np.ndarray, by_layer: bool, level: float) -> list[dict]:
    rows = []
    for scope in design.scopes(by_layer):
        neurons = (np.ones(design.n_clusters, dtype=bool) if scope is None
                   else design.cluster_layer == design.layers.index(scope))
        totals = design.scope_totals(boot, scope)
        scope_rows = []
        for j, (a, b) in enumerate(_pairs(design)):
            diff_sum, count, best_sum, best_count = (per_neuron[neurons, 4 * j + k] for k in range(4))
            rated = count > 0
            statistic, p_value = _signed_rank(diff_sum[rated] / count[rated])
            with_best = best_count > 0
            _, best_p_value = _signed_rank(best_sum[with_best] / best_count[with_best])
            diff_low, diff_high = ratio_interval(totals[:, 4 * j], totals[:, 4 * j + 1], level)
            best_low, best_high = ratio_interval(totals[:, 4 * j + 2], totals[:, 4 * j + 3], level)
            scope_rows.append({
                "layer": scope, "method_a": design.methods[a], "method_b": design.methods[b],
                "n_responses": int(count.sum()), "n_neurons": int(rated.sum()),
                "mean_diff": diff_sum.sum() / count.sum() if count.sum() else np.nan,
                "diff_ci_low": diff_low, "diff_ci_high": diff_high,
                "wilcoxon_statistic": statistic, "p_value": p_value, "best_n": int(best_count.sum()),
                "best_rate_diff": best_sum.sum() / best_count.sum() if best_count.sum() else np.nan,
                "best_diff_ci_low": best_low, "best_diff_ci_high": best_high, "best_p_value": best_p_value,
            })
        if scope_rows:
            for raw, adjusted_name in (("p_value", "p_holm"), ("best_p_value", "best_p_holm")):
                adjusted = multipletests([row[raw] for row in scope_rows], method="holm")[1]
                for row, p_holm in zip(scope_rows, adjusted):
                    row[adjusted_name] = float(p_holm)
        rows += scope_rows
    return rows


def _signed_rank(neuron_means: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank on per-neuron mean differences; p = 1 when every difference is zero."""
    if not np.any(neuron_means != 0):
        return np.nan, 1.0
    test = scipy_stats.wilcoxon(neuron_means)
    return float(test.statistic), float(test.pvalue)


def _pair_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS).astype({"layer": object})


def pairwise_comparisons(
    used: pd.DataFrame,
    by_layer: bool = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every pair of methods on the responses that rated both.

    Rating difference: mean of per-response differences (a - b) with a paired
    bootstrap CI (the same resampled neurons for both methods, within layers);
    Wilcoxon signed-rank on per-neuron mean differences (responses to one
    neuron are not independent), Holm-adjusted over the pairs of a scope.
    Best: difference of best-selection rates on the responses that picked a
    best, with the same bootstrap, and the same signed-rank test on per-neuron
    differences (best_p_value, best_p_holm).
    """
    if used.empty:
        return _pair_frame([])
    _, design = _prepare(used, used)
    per_neuron = _pair_sums(design)
    boot = design.resample(per_neuron, n_resamples, seed)
    return _pair_frame(_pair_rows(design, per_neuron, boot, by_layer, level))


def comparison_and_pairwise(
    all_rows: pd.DataFrame,
    used: pd.DataFrame,
    by_layer: bool = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """comparison_table and pairwise_comparisons from one set of resampled neurons (one pass over the draws)."""
    all_rows, design = _prepare(all_rows, used)
    table_sums = _table_sums(design)
    pair_sums = _pair_sums(design)
    boot = design.resample(np.hstack([table_sums, pair_sums]), n_resamples, seed)
    width = table_sums.shape[1]
    table = _table_frame(_table_rows(design, _validity_by_scope(all_rows), boot[:, :, :width], by_layer, level))
    pairs = _pair_frame(_pair_rows(design, pair_sums, boot[:, :, width:], by_layer, level))
    return table, pairs


# ---------------------------------------------------------------- leaders


LEADER_MARKS = ("best", "tied", "")


def scope_key(layer):
    """A table row's layer as a key: None for the overall rows (missing layer)."""
    return None if layer is None or (isinstance(layer, float) and np.isnan(layer)) else layer


def _leader_marks(values: dict, beats: dict) -> dict:
    """method -> "best" | "tied" | "": best when it beats every other method; else the top method and
    every method it does not beat are tied leaders (when there are several)."""
    finite = {method: value for method, value in values.items() if value is not None and np.isfinite(value)}
    marks = {method: "" for method in values}
    if len(finite) < 2:
        return marks
    top = max(finite, key=finite.get)
    not_beaten = [other for other in finite if other != top and not beats.get((top, other), False)]
    if not not_beaten:
        marks[top] = "best"
    else:
        for method in [top] + not_beaten:
            marks[method] = "tied"
    return marks


def mark_leaders(table: pd.DataFrame, pairs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The comparison table with `mean_mark` and `best_mark` per row: "best", "tied" or "".

    A method is marked best in a scope only if its paired comparison (Wilcoxon
    signed-rank on neurons, Holm-corrected over the scope's pairs) shows it ahead
    of every other method at `alpha`; otherwise the leader and the methods not
    significantly behind it are marked tied. A table without pairwise results
    marks nothing.
    """
    table = table.copy()
    mean_marks, best_marks = [""] * len(table), [""] * len(table)
    if pairs is not None and len(pairs):
        scopes = [scope_key(layer) for layer in table["layer"]]
        pair_scopes = [scope_key(layer) for layer in pairs["layer"]]
        for scope in dict.fromkeys(scopes):
            rows = [i for i, key in enumerate(scopes) if key == scope]
            scope_pairs = pairs[[key == scope for key in pair_scopes]]
            for value, diff, p_column, marks in (("mean", "mean_diff", "p_holm", mean_marks),
                                                 ("best_rate", "best_rate_diff", "best_p_holm", best_marks)):
                beats = {}
                for pair in scope_pairs.itertuples(index=False):
                    significant = getattr(pair, p_column) < alpha
                    difference = getattr(pair, diff)
                    beats[(pair.method_a, pair.method_b)] = bool(significant and difference > 0)
                    beats[(pair.method_b, pair.method_a)] = bool(significant and difference < 0)
                values = {table["method"].iloc[i]: float(table[value].iloc[i]) for i in rows}
                scope_marks = _leader_marks(values, beats)
                for i in rows:
                    marks[i] = scope_marks[table["method"].iloc[i]]
    table["mean_mark"] = mean_marks
    table["best_mark"] = best_marks
    table.attrs["mark_alpha"] = alpha
    return table


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
    responses = responses.assign(
        invalid=~responses["is_valid"].astype(bool),
        flagged=responses["uninterpretable"].astype(bool) | responses["none_fit"].astype(bool),
    )
    per_response = responses.groupby("rater").agg(
        responses=("response_id", "size"), invalid=("invalid", "sum"), flagged=("flagged", "sum")
    )
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


# ---------------------------------------------------------------- exclusions


def exclusion_summary(frame: pd.DataFrame) -> dict:
    """How many responses of the frame a researcher excluded, and how many for each reason."""
    if "excluded" not in frame.columns:
        return {"responses": 0, "reasons": {}}
    excluded = frame.loc[frame["excluded"].to_numpy(dtype=bool)].drop_duplicates("response_id")
    reasons = excluded["exclusion_reason"].astype(str).value_counts()
    return {
        "responses": int(len(excluded)),
        "reasons": {str(reason): int(count) for reason, count in sorted(reasons.items()) if count},
    }


def validity_summary(in_scope: pd.DataFrame) -> dict:
    """Responses in scope (excluded ones already left out): how many valid, invalid, and each invalid reason once."""
    responses = in_scope.drop_duplicates("response_id")
    invalid = responses.loc[~responses["is_valid"].to_numpy(dtype=bool)]
    reasons = invalid["invalid_reason"].astype(str).replace("", "unspecified").value_counts()
    return {
        "responses": int(len(responses)),
        "valid": int(len(responses) - len(invalid)),
        "invalid": int(len(invalid)),
        "reasons": {str(reason): int(count) for reason, count in sorted(reasons.items()) if count},
    }


def add_exclusion_columns(table: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The comparison table with `n_excluded` (responses showing the row's method that were excluded, in its scope)."""
    table = table.copy()
    counts: dict = {}
    if "excluded" in frame.columns:
        excluded = frame.loc[frame["excluded"].to_numpy(dtype=bool)]
        for (layer, method), count in excluded.groupby(["layer", "method"], observed=True).size().items():
            for scope in (None, layer):
                counts[(scope, method)] = counts.get((scope, method), 0) + int(count)
    table["n_excluded"] = [
        counts.get((scope_key(layer), method), 0)
        for layer, method in zip(table["layer"], table["method"])
    ]
    table.attrs["excluded"] = exclusion_summary(frame)
    return table


# ---------------------------------------------------------------- exclusion policy


SENSITIVITY_COLUMNS = [
    "layer", "method", "n_all", "mean_all", "n_kept", "mean_kept", "mean_change", "best_rate_all", "best_rate_kept",
    "best_rate_change", "rank_all", "rank_kept",
]


def _scope_means(used: pd.DataFrame) -> pd.DataFrame:
    """Per (layer or overall, method): ratings, mean rating, best-selection rate, rank of the mean within the scope."""
    picked, answered = _best_flags(used)
    rows = used.assign(picked=picked, answered=answered)
    parts = []
    for scope, by in ((None, ["method"]), ("layer", ["layer", "method"])):
        grouped = rows.groupby(by, observed=True).agg(n=("rating", "size"), mean=("rating", "mean"),
                                                      best=("picked", "sum"), answered=("answered", "sum")).reset_index()
        if scope is None:
            grouped.insert(0, "layer", None)
        grouped["best_rate"] = grouped["best"] / grouped["answered"].where(grouped["answered"] > 0)
        grouped["rank"] = grouped.groupby("layer", dropna=False)["mean"].rank(ascending=False, method="min")
        parts.append(grouped)
    return pd.concat(parts, ignore_index=True)


def policy_sensitivity(used_all: pd.DataFrame, used_kept: pd.DataFrame) -> pd.DataFrame:
    """The same statistics with every rater and with the raters the exclusion policy keeps, side by side:
    overall rows (layer missing) first, then per layer, methods in table order. Ranks are 1 = highest mean."""
    if used_all.empty:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    keys = ["layer", "method"]
    everyone = _scope_means(used_all).astype({"layer": object})
    kept = _scope_means(used_kept).astype({"layer": object}) if len(used_kept) else everyone.iloc[0:0]
    both = everyone.merge(kept, on=keys, how="left", suffixes=("_all", "_kept"))
    both["n_kept"] = both["n_kept"].fillna(0).astype(int)
    both["mean_change"] = both["mean_kept"] - both["mean_all"]
    both["best_rate_change"] = both["best_rate_kept"] - both["best_rate_all"]
    methods, layers = method_order(used_all), layer_order(used_all)
    both["order"] = [(-1 if scope_key(layer) is None else layers.index(layer), methods.index(method))
                     for layer, method in zip(both["layer"], both["method"])]
    both = both.sort_values("order", kind="stable")
    return both.reindex(columns=SENSITIVITY_COLUMNS).reset_index(drop=True)


METRIC_COLUMN_PREFIX = "metric:"


def add_metric_columns(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The comparison table with one `metric:<name>` column per automatic metric present in `scores`.

    `scores` has columns layer, unit, method, metric, value (one row per scored explanation). A
    cell is the mean over the scored explanations of that method in the row's scope (all layers
    for overall rows); methods with no score in scope stay missing.
    """
    if scores is None or scores.empty:
        return table
    table = table.copy()
    overall = scores.groupby(["method", "metric"])["value"].mean()
    per_layer = scores.groupby(["layer", "method", "metric"])["value"].mean()
    for metric in sorted(scores["metric"].unique()):
        column = []
        for layer, method in zip(table["layer"], table["method"]):
            key = (method, metric) if scope_key(layer) is None else (layer, method, metric)
            source = overall if len(key) == 2 else per_layer
            column.append(float(source[key]) if key in source.index else None)
        table[f"{METRIC_COLUMN_PREFIX}{metric}"] = column
    return table
