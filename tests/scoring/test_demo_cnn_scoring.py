"""Ablation, the weight and occlusion explainers, and simulation scoring on the demo CNN and its synthetic set."""
import io
import shutil

import numpy as np
import pytest
import torch
from django.core.management import call_command

import foundation
from scoring.ablation import ablation_effect, accuracy_per_class, predictions
from demo.network import DemoTrainingConfig, ensure_demo_network
from tests.fakes.played_openai import ChatServer
from tests.fakes.tiny_models import tiny_clip_embedder
from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.models import Explanation, Layer, Method, Network, Neuron
from explain.networks import load_network
from explain.probes import get_probe_set
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
from scoring.ablation_jobs import probe_inputs, probe_targets
from scoring.models import AblationResult, SimulationPass, SimulationScore

from tests.fakes.played_openai import PlayedServer, asked_descriptions, completion_json


@pytest.fixture(scope="session")
def trained_weights(tmp_path_factory):
    """Where the demo CNN's trained weights are kept between tests, so they are trained once."""
    return tmp_path_factory.mktemp("demo-weights")


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


@pytest.fixture
def probe(db, var_dir):
    return ensure_synthetic_probe("synthetic-small", seed=0, config=SyntheticConfig(n_images=120))


@pytest.fixture
def trained_demo(db, var_dir, trained_weights):
    shutil.copytree(trained_weights, var_dir / "networks", dirs_exist_ok=True)
    network = ensure_demo_network(seed=0, config=DemoTrainingConfig(training_images=1200, epochs=3))
    shutil.copytree(var_dir / "networks", trained_weights, dirs_exist_ok=True)
    Layer.objects.get_or_create(network=network, name="conv4", defaults={"unit_count": 64})
    return network


@pytest.fixture
def random_demo(db, var_dir):
    from demo.synthetic import CONCEPT_NAMES

    network = Network.objects.create(name="random-demo", architecture="demo-cnn", weights_source="random:0", class_names=list(CONCEPT_NAMES))
    Layer.objects.create(network=network, name="conv4", unit_count=64)
    return network


def test_on_the_demo_cnn_no_zeroed_unit_changes_nothing_and_all_leave_chance(trained_demo, probe):
    model, preprocess = load_network(trained_demo)
    probe_set = get_probe_set(probe)
    targets = probe_targets(probe_set, trained_demo.class_names)  # multi-label concept presence
    inputs = probe_inputs(probe_set, preprocess)
    untouched = ablation_effect(model, "conv4", [], inputs, targets, len(trained_demo.class_names))
    everything = ablation_effect(model, "conv4", range(64), inputs, targets, len(trained_demo.class_names))

    assert untouched.ablated_accuracy == untouched.baseline_accuracy
    # With every unit zeroed the output is the head's bias: one constant answer per concept ...
    constant = predictions(model, inputs, multilabel=True)
    with torch.no_grad():
        from scoring.ablation import units_zeroed

        with units_zeroed(model, "conv4", range(64)):
            constant = predictions(model, inputs, multilabel=True)
    assert (constant == constant[0]).all()
    # ... so accuracy is at most the best constant guess per concept (chance), and well below the trained network's.
    best_constant_guess = np.maximum(targets.mean(0), 1 - targets.mean(0)).mean()
    assert everything.ablated_accuracy <= best_constant_guess + 1e-9
    assert everything.baseline_accuracy > best_constant_guess + 0.05


def test_ablate_command_stores_the_classes_each_unit_hurts_most(trained_demo, probe):
    out = io.StringIO()
    call_command("ablate", network="demo-cnn", layer="conv4", units=[0, 1], probe="synthetic-small", most_hurt=3, stdout=out, verbosity=0)
    results = AblationResult.objects.order_by("neuron__unit")
    assert [r.neuron.unit for r in results] == [0, 1]
    first = results[0]
    assert len(first.most_hurt_classes) == 3 and set(first.per_class) == set(trained_demo.class_names)
    drops = [v["drop"] for v in first.per_class.values()]
    assert first.most_hurt_classes[0][1] == pytest.approx(max(drops))
    assert "unit 0\taccuracy" in out.getvalue()


def test_weight_label_prompt_shows_the_units_strongest_positive_class_weights(random_demo, probe):
    model, _ = load_network(random_demo)
    weights = model.fc.weight.detach().numpy()[:, 5]  # conv4 is the last hidden layer
    server = ChatServer(lambda body: " squares.")
    inputs = MethodInput(network=random_demo, layer=random_demo.layers.get(name="conv4"), probe=get_probe_set(probe),
                         activations=type("Cache", (), {"unit_count": 64})(), params={"pairs": 3})
    with foundation.override(llm=server.llm()):
        records = get_method("gpt-weight-label").explain(inputs, [5])
    strongest = [random_demo.class_names[i] for i in np.argsort(-weights)[:3]][::-1]
    block = server.requests[0]["messages"][-1]["content"].split("<start>\n")[1].split("\n<end>")[0]
    assert [line.split("\t")[0] for line in block.split("\n")] == strongest
    assert block.split("\n")[-1].endswith("\t10")
    assert records[0].text == "squares" and records[0].details["few_shot_source"] == "none"


