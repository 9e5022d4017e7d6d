from dataclasses import dataclass
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from explain import methods as method_registry
from explain.jobs import JobError, run_explain_job
from explain.methods.base import ExplanationMethod, ExplanationRecord
from explain.models import Explanation, Job, Layer, Method, Network, TopImage
from explain.services import store_explanations
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe


@dataclass
class NoteParams:
    note: int = 0  # only handed back in the details


@dataclass
class SourceParams:
    source: str = ""


class MostPresentConceptAmongTopImages(ExplanationMethod):
    """Test-only method: the annotated concept most often present in a unit's top-5 images."""

    name = "test-top-concept"
    kind = "generated"
    params_class = NoteParams

    def explain(self, inputs, units):
        presence = inputs.probe.concept_presence()
        top = inputs.activations.top_indices(5)
        records = []
        for unit in units:
            counts = presence[top[unit]].sum(axis=0)
            best = int(np.argmax(counts))
            records.append(
                ExplanationRecord(
                    unit=unit, text=inputs.probe.concept_names[best], score=counts[best] / 5, score_name="share", details={"params": inputs.params}
                )
            )
        return records


class ReversedUnitsControl(ExplanationMethod):
    """Test-only control: unit u gets the source method's text of unit (n - 1 - u)."""

    name = "test-reversed-control"
    kind = "control"
    params_class = SourceParams

    def explain(self, inputs, units):
        source = {e.neuron.unit: e.text for e in Explanation.objects.filter(method__name=inputs.params["source"], neuron__layer=inputs.layer)}
        n = inputs.layer.unit_count
        return [ExplanationRecord(unit=u, text=source[n - 1 - u], details={"from_unit": n - 1 - u}) for u in units]


@pytest.fixture
def test_methods():
    for cls in (MostPresentConceptAmongTopImages, ReversedUnitsControl):
        method_registry.register(cls)
    yield
    for cls in (MostPresentConceptAmongTopImages, ReversedUnitsControl):
        method_registry._REGISTRY.pop(cls.name, None)


@pytest.fixture
def setup_assets(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=40))
    Network.objects.create(name="random-cnn", architecture="demo-cnn", weights_source="random:0")


def run(**overrides):
    arguments = dict(
        network="random-cnn",
        probe="tiny",
        layers=["conv3", "conv4"],
        methods=["test-reversed-control", "test-top-concept"],
        top_k=10,
        show_progress=False,
        batch_size=16,
    )
    arguments.update(overrides)
    return run_explain_job(**arguments)


def test_job_stores_top_images_and_every_methods_explanation_for_every_unit(setup_assets, test_methods):
    job = run()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.progress_done == job.progress_total > 0 and job.error == ""
    for layer in Layer.objects.filter(network__name="random-cnn"):
        assert layer.unit_count == 64
        assert TopImage.objects.filter(neuron__layer=layer).count() == 64 * 10
        assert Explanation.objects.filter(neuron__layer=layer, method__name="test-top-concept").count() == 64
        assert Explanation.objects.filter(neuron__layer=layer, method__name="test-reversed-control").count() == 64
    # The control ran after the method it shuffles, although it was listed first.
    control = Explanation.objects.get(method__name="test-reversed-control", neuron__layer__name="conv3", neuron__unit=0)
    source = Explanation.objects.get(method__name="test-top-concept", neuron__layer__name="conv3", neuron__unit=63)
    assert control.text == source.text and control.job == job
    top = TopImage.objects.filter(neuron__layer__name="conv4", neuron__unit=5).order_by("rank")
    activations = [t.activation for t in top]
    assert activations == sorted(activations, reverse=True)
    first_map = np.frombuffer(top[0].activation_map, dtype=np.float16).reshape(top[0].map_shape)
    assert first_map.shape == (8, 8) and np.isclose(first_map.astype(np.float32).mean(), activations[0], rtol=1e-2, atol=1e-3)


def test_rerunning_the_job_replaces_rows_instead_of_duplicating_them(setup_assets, test_methods):
    run()
    counts = (TopImage.objects.count(), Explanation.objects.count())
    texts = list(Explanation.objects.order_by("pk").values_list("text", flat=True))
    second = run()
    assert (TopImage.objects.count(), Explanation.objects.count()) == counts == (2 * 64 * 10, 2 * 2 * 64)
    assert sorted(Explanation.objects.values_list("text", flat=True)) == sorted(texts)
    assert set(Explanation.objects.values_list("job", flat=True)) == {second.pk}


def test_unknown_method_fails_the_job_with_a_clear_error_and_stores_nothing(setup_assets, test_methods):
    with pytest.raises(JobError, match="method 'no-such-method' is not available"):
        run(methods=["test-top-concept", "no-such-method"])
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and "no-such-method" in job.error
    assert not Explanation.objects.exists() and not TopImage.objects.exists()


