from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evaluation.collection import adaptive_settings
from evaluation.models import Study, StudyImage, StudyItem
from evaluation.services import StudyError, create_study
from explain.models import Explanation, Method, Neuron, TopImage

from .conftest import METHOD_NAMES


def units(study, layer):
    return sorted(sn.neuron.unit for sn in study.study_neurons.filter(neuron__layer__name=layer))


@pytest.mark.django_db
def test_neurons_are_sampled_per_layer_reproducibly_from_the_seed(explained_network):
    a = create_study("a", network=explained_network, methods=METHOD_NAMES, per_layer=3, seed=7)
    b = create_study("b", network=explained_network, methods=METHOD_NAMES, per_layer=3, seed=7)
    c = create_study("c", network=explained_network, methods=METHOD_NAMES, layers=["layer2"], per_layer=3, seed=7)
    assert units(a, "layer1") == units(b, "layer1") and len(units(a, "layer1")) == 3
    assert units(a, "layer2") == units(c, "layer2")  # a layer's sample does not depend on the other layers
    assert a.seed == 7 and a.study_methods.count() == 3
    seeds = {tuple(units(create_study(f"s{s}", network=explained_network, methods=METHOD_NAMES, per_layer=3, seed=s), "layer1")) for s in range(6)}
    assert len(seeds) > 1


@pytest.mark.django_db
def test_only_neurons_with_every_explanation_and_top_images_are_eligible(explained_network):
    Explanation.objects.filter(neuron__unit=0, method__name="netdissect").delete()
    TopImage.objects.filter(neuron__unit=1).delete()
    study = create_study("elig", network=explained_network, methods=METHOD_NAMES, per_layer=100)
    assert units(study, "layer1") == [2, 3, 4, 5]
    assert [s.eligible for s in study.layer_selections] == [4, 4]


@pytest.mark.django_db
def test_explanation_rank_picks_which_label_is_shown(explained_network):
    for neuron in Neuron.objects.all():
        Explanation.objects.create(method=Method.objects.get(name="netdissect"), neuron=neuron, rank=2, text="second label")
    study = create_study("rank", network=explained_network, methods=METHOD_NAMES, per_layer=2, explanation_rank={"netdissect": 2})
    assert set(StudyItem.objects.filter(study_neuron__study=study, method__name="netdissect").values_list("text", flat=True)) == {"second label"}


@pytest.mark.django_db
def test_study_freezes_texts_and_images(explained_network):
    study = create_study("frozen", network=explained_network, methods=METHOD_NAMES, per_layer=2, images_per_task=4)
    before = list(StudyItem.objects.filter(study_neuron__study=study).values_list("text", flat=True))
    images_before = list(StudyImage.objects.filter(study_neuron__study=study).values_list("image", flat=True))
    Explanation.objects.update(text="rewritten by a re-import")
    TopImage.objects.all().delete()
    assert list(StudyItem.objects.filter(study_neuron__study=study).values_list("text", flat=True)) == before
    assert list(StudyImage.objects.filter(study_neuron__study=study).values_list("image", flat=True)) == images_before
    assert len(images_before) == 4 * 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"methods": ["netdissect"]}, "2 to 8 methods, got 1"),
        ({"methods": ["netdissect", "milan"]}, "unknown method(s): milan"),
        ({"layers": ["layer9"]}, "no layer(s) layer9"),
        ({"network": "resnet50"}, "no network named 'resnet50'"),
    ],
)
def test_bad_requests_name_the_problem(explained_network, kwargs, message):
    arguments = {"network": explained_network, "methods": METHOD_NAMES, **kwargs}
    with pytest.raises(StudyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_study("bad", **arguments)
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_layer_without_eligible_neurons_is_an_error(explained_network):
    Explanation.objects.filter(neuron__layer__name="layer2", method__name="shuffled-control").delete()
    with pytest.raises(StudyError, match="layer 'layer2' has no neuron"):
        create_study("bad", network=explained_network, methods=METHOD_NAMES)


@pytest.mark.django_db
def test_create_study_command(explained_network):
    out = StringIO()
    call_command(
        "create_study", "cmd", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES), "--layers", "layer1,layer2",
        "--per-layer", "4", "--raters", "2", "--seed", "3", stdout=out,
    )
    study = Study.objects.get(name="cmd")
    assert study.study_neurons.count() == 8 and study.raters_per_neuron == 2 and study.status == "open"
    assert "Created study 'cmd'" in out.getvalue() and "layer1: 4 neurons" in out.getvalue()
    with pytest.raises(CommandError, match="a study named 'cmd' already exists"):
        call_command("create_study", "cmd", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES))


@pytest.mark.django_db
def test_create_study_command_sets_up_adaptive_collection(explained_network):
    call_command(
        "create_study", "adaptive", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES), "--per-layer", "4",
        "--raters", "3", "--adaptive", "--target-half-width", "0.1", "--budget-money", "25", "--cost-per-response", "0.12",
        "--draw-neurons", "--start-neurons", "5", stdout=StringIO(),
    )
    study = Study.objects.get(name="adaptive")
    assert (study.collection, study.adaptive_min_raters, study.adaptive_target_half_width) == ("adaptive", 2, 0.1)
    assert study.adaptive_draw_neurons and study.adaptive_start_neurons == 5
    assert adaptive_settings(study).budget_responses == 208  # $25 at $0.12 a response
    with pytest.raises(CommandError, match="needs a target CI half-width or a budget"):
        call_command("create_study", "no-stop", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES), "--adaptive")


@pytest.mark.django_db
def test_invite_raters_command_prints_working_links(client, small_study):
    out = StringIO()
    call_command("invite_raters", "--study", "small", "--count", "3", stdout=out)
    links = out.getvalue().split()
    assert len(links) == 3 and len(set(links)) == 3
    assert all(link.startswith("http://127.0.0.1:8000/r/") for link in links)
    assert client.get(links[0].replace("http://127.0.0.1:8000", "")).status_code == 200
    with pytest.raises(CommandError, match="no study named 'nope'"):
        call_command("invite_raters", "--study", "nope", "--count", "1")


@pytest.mark.django_db
def test_create_study_command_takes_a_rank_per_method(explained_network):
    for neuron in Neuron.objects.all():
        Explanation.objects.create(method=Method.objects.get(name="shuffled-control"), neuron=neuron, rank=2, text="runner-up")
    call_command(
        "create_study", "ranks", "--network", "tiny-cnn", "--methods", ",".join(METHOD_NAMES), "--per-layer", "1",
        "--rank", "shuffled-control=2", stdout=StringIO(),
    )
    ranks = dict(Study.objects.get(name="ranks").study_methods.values_list("method__name", "explanation_rank"))
    assert ranks == {"netdissect": 1, "clip-dissect-annotations": 1, "shuffled-control": 2}
    assert set(StudyItem.objects.filter(method__name="shuffled-control").values_list("text", flat=True)) == {"runner-up"}
