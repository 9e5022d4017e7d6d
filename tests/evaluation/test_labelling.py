"""Labelling studies: one description, a shuffled mix of top and random images, a yes/no per image."""
import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from evaluation.labelling import answer_rows
from evaluation.models import Assignment, ImageAnswer, Response, Study, StudyImage, StudyNeuron
from evaluation.services import StudyError, claim_next_assignment, create_study, invite_raters
from explain.models import TopImage

from .conftest import METHOD_NAMES, build_explained_network
from .helpers import label_every_image

TEXTS = {"netdissect": "red <b>circles</b>", "clip-dissect-annotations": "round shapes"}
FIELD = re.compile(r'name="(shows-\d+)"')


@pytest.fixture
def network(db):
    # 20 probing images, each unit's top 10 of them.
    return build_explained_network(layers=("layer1",), units_per_layer=2, images=20, texts=TEXTS)


@pytest.fixture
def labelling(network):
    return create_study("labels", network=network, methods=METHOD_NAMES[:2], per_layer=2, kind="labelling",
                        top_images_per_task=3, random_images_per_task=2, raters_per_neuron=1, seed=4)


def test_a_labelling_study_has_one_task_per_neuron_and_description_over_top_and_random_images(labelling):
    assert labelling.kind == Study.Kind.LABELLING and not labelling.ask_best and labelling.images_per_task == 5
    tasks = list(labelling.study_neurons.select_related("method", "neuron"))
    assert sorted((t.neuron.unit, t.method.name) for t in tasks) == sorted(
        (unit, method) for unit in (0, 1) for method in METHOD_NAMES[:2])
    for task in tasks:
        (item,) = task.items.all()
        assert item.method == task.method
        images = list(task.images.order_by("position"))
        samples = [image.sample for image in images]
        assert sorted(samples) == ["random", "random", "top", "top", "top"]
        top = set(TopImage.objects.filter(neuron=task.neuron, rank__lt=3).values_list("image_id", flat=True))
        assert {i.image_id for i in images if i.sample == "top"} == top
        assert not {i.image_id for i in images if i.sample == "random"} & top
    # Every description of a neuron is asked about the same images.
    by_neuron = {}
    for task in tasks:
        by_neuron.setdefault(task.neuron_id, []).append(frozenset(task.images.values_list("image_id", flat=True)))
    assert all(len(set(sets)) == 1 for sets in by_neuron.values())


def test_the_mix_is_shuffled_with_the_study_seed(network):
    def shown(name, seed):
        study = create_study(name, network=network, methods=METHOD_NAMES[:1], per_layer=2, kind="labelling",
                             top_images_per_task=4, random_images_per_task=4, seed=seed)
        return [list(sn.images.order_by("position").values_list("image_id", "sample"))
                for sn in study.study_neurons.order_by("neuron__unit")]

    first, again, other = shown("a", 1), shown("b", 1), shown("c", 2)
    assert first == again and first != other
    # top images are not simply shown first
    assert any([sample for _, sample in task] != ["top"] * 4 + ["random"] * 4 for task in first + other)


def test_rating_studies_are_unchanged_and_a_neuron_appears_once(network):
    study = create_study("rate", network=network, methods=METHOD_NAMES, per_layer=2)
    assert study.kind == Study.Kind.RATING and study.top_images_per_task == 0
    assert set(StudyImage.objects.filter(study_neuron__study=study).values_list("sample", flat=True)) == {"top"}
    first = study.study_neurons.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyNeuron.objects.create(study=study, neuron=first.neuron, order=99)


@pytest.mark.parametrize("options, message", [
    ({"kind": "labelling", "top_images_per_task": 0, "random_images_per_task": 0}, "1 to 50 images"),
    ({"kind": "labelling", "top_images_per_task": -1}, "cannot be negative"),
    ({"kind": "labelling", "attention_check_every": 5}, "attention checks"),
    ({"kind": "labelling", "consistency_prompt": True}, "consistency prompt"),
    ({"kind": "rating", "random_images_per_task": 3}, "labelling studies"),
    ({"kind": "survey"}, "unknown study kind 'survey'"),
])
def test_impossible_labelling_options_are_refused_by_name(network, options, message):
    with pytest.raises(StudyError, match=message):
        create_study("bad", network=network, methods=METHOD_NAMES[:2], per_layer=1, **options)
    assert not Study.objects.exists()


def test_a_labelling_study_may_take_one_method_but_a_rating_study_may_not(network):
    with pytest.raises(StudyError, match="a study compares 2 to 8"):
        create_study("one", network=network, methods=METHOD_NAMES[:1], per_layer=1)
    study = create_study("one", network=network, methods=METHOD_NAMES[:1], per_layer=1, kind="labelling")
    assert (study.top_images_per_task, study.random_images_per_task) == (5, 5)


def test_create_study_command_takes_the_kind_and_counts(network):
    out = io.StringIO()
    call_command("create_study", "cmd", "--network", "tiny-cnn", "--methods", "netdissect", "--per-layer", "2",
                 "--kind", "labelling", "--top-images", "2", "--random-images", "1", stdout=out)
    assert "2 tasks (neuron x method), 2 top + 1 random" in out.getvalue()
    with pytest.raises(CommandError, match="top and random image counts are for labelling studies"):
        call_command("create_study", "cmd2", "--network", "tiny-cnn", "--methods", "netdissect,shuffled-control",
                     "--random-images", "3")


