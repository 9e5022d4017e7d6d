"""Adaptive collection: which neuron one more response helps most, and when a study has enough.

Plain numpy/pandas, no Django: assignment reads the study into the frames below and
calls these functions under its study lock; benchmarks/collection.py calls the same ones.

The model (one per reported quantity c: each method's mean rating and each pairwise
difference of methods). Every response rates every method of its neuron, so a response r
on neuron n gives one value x_nrc per quantity (the rating, or the difference of two
ratings of the same response), and the study reports the mean of x over its responses
(analysis.stats.comparison_table: the mean of the used rows). With

    x_nrc = mu_c + b_nc + e_nrc,   Var(b_nc) = B_c (between neurons),   Var(e_nrc) = W_nc (between raters),

and k_n responses on neuron n (K = sum of k_n), that mean has the variance

    V_c(k) = (B_c * sum_n k_n^2 + sum_n k_n * W_nc) / K^2                              (1)

B_c and the pooled W_c are moment estimates from the responses so far (one-way random
effects ANOVA over neurons: W_c the pooled within-neuron variance, B_c the variance of the
neuron means less the mean of W_c / k_n, floored at 0). A neuron's own W_nc shrinks its
within-neuron variance towards W_c with PRIOR_RESPONSES pseudo-responses:

    W_nc = (PRIOR_RESPONSES * W_c + SS_nc) / (PRIOR_RESPONSES + k_n - 1)

The study's uncertainty is the largest 95% half-width over the quantities, z * sqrt(max_c V_c).
One more response on neuron j changes (1) to sum k^2 + 2 k_j + 1, K + 1 and adds W_jc; a new
neuron started at the minimum m adds m^2, m and m * W_c, for m responses. The next task is the
neuron with the largest drop of max_c V_c per response. Neurons below the minimum come first.

The minimum may be 1: where neurons differ more than raters do (B_c large against W_c), one
response on a new neuron narrows (1) more than a second on an old one. The variances and the
raters' agreement still need repeated neurons, so the first `calibration_neurons` of the
study's order get at least CALIBRATION_RATERS raters whatever the minimum.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

# How many responses' worth of weight the pooled between-rater variance has in a neuron's own estimate.
PRIOR_RESPONSES = 4.0
# Neurons with two or more responses needed before the variances are estimated (and a target can be met).
MIN_NEURONS_TO_ESTIMATE = 3
# Raters each calibration neuron gets first: the between-rater variance and rater agreement need two.
CALIBRATION_RATERS = 2

RATING_COLUMNS = ["neuron", "response", "method", "rating"]
NEURON_COLUMNS = ["order", "load", "expected", "drawn", "available"]


class StopReason:
    TARGET = "target"
    BUDGET = "budget"
    EXHAUSTED = "exhausted"
    LABELS = {
        TARGET: "target CI half-width reached",
        BUDGET: "budget cap reached",
        EXHAUSTED: "every neuron has its most raters",
    }


@dataclass(frozen=True)
class AdaptiveSettings:
    """min_raters: every drawn neuron gets this many first; max_raters: the cap per neuron;
    target_half_width: stop when every reported quantity's CI half-width is at most this;
    budget_responses: stop after this many counted responses; draw_neurons: new neurons may be
    drawn from the study's pool when that helps more per response than another rater;
    calibration_neurons: the first neurons of the study's order, which get at least
    CALIBRATION_RATERS raters first (the variances and agreement are estimated on them)."""

    min_raters: int = 2
    max_raters: int = 3
    target_half_width: float | None = None
    budget_responses: int | None = None
    draw_neurons: bool = False
    calibration_neurons: int = 0
    level: float = 0.95

    def floors(self, order: np.ndarray) -> np.ndarray:
        """Raters each neuron (by its place in the study's order) gets before the rule weighs it."""
        calibration = max(self.min_raters, min(CALIBRATION_RATERS, self.max_raters))
        return np.where(np.asarray(order) < self.calibration_neurons, calibration, self.min_raters)

    @property
    def z(self) -> float:
        return float(scipy_stats.norm.ppf(0.5 + self.level / 2))


@dataclass(frozen=True)
class Components:
    """Variance components per reported quantity, and each neuron's own between-rater estimate."""

    quantities: list[str]
    between: np.ndarray  # (C,)
    within: np.ndarray  # (C,)
    neuron_within: pd.DataFrame  # neuron -> (C,) shrunk W_nc, neurons with responses only


@dataclass(frozen=True)
class Stop:
    reason: str
    figures: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return StopReason.LABELS[self.reason]


def quantity_values(ratings: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """One row per response (indexed by neuron, response), one column per reported quantity:
    'mean:<method>' is the rating, 'diff:<a>-<b>' the difference of the two ratings. A response
    without a rating of every method is left out."""
    methods = list(methods) if methods is not None else sorted(ratings["method"].unique())
    response, responses = pd.factorize(ratings["response"])
    method = pd.Index(methods).get_indexer(ratings["method"])
    known = method >= 0
    matrix = np.full((len(responses), len(methods)), np.nan)
    matrix[response[known], method[known]] = ratings["rating"].to_numpy(float)[known]
    neuron = ratings["neuron"].to_numpy()[np.unique(response, return_index=True)[1]]
    complete = ~np.isnan(matrix).any(axis=1)
    pairs = list(combinations(range(len(methods)), 2))
    values = np.hstack([matrix, matrix[:, [a for a, _ in pairs]] - matrix[:, [b for _, b in pairs]]])[complete]
    names = [f"mean:{m}" for m in methods] + [f"diff:{methods[a]}-{methods[b]}" for a, b in pairs]
    index = pd.MultiIndex.from_arrays([neuron[complete], np.asarray(responses)[complete]], names=["neuron", "response"])
    return pd.DataFrame(values, index=index, columns=names)


def estimate_components(values: pd.DataFrame) -> Components | None:
    """Moment estimates of B_c, W_c and the shrunk W_nc (see the module's docstring); None while fewer
    than MIN_NEURONS_TO_ESTIMATE neurons have two responses."""
    group, neurons = pd.factorize(values.index.get_level_values("neuron"))
    k = np.bincount(group, minlength=len(neurons)).astype(float)
    repeated = k >= 2
    if int(repeated.sum()) < MIN_NEURONS_TO_ESTIMATE:
        return None
    x = values.to_numpy(float)
    means = np.column_stack([np.bincount(group, weights=x[:, c], minlength=len(neurons)) for c in range(x.shape[1])]) / k[:, None]
    squares = (x - means[group]) ** 2
    ss = np.column_stack([np.bincount(group, weights=squares[:, c], minlength=len(neurons)) for c in range(x.shape[1])])
    within = ss[repeated].sum(axis=0) / float((k[repeated] - 1).sum())
    between = np.maximum(means.var(axis=0, ddof=1) - (within[None, :] / k[:, None]).mean(axis=0), 0.0)
    neuron_within = (PRIOR_RESPONSES * within[None, :] + ss) / (PRIOR_RESPONSES + k[:, None] - 1)
    return Components(list(values.columns), between, within, pd.DataFrame(neuron_within, index=neurons, columns=values.columns))


def neuron_within(components: Components, neurons) -> np.ndarray:
    """W_nc (rows: the listed neurons): their own estimate, or the pooled W_c for a neuron without responses."""
    own = components.neuron_within.reindex(pd.Index(neurons))
    return np.where(np.isnan(own.to_numpy()), components.within[None, :], own.to_numpy())


def variances(components: Components, k: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Formula (1) for every quantity: k responses per neuron, `within` its W_nc rows (neuron_within)."""
    k = np.asarray(k, dtype=float)
    total = k.sum()
    if total == 0:
        return np.full(len(components.quantities), np.inf)
    return (components.between * float((k ** 2).sum()) + k @ within) / total ** 2


def reported_variances(components: Components, counts: pd.Series) -> np.ndarray:
    """Formula (1) for every quantity, given the responses per neuron (neuron -> k)."""
    counts = counts[counts > 0]
    return variances(components, counts.to_numpy(), neuron_within(components, counts.index))


def half_widths(components: Components, counts: pd.Series, settings: AdaptiveSettings) -> pd.Series:
    return pd.Series(settings.z * np.sqrt(reported_variances(components, counts)), index=components.quantities)


def choose_neuron(neurons: pd.DataFrame, components: Components | None, settings: AdaptiveSettings):
    """The neuron to give the next free rater, or None.

    neurons: one row per study neuron (indexed by its id) with NEURON_COLUMNS: `order` (the study's
    draw order), `load` (responses plus live reservations: the cap and the minimum count these),
    `expected` (responses the analysis counts plus live reservations: the k of formula (1)),
    `drawn` (in the collection already), `available` (this rater may take it: not done by them).
    """
    within = neuron_within(components, neurons.index) if components is not None else None
    row = choose_row(
        neurons["order"].to_numpy(), neurons["load"].to_numpy(float), neurons["expected"].to_numpy(float),
        neurons["drawn"].to_numpy(bool), neurons["available"].to_numpy(bool), within, components, settings,
    )
    return None if row is None else neurons.index[row]


def choose_row(order, load, expected, drawn, available, within, components: Components | None,
               settings: AdaptiveSettings) -> int | None:
    """choose_neuron on arrays (one entry per neuron; `within`: neuron_within rows): the row chosen, or None.

    Drawn neurons below their floor (AdaptiveSettings.floors) come first (fewest first, then in order). Then, once the
    variances are estimated, the largest drop of max_c V_c per response, a new neuron (the next
    undrawn one in order) costing the minimum; before that, the next undrawn neuron, else the
    drawn one with the fewest responses.
    """
    open_ = available & (load < settings.max_raters)
    candidates = np.flatnonzero(open_ & drawn)
    starting = candidates[load[candidates] < settings.floors(order[candidates])]
    if len(starting):
        return int(starting[np.lexsort((order[starting], load[starting]))[0]])
    fresh = np.flatnonzero(open_ & ~drawn) if settings.draw_neurons else np.array([], dtype=int)
    next_fresh = int(fresh[np.argmin(order[fresh])]) if len(fresh) else None
    if components is None:
        if next_fresh is not None:
            return next_fresh
        return int(candidates[np.lexsort((order[candidates], load[candidates]))[0]]) if len(candidates) else None
    k = np.where(drawn, expected, 0.0)
    k2, total = float((k ** 2).sum()), float(k.sum())
    summed_within = k @ within
    now = ((components.between * k2 + summed_within) / total ** 2).max() if total else np.inf
    kc = k[candidates][:, None]
    more = (components.between * (k2 + 2 * kc + 1) + summed_within + within[candidates]) / (total + 1) ** 2
    gains = now - more.max(axis=1)
    best = int(candidates[np.argmax(gains)]) if len(candidates) else None
    if next_fresh is not None:
        m = float(settings.min_raters)
        new = (components.between * (k2 + m * m) + summed_within + m * components.within) / (total + m) ** 2
        if best is None or (now - new.max()) / m > gains.max():
            return next_fresh
    return best


def stop_decision(components: Components | None, counted: pd.Series, paid: int, settings: AdaptiveSettings,
                  pool_left: bool = True) -> Stop | None:
    """Whether the collection stops now. counted: responses the analysis counts, per neuron; paid: every
    response stored (invalid ones cost the same).

    Budget first (paid reaches budget_responses), then the target (the largest half-width at or
    below target_half_width, once the variances can be estimated), then exhaustion (`pool_left`
    False: no neuron can take another response)."""
    figures = {"responses": int(paid), "counted_responses": int(counted.sum()), "neurons": int((counted > 0).sum())}
    widths = half_widths(components, counted, settings) if components is not None else None
    if widths is not None:
        figures.update({"largest_half_width": round(float(widths.max()), 4), "binding_quantity": str(widths.idxmax()),
                        "half_widths": {name: round(float(value), 4) for name, value in widths.items()}})
    if settings.budget_responses is not None and paid >= settings.budget_responses:
        return Stop(StopReason.BUDGET, {**figures, "budget_responses": settings.budget_responses})
    if settings.target_half_width is not None and widths is not None and widths.max() <= settings.target_half_width:
        return Stop(StopReason.TARGET, {**figures, "target_half_width": settings.target_half_width})
    if not pool_left:
        return Stop(StopReason.EXHAUSTED, figures)
    return None


def projected_stop(components: Components | None, expected: pd.Series, paid_or_reserved: int,
                   settings: AdaptiveSettings) -> bool:
    """Whether the responses stored or reserved would meet the budget or the target once answered
    (expected: counted plus reserved, per neuron): then no new task is given, and the stop is recorded
    when they are in (or tasks flow again if reservations expire or answers do not count)."""
    if settings.budget_responses is not None and paid_or_reserved >= settings.budget_responses:
        return True
    if settings.target_half_width is None or components is None:
        return False
    return bool(half_widths(components, expected, settings).max() <= settings.target_half_width)
