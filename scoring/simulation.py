"""Simulation scoring of an explanation (Bills et al. 2023; "TeLLMe what you see", Algorithm 1).

Steps, top to bottom:
  1. `select_highest_and_random`: pick the pairs of a pass ("Highest 50/50": half from the unit's
     most activating descriptions, half at random from the rest).
  2. `build_simulation_messages` (scoring.simulation_prompts): few-shot examples, then the explanation
     under test and the held-out descriptions with ``unk``.
  3. `parse_simulation_reply`: the predicted value of every line, as the expected value over the
     0-10 token log-probabilities when the endpoint returned them, else the parsed text. Lines
     are matched to the descriptions in order, so duplicate captions never collide; malformed
     and missing lines are counted and reported, never read as zero.
  4. `score_pass`: 100 x Pearson r between the true values and the predictions.
  5. `run_until_confident` (Algorithm 1): passes repeat until there are at least `min_passes`
     scored passes and the half-width of the t-distribution confidence interval of their mean
     is below `max_ci_halfwidth`, or `max_passes` is reached.

Choices the papers leave open (kept in `SimulationParams`): a pass draws its "highest" half at
random from the top `top_pool_fraction` of the unit's pairs (at least twice the half) so that
passes are different samples; descriptions shown to the explainer are left out of the
simulation while enough others remain; a prediction that is constant over a pass carries no
information and scores 0 (flagged); a pass whose true values are constant, or with fewer than
3 parsed lines, has no score and does not count towards `min_passes`.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from explain.methods.tellme_prompts import END_MARK, MAX_SCALED_ACTIVATION, START_MARK, FewShotUnit, Pair, clean_description
from foundation.llm_chat import ChatFn, ChatReply, TokenLogprob

from .simulation_prompts import UNKNOWN_ACTIVATION, build_simulation_messages


@dataclass
class SimulationParams:
    pairs_per_pass: int = 50  # predicted pairs a pass
    few_shot_examples: int = 2
    pairs_per_example: int = 50  # Highest 50/50 within each few-shot example
    highest_share: float = 0.5
    top_pool_fraction: float = 0.05
    min_passes: int = 3
    max_ci_halfwidth: float = 5.0  # in score points (100 x r)
    confidence: float = 0.90
    max_passes: int = 10
    top_logprobs: int = 20
    temperature: float = 0.0
    seed: int = 0
    # Where Bills et al.'s code (openai/automated-interpretability) differs: "project" or "reference".
    # reference: one correlation over every pass's lines pooled (its aggregate_scored_sequence_simulations)
    correlation: str = "project"
    # reference: only the exact tokens "0" to "10" count in the expected value (" 5" does not)
    digit_tokens: str = "project"

    def __post_init__(self):
        for name in ("correlation", "digit_tokens"):
            if getattr(self, name) not in ("project", "reference"):
                raise ValueError(f"simulation {name}={getattr(self, name)!r}: choose project or reference")


# 1. Selection -----------------------------------------------------------------------------------


def select_highest_and_random(
    values: Sequence[float],
    count: int,
    rng: np.random.Generator,
    *,
    highest_share: float = 0.5,
    top_pool_size: int | None = None,
    exclude: Sequence[int] = (),
) -> list[int]:
    """Indices of `count` pairs: `highest_share` of them from the top pool, the rest at random.

    With `top_pool_size` None the highest ones are taken exactly (the top ones, deterministic);
    otherwise they are drawn from the `top_pool_size` most activating. Returned in random order.
    """
    values = np.asarray(values, dtype=float)
    excluded = set(int(i) for i in exclude)
    candidates = [i for i in np.argsort(-values, kind="stable") if int(i) not in excluded]
    if len(candidates) < count:  # not enough held-out pairs: use everything
        candidates = list(np.argsort(-values, kind="stable"))
    count = min(count, len(candidates))
    n_high = int(round(count * highest_share))
    if top_pool_size is None:
        high = candidates[:n_high]
    else:
        pool = candidates[: max(top_pool_size, n_high)]
        high = list(rng.choice(pool, size=n_high, replace=False)) if n_high else []
    high_set = set(int(i) for i in high)
    rest = [i for i in candidates if int(i) not in high_set]
    low = list(rng.choice(rest, size=count - n_high, replace=False)) if count > n_high else []
    chosen = [int(i) for i in high + low]
    rng.shuffle(chosen)
    return chosen


# 3. Parsing -------------------------------------------------------------------------------------

_VALUE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


@dataclass
class ParsedReply:
    predictions: list[float | None]  # one per expected description, None where missing
    malformed: list[dict] = field(default_factory=list)  # {"line", "reason"}
    missing: list[int] = field(default_factory=list)  # indices of expected descriptions with no line
    from_logprobs: int = 0  # lines whose value is an expected value over log-probabilities
    from_text: int = 0  # lines whose value was read from the text

    def summary(self) -> dict:
        return {
            "parsed": sum(p is not None for p in self.predictions),
            "malformed": len(self.malformed),
            "missing": len(self.missing),
            "from_logprobs": self.from_logprobs,
            "from_text": self.from_text,
        }


def expected_value_from_top_logprobs(top: dict[str, float], digit_tokens: str = "project") -> float | None:
    """Expected value over the alternatives that are the integers 0-10, renormalised among them.

    digit_tokens="project" reads " 5" as 5 (tokenizers often attach the space); "reference" counts only
    the exact tokens "0" to "10", as Bills et al.'s simulator does.
    """
    weights: dict[int, float] = {}
    for token, logprob in top.items():
        stripped = token.strip() if digit_tokens != "reference" else token
        if stripped.isdigit() and 0 <= int(stripped) <= MAX_SCALED_ACTIVATION and str(int(stripped)) == stripped:
            weights[int(stripped)] = weights.get(int(stripped), 0.0) + math.exp(logprob)
    total = sum(weights.values())
    if total <= 0:
        return None
    return sum(value * w for value, w in weights.items()) / total


def _token_at(tokens: Sequence[TokenLogprob], starts: Sequence[int], offset: int) -> int | None:
    """Index of the token whose text covers character `offset`."""
    position = int(np.searchsorted(starts, offset, side="right")) - 1
    if 0 <= position < len(tokens) and offset < starts[position] + len(tokens[position].token):
        return position
    return None


def _candidate_lines(text: str) -> list[tuple[int, str]]:
    """(character offset, line) of the lines that should hold pairs: those inside the first
    ``<start>``/``<end>`` block when the reply has one, else every line."""
    lines, offset = [], 0
    for line in text.splitlines(keepends=True):
        lines.append((offset, line.rstrip("\r\n")))
        offset += len(line)
    marks = [i for i, (_, line) in enumerate(lines) if line.strip() == START_MARK]
    if marks:
        begin = marks[0] + 1
        ends = [i for i, (_, line) in enumerate(lines) if line.strip() == END_MARK and i >= begin]
        lines = lines[begin: ends[0] if ends else len(lines)]
    return [(o, line) for o, line in lines if line.strip() and line.strip() not in (START_MARK, END_MARK)]


def parse_simulation_reply(reply: ChatReply, descriptions: Sequence[str], digit_tokens: str = "project") -> ParsedReply:
    """Predicted value (0-10) of each expected description, from the reply's lines in order."""
    expected = [clean_description(d).lower() for d in descriptions]
    parsed = ParsedReply(predictions=[None] * len(expected))
    tokens = reply.tokens
    starts: list[int] = []
    if tokens and "".join(t.token for t in tokens) == reply.text:
        starts = list(np.cumsum([0] + [len(t.token) for t in tokens[:-1]]))
    else:
        tokens = None  # log-probabilities that do not spell the text cannot be located
    next_expected = 0
    for offset, line in _candidate_lines(reply.text):
        if "\t" not in line:
            parsed.malformed.append({"line": line, "reason": "no tab between description and activation"})
            continue
        description, value_text = line.rsplit("\t", 1)
        key = clean_description(description).lower()
        try:
            position = expected.index(key, next_expected)
        except ValueError:
            parsed.malformed.append({"line": line, "reason": "description not among those asked, or out of order"})
            continue
        match = _VALUE.match(value_text)
        if value_text.strip() == UNKNOWN_ACTIVATION:
            parsed.malformed.append({"line": line, "reason": f"activation left as {UNKNOWN_ACTIVATION}"})
            continue
        if not match or float(match.group(1)) > MAX_SCALED_ACTIVATION:
            parsed.malformed.append({"line": line, "reason": "activation is not a number from 0 to 10"})
            continue
        next_expected = position + 1
        value = float(match.group(1))
        if tokens is not None:
            value_start = offset + len(description) + 1 + (len(value_text) - len(value_text.lstrip()))
            index = _token_at(tokens, starts, value_start)
            # Only when the whole number is one token is its distribution the value's.
            if index is not None and tokens[index].token.strip() == match.group(1):
                expectation = expected_value_from_top_logprobs(tokens[index].top, digit_tokens)
                if expectation is not None:
                    parsed.predictions[position] = expectation
                    parsed.from_logprobs += 1
                    continue
        parsed.predictions[position] = value
        parsed.from_text += 1
    parsed.missing = [i for i, p in enumerate(parsed.predictions) if p is None]
    return parsed


