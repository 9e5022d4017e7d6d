"""What adaptive collection with quality controls saves against the reference's fixed design, in simulated studies.

    python benchmarks/collection.py [--studies 200] [--seed 0] [--careless 0.15] [--straight 0.075] [--bots 0.075]

Each simulated study draws a world (neurons with true effects per method, a stream of raters of four
kinds) calibrated on the DnD paper's released ratings (../shared/data/human_evals/, variance components
estimated with the product's evaluation.adaptive functions) and on the reference study's table
(DESIGN.md: the four methods' mean ratings). Two designs collect in the same world:

  fixed     K = 3 raters on 200 neurons a layer of 4 layers (2,400 responses), analysed as the reference
            does: valid responses (best-choice rule), no quality controls.
  adaptive  the product's adaptive rule (evaluation.adaptive.choose_row / stop_decision): 1 rater a neuron
            first (2 on the 40 start neurons; --min-raters), cap 3, new neurons drawn from 256 a layer when that narrows the intervals more per
            response, the counted responses being those that pass the validity rule and the quality policy
            (evaluation.quality.rater_signals / apply_policy, POLICY below); raters the policy excludes get
            no more tasks. It stops at the fixed design's own CI half-width (the target) in that world.

Both are priced at $0.10 a response and analysed with analysis.stats.comparison_and_pairwise (means and
pairwise differences with the neuron-cluster bootstrap). The half-width of a study is the largest over
the four method means and six differences. Every assumption is listed in docs/analysis.md
("Adaptive collection"); the last line is the issue's summary line.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from analysis.dnd_wide import read_dnd_wide  # noqa: E402
from analysis.stats import cluster_bootstrap_ci, select_responses  # noqa: E402
from evaluation import adaptive  # noqa: E402
from evaluation.quality import PolicyError, apply_policy, parse_policy, rater_signals  # noqa: E402

DND_RATINGS = ROOT.parent / "shared" / "data" / "human_evals" / "DnD__rn50_scoring_function_ratings.csv"
# The reference study's table (DESIGN.md): mean rating per method, in the true order of the simulation.
METHODS = ["netdissect", "milan", "clip-dissect", "dnd"]
REFERENCE_MEANS = np.array([3.14, 3.21, 3.67, 4.15])
LAYERS = ["layer1", "layer2", "layer3", "layer4"]
FIXED_PER_LAYER, FIXED_K = 200, 3
# ResNet-50 layer1 has 256 channels: the adaptive pool is 256 a layer, drawn in a random interleaved order.
POOL_PER_LAYER = 256
PRICE = 0.10
# Chosen before any run, as a researcher would write it (docs/analysis.md); not tuned to the figures.
POLICY = "straight_line_rate > 0.5 or time_ratio < 0.3 or agreement < 0.2"
# Median seconds on a task, and the spread of log seconds, per kind of rater (assumptions, docs/analysis.md).
MEDIAN_SECONDS = {"careful": 30.0, "careless": 12.0, "straight": 8.0, "bot": 2.0}
LOG_SECONDS_SD = 0.5
# How often the simulated server re-estimates the variances, checks the stop and applies the policy
# (the product does all three on every claim; the simulation batches them to run in minutes).
ESTIMATE_EVERY, STOP_CHECK_EVERY, POLICY_EVERY = 50, 20, 100
# Raters working at the same time (a crowd study's workers overlap): a rater's tasks spread over many others'.
CONCURRENT_RATERS = 20
BOOTSTRAP_RESAMPLES = 1000
START_NEURONS = 40  # the product's default adaptive_start_neurons (its calibration neurons, rated twice first)
MIN_RATERS = 1  # one rater a new neuron: formula (1) with the DnD variances favours more neurons (docs/analysis.md)


@dataclass(frozen=True)
class Calibration:
    between: float  # variance of a neuron's true effect on one method
    between_corr: float  # correlation of one neuron's effects on two methods
    within: float  # between-rater variance of one rating
    within_corr: float  # correlation of one response's errors on two methods (its rater and moment)
    bias_var: float  # variance of a careful rater's personal bias (part of the within variance)


def calibrate(path: Path = DND_RATINGS) -> Calibration:
    """Variance components of the DnD ratings (200 neurons x 2 raters x 4 scoring functions) with the
    product's estimator; one between/within variance and one correlation each, averaged over methods."""
    tidy = read_dnd_wide(path)
    tidy["rating"] = tidy["rating"].astype(float)
    frame = pd.DataFrame({"neuron": tidy["layer"] + ":" + tidy["unit"], "response": tidy["response_id"],
                          "method": tidy["method"], "rating": tidy["rating"]})
    found = adaptive.estimate_components(adaptive.quantity_values(frame))
    is_mean = np.array([q.startswith("mean:") for q in found.quantities])
    between, within = found.between[is_mean].mean(), found.within[is_mean].mean()
    # Var(a - b) = 2 v (1 - rho) for two methods of equal variance v.
    between_corr = 1 - found.between[~is_mean].mean() / (2 * between)
    within_corr = 1 - found.within[~is_mean].mean() / (2 * within)
    rater_means = tidy.groupby("rater")["rating"].mean()
    bias_var = float(rater_means.var(ddof=1))  # two raters: half the squared difference of their means
    return Calibration(float(between), float(between_corr), float(within), float(within_corr), bias_var)


