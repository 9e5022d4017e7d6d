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
    drawn from the study's pool when that helps more per response than another rater."""

    min_raters: int = 2
    max_raters: int = 3
    target_half_width: float | None = None
    budget_responses: int | None = None
    draw_neurons: bool = False
    level: float = 0.95

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
    'mean:<method>' is the rating, 'diff:<a>-<b>' the difference of the two ratings."""
    wide = ratings.pivot_table(index=["neuron", "response"], columns="method", values="rating", aggfunc="mean")
    methods = list(methods) if methods is not None else sorted(wide.columns)
    wide = wide.reindex(columns=methods).dropna()
    columns = {f"mean:{m}": wide[m] for m in methods}
    for a, b in combinations(methods, 2):
        columns[f"diff:{a}-{b}"] = wide[a] - wide[b]
    return pd.DataFrame(columns, index=wide.index)


def estimate_components(values: pd.DataFrame) -> Components | None:
    """Moment estimates of B_c, W_c and the shrunk W_nc (see the module's docstring); None while fewer
    than MIN_NEURONS_TO_ESTIMATE neurons have two responses."""
    grouped = values.groupby(level="neuron")
    k = grouped.size()
    if int((k >= 2).sum()) < MIN_NEURONS_TO_ESTIMATE:
        return None
    means = grouped.mean()
    squares = (values - means.reindex(values.index.get_level_values("neuron")).to_numpy()) ** 2
    ss = squares.groupby(level="neuron").sum()
    within = ss[k >= 2].sum().to_numpy() / float((k[k >= 2] - 1).sum())
    between = np.maximum(means.var(ddof=1).to_numpy() - (within[None, :] / k.to_numpy()[:, None]).mean(axis=0), 0.0)
    neuron_within = (PRIOR_RESPONSES * within[None, :] + ss.to_numpy()) / (PRIOR_RESPONSES + k.to_numpy()[:, None] - 1)
    return Components(list(values.columns), between, within, pd.DataFrame(neuron_within, index=k.index, columns=values.columns))


def _neuron_within(components: Components, neurons) -> np.ndarray:
    """W_nc for the listed neurons: their own estimate, or the pooled W_c for a neuron without responses."""
    own = components.neuron_within.reindex(neurons)
    return own.fillna(pd.Series(components.within, index=components.quantities)).to_numpy()


def reported_variances(components: Components, counts: pd.Series) -> np.ndarray:
    """Formula (1) for every quantity, given the responses per neuron (neuron -> k)."""
    counts = counts[counts > 0]
    total = float(counts.sum())
    if total == 0:
        return np.full(len(components.quantities), np.inf)
    k = counts.to_numpy(dtype=float)
    numerator = components.between * float((k ** 2).sum()) + k @ _neuron_within(components, counts.index)
    return numerator / total ** 2


def half_widths(components: Components, counts: pd.Series, settings: AdaptiveSettings) -> pd.Series:
    return pd.Series(settings.z * np.sqrt(reported_variances(components, counts)), index=components.quantities)


def choose_neuron(neurons: pd.DataFrame, components: Components | None, settings: AdaptiveSettings):
    """The neuron to give the next free rater, or None.

    neurons: one row per study neuron (indexed by its id) with NEURON_COLUMNS: `order` (the study's
    draw order), `load` (responses plus live reservations: the cap and the minimum count these),
    `expected` (responses the analysis counts plus live reservations: the k of formula (1)),
    `drawn` (in the collection already), `available` (this rater may take it: not done by them).
    Drawn neurons below the minimum come first (fewest first); then the largest drop of the
    binding variance per response, a new neuron (the next undrawn one in order) costing the minimum.
    """
    open_ = neurons[neurons["available"] & (neurons["load"] < settings.max_raters)]
    drawn = open_[open_["drawn"]]
    starting = drawn[drawn["load"] < settings.min_raters]
    if len(starting):
        return starting.sort_values(["load", "order"]).index[0]
    fresh = open_[~open_["drawn"]].sort_values("order") if settings.draw_neurons else open_.iloc[:0]
    if components is None:
        # Nothing to weigh yet: start the next neuron, else spread responses (fewest first).
        if len(fresh):
            return fresh.index[0]
        return drawn.sort_values(["load", "order"]).index[0] if len(drawn) else None
    gains = _gain_per_response(neurons, drawn, fresh, components, settings)
    return gains.idxmax() if len(gains) else None


def _gain_per_response(neurons, drawn, fresh, components, settings) -> pd.Series:
    loads = neurons.loc[neurons["drawn"], "expected"].astype(float)
    loads = loads[loads > 0]
    k2, total = float((loads ** 2).sum()), float(loads.sum())
    within_by_load = loads.to_numpy() @ _neuron_within(components, loads.index)
    now = ((components.between * k2 + within_by_load) / total ** 2).max() if total else np.inf
    k = drawn["expected"].to_numpy(dtype=float)[:, None]
    more = (components.between * (k2 + 2 * k + 1) + within_by_load + _neuron_within(components, drawn.index)) / (total + 1) ** 2
    gains = pd.Series(now - more.max(axis=1), index=drawn.index)
    if len(fresh):
        m = float(settings.min_raters)
        new = (components.between * (k2 + m * m) + within_by_load + m * components.within) / (total + m) ** 2
        gains.loc[fresh.index[0]] = (now - new.max()) / m
    return gains


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
