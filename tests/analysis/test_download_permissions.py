"""Every download the study page links, by who asks: the owner, a collaborator and a superuser get the stored file;
another researcher gets 404 (never a 403 that confirms the study exists); a visitor is sent to the login page."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from analysis.models import StudyReport
from analysis.report_cache import compute_report

pytestmark = pytest.mark.django_db
User = get_user_model()

# What the issue asks the study page to link: every table format, pairwise tests, agreement, plots, tidy responses.
REQUIRED = {f"files/comparison.{fmt}" for fmt in ("csv", "md", "latex", "json", "html")} | {
    f"files/{kind}.{fmt}" for kind in ("pairwise", "agreement") for fmt in ("csv", "md", "latex", "json", "html")
} | {f"plots/{plot}.{fmt}" for plot in ("mean_rating", "best_rate", "rating_distribution") for fmt in ("png", "svg")} | {
    "files/responses.csv"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people(toy_study, settings):
    settings.ANALYSIS_REPORT_RESAMPLES = 50
    owner = User.objects.create_user("owner", password="pw-for-tests")
    colleague = User.objects.create_user("colleague", password="pw-for-tests")
    toy_study.owner = owner
    toy_study.save()
    toy_study.collaborators.add(colleague)
    return {
        "owner": owner, "collaborator": colleague,
        "superuser": User.objects.create_superuser("root", "root@example.org", "pw-for-tests"),
        "stranger": User.objects.create_user("stranger", password="pw-for-tests"),
    }


def linked_downloads(page: str, study_name: str) -> set[str]:
    prefix = f"/analysis/studies/{study_name}/"
    return {href[len(prefix):] for href in re.findall(r'href="([^"]+)" download', page) if href.startswith(prefix)}


def test_the_study_page_links_every_download_and_each_is_served_only_to_who_may_see_the_study(toy_study, people):
    compute_report(toy_study)
    computed_at = StudyReport.objects.get(study=toy_study).computed_at.isoformat()
    page = signed_in(people["owner"]).get(f"/studies/{toy_study.name}/").content.decode()
    links = linked_downloads(page, toy_study.name)
    assert REQUIRED <= links, sorted(REQUIRED - links)
    assert f'href="/studies/{toy_study.name}/responses.csv"' in page  # every rating, streamed from the database
    clients = {role: signed_in(user) for role, user in people.items()}
    for link in sorted(links) + ["results/"]:
        url = f"/analysis/studies/{toy_study.name}/{link}"
        for role in ("owner", "collaborator", "superuser"):
            response = clients[role].get(url)
            assert response.status_code == 200, (role, link)
            if link != "results/":
                assert response["X-Report-Computed-At"] == computed_at, (role, link)  # the stored report
        refused = clients["stranger"].get(url)
        assert refused.status_code == 404, link
        assert toy_study.name not in refused.content.decode()
        visitor = Client().get(url)
        assert visitor.status_code == 302 and visitor["Location"].startswith("/accounts/login/"), link


def test_a_stranger_never_triggers_a_report_computation(toy_study, people):
    for link in ("files/comparison.latex", "plots/mean_rating.svg", "results/"):
        assert signed_in(people["stranger"]).get(f"/analysis/studies/{toy_study.name}/{link}").status_code == 404
    assert not StudyReport.objects.filter(study=toy_study).exists()