@dataclass(frozen=True)
class Population:
    careless: float = 0.15
    straight: float = 0.075
    bots: float = 0.075
    tasks_per_rater: int = 10

    def kinds(self, rng, n) -> np.ndarray:
        careful = 1 - self.careless - self.straight - self.bots
        return rng.choice(np.array(["careful", "careless", "straight", "bot"]), size=n,
                          p=[careful, self.careless, self.straight, self.bots])


class World:
    """One simulated study's truth: neuron effects per method, and a stream of raters."""

    def __init__(self, calibration: Calibration, population: Population, rng):
        self.rng, self.cal, self.population = rng, calibration, population
        n = POOL_PER_LAYER * len(LAYERS)
        self.layer = np.repeat(np.arange(len(LAYERS)), POOL_PER_LAYER)
        self.unit = np.tile(np.arange(POOL_PER_LAYER), len(LAYERS))
        common = rng.normal(size=(n, 1)) * np.sqrt(calibration.between * calibration.between_corr)
        own = rng.normal(size=(n, len(METHODS))) * np.sqrt(calibration.between * (1 - calibration.between_corr))
        self.truth = REFERENCE_MEANS + common + own
        raters = 4000
        self.kind = population.kinds(rng, raters)
        self.bias = rng.normal(scale=np.sqrt(calibration.bias_var), size=raters)
        self.constant = rng.integers(1, 6, size=raters)  # a straight-liner's one rating
        self.rater_names = np.array([f"r{rater}" for rater in range(raters)], dtype=object)
        self.fixed_neurons = np.concatenate([
            rng.permutation(np.flatnonzero(self.layer == layer))[:FIXED_PER_LAYER] for layer in range(len(LAYERS))
        ])
        rng.shuffle(self.fixed_neurons)  # create_study interleaves the layers
        self.pool_order = np.argsort(rng.permutation(n))  # the adaptive study's draw order

    def answer(self, raters: np.ndarray, neurons: np.ndarray):
        """Ratings (responses x methods), best pick, seconds and shown order of each response."""
        rng, cal, m = self.rng, self.cal, len(METHODS)
        count = len(raters)
        kind = self.kind[raters]
        moment = rng.normal(scale=np.sqrt(max(cal.within * cal.within_corr - cal.bias_var, 0.0)), size=(count, 1))
        noise_sd = np.sqrt(cal.within * (1 - cal.within_corr))
        latent = self.truth[neurons] + self.bias[raters][:, None] + moment + rng.normal(scale=noise_sd, size=(count, m))
        ratings = np.clip(np.rint(latent), 1, 5)
        # A careful rater picks the best on a second look at the same latent judgement.
        best = np.argmax(latent + rng.normal(scale=noise_sd, size=(count, m)), axis=1)
        random_ratings = rng.integers(1, 6, size=(count, m)).astype(float)
        random_best = rng.integers(0, m, size=count)
        careless, straight, bot = kind == "careless", kind == "straight", kind == "bot"
        ratings[careless | bot] = random_ratings[careless | bot]
        ratings[straight] = self.constant[raters[straight]][:, None]
        best = np.where(careless | straight, random_best, best)
        # A bot picks one of its top-rated descriptions, so it passes the best-choice rule.
        top = ratings == ratings.max(axis=1, keepdims=True)
        bot_best = np.argmax(top * rng.random((count, m)), axis=1)
        best = np.where(bot, bot_best, best)
        medians = np.array([MEDIAN_SECONDS[k] for k in kind])
        seconds = medians * np.exp(rng.normal(scale=LOG_SECONDS_SD, size=count))
        shown = np.argsort(rng.random((count, m)), axis=1)  # position of each method on the page
        return ratings, best, seconds, shown


