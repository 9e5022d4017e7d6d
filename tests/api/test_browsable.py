"""The browsable API: a logged-in researcher's browser gets HTML pages of every read path."""
import pytest

pytestmark = pytest.mark.django_db

PATHS = ["/api/v1/studies/", "/api/v1/studies/toy-study/", "/api/v1/studies/toy-study/progress/",
         "/api/v1/studies/toy-study/invites/", "/api/v1/studies/toy-study/responses/",
         "/api/v1/studies/toy-study/comparison/?bootstrap=20", "/api/v1/studies/toy-study/pairwise/?bootstrap=20",
         "/api/v1/studies/toy-study/agreement/", "/api/v1/networks/", "/api/v1/probes/", "/api/v1/methods/",
         "/api/v1/explanations/", "/api/v1/jobs/"]


def test_every_read_path_renders_as_a_page_for_a_session(client, researcher, toy_study):
    client.force_login(researcher[0])
    for path in PATHS:
        page = client.get(path, HTTP_ACCEPT="text/html")
        assert page.status_code == 200, path
        assert page["Content-Type"].startswith("text/html"), path
        assert "Django REST framework" in page.content.decode(), path
