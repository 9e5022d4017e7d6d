import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from evaluation.models import Rater, Response
from evaluation.ratings_table import TIDY_COLUMNS

from .helpers import answer, read_task


@pytest.fixture
def researcher(db):
    user = User.objects.create_superuser("researcher", "r@example.org", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def play(rater, values=(5, 3, 1), best_index=0):
    browser = Client()
    url = reverse("evaluation:rater_task", args=[rater.token])
    task = read_task(browser.get(url).content.decode())
    assert browser.post(url, answer(task, values=list(values), best_index=best_index)).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["evaluation:study_list", "evaluation:study_detail", "evaluation:study_responses_csv"])
def test_researcher_pages_need_login(client, small_study, name):
    url = reverse(name) if name.endswith("list") else reverse(name, args=[small_study.name])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_login_page_renders(client):
    assert "Researcher login" in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_study_page_shows_progress_per_layer_and_valid_over_total(researcher, small_study, rater):
    play(rater)  # valid
    play(rater, values=(2, 4, 4), best_index=0)  # invalid: best rated below the highest
    page = researcher.get(reverse("evaluation:study_detail", args=["small"])).content.decode()
    assert "Valid / total responses: <strong>1 / 2</strong>" in page
    assert "<td>layer1</td><td>3</td>" in page and "<td>layer2</td><td>3</td>" in page
    assert "<strong>2</strong> responses in the last hour" in page
    assert page.count("<td>1</td><td>100%</td></tr>") == 1  # per method: the one valid best pick
    listing = researcher.get(reverse("evaluation:study_list")).content.decode()
    assert "1 / 2" in listing


@pytest.mark.django_db
def test_study_page_shows_the_sections_other_apps_register_and_says_when_there_are_none(researcher, small_study, monkeypatch):
    from evaluation import panels, study_page

    url = reverse("evaluation:study_detail", args=["small"])
    monkeypatch.setattr(panels, "_panels", {page: {} for page in panels.PAGES})
    assert "analysis not installed" in researcher.get(url).content.decode()
    study_page.register_study_page_section("Extra figures", lambda study: f"<p id='extra'>{study.name} figures</p>")
    page = researcher.get(url).content.decode()
    assert "<h2>Extra figures</h2>" in page and "<p id='extra'>small figures</p>" in page
    assert "analysis not installed" not in page
    with pytest.raises(ValueError, match="registered already"):
        study_page.register_study_page_section("Extra figures", lambda study: "")


