"""Attention checks: the rule as plain functions, then a careful and a random rater played through a study."""
import io
import json
import random
import re

import pandas as pd

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from rest_framework.test import APIClient

from analysis.frames import ratings_frame
from analysis.ratings_io import export_ratings
from analysis.report import build_report
from analysis.services import agreement_for_study, comparison_for_study, pairwise_for_frame
from api.tokens import create_token
from evaluation import checks
from evaluation.models import Assignment, Response, Study, rater_name
from evaluation.services import StudyError, create_study, invite_raters, rater_quality, study_progress
from explain.models import Explanation, Method

from .conftest import METHOD_NAMES, build_explained_network
from .helpers import answer, read_task

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "black", "white"]
SHAPES = ["circle", "square", "triangle", "star", "heart", "cross", "ring", "arrow", "moon", "diamond"]
IMAGE_RE = re.compile(r'data-full="[^"]*/tiny-(\d+)[^"]*\.png"')


def test_content_words_ignore_case_plurals_and_function_words():
    assert checks.content_words("Red circles and a BLUE square") == {"red", "circle", "blue", "square"}
    assert checks.content_words("glass") == {"glass"}


def test_one_check_in_each_full_block_at_a_place_that_differs_between_raters():
    every, real = 10, 27  # 27 real tasks: three blocks of nine real tasks and one check
    for token in ("rater-a", "rater-b", "rater-c"):
        due = [n for n in range(40) if checks.check_due(token, n, real, every)]
        assert len(due) == checks.checks_planned(real, every) == 3
        assert [n // every for n in due] == [0, 1, 2]
    places = {tuple(n for n in range(40) if checks.check_due(f"r{i}", n, real, every)) for i in range(20)}
    assert len(places) > 1


def test_check_passes_only_with_decoys_rated_low_and_the_own_description_picked():
    ratings = {"own": 4, "decoy1": 1, "decoy2": 2}
    decoys = ["decoy1", "decoy2"]
    assert checks.check_passed(ratings, decoys, "own", "own", ask_best=True, none_fit=False)
    assert not checks.check_passed({**ratings, "decoy2": 3}, decoys, "own", "own", ask_best=True, none_fit=False)
    assert not checks.check_passed(ratings, decoys, "own", "decoy1", ask_best=True, none_fit=False)
    # "None of the descriptions fit" is an honest answer when the own description is poor.
    assert checks.check_passed({**ratings, "own": 1}, decoys, "own", "decoy1", ask_best=True, none_fit=True)
    assert checks.check_passed(ratings, decoys, "own", None, ask_best=False, none_fit=False)


def concept(unit):
    return f"{COLOURS[unit]} {SHAPES[unit]}"


def build_concept_network():
    """Ten units, each with four images of its own (unit u shows probe images u..u+3) and one concept:
    netdissect names its colour, clip-dissect its colour and shape, the shuffled control another unit's."""
    network = build_explained_network(layers=("layer1",), units_per_layer=10, images=40, top_k=4)
    Method.objects.filter(name="shuffled-control").update(kind=Method.Kind.CONTROL)
    for explanation in Explanation.objects.select_related("method", "neuron"):
        unit = explanation.neuron.unit
        explanation.text = {
            "netdissect": COLOURS[unit],
            "clip-dissect-annotations": concept(unit),
            "shuffled-control": concept((unit + 5) % 10),
        }[explanation.method.name]
        explanation.save()
    return network


def careful_answer(page, task):
    """Rate as someone who looks: the unit is known from its first image; a description naming the unit's
    colour or shape gets 5, any other 1; the best pick is the highest rated."""
    unit = int(IMAGE_RE.search(page).group(1))
    words = checks.content_words(concept(unit))
    values = [5 if checks.content_words(text) & words else 1 for text in task["texts"]]
    return answer(task, values=values, best_index=values.index(max(values)))


def random_answer(rng):
    def play(page, task):
        return answer(task, values=[rng.randint(1, 5) for _ in task["slots"]], best_index=rng.randrange(len(task["slots"])))

    return play


def page_skeleton(page):
    """The page with what differs between any two tasks blanked out (tokens, texts, image addresses, the counter,
    per-request nonces): what is left is the same for every task, checks included."""
    task = read_task(page)
    for number, token in enumerate(task["slots"]):
        page = page.replace(token, f"SLOT{number}")
    page = re.sub(r"(<q[^>]*>).*?</q>", r"\1TEXT</q>", page, flags=re.S)
    page = page.replace(task["task"], "TASK")
    page = re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', r'\1"X"', page)
    page = re.sub(r'/media/[^"]+\.png', "IMAGE", page)
    return re.sub(r"Task \d+ of", "Task N of", page)


def play_through(rater, choose):
    client = Client()
    url = reverse("evaluation:rater_task", args=[rater.token])
    for _ in range(100):
        page = client.get(url).content.decode()
        task = read_task(page)
        if task["task"] is None:
            return page
        assert client.post(url, choose(page, task)).status_code == 302
    raise AssertionError("the rater never finished")


@pytest.mark.django_db
def test_careful_rater_passes_every_check_random_rater_fails_most_and_no_check_reaches_a_table(tmp_path):
    network = build_concept_network()
    study = create_study("checked", network=network, methods=METHOD_NAMES, per_layer=10, raters_per_neuron=2,
                         images_per_task=4, attention_check_every=3)
    careful, careless = invite_raters(study, 2)

    assert "Thank you" in play_through(careful, careful_answer)
    assert "Thank you" in play_through(careless, random_answer(random.Random(3)))

    quality = {row["rater"].pk: row for row in rater_quality(study)}
    assert quality[careful.pk]["checks"] == 5 and quality[careful.pk]["check_pass_rate"] == 1.0
    assert quality[careless.pk]["checks"] == 5 and quality[careless.pk]["checks_passed"] <= 2
    assert all(row["answers"] == 10 for row in quality.values())
    researcher = Client()
    researcher.force_login(User.objects.create_superuser("lead", password="x"))
    Response.objects.filter(rater=careful).update(seconds=42)  # time on task, shown per rater
    study_page = researcher.get(reverse("evaluation:study_detail", args=[study.name])).content.decode()
    assert "Attention checks passed" in study_page and "5 / 5 (100%)" in study_page
    assert re.search(r"<td>42 s</td>\s*<td>5 / 5 \(100%\)</td>", study_page)

    # Checks never count: not in progress, not in the tidy frame, not in any table.
    checks_stored = Response.objects.filter(is_check=True)
    assert checks_stored.count() == 10 and Response.objects.filter(is_check=False).count() == 20
    assert study_progress(study)["responses"] == 20
    frame = ratings_frame(study)
    assert frame["response_id"].nunique() == 20 and len(frame) == 60
    assert not set(frame["response_id"].astype(str)) & {str(pk) for pk in checks_stored.values_list("pk", flat=True)}
    table = comparison_for_study(study, by_layer=True, n_resamples=50)
    # One layer: every row (per layer and overall, per method) counts the 20 real answers and nothing else.
    assert len(table) == 2 * 3 and ((table["n_valid"] + table["n_invalid"]) == 20).all()
    report = build_report(study, n_resamples=50)
    assert json.loads(report["summary.json"])["responses"] == 20
    downloaded = pd.read_csv(io.BytesIO(report["responses.csv"]))
    assert downloaded["response_id"].nunique() == 20 and len(downloaded) == 60
    pairwise = pairwise_for_frame(frame, n_resamples=50)
    valid_answers = Response.objects.filter(is_check=False, is_valid=True).count()  # the pairwise tables' default
    assert len(pairwise) == 3 and (pairwise["n_responses"] == valid_answers).all()
    agreement = agreement_for_study(study, frame)
    assert agreement["raters"].set_index("rater")["responses"].to_dict() == {
        rater_name(careful.pk, ""): 10, rater_name(careless.pk, ""): 10}
    export_ratings(study, tmp_path / "ratings.csv")
    exported = pd.read_csv(tmp_path / "ratings.csv")
    assert exported["response_id"].nunique() == 20 and len(exported) == 60
    assert not set(exported["response_id"].astype(str)) & {str(pk) for pk in checks_stored.values_list("pk", flat=True)}
    _, secret = create_token(User.objects.get(username="lead"), "tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = api.get(f"/api/v1/studies/{study.name}/responses/", {"page_size": 100}).json()
    assert listed["next"] is None and len(listed["results"]) == 20
    assert not {row["id"] for row in listed["results"]} & set(checks_stored.values_list("pk", flat=True))

    # The researcher's pages: a neuron a check was built on shows only its real answers and their means; the
    # rater's page counts answers and checks apart.
    checked = checks_stored.values_list("study_neuron", flat=True).first()
    neuron = study.study_neurons.select_related("neuron__layer").get(pk=checked)
    neuron_page = researcher.get(reverse("evaluation:neuron_detail", args=[study.name, neuron.neuron.layer.name, neuron.neuron.unit]))
    real = Response.objects.filter(study_neuron=neuron, is_check=False)
    assert neuron_page.context["rows"] and {row["response"].pk for row in neuron_page.context["rows"]} == set(real.values_list("pk", flat=True))
    for item in neuron_page.context["items"]:
        values = list(item.ratings.filter(response__in=real).values_list("value", flat=True))
        assert item.mean_rating == pytest.approx(sum(values) / len(values))
    rater_page = researcher.get(reverse("evaluation:rater_detail", args=[study.name, careless.pk]))
    counts = rater_page.context["counts"]
    assert counts["responses"] == 10 and counts["checks"] == 5 and counts["checks_passed"] == quality[careless.pk]["checks_passed"]
    assert rater_page.content.decode().count("attention check, ") == 5


@pytest.mark.django_db
def test_a_check_looks_like_a_task_and_its_decoys_share_no_word_or_image_with_the_neuron():
    network = build_concept_network()
    study = create_study("looks", network=network, methods=METHOD_NAMES, per_layer=10, images_per_task=4,
                         attention_check_every=2)
    rater = invite_raters(study, 1)[0]
    client = Client()
    url = reverse("evaluation:rater_task", args=[rater.token])
    pages = []
    for _ in range(2):
        page = client.get(url).content.decode()
        pages.append(page)
        client.post(url, careful_answer(page, read_task(page)))

    check = Assignment.objects.get(is_check=True)
    check_page = pages[[a.is_check for a in Assignment.objects.order_by("reserved_at")].index(True)]
    task = read_task(check_page)
    assert len(task["slots"]) == 3 and check_page.count("<img src=") == 4
    assert "check" not in check_page.lower().replace("checkbox", "").replace("checked", "")
    normal_page = pages[1 - pages.index(check_page)]
    assert page_skeleton(check_page) == page_skeleton(normal_page), "something on the page tells a check apart"
    own_words = set().union(*(checks.content_words(i.text) for i in check.study_neuron.items.all()))
    own_images = set(check.study_neuron.images.values_list("image_id", flat=True))
    decoys = [slot.item for slot in check.slots.select_related("item__study_neuron") if slot.item.study_neuron_id != check.study_neuron_id]
    assert len(decoys) == 2
    for decoy in decoys:
        assert not checks.content_words(decoy.text) & own_words
        assert not set(decoy.study_neuron.images.values_list("image_id", flat=True)) & own_images
        assert decoy.method.kind != Method.Kind.CONTROL


@pytest.mark.django_db
def test_a_study_whose_material_allows_no_check_is_refused_with_checks_on():
    network = build_explained_network(layers=("layer1",), units_per_layer=3)  # every unit shares images
    with pytest.raises(StudyError, match="attention checks need"):
        create_study("nochecks", network=network, methods=METHOD_NAMES, per_layer=3, attention_check_every=5)
    with pytest.raises(StudyError, match="N >= 2"):
        create_study("everytask", network=network, methods=METHOD_NAMES, per_layer=3, attention_check_every=1)


@pytest.mark.django_db
def test_both_settings_are_off_by_default_and_set_the_same_through_the_command_the_builder_and_the_api():
    from django.core.management import call_command

    network = build_concept_network()
    assert (Study._meta.get_field("attention_check_every").default, Study._meta.get_field("consistency_prompt").default) == (0, False)
    plain = create_study("plain", network=network, methods=METHOD_NAMES, per_layer=10)
    assert (plain.attention_check_every, plain.consistency_prompt) == (0, False)

    call_command("create_study", "by-command", "--network", network.name, "--methods", ",".join(METHOD_NAMES), "--per-layer", "10",
                 "--attention-checks", "4", "--consistency-prompt", stdout=io.StringIO())
    researcher = Client()
    researcher.force_login(User.objects.create_superuser("lead", password="x"))
    built = researcher.post(reverse("evaluation:study_builder"), {
        "network": network.name, "methods": METHOD_NAMES, "layers": ["layer1"], "selection": "random", "per_layer": "10",
        "seed": "0", "raters_per_neuron": "2", "images_per_task": "4", "ask_best": "on", "name": "by-builder",
        "attention_check_every": "4", "consistency_prompt": "on", "action": "create"})
    assert built.status_code == 302, built.content.decode()
    _, secret = create_token(User.objects.get(username="lead"), "tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    created = api.post("/api/v1/studies/", {"name": "by-api", "network": network.name, "methods": METHOD_NAMES,
                                            "per_layer": 10, "attention_check_every": 4, "consistency_prompt": True},
                       format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["attention_check_every"], created.json()["consistency_prompt"]) == (4, True)

    settings = dict((name, (a, c)) for name, a, c in Study.objects.values_list("name", "attention_check_every", "consistency_prompt"))
    assert settings == {"plain": (0, False), "by-command": (4, True), "by-builder": (4, True), "by-api": (4, True)}
    # The builder and the API refuse what create_study refuses: a check every task.
    refused = api.post("/api/v1/studies/", {"name": "every-task", "network": network.name, "methods": METHOD_NAMES,
                                            "per_layer": 10, "attention_check_every": 1}, format="json")
    assert refused.status_code == 422 and "N >= 2" in refused.json()["detail"]
    assert not Study.objects.filter(name="every-task").exists()
