"""Algorithm 1 against a played OpenAI server whose predictions have a known correlation with the truth."""
import numpy as np
import pytest

from foundation.llm_chat import openai_chat
from explain.methods.tellme_prompts import Pair
from scoring.simulation import SimulationParams, ci_halfwidth, few_shot_unit, score_by_simulation

from tests.fakes.played_openai import PlayedServer, asked_descriptions, completion_json

N_IMAGES = 600
TRUTH = {f"photo {i} of a thing": float(v) for i, v in enumerate(np.random.default_rng(1).uniform(0, 10, N_IMAGES))}
PAIRS = [Pair(description, value) for description, value in TRUTH.items()]
EXAMPLES = [few_shot_unit("wheels", PAIRS[:100], count=50, seed=3), few_shot_unit("fur", PAIRS[100:200], count=50, seed=4)]


def noisy_simulator(noise_sd, seed=0):
    """Answers with the true value plus Gaussian noise, as a two-integer distribution whose
    expected value is that prediction (clipped to 0-10)."""
    rng = np.random.default_rng(seed)

    def answer(body):
        tokens = []
        for description in asked_descriptions(body):
            prediction = float(np.clip(TRUTH[description] + rng.normal(0, noise_sd), 0, 10))
            low = int(np.floor(prediction))
            high = min(low + 1, 10)
            weight_high = prediction - low
            top = {str(low): 1 - weight_high + 1e-9, str(high): weight_high + 1e-9} if high != low else {str(low): 1.0}
            tokens += [(description, {}), ("\t", {}), (str(low), top), ("\n", {})]
        return completion_json("".join(t for t, _ in tokens), tokens)

    return answer


def population_correlation(noise_sd):
    rng = np.random.default_rng(99)
    truth = rng.uniform(0, 10, 200_000)
    return 100 * np.corrcoef(truth, np.clip(truth + rng.normal(0, noise_sd, truth.size), 0, 10))[0, 1]


def test_loop_stops_by_the_ci_rule_after_at_least_three_passes_and_reports_the_mean():
    server = PlayedServer(noisy_simulator(noise_sd=6.0))
    chat = openai_chat(server.client(), "played-model", top_logprobs=20)
    outcome = score_by_simulation(chat, "things", PAIRS, EXAMPLES, SimulationParams(max_passes=30))

    scores = [p.score for p in outcome.passes]
    assert outcome.stop_reason == "ci"
    assert len(outcome.passes) > 3  # this much noise needs more than the minimum
    assert ci_halfwidth(scores) == pytest.approx(outcome.ci_halfwidth) and outcome.ci_halfwidth < 5
    assert ci_halfwidth(scores[:-1]) >= 5  # and it stopped at the first pass the rule allowed
    assert outcome.mean == pytest.approx(np.mean(scores))
    assert abs(outcome.mean - population_correlation(6.0)) < 8
    # every pass asked 50 pairs, with log-probabilities, and read them all from the log-probabilities
    assert all(p.n_pairs == 50 and p.parse["from_logprobs"] == 50 for p in outcome.passes)
    assert server.requests[0]["logprobs"] is True and server.requests[0]["top_logprobs"] == 20
    assert len(server.requests) == len(outcome.passes)


def test_a_perfect_simulator_still_runs_three_passes():
    server = PlayedServer(noisy_simulator(noise_sd=0.0))
    outcome = score_by_simulation(openai_chat(server.client(), "m"), "things", PAIRS, EXAMPLES)
    assert len(outcome.passes) == 3 and outcome.stop_reason == "ci"
    assert outcome.mean == pytest.approx(100.0, abs=0.1)


def test_a_weak_noisy_explanation_stops_at_the_pass_limit():
    server = PlayedServer(noisy_simulator(noise_sd=30.0, seed=5))
    outcome = score_by_simulation(openai_chat(server.client(), "m"), "things", PAIRS, EXAMPLES, SimulationParams(max_passes=4))
    assert outcome.stop_reason == "pass_limit" and len(outcome.passes) == 4
    assert outcome.ci_halfwidth >= 5


def test_an_endpoint_refusing_logprobs_is_asked_again_and_scored_from_text():
    def answer(body):
        if body.get("logprobs"):
            return None
        return completion_json("\n".join(f"{d}\t{round(TRUTH[d])}" for d in asked_descriptions(body)))

    class Refusing(PlayedServer):
        def handle(self, request):
            import httpx, json

            body = json.loads(request.content)
            self.requests.append(body)
            if body.get("logprobs"):
                return httpx.Response(400, json={"error": {"message": "logprobs is not supported", "type": "invalid_request_error"}})
            return httpx.Response(200, json=answer(body))

    server = Refusing(answer)
    outcome = score_by_simulation(openai_chat(server.client(), "m"), "things", PAIRS, EXAMPLES)
    assert outcome.passes[0].parse["from_text"] == 50
    assert outcome.mean > 95
    assert [bool(r.get("logprobs")) for r in server.requests[:3]] == [True, False, False]


def test_a_rerun_is_answered_from_the_cache_with_the_same_log_probabilities(tmp_path):
    from foundation.llm import ResponseCache

    server = PlayedServer(noisy_simulator(noise_sd=6.0))
    cache = ResponseCache(tmp_path)
    first = score_by_simulation(openai_chat(server.client(), "m", cache=cache), "things", PAIRS, EXAMPLES)
    sent = len(server.requests)
    again = score_by_simulation(openai_chat(server.client(), "m", cache=cache), "things", PAIRS, EXAMPLES)
    assert len(server.requests) == sent
    assert again.mean == first.mean and again.passes[0].parse["from_logprobs"] == 50