# 4. Score of one pass ---------------------------------------------------------------------------


@dataclass
class PassResult:
    score: float | None  # 100 x Pearson r; None when the pass cannot be scored
    n_pairs: int
    parse: dict
    reason: str = ""
    descriptions: list[str] = field(default_factory=list)
    true_values: list[float] = field(default_factory=list)
    predictions: list[float | None] = field(default_factory=list)
    malformed_lines: list[dict] = field(default_factory=list)
    reply_model: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def score_pass(true_values: Sequence[float], parsed: ParsedReply) -> tuple[float | None, str]:
    """100 x Pearson r over the lines that were parsed; why not, when there is no score."""
    pairs = [(t, p) for t, p in zip(true_values, parsed.predictions) if p is not None]
    if len(pairs) < 3:
        return None, f"only {len(pairs)} parsed lines"
    truth, prediction = np.array(pairs, dtype=float).T
    if np.ptp(truth) == 0:
        return None, "true values are constant"
    if np.ptp(prediction) == 0:
        return 0.0, "constant prediction"
    return 100.0 * float(stats.pearsonr(truth, prediction).statistic), ""


def simulate_pass(
    chat: ChatFn,
    explanation: str,
    sample: Sequence[Pair],
    examples: Sequence[FewShotUnit],
    kind: str = "caption",
    digit_tokens: str = "project",
) -> PassResult:
    descriptions = [p.description for p in sample]
    reply = chat(build_simulation_messages(explanation, descriptions, examples, kind))
    parsed = parse_simulation_reply(reply, descriptions, digit_tokens)
    true_values = [float(p.value) for p in sample]
    score, reason = score_pass(true_values, parsed)
    return PassResult(
        score=score,
        n_pairs=len(sample),
        parse=parsed.summary(),
        reason=reason,
        descriptions=[clean_description(d) for d in descriptions],
        true_values=true_values,
        predictions=parsed.predictions,
        malformed_lines=parsed.malformed[:20],
        reply_model=reply.model,
    )


