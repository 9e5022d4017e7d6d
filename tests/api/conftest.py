"""Researchers with tokens, the small studies the API tests read, and the API's operations as the URL conf has them."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from api.tokens import create_token
from tests.analysis.conftest import build_study
from tests.evaluation.conftest import build_explained_network


def make_researcher(username: str):
    """A plain (not staff, not superuser) researcher account with one API token."""
    user = get_user_model().objects.create_user(username, password="pw-" + username)
    _, secret = create_token(user, "tests")
    return user, secret


def client_with(secret: str | None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In a module that sets FAIL_ON_SKIP, a skipped test fails: there, a skip means something went unchecked."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and getattr(item.module, "FAIL_ON_SKIP", False):
        report.outcome = "failed"
        report.longrepr = f"skipped in a module where nothing may be skipped: {report.longrepr}"


@pytest.fixture
def researcher(db):
    return make_researcher("ada")


@pytest.fixture
def api(researcher):
    return client_with(researcher[1])


@pytest.fixture
def other_researcher(db):
    return make_researcher("grace")


@pytest.fixture
def toy_study(db, researcher):
    """The hand-computed study of tests/analysis (6 responses, 3 methods, 2 layers), owned by `researcher`."""
    study = build_study("toy-study")
    study.owner = researcher[0]
    study.save(update_fields=["owner"])
    return study


@pytest.fixture
def explained_network(db):
    return build_explained_network()


HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def _routes(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def api_operations() -> list[tuple[str, str]]:
    """(HTTP method, path) of every handler the URL conf routes under /api/v1/, read from the views themselves
    (a router's action map, or the handler methods of an APIView); path parameters are written `{}`."""
    operations = set()
    for route, callback in _routes(get_resolver()):
        if not route.startswith("api/v1/"):
            continue
        path = "/" + _PARAMETER.sub("{}", route).replace("^", "").replace("$", "")
        actions = getattr(callback, "actions", None)
        if actions is not None:
            # DRF adds `head` to a viewset's action map the first time it answers a request: not an operation.
            methods = [method for method in actions if method in HTTP_METHODS]
        else:
            view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            methods = [method for method in HTTP_METHODS if hasattr(view, method)]
        operations.update((method.upper(), path) for method in methods)
    return sorted(operations)


def schema_path_pattern(path: str) -> str:
    """An OpenAPI path (`/api/v1/studies/{name}/`) with its parameters written `{}`, as api_operations does."""
    return re.sub(r"\{[^}]+\}", "{}", path)