def test_occlusion_vocabulary_labels_a_demo_unit_from_the_llm_vocabulary(random_demo, probe):
    from explain.activations import get_activation_cache

    cache = get_activation_cache(random_demo, probe, "conv4")
    server = ChatServer(lambda body: "1. bright red patch\n2. sharp corners\n")
    inputs = MethodInput(network=random_demo, layer=random_demo.layers.get(name="conv4"), probe=get_probe_set(probe),
                         activations=cache, params={"top_k": 2, "labels_per_unit": 2})
    with foundation.override(llm=server.llm(), clip=tiny_clip_embedder()):
        records = get_method("occlusion-vocabulary").explain(inputs, [3])
    assert [r.rank for r in records] == [1, 2]
    assert {r.text for r in records} == {"bright red patch", "sharp corners"}
    assert len(server.requests) == len(random_demo.class_names)
    top, left, bottom, right = records[0].details["patches"][0][1:]
    assert bottom - top == 16 and right - left == 16  # a quarter of the 64-pixel input


def test_simulation_scores_every_explanation_with_stored_passes(random_demo, probe):
    method = Method.objects.create(name="manual")
    layer = random_demo.layers.get(name="conv4")
    for unit, text in ((0, "red shapes"), (1, "striped textures")):
        Explanation.objects.create(method=method, neuron=Neuron.objects.create(layer=layer, unit=unit), text=text)

    def keyword_simulator(body):
        word = body["messages"][-1]["content"].split("does is find ")[1].split()[0]
        return completion_json("\n".join(f"{d}\t{8 if word in d else 0}" for d in asked_descriptions(body)))

    server = PlayedServer(keyword_simulator)
    from foundation.llm import ChatLLM

    out = io.StringIO()
    with foundation.override(llm=ChatLLM(server.client(), "played-model")):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="simulation", probe="synthetic-small", stdout=out)
    scores = SimulationScore.objects.order_by("explanation__neuron__unit")
    assert scores.count() == 2
    assert all(s.stop_reason in ("ci", "pass_limit") and s.passes.count() >= 3 for s in scores)
    first_pass = SimulationPass.objects.filter(simulation=scores[0]).order_by("index").first()
    assert first_pass.n_pairs == 50 and first_pass.n_parsed == 50 and first_pass.n_malformed == 0
    assert len(first_pass.details["descriptions"]) == 50
    assert out.getvalue().startswith("manual\tsimulation\t")


def test_the_references_simulation_options_are_reachable_from_the_command(random_demo, probe):
    layer = random_demo.layers.get(name="conv4")
    Explanation.objects.create(method=Method.objects.create(name="manual"), neuron=Neuron.objects.create(layer=layer, unit=0),
                               text="red shapes")
    server = PlayedServer(lambda body: completion_json("\n".join(f"{d}\t{8 if 'red' in d else 0}" for d in asked_descriptions(body))))
    from foundation.llm import ChatLLM

    with foundation.override(llm=ChatLLM(server.client(), "played-model")):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="simulation", probe="synthetic-small",
                     simulation_param=["correlation=reference", "digit_tokens=reference", "max_passes=4"], stdout=io.StringIO())

    score = SimulationScore.objects.get()
    assert (score.params["correlation"], score.params["digit_tokens"], score.params["max_passes"]) == ("reference", "reference", 4)
    lines = [(t, p) for sim_pass in score.passes.all() for t, p in zip(sim_pass.details["true_values"], sim_pass.details["predictions"])
             if p is not None]
    truth, prediction = np.array(lines, dtype=float).T
    assert score.mean == pytest.approx(100 * np.corrcoef(truth, prediction)[0, 1])  # all passes' lines pooled
    assert score.mean != pytest.approx(np.mean([p.score for p in score.passes.all() if p.score is not None]))


def test_an_unknown_simulation_option_value_is_refused_before_anything_is_stored(random_demo, probe):
    from django.core.management.base import CommandError

    layer = random_demo.layers.get(name="conv4")
    Explanation.objects.create(method=Method.objects.create(name="manual"), neuron=Neuron.objects.create(layer=layer, unit=0),
                               text="red shapes")
    with pytest.raises(CommandError, match="correlation='pooled'"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="simulation", probe="synthetic-small",
                     simulation_param=["correlation=pooled"])
    with pytest.raises(CommandError, match="unknown param"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="simulation", probe="synthetic-small",
                     simulation_param=["pooling=yes"])
    assert not SimulationScore.objects.exists()


def test_weight_clip_prompt_names_next_layer_units_by_their_clip_dissect_labels(random_demo, probe):
    conv3 = Layer.objects.create(network=random_demo, name="conv3", unit_count=64)
    conv4 = random_demo.layers.get(name="conv4")
    clip_dissect = Method.objects.create(name="clip-dissect")
    for unit in range(64):
        Explanation.objects.create(method=clip_dissect, neuron=Neuron.objects.create(layer=conv4, unit=unit), text=f"concept{unit}")
    model, _ = load_network(random_demo)
    weights = model.conv4.conv.weight.detach().sum(dim=(2, 3)).numpy()[:, 7]  # conv3 unit 7 -> conv4 units
    server = ChatServer(lambda body: " stripes.")
    inputs = MethodInput(network=random_demo, layer=conv3, probe=get_probe_set(probe),
                         activations=type("Cache", (), {"unit_count": 64})(), params={"pairs": 4})
    with foundation.override(llm=server.llm()):
        records = get_method("gpt-weight-clip").explain(inputs, [7])
    block = server.requests[0]["messages"][-1]["content"].split("<start>\n")[1].split("\n<end>")[0]
    assert [line.split("\t")[0] for line in block.split("\n")] == [f"concept{u}" for u in np.argsort(-weights)[:4][::-1]]
    assert records[0].text == "stripes" and records[0].details["next_layer"] == "conv4"
