"""Client mistakes of every kind come back as RFC 9457 problem documents (type, title, status, detail, errors),
with the status the mistake deserves, never a 500."""
import pytest

from .conftest import client_with

pytestmark = pytest.mark.django_db


def send(api, method, path, **kwargs):
    return getattr(api, method)(path, **kwargs)


MISTAKES = [
    pytest.param("get", "/api/v1/no-such-thing/", {}, 404, "not-found", id="unknown path"),
    pytest.param("get", "/api/v1/networks/no-such-net/", {}, 404, "not-found", id="unknown object"),
    pytest.param("get", "/api/v1/jobs/999999/", {}, 404, "not-found", id="unknown job"),
    pytest.param("delete", "/api/v1/networks/", {}, 405, "method-not-allowed", id="method not allowed"),
    pytest.param("post", "/api/v1/studies/", {"data": "{not json", "content_type": "application/json"}, 400,
                 "invalid-request", id="malformed JSON"),
    pytest.param("post", "/api/v1/studies/", {"data": "name=x", "content_type": "text/plain"}, 415,
                 "unsupported-media-type", id="unsupported content type"),
    pytest.param("post", "/api/v1/studies/", {"data": {"name": "has space", "methods": "netdissect"}, "format": "json"},
                 400, "invalid-request", id="field errors"),
    pytest.param("get", "/api/v1/explanations/", {"data": {"unit": "many"}}, 400, "invalid-request", id="bad filter"),
    pytest.param("get", "/api/v1/explanations/", {"data": {"cursor": "garbage"}}, 404, "not-found", id="bad cursor"),
]


@pytest.mark.parametrize("method, path, kwargs, status, slug", MISTAKES)
def test_a_client_mistake_is_a_problem_document(api, method, path, kwargs, status, slug):
    response = send(api, method, path, **kwargs)
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "errors"}
    assert (problem["type"], problem["status"]) == (f"/api/problems/{slug}", status)
    assert problem["title"] and problem["detail"]


def test_field_errors_name_each_field(api):
    response = api.post("/api/v1/studies/", {"name": "has space", "methods": "netdissect", "per_layer": 0}, format="json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"name", "network", "methods", "per_layer"} <= fields
    assert all(error["detail"] for error in response.json()["errors"])


def test_a_missing_token_is_a_problem_with_the_scheme_to_use():
    response = client_with(None).get("/api/v1/networks/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["type"] == "/api/problems/not-authenticated"
