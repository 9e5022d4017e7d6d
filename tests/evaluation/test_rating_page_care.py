"""What keeps raters careful, over HTTP: the consistency prompt, fresh task pages, honest instructions."""
import re

import pytest
from django.test import Client
from django.urls import reverse

from evaluation.models import Response, Study
from evaluation.services import create_study, invite_raters

from .conftest import METHOD_NAMES
from .helpers import answer, read_task

PROMPT_RE = re.compile(r'name="consistency_prompt" value="([^"]+)"')


def task_url(rater):
    return reverse("evaluation:rater_task", args=[rater.token])


def home_url(rater):
    return reverse("evaluation:rater_home", args=[rater.token])


@pytest.fixture
def prompting_rater(explained_network):
    study = create_study("prompting", network=explained_network, methods=METHOD_NAMES, per_layer=1, consistency_prompt=True)
    return invite_raters(study, 1)[0]


@pytest.mark.django_db
def test_a_best_pick_rated_below_another_is_pointed_out_and_can_be_kept(client, prompting_rater):
    task = read_task(client.get(task_url(prompting_rater)).content.decode())
    inconsistent = answer(task, values=[5, 3, 2], best_index=1)

    prompted = client.post(task_url(prompting_rater), inconsistent)

    html = prompted.content.decode()
    assert prompted.status_code == 200 and Response.objects.count() == 0
    assert "You picked description 2 as the best, but rated description 1 higher (5 against 3)" in html
    assert re.search(rf'name="best" value="{task["slots"][1]}" required checked', html)
    kept = client.post(task_url(prompting_rater), {**inconsistent, "consistency_prompt": PROMPT_RE.search(html).group(1)})

    assert kept.status_code == 302
    response = Response.objects.get()
    assert not response.is_valid
    assert response.consistency_prompt.startswith("You picked description 2 as the best")


@pytest.mark.django_db
def test_a_rater_who_changes_after_the_prompt_is_stored_valid_with_the_prompt_recorded(client, prompting_rater):
    task = read_task(client.get(task_url(prompting_rater)).content.decode())
    html = client.post(task_url(prompting_rater), answer(task, values=[5, 3, 2], best_index=1)).content.decode()

    changed = client.post(
        task_url(prompting_rater), answer(task, values=[5, 3, 2], best_index=0, consistency_prompt=PROMPT_RE.search(html).group(1))
    )

    assert changed.status_code == 302
    response = Response.objects.get()
    assert response.is_valid and "rated description 1 higher" in response.consistency_prompt


@pytest.mark.django_db
def test_a_forged_prompt_is_refused(client, prompting_rater):
    task = read_task(client.get(task_url(prompting_rater)).content.decode())
    page = client.post(task_url(prompting_rater), answer(task, values=[5, 3, 2], best_index=1, consistency_prompt="I was warned"))
    assert page.status_code == 400 and "altered" in page.content.decode() and Response.objects.count() == 0


@pytest.mark.django_db
def test_without_the_setting_an_inconsistent_answer_is_stored_silently_as_the_reference_did(client, rater):
    task = read_task(client.get(task_url(rater)).content.decode())
    assert client.post(task_url(rater), answer(task, values=[5, 3, 2], best_index=1)).status_code == 302
    response = Response.objects.get()
    assert not response.is_valid and response.consistency_prompt == ""


@pytest.mark.django_db
def test_task_pages_are_never_stored_and_the_form_is_not_autofilled(client, rater):
    page = client.get(task_url(rater))
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert re.search(r'<form[^>]*autocomplete="off"', html)
    assert html.count("<h1") == 1
    assert len(re.findall(r'role="radiogroup" aria-labelledby="[^"]+"', html)) == 3 + 1


@pytest.mark.django_db
def test_instructions_give_the_number_of_tasks_and_the_expected_time(client, rater):
    html = client.get(home_url(rater)).content.decode()
    assert "There are up to 6 tasks" in html
    assert "about 30 seconds a task, about 3 minutes for all of them (an estimate until answers are timed)" in html


@pytest.mark.django_db
def test_instructions_use_recorded_times_once_there_are_enough(client, small_study):
    raters = invite_raters(small_study, 2)
    for _ in range(5):
        task = read_task(client.get(task_url(raters[0])).content.decode())
        client.post(task_url(raters[0]), answer(task))
    Response.objects.update(seconds=60)

    html = Client().get(home_url(raters[1])).content.decode()

    assert "about 60 seconds a task, about 6 minutes for all of them (the median of 5 answers so far)" in html


@pytest.mark.django_db
def test_a_rater_with_nothing_left_sees_the_thank_you_page_not_continue(client, explained_network):
    study = create_study("tiny", network=explained_network, methods=METHOD_NAMES, per_layer=1, raters_per_neuron=1)
    rater = invite_raters(study, 1)[0]
    for _ in range(2):
        client.post(task_url(rater), answer(read_task(client.get(task_url(rater)).content.decode())))

    html = client.get(home_url(rater)).content.decode()

    assert "Thank you" in html and "Continue" not in html
    assert "You rated 2 tasks" in html


@pytest.mark.django_db
def test_descriptions_are_escaped_in_the_prompt_page_too(client, prompting_rater):
    Study.objects.update(title="<i>study</i>")
    from evaluation.models import StudyItem

    StudyItem.objects.update(text='<script>alert("x")</script>')
    task = read_task(client.get(task_url(prompting_rater)).content.decode())
    html = client.post(task_url(prompting_rater), answer(task, values=[5, 3, 2], best_index=1)).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html and "<i>study</i>" not in html