def test_a_method_that_returns_an_empty_text_fails_the_job_and_keeps_what_was_stored(setup_assets, test_methods):
    run(methods=["test-top-concept"], layers=["conv4"])
    before = list(Explanation.objects.values_list("pk", "text", "job"))

    class EmptyForUnitThree(MostPresentConceptAmongTopImages):
        def explain(self, inputs, units):
            return [ExplanationRecord(unit=2, text="red"), ExplanationRecord(unit=3, text="  ")]

    method_registry.register(EmptyForUnitThree)
    with pytest.raises(CommandError, match="test-top-concept: unit 3 of layer random-cnn/conv4: empty explanation"):
        call_command("explain", network="random-cnn", probe="tiny", layers=["conv4"], methods=["test-top-concept"], verbosity=0)
    method_registry.register(MostPresentConceptAmongTopImages)
    assert list(Explanation.objects.values_list("pk", "text", "job")) == before
    assert Job.objects.order_by("pk").last().status == Job.Status.FAILED


def test_command_reports_unknown_layer_as_a_command_error(setup_assets, test_methods):
    with pytest.raises(CommandError, match="no layer 'layer9'"):
        call_command("explain", network="random-cnn", probe="tiny", layers=["layer9"], methods=["test-top-concept"], verbosity=0)
    with pytest.raises(CommandError, match="no network named 'nope'"):
        call_command("explain", network="nope", probe="tiny", layers=["conv4"], methods=["test-top-concept"], verbosity=0)


def test_command_runs_the_job_in_process_and_the_job_page_shows_it(setup_assets, test_methods, client):
    call_command(
        "explain", "--network", "random-cnn", "--probe", "tiny", "--layers", "conv4", "--methods", "test-top-concept", "--top-k", "3", verbosity=0
    )
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED
    assert TopImage.objects.count() == 64 * 3
    url = f"/explain/jobs/{job.pk}/"
    assert client.get(url).status_code == 302  # login required
    client.force_login(User.objects.create_user("researcher"))
    page = client.get(url).content.decode()
    assert "succeeded" in page and "test-top-concept: 64" in page


def test_celery_task_runs_a_queued_job_record(setup_assets, test_methods):
    from explain.jobs import create_job
    from explain.tasks import run_explain_task

    job = create_job("random-cnn", "tiny", ["conv4"], ["test-top-concept"], top_k=2)
    run_explain_task.delay(job.pk)  # eager without a broker
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and Explanation.objects.filter(job=job).count() == 64


def test_queue_without_a_broker_is_refused_with_a_hint(setup_assets, settings):
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(CommandError, match="--queue needs CELERY_BROKER_URL"):
        call_command("explain", network="random-cnn", probe="tiny", layers=["conv4"], methods=["netdissect"], queue=True, verbosity=0)
    assert not Job.objects.exists()


def test_method_params_from_the_command_line_reach_the_method(setup_assets, test_methods):
    call_command(
        "explain", "--network", "random-cnn", "--probe", "tiny", "--layers", "conv4", "--methods", "test-top-concept,test-reversed-control",
        "--param", "test-reversed-control.source=test-top-concept", "--param", "test-top-concept.note=3", verbosity=0,
    )
    job = Job.objects.get()
    assert job.params["method_params"] == {"test-reversed-control": {"source": "test-top-concept"}, "test-top-concept": {"note": 3}}
    assert Explanation.objects.filter(method__name="test-top-concept").first().details == {"params": {"note": 3}}
    assert Explanation.objects.filter(method__name="test-reversed-control").count() == 64


def test_no_maps_keeps_only_the_top_images_maps(setup_assets, test_methods, settings):
    from explain.activations import StoredActivationCache, recording_directory
    from explain.models import ProbeDataset

    call_command("explain", "--network", "random-cnn", "--probe", "tiny", "--layers", "conv4", "--methods", "test-top-concept", "--no-maps", verbosity=0)
    assert TopImage.objects.filter(activation_map__isnull=False).count() == 64 * 10
    directory = recording_directory(Network.objects.get(name="random-cnn"), ProbeDataset.objects.get(name="tiny"), "conv4", "mean")
    assert (directory / "summaries.npy").exists() and not (directory / "maps.npy").exists()
    with pytest.raises(ValueError, match="full activation maps were not stored"):
        StoredActivationCache(directory).maps()


class EvenUnitsOnly(ExplanationMethod):
    """Test-only method that leaves odd units unlabelled, as NetDissect does with dead units."""

    name = "test-even-units"
    kind = "generated"
    label = "first"

    def explain(self, inputs, units):
        return [ExplanationRecord(unit=u, text=f"{self.label} {u}") for u in units if u % 2 == 0]


def test_units_a_method_leaves_unlabelled_are_reported_and_lose_their_stale_label(setup_assets):
    method_registry.register(EvenUnitsOnly)
    try:
        layer_args = dict(network="random-cnn", probe="tiny", layers=["conv4"], methods=["test-even-units"], verbosity=0)
        call_command("explain", **layer_args)
        layer = Layer.objects.get(name="conv4")
        method = Method.objects.get(name="test-even-units")
        store_explanations(method, layer, [ExplanationRecord(unit=1, text="stale")])  # e.g. from an older run
        out = StringIO()

        call_command("explain", stdout=out, **layer_args)

        assert "test-even-units: 32 explanations of 64 units (32 left unlabelled)" in out.getvalue()
        assert sorted(Explanation.objects.values_list("neuron__unit", flat=True)) == list(range(0, 64, 2))
    finally:
        method_registry._REGISTRY.pop(EvenUnitsOnly.name, None)
