"""Every refused submission: status, a message naming the problem, nothing stored."""
import pytest
from django.test import Client
from django.urls import reverse

from evaluation.models import Assignment, Rating, Response
from evaluation.services import invite_raters

from .helpers import answer, read_task


def task_url(rater):
    return reverse("evaluation:rater_task", args=[rater.token])


@pytest.fixture
def open_task(client, rater):
    """The rater's first task as the browser sees it."""
    return read_task(client.get(task_url(rater)).content.decode())


def post(client, rater, data):
    return client.post(task_url(rater), data)


def assert_refused(response, status, message):
    assert response.status_code == status
    assert message in response.content.decode()
    assert Response.objects.count() == 0
    assert Rating.objects.count() == 0


@pytest.mark.django_db
def test_valid_submission_is_stored_once_with_positions(client, rater, open_task):
    response = post(client, rater, answer(open_task, values=[4, 5, 2], best_index=1))
    assert response.status_code == 302
    stored = Response.objects.get()
    assert stored.is_valid and stored.invalid_reason == ""
    assert [r.value for r in stored.ratings.order_by("position")] == [4, 5, 2]
    assert [r.position for r in stored.ratings.order_by("position")] == [0, 1, 2]
    assert Assignment.objects.get(rater=rater).status == Assignment.Status.COMPLETED


@pytest.mark.django_db
def test_double_submit_stores_one_response(client, rater, open_task):
    data = answer(open_task)
    assert post(client, rater, data).status_code == 302
    assert post(client, rater, data).status_code == 302
    client.get(task_url(rater))  # the next task is handed out in between
    assert post(client, rater, data).status_code == 302
    assert Response.objects.count() == 1
    assert Rating.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("bad_value", ["0", "6", "-1", "five", "3.5"])
def test_rating_outside_one_to_five_is_refused(client, rater, open_task, bad_value):
    data = answer(open_task)
    data[f"rating-{open_task['slots'][1]}"] = bad_value
    assert_refused(post(client, rater, data), 400, "rating of description 2 must be")


@pytest.mark.django_db
def test_missing_rating_is_refused(client, rater, open_task):
    data = answer(open_task)
    del data[f"rating-{open_task['slots'][2]}"]
    assert_refused(post(client, rater, data), 400, "description 3 has no rating")


@pytest.mark.django_db
def test_best_pick_that_was_not_shown_is_refused(client, rater, open_task):
    data = answer(open_task)
    data["best"] = "not-a-shown-description"
    assert_refused(post(client, rater, data), 400, "the description picked as best was not shown in this task")


@pytest.mark.django_db
def test_stale_slot_token_is_refused(client, rater, open_task):
    data = answer(open_task)
    data["rating-stale0token"] = "3"
    assert_refused(post(client, rater, data), 400, "not part of this task (stale or foreign page)")


@pytest.mark.django_db
def test_foreign_slot_token_is_refused(client, rater, open_task, small_study):
    other = invite_raters(small_study, 1)[0]
    foreign = read_task(Client().get(task_url(other)).content.decode())
    data = answer(open_task)
    data[f"rating-{foreign['slots'][0]}"] = "4"
    assert_refused(post(client, rater, data), 400, "not part of this task (stale or foreign page)")


@pytest.mark.django_db
def test_submission_for_a_neuron_not_given_to_this_rater_is_refused(client, rater, open_task, small_study):
    other = invite_raters(small_study, 1)[0]
    foreign = read_task(Client().get(task_url(other)).content.decode())
    assert_refused(post(client, rater, answer(foreign)), 403, "This task was not given to you")


@pytest.mark.django_db
def test_invalid_but_complete_answer_is_stored_with_its_reason(client, rater, open_task):
    response = post(client, rater, answer(open_task, values=[5, 2, 2], best_index=2))
    assert response.status_code == 302
    stored = Response.objects.get()
    assert not stored.is_valid
    assert stored.invalid_reason == "the description picked as best was rated 2, below the highest rating 5"


@pytest.mark.django_db
def test_unanswered_best_is_stored_as_invalid(client, rater, open_task):
    assert post(client, rater, answer(open_task, best_index=None)).status_code == 302
    stored = Response.objects.get()
    assert not stored.is_valid and stored.invalid_reason == "no description was picked as best"


@pytest.mark.django_db
def test_refused_page_keeps_the_task_for_a_retry(client, rater, open_task):
    data = answer(open_task)
    data[f"rating-{open_task['slots'][0]}"] = "9"
    page = post(client, rater, data).content.decode()
    assert read_task(page)["task"] == open_task["task"]
    assert post(client, rater, answer(open_task)).status_code == 302
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_closed_study_takes_no_answers(client, rater, open_task, small_study):
    small_study.status = "closed"
    small_study.save()
    assert_refused(post(client, rater, answer(open_task)), 400, "this study is closed")
