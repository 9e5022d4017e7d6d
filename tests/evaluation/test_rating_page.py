import re

import pytest
from django.test import Client
from django.urls import reverse

from evaluation.models import Assignment, StudyItem
from evaluation.services import BEST_QUESTION, RATING_QUESTION, SCALE_LABELS, create_study, invite_raters
from explain.models import Explanation

from .conftest import METHOD_NAMES, build_explained_network
from .helpers import read_task


def task_url(rater):
    return reverse("evaluation:rater_task", args=[rater.token])


@pytest.mark.django_db
def test_rater_link_opens_instructions_then_a_task_with_images_and_descriptions(client, rater):
    home = client.get(reverse("evaluation:rater_home", args=[rater.token]))
    assert home.status_code == 200
    assert "up to 6 tasks" in home.content.decode()

    page = client.get(task_url(rater)).content.decode()
    task = read_task(page)
    assert page.count('<img src="/media/probes/tiny-') == 10
    assert len(task["slots"]) == 3
    assert RATING_QUESTION in page and BEST_QUESTION in page
    for _, label in SCALE_LABELS:
        assert page.count(label) >= 3
    assert "The images share no clear concept" in page and "None of the descriptions fit" in page
    assert "1 of 6" in page


@pytest.mark.django_db
def test_form_fields_carry_only_opaque_tokens(client, rater):
    page = client.get(task_url(rater)).content.decode()
    assignment = Assignment.objects.get(rater=rater)
    slot_tokens = set(assignment.slots.values_list("token", flat=True))
    allowed_names = {"task", "best", "uninterpretable", "none_fit", "visible_seconds", "csrfmiddlewaretoken"} | {f"rating-{t}" for t in slot_tokens}
    fields = re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    assert fields and {name for name, _ in fields} <= allowed_names
    for name, value in fields:
        if name.startswith("rating-"):
            assert value in {"1", "2", "3", "4", "5"}
        elif name == "best":
            assert value in slot_tokens
        elif name == "task":
            assert value == assignment.token
    ids = {str(pk) for pk in StudyItem.objects.values_list("pk", flat=True)} | {
        str(pk) for pk in StudyItem.objects.values_list("explanation_id", flat=True)
    }
    assert all(not token.isdigit() and token not in ids for token in slot_tokens | {assignment.token})
    outside_descriptions = re.sub(r"<q[^>]*>.*?</q>", "", page, flags=re.S)
    for name in METHOD_NAMES:
        assert name not in outside_descriptions


@pytest.mark.django_db
def test_method_names_stay_hidden_when_descriptions_are_neutral(client):
    network = build_explained_network(texts={name: f"stripes {i}" for i, name in enumerate(METHOD_NAMES)})
    study = create_study("neutral", network=network, methods=METHOD_NAMES, per_layer=2)
    rater = invite_raters(study, 1)[0]
    response = client.get(task_url(rater))
    page = response.content.decode()
    assert "stripes 0" in page
    for name in METHOD_NAMES + ["dissect", "shuffled", "control"]:
        assert name.lower() not in page.lower()
        assert name.lower() not in response.request["PATH_INFO"].lower()


@pytest.mark.django_db
def test_every_description_is_html_escaped(client):
    network = build_explained_network(texts={"netdissect": '<script>alert("x")</script> & <b>bold</b>'})
    study = create_study("escape", network=network, methods=METHOD_NAMES, per_layer=1)
    rater = invite_raters(study, 1)[0]
    page = client.get(task_url(rater)).content.decode()
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


@pytest.mark.django_db
def test_descriptions_are_shuffled_per_response_and_positions_stored(explained_network):
    study = create_study("shuffle", network=explained_network, methods=METHOD_NAMES, per_layer=1, raters_per_neuron=30)
    orders = set()
    for rater in invite_raters(study, 30):
        page = Client().get(task_url(rater)).content.decode()
        texts = tuple(t.split(" says")[0] for t in read_task(page)["texts"])
        assignment = Assignment.objects.get(rater=rater)
        assert texts == tuple(s.item.method.name for s in assignment.slots.order_by("position"))
        orders.add(texts)
    assert len(orders) > 1


@pytest.mark.django_db
def test_study_shows_the_texts_frozen_at_creation(client, rater):
    Explanation.objects.update(text="re-imported text")
    page = client.get(task_url(rater)).content.decode()
    assert "re-imported text" not in page
    assert " says layer" in page


@pytest.mark.django_db
def test_unknown_rater_link_is_404(client, small_study):
    assert client.get(reverse("evaluation:rater_task", args=["not-a-token"])).status_code == 404


@pytest.mark.django_db
def test_submission_without_csrf_token_is_rejected(rater):
    browser = Client(enforce_csrf_checks=True)
    task = read_task(browser.get(task_url(rater)).content.decode())
    data = {"task": task["task"], "best": task["slots"][0], **{f"rating-{t}": "3" for t in task["slots"]}}
    assert browser.post(task_url(rater), data).status_code == 403
    data["csrfmiddlewaretoken"] = task["csrf"]
    assert browser.post(task_url(rater), data).status_code == 302


@pytest.mark.django_db
def test_rater_resumes_with_the_same_link_in_a_new_browser(rater):
    from .helpers import answer

    first_visit = Client()
    task = read_task(first_visit.get(task_url(rater)).content.decode())
    assert first_visit.post(task_url(rater), answer(task)).status_code == 302
    second_task = read_task(first_visit.get(task_url(rater)).content.decode())

    later = Client()  # no cookies: only the link is shared
    home = later.get(reverse("evaluation:rater_home", args=[rater.token])).content.decode()
    assert "You have done 1 of up to 6 tasks" in home and "Continue" in home
    page = later.get(task_url(rater)).content.decode()
    assert "2 of 6" in page
    assert read_task(page)["slots"] == second_task["slots"]  # the reserved task, in the same order
