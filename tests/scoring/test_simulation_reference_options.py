"""Bills et al.'s scoring behaviour (openai/automated-interpretability), where the project differs, behind named options."""
import math

import numpy as np
import pytest

from foundation.llm_chat import ChatReply, TokenLogprob
from scoring.simulation import (
    PassResult,
    SimulationParams,
    expected_value_from_top_logprobs,
    parse_simulation_reply,
    pooled_score,
    run_until_confident,
)


def test_reference_counts_only_exact_digit_tokens_in_the_expected_value():
    top = {"2": math.log(0.5), " 8": math.log(0.5)}

    assert expected_value_from_top_logprobs(top) == pytest.approx(5.0)  # " 8" read as 8
    assert expected_value_from_top_logprobs(top, digit_tokens="reference") == pytest.approx(2.0)  # " 8" ignored


def test_reference_digit_tokens_reach_the_parsed_predictions():
    top = {k: math.log(p) for k, p in {"2": 0.5, " 8": 0.5}.items()}
    tokens = [TokenLogprob("a cat", 0.0, {}), TokenLogprob("\t", 0.0, {}), TokenLogprob("2", 0.0, top), TokenLogprob("\n", 0.0, {})]
    reply = ChatReply(text="a cat\t2\n", tokens=tokens)

    assert parse_simulation_reply(reply, ["a cat"]).predictions == [pytest.approx(5.0)]
    assert parse_simulation_reply(reply, ["a cat"], digit_tokens="reference").predictions == [pytest.approx(2.0)]


def two_passes():
    # pass 1 predicts its lines perfectly but on its own scale; pass 2 is perfect too, shifted by +5
    first = PassResult(score=100.0, n_pairs=3, parse={}, true_values=[0, 1, 2], predictions=[0, 1, 2])
    second = PassResult(score=100.0, n_pairs=3, parse={}, true_values=[0, 1, 2], predictions=[5, 6, 7])
    return [first, second]


def test_project_score_is_the_mean_of_per_pass_correlations_and_reference_pools_the_lines():
    passes = two_passes()
    played = iter(passes)
    params = dict(min_passes=2, max_passes=2)

    project = run_until_confident(lambda i: passes[i], SimulationParams(**params))
    reference = run_until_confident(lambda i: next(played), SimulationParams(correlation="reference", **params))

    assert project.mean == pytest.approx(100.0)
    pooled = 100 * np.corrcoef([0, 1, 2, 0, 1, 2], [0, 1, 2, 5, 6, 7])[0, 1]
    assert reference.mean == pytest.approx(pooled) and pooled < 50
    assert pooled_score(passes) == pytest.approx(pooled)
    assert reference.passes == project.passes  # the same passes and stopping rule, only the aggregate differs


def test_options_default_to_the_project_and_refuse_other_values():
    assert (SimulationParams().correlation, SimulationParams().digit_tokens) == ("project", "project")
    with pytest.raises(ValueError, match="correlation='pooled'"):
        SimulationParams(correlation="pooled")
