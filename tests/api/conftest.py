"""Researchers with tokens, and the small studies the API tests read."""
import pytest
from django.contrib.auth import get_user_model
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
