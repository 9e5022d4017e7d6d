"""store_explanations: the one write path of explanations keeps every link to them across reruns."""
import re

import pytest
from django.core.management import call_command

from evaluation.models import StudyItem
from evaluation.services import create_study
from explain.importers import import_explanations
from explain.jobs import run_explain_job
from explain.methods.base import ExplanationRecord
from explain.models import Explanation, Layer, Method, Network, Neuron
from explain.services import InvalidExplanations, store_explanations
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
from scoring.models import MetricScore, SimulationScore
from scoring.services import store_metric_scores

DEMO_METHODS = ["netdissect", "clip-dissect-annotations", "shuffled-control"]
LAYERS = ["conv3", "conv4"]


@pytest.fixture
def layer(db):
    network = Network.objects.create(name="net", architecture="demo-cnn")
    return Layer.objects.create(network=network, name="conv4", unit_count=4)


@pytest.fixture
def method(db):
    return Method.objects.create(name="labels")


def stored(method, layer):
    return {
        (row.neuron.unit, row.rank): (row.pk, row.text)
        for row in Explanation.objects.filter(method=method, neuron__layer=layer).select_related("neuron")
    }


def test_a_rerun_updates_rows_in_place_and_deletes_only_ranks_that_disappeared(method, layer):
    first = store_explanations(method, layer, [
        ExplanationRecord(unit=0, text="red", rank=1), ExplanationRecord(unit=0, text="round", rank=2),
        ExplanationRecord(unit=1, text="blue"), ExplanationRecord(unit=2, text="stripes"),
    ])
    before = stored(method, layer)
    second = store_explanations(method, layer, [ExplanationRecord(unit=0, text="crimson"), ExplanationRecord(unit=1, text="blue")])
    after = stored(method, layer)
    assert (first.created, second.created, second.updated, second.unchanged, second.deleted) == (4, 0, 1, 1, 1)
    assert after[(0, 1)] == (before[(0, 1)][0], "crimson")  # same row, new text
    assert after[(1, 1)] == before[(1, 1)]
    assert (0, 2) not in after  # unit 0 no longer has a second label
    assert after[(2, 1)] == before[(2, 1)]  # unit 2 was not part of this store: left alone


def test_a_store_creates_missing_neurons_and_refuses_bad_records_without_writing(method, layer):
    store_explanations(method, layer, [ExplanationRecord(unit=3, text="grass")])
    assert Neuron.objects.filter(layer=layer).count() == 1
    before = stored(method, layer)
    bad_batches = {
        "unit 4 is not a unit of layer net/conv4 (4 units)": [ExplanationRecord(unit=3, text="sky"), ExplanationRecord(unit=4, text="x")],
        "unit 3 of layer net/conv4: empty explanation": [ExplanationRecord(unit=3, text="  ")],
        "unit 3 of layer net/conv4: two explanations of rank 1": [ExplanationRecord(unit=3, text="a"), ExplanationRecord(unit=3, text="b")],
        "unit 3 of layer net/conv4: rank 0 is not a positive integer": [ExplanationRecord(unit=3, text="a", rank=0)],
    }
    for message, records in bad_batches.items():
        with pytest.raises(InvalidExplanations, match=re.escape(f"labels: {message}")):
            store_explanations(method, layer, records)
    assert stored(method, layer) == before


def test_an_import_replaces_what_an_earlier_file_of_the_same_name_stored(method, layer):
    store_explanations(method, layer, [ExplanationRecord(unit=0, text="a"), ExplanationRecord(unit=1, text="b")], source_file="f.csv")
    store_explanations(method, layer, [ExplanationRecord(unit=2, text="c")], source_file="other.csv")
    result = store_explanations(method, layer, [ExplanationRecord(unit=0, text="a", source_row=1)], source_file="f.csv")
    assert result.deleted == 1 and result.updated == 1  # unit 1 left the file; unit 0 gained its row number
    assert {unit: text for (unit, _), (_, text) in stored(method, layer).items()} == {0: "a", 2: "c"}


@pytest.fixture
def demo_like_study(db, settings, tmp_path):
    """The demo's shape at a small size: the demo methods (and one imported method) on two layers, a study over
    them, and a metric and a simulation score on every explanation the study shows."""
    settings.VAR_DIR = tmp_path / "var"
    ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=40))
    Network.objects.create(name="random-cnn", architecture="demo-cnn", weights_source="random:0")
    run_explain_job("random-cnn", "tiny", LAYERS, DEMO_METHODS, show_progress=False, batch_size=16)
    published = tmp_path / "published.csv"
    published.write_text("layer,unit,description\n" + "".join(f"{layer},{unit},pattern {unit}\n" for layer in LAYERS for unit in range(64)))
    import_explanations(published, "random-cnn", "published", "csv")
    study = create_study("demo-like", network="random-cnn", methods=[*DEMO_METHODS, "published"], layers=LAYERS, per_layer=5, probe="tiny")
    shown = Explanation.objects.filter(pk__in=StudyItem.objects.values("explanation"))
    store_metric_scores(list(shown), [0.5] * len(shown), ["reference"] * len(shown), metric=MetricScore.Metric.TEXT_COSINE, model_name="m")
    for explanation in shown:
        SimulationScore.objects.create(explanation=explanation, llm_model="m", mean=10.0, stop_reason=SimulationScore.StopReason.CI)
    return study, published


def links(study):
    items = StudyItem.objects.filter(study_neuron__study=study)
    return (
        sorted(items.values_list("pk", "explanation")),
        sorted(MetricScore.objects.values_list("pk", "explanation")),
        sorted(SimulationScore.objects.values_list("pk", "explanation")),
    )


def test_rerunning_the_job_and_the_import_keeps_every_study_item_and_score_linked(demo_like_study):
    study, published = demo_like_study
    items, metric_scores, simulation_scores = before = links(study)
    assert len(items) == 2 * 5 * 4 and None not in dict(items).values()
    assert len(metric_scores) == len(simulation_scores) == len(items)

    call_command("explain", "--network", "random-cnn", "--probe", "tiny", "--layers", ",".join(LAYERS),
                 "--methods", ",".join(DEMO_METHODS), "--batch-size", "16", verbosity=0)
    call_command("import_explanations", str(published), "--network", "random-cnn", "--method", "published", "--format", "csv",
                 verbosity=0)
    assert links(study) == before

    # A file that now says something else about a unit changes the text of the same row.
    published.write_text(published.read_text().replace("conv4,3,pattern 3", "conv4,3,checkerboard"))
    import_explanations(published, "random-cnn", "published", "csv")
    assert links(study) == before
    assert Explanation.objects.get(method__name="published", neuron__layer__name="conv4", neuron__unit=3).text == "checkerboard"
