"""Every study-scoped API path refuses an anonymous client and another researcher's token."""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from .conftest import client_with

pytestmark = pytest.mark.django_db

STUDY_METHODS = ("get", "post", "patch", "put", "delete")


def _api_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _study_scoped():
    """(route, HTTP method) for every handler of every API route that names a study."""
    cases = []
    for route, callback in _api_patterns():
        if not route.startswith("api/v1/") or "<slug:name>" not in route or not route.startswith("api/v1/studies/"):
            continue
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        for method in STUDY_METHODS:
            if hasattr(view, method):
                cases.append(pytest.param(route, method, id=f"{method.upper()} {route}"))
    return cases


STUDY_SCOPED = _study_scoped()


def _url(route: str, study_name: str) -> str:
    return "/" + route.replace("<slug:name>", study_name)


def test_the_url_conf_has_study_scoped_paths_to_check():
    routes = {case.values[0] for case in STUDY_SCOPED}
    assert {"api/v1/studies/<slug:name>/", "api/v1/studies/<slug:name>/comparison/",
            "api/v1/studies/<slug:name>/ratings/", "api/v1/studies/<slug:name>/invites/"} <= routes
    assert len(STUDY_SCOPED) == 11  # GET and PATCH study, 2 x invites, 2 x ratings, 6 reads


@pytest.mark.parametrize("route, method", STUDY_SCOPED)
def test_anonymous_client_is_refused(toy_study, route, method):
    response = getattr(client_with(None), method)(_url(route, toy_study.name), {}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route, method", STUDY_SCOPED)
def test_another_researchers_token_is_refused(toy_study, other_researcher, route, method):
    response = getattr(client_with(other_researcher[1]), method)(_url(route, toy_study.name), {}, format="json")
    # Another's study is not revealed: the same 404 as a study that does not exist.
    assert response.status_code == 404
    assert response.json()["detail"] == f"no study named {toy_study.name!r}"


@pytest.mark.parametrize("route, method", [case for case in STUDY_SCOPED if case.values[1] == "get"])
def test_the_researcher_reads_their_study_on_every_path(api, toy_study, route, method):
    response = api.get(_url(route, toy_study.name), {"bootstrap": 20})
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