@pytest.mark.django_db
def test_csv_download_is_the_tidy_ratings_format_one_row_per_rating(researcher, small_study, rater):
    play(rater, values=(5, 3, 1), best_index=0)
    response = researcher.get(reverse("evaluation:study_responses_csv", args=["small"]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].split(",") == TIDY_COLUMNS
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    assert sorted(int(r["rating"]) for r in rows) == [1, 3, 5]
    assert {r["method"] for r in rows} == {"netdissect", "clip-dissect-annotations", "shuffled-control"}
    best = [r for r in rows if r["best"] == "true"]
    assert len(best) == 1 and best[0]["rating"] == "5" and best[0]["position"] == "0"
    assert all(r["is_valid"] == "true" and r["source"] == "local" for r in rows)


@pytest.mark.django_db
def test_invite_links_from_the_study_page(researcher, small_study):
    response = researcher.post(reverse("evaluation:study_invite", args=["small"]), {"count": "4"}, follow=True)
    assert "Created 4 rater link(s)." in response.content.decode()
    assert Rater.objects.filter(study=small_study, kind="invited").count() == 4
    assert response.content.decode().count("http://127.0.0.1:8000/r/") == 4


@pytest.mark.django_db
def test_open_link_mints_one_rater_per_browser(researcher, small_study):
    researcher.post(reverse("evaluation:study_open_link", args=["small"]))
    small_study.refresh_from_db()
    join = reverse("evaluation:open_link", args=[small_study.open_link_token])
    first, second = Client(), Client()
    home_1 = first.get(join)
    assert first.get(join)["Location"] == home_1["Location"]  # same browser, same rater
    assert second.get(join)["Location"] != home_1["Location"]
    assert Rater.objects.filter(study=small_study, kind="open").count() == 2
    assert first.get(home_1["Location"]).status_code == 200


@pytest.mark.django_db
def test_draft_study_links_do_not_open(client, small_study, rater):
    small_study.status = "draft"
    small_study.save()
    response = client.get(reverse("evaluation:rater_task", args=[rater.token]))
    assert response.status_code == 403 and "not started yet" in response.content.decode()


@pytest.mark.django_db
def test_admin_lists_every_evaluation_model(researcher, small_study, rater):
    play(rater)
    # Study methods and ratings are shown inside their study and response.
    for model in ["study", "studyneuron", "studyimage", "studyitem", "rater", "assignment", "slot", "response", "exclusion"]:
        assert researcher.get(f"/admin/evaluation/{model}/").status_code == 200, model
    response = researcher.post(
        "/admin/evaluation/study/", {"action": "invite_three_raters", "_selected_action": [small_study.pk], "index": 0, "select_across": 0}, follow=True
    )
    assert response.content.decode().count("New rater link for small: http://127.0.0.1:8000/r/") == 3
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_admin_shows_answers_read_only_and_sends_new_studies_to_the_builder(researcher, small_study, rater):
    play(rater, values=(5, 3, 1), best_index=0)
    response = Response.objects.get()
    page = researcher.get(f"/admin/evaluation/response/{response.pk}/change/").content.decode()
    for item in small_study.study_neurons.get(pk=response.study_neuron_id).items.select_related("method"):
        assert item.text in page and item.method.name in page  # every description with its method
    assert 'name="ratings-0-value"' not in page and "Save" not in page  # nothing editable
    changed = researcher.post(f"/admin/evaluation/response/{response.pk}/change/", {"is_valid": "on"})
    assert changed.status_code == 403
    assert researcher.get("/admin/evaluation/rating/").status_code == 404
    add = researcher.get("/admin/evaluation/study/add/")
    assert add.status_code == 302 and add["Location"] == reverse("evaluation:study_builder")
    emptied = researcher.post("/admin/evaluation/study/", {"action": "open_study", "_selected_action": [small_study.pk]})
    assert emptied.status_code == 302


@pytest.mark.django_db
def test_a_superuser_deletes_an_unanswered_study_with_its_read_only_rows_but_never_answers(researcher, small_study, rater):
    from evaluation.models import Study, StudyNeuron
    from evaluation.services import create_study

    from .conftest import METHOD_NAMES

    mistake = create_study("mistake", network=small_study.network, methods=METHOD_NAMES, per_layer=1, status="draft")
    page = researcher.get(f"/admin/evaluation/study/{mistake.pk}/delete/").content.decode()
    assert "permission to delete" not in page and "Are you sure" in page
    assert researcher.post(f"/admin/evaluation/study/{mistake.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Study.objects.values_list("name", flat=True)) == ["small"]
    assert not StudyNeuron.objects.filter(study__name="mistake").exists()
    play(rater)
    refused = researcher.get(f"/admin/evaluation/study/{small_study.pk}/delete/").content.decode()
    assert "Cannot delete study" in refused and "Response object" in refused  # answers are protected
    researcher.post(f"/admin/evaluation/study/{small_study.pk}/delete/", {"post": "yes"})
    assert Study.objects.filter(name="small").exists() and Response.objects.count() == 1


@pytest.mark.django_db
def test_study_page_queries_do_not_grow_with_the_number_of_raters(researcher, small_study):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evaluation.services import invite_raters

    first, second = invite_raters(small_study, 2)
    play(first)
    play(first)
    play(second)
    url = reverse("evaluation:study_detail", args=["small"])
    researcher.get(url)  # the first view after a change computes and stores the analysis report
    with CaptureQueriesContext(connection) as few:
        page = researcher.get(url).content.decode()
    assert "invited 1: " in page
    invite_raters(small_study, 40)
    researcher.get(url)
    with CaptureQueriesContext(connection) as many:
        page = researcher.get(url).content.decode()
    assert "invited 42: " in page
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_bulk_invites_are_all_or_nothing(small_study, monkeypatch):
    from django.db import IntegrityError

    from evaluation import raters as raters_module
    from evaluation.services import invite_raters

    invite_raters(small_study, 3)
    taken = Rater.objects.filter(study=small_study).first().token
    tokens = iter(["fresh-token-1", taken])  # the second new link collides: the whole batch is refused
    monkeypatch.setattr(raters_module, "new_rater_token", lambda: next(tokens))
    with pytest.raises(IntegrityError):
        invite_raters(small_study, 2)
    assert Rater.objects.filter(study=small_study).count() == 3
    monkeypatch.undo()
    created = invite_raters(small_study, 2000)
    assert len({rater.pk for rater in created}) == 2000 and None not in {rater.pk for rater in created}
    assert created[-1].label == "invited 2003"
