"""Rater quality: per-rater signals, one combined score, and exclusion policies over them.

Pure functions on pandas frames (no ORM), so the workspace, the analysis tables, the crowd review
commands and the collection benchmark's simulation all judge raters the same way. The formulas are
written out in docs/analysis.md ("Rater quality") and beside each computation below.

Input: a tidy frame with one row per response x shown description. Required columns: rater, unit,
method, rating. Optional: response_id (else a response is (rater, layer, unit)), layer, position
(0-based shown place), best (True on the row picked as best), is_valid (else the best-choice rule is
applied to `best`), uninterpretable / none_fit (flags), seconds (time on task of the response).
Attention checks come apart, one row per check answer with columns rater, check_passed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNAL_COLUMNS = [
    "rater", "responses", "checks", "check_pass_rate", "invalid_rate", "flagged_rate", "straight_line_rate",
    "median_seconds", "time_ratio", "time_z", "agreement", "first_highest_rate", "first_highest_chance",
    "position_preference", "quality_score",
]
# Signals a policy rule may name; rates lie in 0..1, seconds may carry an "s".
RATE_SIGNALS = {"check_pass_rate", "invalid_rate", "flagged_rate", "straight_line_rate", "first_highest_rate",
                "position_preference", "quality_score"}
SECONDS_SIGNALS = {"median_seconds"}
POLICY_SIGNALS = sorted(RATE_SIGNALS | SECONDS_SIGNALS | {"responses", "checks", "time_ratio", "time_z", "agreement"})
SIGNAL_ALIASES = {"median_time": "median_seconds", "check_rate": "check_pass_rate", "pass_rate": "check_pass_rate",
                  "straight_lining": "straight_line_rate", "invalid": "invalid_rate", "flagged": "flagged_rate",
                  "score": "quality_score", "position": "position_preference"}

# A rater whose median time is at least this share of the study's median time gets full credit for pace.
FULL_PACE_RATIO = 0.5
# Leave-one-out agreement needs this many (description, others' mean) pairs.
MIN_AGREEMENT_PAIRS = 3
# Median absolute deviation of a normal sample is 0.6745 sigma: 1.4826 turns a MAD into a sigma.
MAD_TO_SIGMA = 1.4826


def _response_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per response: rater, descriptions, lowest and highest rating, validity, flags, time, first-shown highest."""
    keys = ["response_id"] if "response_id" in ratings.columns else [c for c in ("rater", "layer", "unit") if c in ratings.columns]
    codes = ratings.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
    rating = ratings["rating"].to_numpy(float)
    frame = pd.DataFrame({"code": codes, "rating": rating})
    grouped = frame.groupby("code", sort=True)["rating"]
    responses = pd.DataFrame({"n": grouped.size(), "low": grouped.min(), "high": grouped.max()})
    highest = responses["high"].to_numpy()[codes]
    responses["at_high"] = pd.Series(rating == highest).groupby(codes).sum()
    responses["rater"] = pd.Series(ratings["rater"].astype(str).to_numpy()).groupby(codes).first()
    responses["valid"] = _validity(ratings, codes, rating == highest)
    flags = np.zeros(len(ratings), dtype=bool)
    for flag in ("uninterpretable", "none_fit"):
        if flag in ratings.columns:
            flags |= ratings[flag].fillna(False).to_numpy(dtype=bool)
    responses["flagged"] = pd.Series(flags).groupby(codes).any()
    seconds = pd.to_numeric(ratings["seconds"], errors="coerce") if "seconds" in ratings.columns else pd.Series(np.nan, index=ratings.index)
    responses["seconds"] = pd.Series(seconds.to_numpy(float)).groupby(codes).first()
    responses["first_is_high"] = _first_shown(ratings, codes, rating, highest)
    return responses


def _validity(ratings: pd.DataFrame, codes: np.ndarray, at_high: np.ndarray) -> pd.Series:
    """Stored validity when the frame has it, else the best-choice rule: the pick is among the highest rated."""
    if "is_valid" in ratings.columns:
        return pd.Series(ratings["is_valid"].to_numpy(dtype=bool)).groupby(codes).first()
    if "best" not in ratings.columns:
        return pd.Series(True, index=np.unique(codes))
    best = ratings["best"]
    asked = pd.Series(best.notna().to_numpy()).groupby(codes).any()
    picked = best.fillna(False).to_numpy(dtype=bool)
    picked_high = pd.Series(picked & at_high).groupby(codes).any()
    return ~asked | picked_high


