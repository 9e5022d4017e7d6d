"""The study's report is computed once per change, after the response, and every download serves the stored one."""
import io
import json

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from analysis.models import ReportArtifact, StudyReport
from analysis.report import artifact_names
from analysis.report_cache import request_refresh, study_state_key
from evaluation.models import Rater, Response
from evaluation.services import exclude

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(toy_study, settings):
    settings.ANALYSIS_REPORT_RESAMPLES = 50
    settings.ANALYSIS_REPORT_THROTTLE_SECONDS = 0
    user = get_user_model().objects.create_user("owner", password="pw-for-tests")
    toy_study.owner = user
    toy_study.save()
    client = Client()
    client.force_login(user)
    return client


def study_page(client, study):
    return client.get(f"/studies/{study.name}/").content.decode()


def computed_at(study):
    return StudyReport.objects.get(study=study).computed_at


def test_first_view_schedules_the_report_and_it_is_computed_after_the_response(researcher, toy_study):
    page = study_page(researcher, toy_study)
    assert "Computing the report" in page  # the page did not wait for it
    report = StudyReport.objects.get(study=toy_study)
    assert report.computed_at is not None and report.state_key == study_state_key(toy_study)
    assert report.artifacts.count() == len(artifact_names())
    assert "Report computed" in study_page(researcher, toy_study)


def test_report_is_recomputed_only_when_responses_or_exclusions_change(researcher, toy_study):
    study_page(researcher, toy_study)
    first = computed_at(toy_study)
    study_page(researcher, toy_study)
    assert computed_at(toy_study) == first  # nothing changed: served as stored
    exclude(toy_study, rater=Rater.objects.get(study=toy_study, external_id="r1"), reason="careless")
    page = study_page(researcher, toy_study)
    assert "New data: recomputing now" in page
    second = computed_at(toy_study)
    assert second > first
    assert "Excluded by the researchers and left out of every figure: 3 responses (rater excluded: careless (3))." in \
        study_page(researcher, toy_study)
    assert computed_at(toy_study) == second


def test_a_crowd_answer_confirmed_after_it_was_stored_refreshes_the_report(researcher, toy_study):
    """Unverified answers are left out of the tables; the provider's confirmation (an update of the stored row,
    no new row) is a change of the study's data like a new answer."""
    unconfirmed = Response.objects.filter(study=toy_study).first()
    Response.objects.filter(pk=unconfirmed.pk).update(verified=False)
    study_page(researcher, toy_study)
    first = computed_at(toy_study)
    before = json.loads(researcher.get(f"/analysis/studies/{toy_study.name}/comparison.json").content)
    Response.objects.filter(pk=unconfirmed.pk).update(verified=True)  # what MTurk's harvest does
    assert "New data: recomputing now" in study_page(researcher, toy_study)
    assert computed_at(toy_study) > first
    after = json.loads(researcher.get(f"/analysis/studies/{toy_study.name}/comparison.json").content)
    assert after != before


def test_refreshes_are_throttled(researcher, toy_study, settings):
    study_page(researcher, toy_study)
    first = computed_at(toy_study)
    settings.ANALYSIS_REPORT_THROTTLE_SECONDS = 3600
    Response.objects.filter(study=toy_study).first().delete()  # any change of the data
    assert request_refresh(toy_study) == "throttled"
    assert "New data since then" in study_page(researcher, toy_study)
    assert computed_at(toy_study) == first
    settings.ANALYSIS_REPORT_THROTTLE_SECONDS = 0
    assert request_refresh(toy_study) == "scheduled"  # outside a request: computed at once
    assert computed_at(toy_study) > first


def test_downloads_serve_the_stored_report_and_never_recompute_it(researcher, toy_study, settings):
    study_page(researcher, toy_study)
    stamp = computed_at(toy_study).isoformat()
    settings.ANALYSIS_REPORT_THROTTLE_SECONDS = 3600
    exclude(toy_study, rater=Rater.objects.get(study=toy_study, external_id="r2"), reason="late")
    for name in artifact_names():
        if name.startswith("plots/"):
            plot, fmt = name[len("plots/"):].split(".")
            url = f"/analysis/studies/{toy_study.name}/plots/{plot}.{fmt}"
        else:
            url = f"/analysis/studies/{toy_study.name}/files/{name}"
        response = researcher.get(url)
        assert response.status_code == 200, name
        assert response["X-Report-Computed-At"] == stamp, name
        stored = ReportArtifact.objects.get(report__study=toy_study, name=name).content
        assert response.content == bytes(stored), name
    table = json.loads(researcher.get(f"/analysis/studies/{toy_study.name}/comparison.json").content)
    assert [row["n"] for row in table[:3]] == [5, 5, 5]  # still the report from before the exclusion
    assert researcher.get(f"/analysis/studies/{toy_study.name}/files/nope.csv").status_code == 404


def test_tidy_responses_download_is_the_import_format(researcher, toy_study):
    from evaluation.ratings_table import TIDY_COLUMNS

    study_page(researcher, toy_study)
    response = researcher.get(f"/analysis/studies/{toy_study.name}/files/responses.csv")
    assert response["Content-Disposition"] == f'attachment; filename="{toy_study.name}-responses.csv"'
    frame = pd.read_csv(io.BytesIO(response.content))
    assert list(frame.columns) == TIDY_COLUMNS and len(frame) == 18


def test_results_poll_answers_204_while_nothing_changed(researcher, toy_study):
    study_page(researcher, toy_study)
    report = StudyReport.objects.get(study=toy_study)
    url = f"/analysis/studies/{toy_study.name}/results/"
    unchanged = researcher.get(url, {"since": f"{report.computed_at.isoformat()}|fresh"})
    assert unchanged.status_code == 204
    changed = researcher.get(url, {"since": "none|scheduled"})
    assert changed.status_code == 200 and changed.content.decode().startswith('<div id="study-results"')


def test_with_a_broker_the_refresh_goes_to_celery(researcher, toy_study, settings):
    # Eager mode runs the real task in this process: the dispatch and the task body are both exercised.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        assert request_refresh(toy_study) == "scheduled"
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert StudyReport.objects.get(study=toy_study).state_key == study_state_key(toy_study)


def test_a_failed_refresh_keeps_the_previous_report_and_says_why(researcher, toy_study, monkeypatch):
    study_page(researcher, toy_study)
    first = computed_at(toy_study)
    Response.objects.filter(study=toy_study).first().delete()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("analysis.report_cache.build_report", broken)
    study_page(researcher, toy_study)
    report = StudyReport.objects.get(study=toy_study)
    assert report.computed_at == first and report.error == "RuntimeError: disk full"
    assert "The last refresh failed (RuntimeError: disk full)" in study_page(researcher, toy_study)