class RaterStream:
    """CONCURRENT_RATERS raters at work at once; each task goes to one of them at random. A rater leaves after
    tasks_per_rater tasks, or when retired (the policy excluded them), and the next one arrives."""

    def __init__(self, world: World, pool: int):
        self.world, self.pool = world, pool
        self.next_rater = 0
        self.active = [self._arrive() for _ in range(CONCURRENT_RATERS)]

    def _arrive(self):
        rater = self.next_rater
        self.next_rater += 1
        return {"rater": rater, "given": 0, "done": np.zeros(self.pool, dtype=bool)}

    def pick(self) -> dict:
        slot = int(self.world.rng.integers(len(self.active)))
        if self.active[slot]["given"] >= self.world.population.tasks_per_rater:
            self.active[slot] = self._arrive()
        return self.active[slot]

    def retire(self, excluded: np.ndarray):
        self.active = [entry if not excluded[entry["rater"]] else self._arrive() for entry in self.active]

    def replace(self, entry: dict):
        self.active[self.active.index(entry)] = self._arrive()


class Responses:
    """Responses collected so far, as arrays; `tidy()` gives the analysis' and the quality signals' frame."""

    def __init__(self, capacity: int):
        m = len(METHODS)
        self.n = 0
        self.rater = np.zeros(capacity, dtype=np.int64)
        self.neuron = np.zeros(capacity, dtype=np.int64)
        self.ratings = np.zeros((capacity, m))
        self.best = np.zeros(capacity, dtype=np.int64)
        self.seconds = np.zeros(capacity)
        self.shown = np.zeros((capacity, m), dtype=np.int64)

    def add(self, raters, neurons, answers):
        ratings, best, seconds, shown = answers
        end = self.n + len(raters)
        for name, values in (("rater", raters), ("neuron", neurons), ("ratings", ratings), ("best", best),
                             ("seconds", seconds), ("shown", shown)):
            getattr(self, name)[self.n:end] = values
        self.n = end

    @property
    def valid_last(self) -> bool:
        last = self.n - 1
        return bool(self.ratings[last, self.best[last]] == self.ratings[last].max())

    @property
    def valid(self) -> np.ndarray:
        ratings = self.ratings[: self.n]
        return ratings[np.arange(self.n), self.best[: self.n]] == ratings.max(axis=1)

    def tidy(self, world: World) -> pd.DataFrame:
        n, m = self.n, len(METHODS)
        response = np.repeat(np.arange(n), m)
        neuron = self.neuron[:n][response]
        valid = np.repeat(self.valid, m)
        return pd.DataFrame({
            "response_id": response, "rater": world.rater_names[self.rater[:n]][response],
            "layer": np.array(LAYERS)[world.layer[neuron]], "unit": world.unit[neuron],
            "method": np.tile(np.array(METHODS), n), "rating": self.ratings[:n].ravel(),
            "best": (np.arange(m)[None, :] == self.best[:n, None]).ravel(), "position": self.shown[:n].ravel(),
            "is_valid": valid, "invalid_reason": np.where(valid, "", "best not among the highest rated"),
            "uninterpretable": False, "none_fit": False, "seconds": self.seconds[:n][response],
        })