def _first_shown(ratings: pd.DataFrame, codes: np.ndarray, rating: np.ndarray, highest: np.ndarray):
    """Per response: whether the first-shown description (lowest position) got the response's highest rating."""
    if "position" not in ratings.columns:
        return pd.Series(np.nan, index=np.unique(codes))
    position = pd.to_numeric(ratings["position"], errors="coerce").to_numpy(float)
    first = pd.Series(position).groupby(codes).transform("min").to_numpy()
    is_first = ~np.isnan(position) & (position == first)
    shown = pd.Series(is_first).groupby(codes).any()
    return pd.Series(is_first & (rating == highest)).groupby(codes).any().astype(float).where(shown)


def _leave_one_out_agreement(ratings: pd.DataFrame) -> pd.Series:
    """Per rater: Spearman correlation of their ratings with the mean of the other raters of the same description."""
    item = [c for c in ("layer", "unit", "method") if c in ratings.columns]
    rating = ratings["rating"].to_numpy(float)
    items = ratings.groupby(item, observed=True, sort=False).ngroup().to_numpy()
    item_sum = np.bincount(items, weights=rating)[items]
    item_count = np.bincount(items)[items]
    has_others = item_count > 1
    codes, names = pd.factorize(ratings["rater"].astype(str).to_numpy()[has_others])
    pairs = pd.DataFrame({
        "rater": codes,
        "own": rating[has_others],
        "others": (item_sum - rating)[has_others] / (item_count[has_others] - 1),
    })
    # Spearman = Pearson on ranks within each rater (ties averaged), computed for all raters at once.
    by_rater = pairs.groupby("rater", sort=True)
    own = by_rater["own"].rank() - by_rater["own"].transform("size").add(1) / 2
    others = by_rater["others"].rank() - by_rater["others"].transform("size").add(1) / 2
    sums = pd.DataFrame({"rater": pairs["rater"], "xy": own * others, "xx": own ** 2, "yy": others ** 2})
    sums = sums.groupby("rater", sort=True).agg(n=("xy", "size"), xy=("xy", "sum"), xx=("xx", "sum"), yy=("yy", "sum"))
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = sums["xy"] / np.sqrt(sums["xx"] * sums["yy"])
    # One rating for everything says nothing about the descriptions: no agreement, rather than unmeasured.
    agreement = agreement.where(sums["xx"] > 0, 0.0)
    agreement = agreement.where((sums["n"] >= MIN_AGREEMENT_PAIRS) & (sums["yy"] > 0)).astype(float)
    agreement.index = names[agreement.index]
    return agreement


def _robust_z(values: pd.Series) -> pd.Series:
    """(x - median) / (1.4826 MAD): NaN with fewer than 3 values or no spread."""
    present = values.dropna()
    if len(present) < 3:
        return pd.Series(np.nan, index=values.index)
    center = present.median()
    spread = MAD_TO_SIGMA * (present - center).abs().median()
    if spread == 0:
        return pd.Series(np.nan, index=values.index)
    return (values - center) / spread