# 5. Algorithm 1 ---------------------------------------------------------------------------------


def ci_halfwidth(scores: Sequence[float], confidence: float = 0.90) -> float:
    """Half-width of the two-sided t confidence interval of the mean of `scores`."""
    n = len(scores)
    if n < 2:
        return math.inf
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(scores, ddof=1) / math.sqrt(n))


@dataclass
class SimulationOutcome:
    mean: float | None
    ci_halfwidth: float
    passes: list[PassResult]
    stop_reason: str  # "ci" or "pass_limit"

    @property
    def scored_passes(self) -> list[float]:
        return [p.score for p in self.passes if p.score is not None]


def pooled_score(passes: Sequence[PassResult]) -> float | None:
    """100 x Pearson r over the parsed lines of all passes together (Bills et al.'s aggregate)."""
    pairs = [(t, p) for result in passes for t, p in zip(result.true_values, result.predictions) if p is not None]
    if len(pairs) < 3:
        return None
    truth, prediction = np.array(pairs, dtype=float).T
    if np.ptp(truth) == 0:
        return None
    if np.ptp(prediction) == 0:
        return 0.0
    return 100.0 * float(stats.pearsonr(truth, prediction).statistic)


def run_until_confident(run_pass: Callable[[int], PassResult], params: SimulationParams) -> SimulationOutcome:
    """Passes until the per-pass scores' mean is known well enough (Algorithm 1). The score is that
    mean, or with correlation="reference" the pooled correlation of the same passes."""
    passes: list[PassResult] = []
    scores: list[float] = []
    stop_reason = "pass_limit"
    for index in range(params.max_passes):
        result = run_pass(index)
        passes.append(result)
        if result.score is not None:
            scores.append(result.score)
        if len(scores) >= params.min_passes and ci_halfwidth(scores, params.confidence) < params.max_ci_halfwidth:
            stop_reason = "ci"
            break
    if params.correlation == "reference":
        score = pooled_score(passes)
    else:
        score = float(np.mean(scores)) if scores else None
    return SimulationOutcome(score, ci_halfwidth(scores, params.confidence), passes, stop_reason)


def score_by_simulation(
    chat: ChatFn,
    explanation: str,
    pairs: Sequence[Pair],
    examples: Sequence[FewShotUnit],
    params: SimulationParams | None = None,
    *,
    kind: str = "caption",
    shown_to_explainer: Sequence[int] = (),
) -> SimulationOutcome:
    """Algorithm 1 for one explanation of one unit, whose true pairs are `pairs`."""
    params = params or SimulationParams()
    values = [p.value for p in pairs]
    top_pool = max(int(len(pairs) * params.top_pool_fraction), 2 * int(params.pairs_per_pass * params.highest_share))

    def run_pass(index: int) -> PassResult:
        rng = np.random.default_rng([params.seed, index])
        chosen = select_highest_and_random(
            values,
            params.pairs_per_pass,
            rng,
            highest_share=params.highest_share,
            top_pool_size=top_pool,
            exclude=shown_to_explainer,
        )
        return simulate_pass(chat, explanation, [pairs[i] for i in chosen], examples, kind, params.digit_tokens)

    return run_until_confident(run_pass, params)


def few_shot_unit(explanation: str, pairs: Sequence[Pair], count: int, seed: int = 0, highest_share: float = 0.5) -> FewShotUnit:
    """A few-shot example with Highest 50/50 pairs: the top half exactly, the rest at random."""
    rng = np.random.default_rng(seed)
    chosen = select_highest_and_random([p.value for p in pairs], count, rng, highest_share=highest_share)
    max_value = max((p.value for p in pairs), default=0.0)
    return FewShotUnit(explanation=explanation, pairs=[pairs[i] for i in chosen], max_value=max_value)
