"""Time on task: the server's clock from first shown to submitted, the browser's visible time clamped to it,
and both in the tidy export and back through its import."""
import re
from datetime import timedelta

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.frames import ratings_frame
from analysis.ratings_io import export_ratings, import_ratings
from evaluation.models import Assignment, Response

from .helpers import answer, read_task


def task_url(rater):
    return reverse("evaluation:rater_task", args=[rater.token])


def shown_seconds_ago(rater, seconds):
    """Move the current task's first showing back in time, as if the rater had read it that long."""
    Assignment.objects.filter(rater=rater, response__isnull=True).update(
        shown_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db
def test_time_on_task_runs_from_first_shown_to_submitted(client, rater):
    task = read_task(client.get(task_url(rater)).content.decode())
    shown_seconds_ago(rater, 40)
    client.get(task_url(rater))  # a reload does not restart the clock

    client.post(task_url(rater), answer(task, visible_seconds="31.5"))

    response = Response.objects.get()
    assert 40 <= response.seconds < 45
    assert response.visible_seconds == 31.5
    assert response.shown_at == Assignment.objects.get(rater=rater, response=response).shown_at


@pytest.mark.django_db
def test_visible_time_is_never_taken_above_the_servers_clock(client, rater):
    task = read_task(client.get(task_url(rater)).content.decode())
    shown_seconds_ago(rater, 10)

    client.post(task_url(rater), answer(task, visible_seconds="99999"))

    response = Response.objects.get()
    assert response.visible_seconds == response.seconds and 10 <= response.seconds < 15


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["soon", "nan", "inf"])
def test_a_visible_time_that_is_not_a_number_is_refused_and_choices_are_kept(client, rater, sent):
    task = read_task(client.get(task_url(rater)).content.decode())

    page = client.post(task_url(rater), answer(task, values=[2, 4, 3], best_index=1, visible_seconds=sent))

    html = page.content.decode()
    assert page.status_code == 400 and "visible_seconds must be a" in html
    assert Response.objects.count() == 0
    for token, value in zip(task["slots"], [2, 4, 3]):
        assert re.search(rf'name="rating-{token}" value="{value}" required checked', html)
    assert re.search(rf'name="best" value="{task["slots"][1]}" required checked', html)


@pytest.mark.django_db
def test_tidy_export_carries_seconds_and_its_import_reads_them_back(client, rater, small_study, tmp_path):
    for number in range(3):
        task = read_task(client.get(task_url(rater)).content.decode())
        shown_seconds_ago(rater, 20 + number)
        client.post(task_url(rater), answer(task, visible_seconds=str(10 + number)))
    exported = tmp_path / "ratings.csv"

    export_ratings(small_study, exported)

    table = pd.read_csv(exported)
    assert {"seconds", "visible_seconds"} <= set(table.columns)
    assert (table["seconds"] >= 20).all() and len(table) == 9
    assert sorted(table.drop_duplicates("response_id")["visible_seconds"]) == [10.0, 11.0, 12.0]

    result = import_ratings(exported, "copy", create=True)

    copied = ratings_frame(result.study).sort_values(["submitted_at", "position"])
    original = ratings_frame(small_study).sort_values(["submitted_at", "position"])
    assert copied["seconds"].tolist() == pytest.approx(original["seconds"].tolist())
    assert copied["visible_seconds"].tolist() == original["visible_seconds"].tolist()


@pytest.mark.django_db
def test_an_import_with_a_negative_time_names_the_row(small_study, tmp_path):
    from analysis.ratings_io import RatingsImportError

    path = tmp_path / "bad.csv"
    path.write_text(
        "response_id,rater,network,layer,unit,method,rating,best,uninterpretable,none_fit,seconds\n"
        "r1,a,tiny-cnn,layer1,0,netdissect,4,true,false,false,12.5\n"
        "r1,a,tiny-cnn,layer1,0,shuffled-control,2,false,false,false,-3\n"
    )
    with pytest.raises(RatingsImportError, match=r"row 3: seconds '-3' is not a number of seconds"):
        import_ratings(path, "bad", create=True)
    assert Response.objects.count() == 0