@dataclass
class Outcome:
    responses: int
    half_width: float
    ranking_ok: bool
    excluded: set
    invalid_rate: float


def excluded_raters(tidy: pd.DataFrame, policy: str) -> set:
    return apply_policy(rater_signals(tidy), policy).excluded


def analyse(tidy: pd.DataFrame, exclude: set | None, seed: int) -> tuple[float, bool]:
    """(largest 95% half-width over the method means and pairwise differences, true order recovered).

    The rows the analysis uses (analysis.stats.select_responses: valid, minus excluded raters) and its
    neuron-cluster bootstrap within layers (analysis.stats.cluster_bootstrap_ci), the interval
    comparison_table and pairwise_comparisons report, on the ratings and on the per-response differences."""
    used = select_responses(tidy, exclude_raters=sorted(exclude) if exclude else None, methods=METHODS)
    m = len(METHODS)
    ratings = used["rating"].to_numpy(float).reshape(-1, m)  # rows come in whole responses, methods in order
    neuron = (used["layer"].str[-1].astype(int).to_numpy() * POOL_PER_LAYER + used["unit"].to_numpy())[::m]
    pairs = list(combinations(range(m), 2))
    values = np.hstack([ratings, np.column_stack([ratings[:, a] - ratings[:, b] for a, b in pairs])])
    quantities = values.shape[1]
    intervals = cluster_bootstrap_ci(
        values.ravel(), np.repeat(neuron, quantities), np.tile(np.arange(quantities), len(values)), quantities,
        n_resamples=BOOTSTRAP_RESAMPLES, seed=seed, strata=np.repeat(neuron // POOL_PER_LAYER, quantities),
    )
    means = ratings.mean(axis=0)
    return float(np.max(intervals[:, 1] - intervals[:, 0]) / 2), bool(np.all(np.diff(means) > 0))


def run_fixed(world: World, seed: int, policy: str = POLICY) -> tuple[Outcome, Outcome]:
    """K = 3 on the fixed neurons in the product's order (fewest responses first), raters from the stream;
    analysed without and with the policy."""
    tasks = np.tile(world.fixed_neurons, FIXED_K)
    stream = RaterStream(world, len(world.layer))
    raters = np.empty(len(tasks), dtype=np.int64)
    for i, neuron in enumerate(tasks):
        entry = stream.pick()
        while entry["done"][neuron]:
            stream.replace(entry)
            entry = stream.pick()
        raters[i] = entry["rater"]
        entry["done"][neuron] = True
        entry["given"] += 1
    collected = Responses(len(tasks))
    collected.add(raters, tasks, world.answer(raters, tasks))
    tidy = collected.tidy(world)
    invalid = 1 - collected.valid.mean()
    plain = Outcome(len(tasks), *analyse(tidy, None, seed), set(), invalid)
    excluded = excluded_raters(tidy, policy)
    return plain, Outcome(len(tasks), *analyse(tidy, excluded, seed), excluded, invalid)


def run_adaptive(world: World, target: float, seed: int, policy: str = POLICY, min_raters: int = MIN_RATERS) -> Outcome:
    """The product's adaptive rule on the pool, one response at a time from the rater stream, counting
    valid responses of raters the policy keeps; raters it excludes get no more tasks."""
    pool = len(world.pool_order)
    settings = adaptive.AdaptiveSettings(min_raters=min_raters, max_raters=FIXED_K, target_half_width=target,
                                         draw_neurons=True, calibration_neurons=START_NEURONS)
    order = world.pool_order.astype(float)
    load = np.zeros(pool)
    drawn = world.pool_order < START_NEURONS
    collected = Responses(pool * FIXED_K)
    excluded = np.zeros(len(world.kind), dtype=bool)
    counted_k = np.zeros(pool)
    components = within = None
    stream = RaterStream(world, pool)
    while True:
        if collected.n and collected.n % POLICY_EVERY == 0:
            excluded[_rater_numbers(excluded_raters(collected.tidy(world), policy))] = True
            stream.retire(excluded)
            counted = collected.valid & ~excluded[collected.rater[: collected.n]]
            counted_k = np.bincount(collected.neuron[: collected.n][counted], minlength=pool).astype(float)
        if collected.n % ESTIMATE_EVERY == 0:
            components, within = _estimate(collected, collected.valid & ~excluded[collected.rater[: collected.n]], pool)
        if collected.n % STOP_CHECK_EVERY == 0:
            stored = pd.Series(counted_k[counted_k > 0], index=np.flatnonzero(counted_k > 0))
            if adaptive.stop_decision(components, stored, collected.n, settings, bool((load < FIXED_K).any())):
                break
        entry = stream.pick()
        row = adaptive.choose_row(order, load, counted_k, drawn, ~entry["done"], within, components, settings)
        if row is None:
            if entry["given"] == 0:
                break  # nothing left for a fresh rater: every neuron has its cap
            stream.replace(entry)
            continue
        raters, rows = np.array([entry["rater"]]), np.array([row])
        collected.add(raters, rows, world.answer(raters, rows))
        load[row] += 1
        counted_k[row] += float(collected.valid_last)
        drawn[row] = entry["done"][row] = True
        entry["given"] += 1
    tidy = collected.tidy(world)
    final = excluded_raters(tidy, policy)
    return Outcome(collected.n, *analyse(tidy, final, seed), final, 1 - collected.valid.mean())


def _rater_numbers(names: set) -> np.ndarray:
    return np.array([int(name[1:]) for name in names], dtype=np.int64)


def _estimate(collected: Responses, counted: np.ndarray, pool: int):
    """The product's estimate from the counted responses, and W_nc for every pool neuron."""
    rows = np.flatnonzero(counted)
    if not len(rows):
        return None, None
    frame = pd.DataFrame({
        "neuron": np.repeat(collected.neuron[rows], len(METHODS)), "response": np.repeat(rows, len(METHODS)),
        "method": np.tile(np.array(METHODS), len(rows)), "rating": collected.ratings[rows].ravel(),
    })
    components = adaptive.estimate_components(adaptive.quantity_values(frame, METHODS))
    if components is None:
        return None, None
    return components, adaptive.neuron_within(components, np.arange(pool))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--careless", type=float, default=0.15, help="Share of raters answering at random.")
    parser.add_argument("--straight", type=float, default=0.075, help="Share of straight-liners.")
    parser.add_argument("--bots", type=float, default=0.075, help="Share of fast automated answerers.")
    parser.add_argument("--tasks-per-rater", type=int, default=10)
    parser.add_argument("--policy", default=POLICY, help="Exclusion policy (evaluation.quality syntax) of both designs.")
    parser.add_argument("--min-raters", type=int, default=MIN_RATERS, choices=[1, 2, 3],
                        help="The adaptive study's minimum raters per neuron (its calibration neurons get two).")
    args = parser.parse_args(argv)
    try:
        parse_policy(args.policy)
    except PolicyError as error:
        parser.error(f"--policy: {error}")
    population = Population(args.careless, args.straight, args.bots, args.tasks_per_rater)
    calibration = calibrate()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"calibration (DnD released ratings, product estimator): between-neuron variance {calibration.between:.3f} "
          f"(corr across methods {calibration.between_corr:.2f}), between-rater variance {calibration.within:.3f} "
          f"(corr {calibration.within_corr:.2f}), rater bias variance {calibration.bias_var:.3f}")
    print(f"population: {1 - args.careless - args.straight - args.bots:.0%} careful, {args.careless:.1%} careless, "
          f"{args.straight:.1%} straight-liners, {args.bots:.1%} bots; {args.tasks_per_rater} tasks a rater; "
          f"policy: {args.policy}")
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = []
    for study in range(args.studies):
        rng = np.random.default_rng([args.seed, study])
        world = World(calibration, population, rng)
        fixed, fixed_qc = run_fixed(world, seed=study, policy=args.policy)
        # Equal half-width on the same estimand: the fixed design analysed with the same quality controls.
        adaptive_qc = run_adaptive(world, target=fixed_qc.half_width, seed=study, policy=args.policy,
                                   min_raters=args.min_raters)
        bad = {f"r{r}" for r in np.flatnonzero(world.kind != "careful")}
        rows.append({
            "fixed_responses": fixed.responses, "fixed_half_width": fixed.half_width, "fixed_ok": fixed.ranking_ok,
            "fixed_qc_ok": fixed_qc.ranking_ok, "fixed_qc_half_width": fixed_qc.half_width, "fixed_invalid": fixed.invalid_rate,
            "adaptive_responses": adaptive_qc.responses, "adaptive_half_width": adaptive_qc.half_width,
            "adaptive_ok": adaptive_qc.ranking_ok,
            "caught": len(adaptive_qc.excluded & bad), "wrongly": len(adaptive_qc.excluded - bad),
        })
    results = pd.DataFrame(rows)
    elapsed = time.perf_counter() - started
    raw_ratio = results["adaptive_responses"].sum() / results["fixed_responses"].sum()
    # The stop lands near, not on, the target: a half-width scales as 1 / sqrt(responses), so the responses that
    # give exactly the fixed design's half-width are n (h_adaptive / h_fixed)^2.
    at_equal_width = results["adaptive_responses"] * (results["adaptive_half_width"] / results["fixed_qc_half_width"]) ** 2
    ratio = at_equal_width.sum() / results["fixed_responses"].sum()
    print(f"{args.studies} studies in {elapsed:.0f} s ({time.process_time() - cpu_started:.0f} s of CPU); load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"fixed K=3: {results['fixed_responses'].mean():.0f} responses (${PRICE * results['fixed_responses'].mean():.2f}), "
          f"invalid {results['fixed_invalid'].mean():.1%} (reference: 27%); half-width without quality controls "
          f"{results['fixed_half_width'].mean():.4f}, with them {results['fixed_qc_half_width'].mean():.4f} (the target)")
    print(f"adaptive + quality controls: {results['adaptive_responses'].mean():.0f} responses "
          f"(${PRICE * results['adaptive_responses'].mean():.2f}; range {results['adaptive_responses'].min()}-"
          f"{results['adaptive_responses'].max()}), half-width {results['adaptive_half_width'].mean():.4f} (at most the "
          f"fixed design's with quality controls in {np.mean(results['adaptive_half_width'] <= results['fixed_qc_half_width']):.0%} "
          f"of studies); policy excluded {results['caught'].mean():.1f} bad and {results['wrongly'].mean():.1f} careful "
          f"raters a study; spend ratio as stopped {raw_ratio:.3f}, at exactly equal half-width {ratio:.3f}")
    bound = (2 / 3) * (calibration.between + calibration.within / 2) / (calibration.between + calibration.within / 3)
    print(f"for comparison, formula (1) with careful raters only: 2 raters a neuron need {bound:.2f} of the responses "
          f"of 3 a neuron for the same variance (between-neuron variance dominates)")
    print(f"true ranking recovered: fixed without quality controls {results['fixed_ok'].mean():.1%}, fixed with "
          f"{results['fixed_qc_ok'].mean():.1%}, adaptive with {results['adaptive_ok'].mean():.1%}")
    print(f"spend ratio adaptive/fixed at equal CI half-width: {ratio:.2f}; true ranking recovered: "
          f"{100 * results['adaptive_ok'].mean():.1f}% with quality controls vs {100 * results['fixed_ok'].mean():.1f}% without")


if __name__ == "__main__":
    main()