def task_page(client, rater):
    page = client.get(f"/r/{rater.token}/task/")
    assert page.status_code == 200
    return page.content.decode()


def test_the_task_page_asks_about_every_image_and_never_names_the_method_or_the_sample(client, labelling):
    rater = invite_raters(labelling, 1)[0]
    html = task_page(client, rater)
    assignment = Assignment.objects.get(rater=rater)
    item = assignment.study_neuron.items.get()
    assert len(set(FIELD.findall(html))) == 5
    assert "Does this image show:" in html
    if item.method.name == "netdissect":
        assert "red &lt;b&gt;circles&lt;/b&gt;" in html and "<b>circles" not in html
    for secret in ["netdissect", "clip-dissect", "random", "sample", item.method.display_name]:
        assert secret.lower() not in html.lower()


def test_an_answer_with_every_image_is_stored_as_rows_with_time_on_task(client, labelling):
    rater = invite_raters(labelling, 1)[0]
    html = task_page(client, rater)
    posted = client.post(f"/r/{rater.token}/task/", label_every_image(html))
    assert posted.status_code == 302
    response = Response.objects.get()
    assert response.is_valid and response.seconds >= 0 and response.ratings.count() == 0
    answers = {a.study_image.position: a.shows for a in response.image_answers.select_related("study_image")}
    assert answers == {position: position % 2 == 1 for position in range(5)}
    assert {a.item for a in response.image_answers.all()} == {response.study_neuron.items.get()}


@pytest.mark.parametrize("change, message", [
    (lambda form: form.pop("shows-2"), "image 3 has no answer"),
    (lambda form: form.update({"shows-0": "maybe"}), "must be yes or no"),
    (lambda form: form.update({"shows-0": "yes\x00"}), ""),
    (lambda form: form.update({"shows-7": "yes"}), "not part of this task"),
    (lambda form: form.update({"shows-00": "yes"}), "not part of this task"),
    (lambda form: form.update({"task": "forged"}), ""),
])
def test_hostile_or_incomplete_answers_are_refused_and_store_nothing(client, labelling, change, message):
    rater = invite_raters(labelling, 1)[0]
    form = label_every_image(task_page(client, rater))
    change(form)
    posted = client.post(f"/r/{rater.token}/task/", form)
    assert 400 <= posted.status_code < 500
    assert message in posted.content.decode()
    assert not Response.objects.exists() and not ImageAnswer.objects.exists()


def test_k_raters_per_description_then_the_study_is_complete(client, labelling):
    first, second = invite_raters(labelling, 2)
    for _ in range(4):
        assert client.post(f"/r/{first.token}/task/", label_every_image(task_page(client, first))).status_code == 302
    # K = 1: the first rater took every task; the second has nothing left.
    assert claim_next_assignment(second) is None
    assert "Thank you" in client.get(f"/r/{first.token}/task/").content.decode()
    assert Response.objects.filter(study=labelling).count() == 4 == labelling.study_neurons.count()


def test_answer_rows_and_the_csv_download_name_image_index_and_sample(client, labelling, django_user_model):
    rater = invite_raters(labelling, 1)[0]
    client.post(f"/r/{rater.token}/task/", label_every_image(task_page(client, rater), choice=lambda n: "yes"))
    rows = answer_rows(labelling)
    response = Response.objects.get()
    images = {i.image.index: i.sample for i in response.study_neuron.images.select_related("image")}
    assert {(row["image"], row["sample"]) for row in rows} == set(images.items())
    assert {row["method"] for row in rows} == {response.study_neuron.method.name}
    assert all(row["answer"] == "yes" and row["layer"] == "layer1" and row["probe"] == "tiny-probe" for row in rows)

    user = django_user_model.objects.create_superuser("admin", password="pw")
    client.force_login(user)
    download = client.get(f"/studies/{labelling.name}/responses.csv")
    table = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(table) == 5 and {row["sample"] for row in table} == {"top", "random"}
    assert set(table[0]) >= {"method", "unit", "image", "answer", "rater", "rank", "sample"}


def test_rating_studies_have_no_image_answers(network):
    study = create_study("rate", network=network, methods=METHOD_NAMES, per_layer=1)
    with pytest.raises(StudyError, match="only labelling studies"):
        answer_rows(study)


def test_researcher_pages_show_a_labelling_study_with_answers(client, labelling, django_user_model):
    rater = invite_raters(labelling, 1)[0]
    client.post(f"/r/{rater.token}/task/", label_every_image(task_page(client, rater)))
    answered = Response.objects.get().study_neuron
    client.force_login(django_user_model.objects.create_superuser("admin", password="pw"))
    study_page = client.get(f"/studies/{labelling.name}/")
    assert study_page.status_code == 200 and "3 top + 2 random images a task" in study_page.content.decode()
    assert client.get(f"/admin/evaluation/study/{labelling.pk}/change/").status_code == 200
    neuron_page = client.get(f"/studies/{labelling.name}/neurons/layer1/{answered.neuron.unit}/")
    assert neuron_page.status_code == 200
    # both descriptions of the neuron (its two task units) are on its page
    assert "round shapes" in neuron_page.content.decode() and "red &lt;b&gt;circles" in neuron_page.content.decode()
    preview = client.get(f"/studies/{labelling.name}/preview/")
    assert preview.status_code == 200 and "Does this image show:" in preview.content.decode()