def rater_signals(ratings: pd.DataFrame, checks: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per rater (SIGNAL_COLUMNS), raters sorted by name; a signal that cannot be measured is NaN.

    responses: answers (checks apart). checks / check_pass_rate: attention checks answered and the share
    passed. invalid_rate: share of responses failing the best-choice rule. flagged_rate: share flagged
    uninterpretable or none-fit. straight_line_rate: share of responses with two or more descriptions
    that gave every description the same rating. median_seconds: median time on task; time_ratio: that
    over the median time of every response in the frame; time_z: robust z-score of log(median_seconds)
    among the raters. agreement: leave-one-out Spearman correlation with the other raters' mean rating
    of the same description (0 for a rater who never varies). first_highest_rate: share of responses
    whose first-shown description got the response's highest rating; first_highest_chance: the same
    share expected when order does not matter (mean of ties-at-the-top / descriptions);
    position_preference: rate minus chance. quality_score: see `quality_score`.
    """
    responses = _response_table(ratings)
    multi = responses["n"] >= 2
    responses["straight"] = (responses["low"] == responses["high"]).astype(float).where(multi)
    responses["chance"] = (responses["at_high"] / responses["n"]).where(responses["first_is_high"].notna())
    responses["invalid"] = (~responses["valid"].astype(bool)).astype(float)
    per_rater = responses.groupby("rater").agg(
        responses=("n", "size"), invalid_rate=("invalid", "mean"),
        flagged_rate=("flagged", "mean"), straight_line_rate=("straight", "mean"), median_seconds=("seconds", "median"),
        first_highest_rate=("first_is_high", "mean"), first_highest_chance=("chance", "mean"),
    )
    study_median = responses["seconds"].median()
    per_rater["time_ratio"] = per_rater["median_seconds"] / study_median if study_median and study_median > 0 else np.nan
    per_rater["time_z"] = _robust_z(np.log(per_rater["median_seconds"].where(per_rater["median_seconds"] > 0)))
    per_rater["agreement"] = _leave_one_out_agreement(ratings)
    per_rater["position_preference"] = per_rater["first_highest_rate"] - per_rater["first_highest_chance"]
    if checks is not None and len(checks):
        passed = checks.assign(rater=checks["rater"].astype(str), passed=checks["check_passed"].fillna(False).astype(bool))
        check_stats = passed.groupby("rater").agg(checks=("passed", "size"), check_pass_rate=("passed", "mean"))
        per_rater = per_rater.join(check_stats, how="outer")
    per_rater["responses"] = per_rater["responses"].fillna(0).astype(int)
    per_rater["checks"] = per_rater.get("checks", pd.Series(0, index=per_rater.index)).fillna(0).astype(int)
    if "check_pass_rate" not in per_rater.columns:
        per_rater["check_pass_rate"] = np.nan
    per_rater["quality_score"] = quality_score(per_rater)
    per_rater.index.name = "rater"
    return per_rater.reset_index().reindex(columns=SIGNAL_COLUMNS).sort_values("rater", kind="stable").reset_index(drop=True)


def score_components(signals: pd.DataFrame) -> pd.DataFrame:
    """Each signal turned into a credit in 0..1 (1 = no sign of carelessness), NaN where not measured.

    checks = check_pass_rate; validity = 1 - invalid_rate; variety = 1 - straight_line_rate;
    pace = min(1, time_ratio / FULL_PACE_RATIO); agreement = max(0, agreement);
    position = 1 - clip(position_preference / (1 - first_highest_chance), 0, 1).
    The flagged rate is not a credit: flagging a neuron nobody can describe is honest work.
    """
    headroom = (1 - signals["first_highest_chance"]).where(lambda h: h > 0)
    return pd.DataFrame({
        "checks": signals["check_pass_rate"],
        "validity": 1 - signals["invalid_rate"],
        "variety": 1 - signals["straight_line_rate"],
        "pace": (signals["time_ratio"] / FULL_PACE_RATIO).clip(upper=1.0),
        "agreement": signals["agreement"].clip(lower=0.0),
        "position": 1 - (signals["position_preference"] / headroom).clip(0.0, 1.0),
    }, index=signals.index)


def quality_score(signals: pd.DataFrame) -> pd.Series:
    """The combined score: the mean of the measured credits of `score_components` (NaN when none is measured)."""
    return score_components(signals).mean(axis=1, skipna=True)


# ---------------------------------------------------------------- exclusion policies


class PolicyError(ValueError):
    """A policy text that does not parse; the message names the rule at fault."""


_RULE = re.compile(r"^(?P<signal>[a-z_][a-z_ ]*?)\s*(?P<op><=|>=|<|>)\s*(?P<value>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>s|%)?$")
_OPERATORS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


@dataclass(frozen=True)
class Rule:
    """Exclude a rater when `signal op threshold` holds (never when the signal is not measured)."""

    signal: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.signal} {self.op} {self.threshold:g}"

    def matches(self, signals: pd.DataFrame) -> np.ndarray:
        values = pd.to_numeric(signals[self.signal], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            return ~np.isnan(values) & _OPERATORS[self.op](values, self.threshold)


@dataclass(frozen=True)
class Policy:
    """Rules joined by "or": a rater matching any rule is left out. The empty policy keeps everyone."""

    rules: tuple[Rule, ...] = ()

    def __str__(self) -> str:
        return " or ".join(str(rule) for rule in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)


def _parse_rule(text: str, number: int) -> Rule:
    match = _RULE.match(" ".join(text.lower().split()))
    if not match:
        raise PolicyError(f'rule {number} "{text}": write <signal> <op> <number>, e.g. "check_pass_rate < 0.8" '
                          f'or "median_seconds < 5 s" (op one of <, <=, >, >=)')
    name = match["signal"].strip().replace(" ", "_")
    signal = SIGNAL_ALIASES.get(name, name)
    if signal not in POLICY_SIGNALS:
        raise PolicyError(f'rule {number} "{text}": unknown signal "{name}"; known: {", ".join(POLICY_SIGNALS)}')
    value, unit = float(match["value"]), match["unit"]
    if unit == "s" and signal not in SECONDS_SIGNALS:
        raise PolicyError(f'rule {number} "{text}": only {", ".join(sorted(SECONDS_SIGNALS))} is in seconds')
    if unit == "%":
        if signal not in RATE_SIGNALS:
            raise PolicyError(f'rule {number} "{text}": {signal} is not a rate, so it takes no %')
        value /= 100
    if signal in RATE_SIGNALS - {"position_preference"} and not 0 <= value <= 1:
        raise PolicyError(f'rule {number} "{text}": {signal} lies between 0 and 1; write e.g. 0.8 or 80%')
    return Rule(signal, match["op"], value)


def parse_policy(text: str | None) -> Policy:
    """Parse rules separated by "or", ";" or new lines, e.g. "check pass rate < 0.8 or median time < 5 s"."""
    parts = [part.strip() for part in re.split(r"\bor\b|;|\n", text or "", flags=re.IGNORECASE)]
    if text and text.strip() and not all(parts):
        raise PolicyError(f'policy "{text.strip()}": an empty rule (a stray "or", ";" or blank line between rules)')
    return Policy(tuple(_parse_rule(part, number) for number, part in enumerate(parts, 1) if part))


@dataclass
class PolicyOutcome:
    """Which raters a policy leaves out and why. `raters`: rater, excluded, reasons (matched rules, "; "-joined).
    `rule_counts`: rule text -> raters it matched (a rater can match several rules). `signals`: what was judged."""

    policy: Policy
    raters: pd.DataFrame
    rule_counts: dict[str, int]
    signals: pd.DataFrame | None = None

    @property
    def excluded(self) -> set[str]:
        return set(self.raters.loc[self.raters["excluded"], "rater"])

    @property
    def kept(self) -> set[str]:
        return set(self.raters.loc[~self.raters["excluded"], "rater"])

    def summary(self) -> dict:
        return {"policy": str(self.policy), "raters_before": len(self.raters), "raters_after": len(self.kept),
                "rule_counts": dict(self.rule_counts)}


def apply_policy(signals: pd.DataFrame, policy: Policy | str | None) -> PolicyOutcome:
    """Judge every rater of `signals` (from rater_signals) by the policy; deletes nothing."""
    if not isinstance(policy, Policy):
        policy = parse_policy(policy)
    matched = {str(rule): rule.matches(signals) for rule in policy.rules}
    excluded = np.zeros(len(signals), dtype=bool)
    reasons = [[] for _ in range(len(signals))]
    for text, hits in matched.items():
        excluded |= hits
        for i in np.flatnonzero(hits):
            reasons[i].append(text)
    raters = pd.DataFrame({"rater": signals["rater"].astype(str).to_numpy(), "excluded": excluded,
                           "reasons": ["; ".join(r) for r in reasons]})
    return PolicyOutcome(policy, raters, {text: int(hits.sum()) for text, hits in matched.items()}, signals)
