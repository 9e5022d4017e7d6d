"""Every refused submission: status, a message naming the problem, nothing stored."""
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from evaluation.models import Assignment, Rater, Rating, Response
from evaluation.services import invite_raters

from .helpers import answer, read_task


class CaptureQueries:
    """The SQL a block runs (Django's CaptureQueriesContext, without the debug cursor's side effects on counts)."""

    def __enter__(self):
        from django.test.utils import CaptureQueriesContext

        self._context = CaptureQueriesContext(connection)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        self.captured = self._context.captured_queries


pytestmark = pytest.mark.submission_safety


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
@pytest.mark.parametrize("bad_value", [
    "0", "6", "-1", "five", "3.5",
    # Look-alikes that int() would take as 5: only an ASCII digit is a rating.
    "+5", "\u0665", "0_5", " 5 5", "05", "\uff15",
])
def test_a_rating_that_is_not_one_of_the_digits_one_to_five_is_refused(client, rater, open_task, bad_value):
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
def test_unanswered_best_is_refused_and_uses_no_place(client, rater, open_task):
    assert_refused(post(client, rater, answer(open_task, best_index=None)), 400, "pick the description that best describes")
    assert Assignment.objects.get(rater=rater).status == Assignment.Status.RESERVED  # still the rater's to answer
    assert post(client, rater, answer(open_task)).status_code == 302


@pytest.mark.django_db
def test_a_megabyte_value_is_refused_and_never_echoed(client, rater, open_task):
    data = answer(open_task)
    data[f"rating-{open_task['slots'][0]}"] = "7" * 1_000_000
    page = post(client, rater, data)
    assert_refused(page, 400, "a value of 1000000 characters")
    assert len(page.content) < 100_000


def table_counts():
    return {model.__name__: model.objects.count() for model in (Rater, Assignment, Response, Rating)}


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_a_form_in_another_charset_is_refused(client, rater, open_task, charset):
    before = table_counts()
    body = "&".join(f"{key}={value}" for key, value in answer(open_task).items())  # the client encodes it in `charset`
    page = client.post(task_url(rater), body, content_type=f"application/x-www-form-urlencoded; charset={charset}")
    assert page.status_code == 400
    assert "Forms must be sent as UTF-8" in page.content.decode()
    assert table_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["field", "rating", "token", "query", "path"])
def test_a_nul_byte_anywhere_is_refused_before_any_query(client, rater, open_task, where):
    before = table_counts()
    data = answer(open_task)
    url = task_url(rater)
    if where == "field":
        data["best"] = "x\x00y"
    elif where == "rating":
        data[f"rating-{open_task['slots'][0]}"] = "5\x00"
    elif where == "token":
        data["task"] = open_task["task"] + "\x00"
    elif where == "query":
        url += "?next=%00"
    else:
        url = reverse("evaluation:rater_task", args=[rater.token + "%00"]).replace("%2500", "%00")
    with CaptureQueries() as queries:
        page = client.post(url, data)
    assert page.status_code == 400
    assert "NUL" in page.content.decode()
    assert table_counts() == before
    assert not [q for q in queries.captured if "evaluation_" in q["sql"]]


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


@pytest.mark.django_db
@pytest.mark.crowd
def test_the_open_link_limits_new_raters_per_address(small_study, settings):
    from evaluation.services import enable_open_link

    settings.NEW_RATERS_PER_CLIENT = 3
    enable_open_link(small_study)
    url = reverse("evaluation:open_link", args=[small_study.open_link_token])
    codes = [Client().get(url).status_code for _ in range(5)]  # a fresh browser each time
    assert codes == [302, 302, 302, 429, 429]
    assert Rater.objects.filter(kind=Rater.Kind.OPEN).count() == 3
    assert Client(REMOTE_ADDR="203.0.113.7").get(url).status_code == 302


@pytest.mark.django_db
@pytest.mark.crowd
def test_behind_the_proxy_the_limit_counts_each_client_and_a_forged_header_does_not_escape_it(small_study, settings):
    from evaluation.services import enable_open_link

    settings.NEW_RATERS_PER_CLIENT = 2
    settings.TRUSTED_PROXY_COUNT = 1
    enable_open_link(small_study)
    url = reverse("evaluation:open_link", args=[small_study.open_link_token])
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # Whatever the client puts in front, nginx appends the address it saw: the client is still 203.0.113.9.
    forged = [Client(**proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.9").get(url).status_code for n in range(3)]
    assert forged == [302, 302, 429]
    assert Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.10").get(url).status_code == 302
    assert Rater.objects.filter(kind=Rater.Kind.OPEN).count() == 3


@pytest.mark.django_db
@pytest.mark.crowd
def test_the_nothing_left_page_tells_reserved_from_done(client, small_study):
    """K=1 would be exhausted by reservations: the next rater is told to come back, not that all is done."""
    small_study.raters_per_neuron = 1
    small_study.save()
    first, second = invite_raters(small_study, 2)
    holders = [r for r in invite_raters(small_study, small_study.study_neurons.count())]
    for holder in holders:
        Client().get(task_url(holder))

    page = client.get(task_url(second)).content.decode()

    assert "All remaining tasks are being worked on by other raters; try again in 30 minutes" in page
    assert "nothing left for you" not in page
    Assignment.objects.update(status=Assignment.Status.EXPIRED)
    assert "being worked on" not in client.get(task_url(first)).content.decode()
