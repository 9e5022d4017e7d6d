"""Every study-scoped API path refuses an anonymous client and another researcher's token; the paths come from the
URL conf, so a new one is checked (or the classification test below fails until it is classified)."""
import pytest

from .conftest import api_operations, client_with

pytestmark = pytest.mark.django_db

STUDY_PREFIX = "/api/v1/studies/{}/"
# The operations that name no study: the catalogue (shared by every researcher) and the study list and creates.
NOT_STUDY_SCOPED = {
    ("GET", "/api/v1/networks/"), ("POST", "/api/v1/networks/"), ("GET", "/api/v1/networks/{}/"),
    ("GET", "/api/v1/probes/"), ("POST", "/api/v1/probes/"), ("GET", "/api/v1/probes/{}/"),
    ("GET", "/api/v1/methods/"), ("GET", "/api/v1/methods/{}/"),
    ("GET", "/api/v1/explanations/"), ("POST", "/api/v1/explanations/"), ("GET", "/api/v1/explanations/{}/"),
    ("GET", "/api/v1/jobs/"), ("POST", "/api/v1/jobs/"), ("GET", "/api/v1/jobs/{}/"),
    ("GET", "/api/v1/studies/"), ("POST", "/api/v1/studies/"), ("POST", "/api/v1/study-imports/"),
}
OPERATIONS = api_operations()
STUDY_SCOPED = [pytest.param(path, method.lower(), id=f"{method} {path}")
                for method, path in OPERATIONS if path.startswith(STUDY_PREFIX)]


def _url(path: str, value: str) -> str:
    return path.replace("{}", value)


def test_every_api_operation_is_classified_as_study_scoped_or_not():
    unclassified = [op for op in OPERATIONS if not op[1].startswith(STUDY_PREFIX) and op not in NOT_STUDY_SCOPED]
    assert unclassified == [], "a new API path: put it under /api/v1/studies/{name}/ or add it to NOT_STUDY_SCOPED"
    assert NOT_STUDY_SCOPED <= set(OPERATIONS)
    paths = {case.values[0] for case in STUDY_SCOPED}
    assert {"/api/v1/studies/{}/", "/api/v1/studies/{}/comparison/", "/api/v1/studies/{}/ratings/",
            "/api/v1/studies/{}/invites/"} <= paths
    assert len(STUDY_SCOPED) == 11  # GET and PATCH study, 2 x invites, 2 x ratings, 6 reads


@pytest.mark.parametrize("path, method", STUDY_SCOPED)
def test_anonymous_client_is_refused(toy_study, path, method):
    response = getattr(client_with(None), method)(_url(path, toy_study.name), {}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path", sorted(NOT_STUDY_SCOPED))
def test_anonymous_client_is_refused_on_the_rest_of_the_api_too(explained_network, method, path):
    response = getattr(client_with(None), method.lower())(_url(path, "tiny-cnn"), {}, format="json")
    assert response.status_code == 401 and response.json()["type"] == "/api/problems/not-authenticated"


@pytest.mark.parametrize("path, method", STUDY_SCOPED)
def test_another_researchers_token_is_refused(toy_study, other_researcher, path, method):
    before = (toy_study.status, toy_study.raters.count(), toy_study.responses.count())
    response = getattr(client_with(other_researcher[1]), method)(
        _url(path, toy_study.name), {"status": "closed", "count": 2}, format="json")
    # Another's study is not revealed: the same 404 as a study that does not exist; nothing changes.
    assert response.status_code == 404
    assert response.json()["detail"] == f"no study named {toy_study.name!r}"
    toy_study.refresh_from_db()
    assert (toy_study.status, toy_study.raters.count(), toy_study.responses.count()) == before


@pytest.mark.parametrize("path, method", [case for case in STUDY_SCOPED if case.values[1] == "get"])
def test_the_researcher_reads_their_study_on_every_path(api, toy_study, path, method):
    response = api.get(_url(path, toy_study.name), {"bootstrap": 20})
    assert response.status_code == 200


def test_a_revoked_or_unknown_token_is_refused(api, researcher, toy_study):
    from api.tokens import revoke_token

    assert client_with("nev_not-a-real-token").get("/api/v1/studies/").status_code == 401
    revoke_token(researcher[0].api_tokens.get())
    response = api.get(f"/api/v1/studies/{toy_study.name}/")
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked API token"


def test_another_researcher_lists_no_study_of_others(other_researcher, toy_study):
    assert client_with(other_researcher[1]).get("/api/v1/studies/").json()["results"] == []


def test_a_collaborator_reads_and_changes_the_study(toy_study, other_researcher):
    toy_study.collaborators.add(other_researcher[0])
    collaborator = client_with(other_researcher[1])
    assert [s["name"] for s in collaborator.get("/api/v1/studies/").json()["results"]] == [toy_study.name]
    toy_study.status = "open"
    toy_study.save(update_fields=["status"])
    changed = collaborator.patch(f"/api/v1/studies/{toy_study.name}/", {"status": "paused"}, format="json")
    assert changed.status_code == 200 and changed.json()["status"] == "paused"


def test_a_rater_link_is_no_credential_for_the_api(toy_study):
    rater = toy_study.raters.first()
    response = client_with(rater.token).get(f"/api/v1/studies/{toy_study.name}/")
    assert response.status_code == 401
    assert client_with(None).get(f"/api/v1/studies/{toy_study.name}/", {"token": rater.token}).status_code == 401


def test_a_raters_session_is_no_credential_for_the_api(client, toy_study):
    """A volunteer who came through the open link (their rater remembered in the session) and rated, or opened a
    personal link, has no way into the API: the session carries no researcher."""
    from evaluation.raters import enable_open_link

    toy_study.status = "open"
    toy_study.save(update_fields=["status"])
    enable_open_link(toy_study)
    joined = client.get(f"/join/{toy_study.open_link_token}/")
    assert joined.status_code == 302 and "/r/" in joined["Location"]
    assert client.session[f"open-rater-{toy_study.pk}"] in joined["Location"]
    assert client.get(joined["Location"]).status_code == 200
    assert client.get(f"/r/{toy_study.raters.first().token}/").status_code == 200
    for path in (f"/api/v1/studies/{toy_study.name}/", "/api/v1/studies/", f"/api/v1/studies/{toy_study.name}/ratings/"):
        response = client.get(path, HTTP_ACCEPT="application/json")
        assert response.status_code == 401, path
