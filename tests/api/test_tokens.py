"""Personal API tokens: made on a page or with a command, shown once, stored as a hash, revoked for good."""
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from api.models import ApiToken
from api.tokens import hash_token

from .conftest import client_with

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'<pre id="new-token">(nev_[^<]+)</pre>')


@pytest.fixture
def logged_in(client, db):
    user = get_user_model().objects.create_user("ada", password="pw")
    client.force_login(user)
    return client, user


def test_the_study_list_links_the_token_page(logged_in):
    client, _ = logged_in
    assert '<a href="/api/tokens/">API tokens</a>' in client.get("/studies/").content.decode()


def test_token_page_shows_a_new_token_once_and_stores_only_its_hash(logged_in):
    client, user = logged_in
    page = client.post("/api/tokens/", {"name": "lab notebook"})
    secret = SECRET_RE.search(page.content.decode()).group(1)
    assert page["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hash_token(secret) and secret not in (token.key_hash, token.prefix)
    assert secret.startswith(token.prefix)
    assert client_with(secret).get("/api/v1/studies/").status_code == 200
    listing = client.get("/api/tokens/").content.decode()
    assert "lab notebook" in listing and secret not in listing


def test_revoked_token_is_refused_from_then_on(logged_in):
    client, user = logged_in
    secret = SECRET_RE.search(client.post("/api/tokens/", {"name": "ci"}).content.decode()).group(1)
    token = ApiToken.objects.get(user=user)
    client.post(f"/api/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = client_with(secret).get("/api/v1/studies/")
    assert response.status_code == 401 and response.json()["detail"] == "unknown or revoked API token"


def test_one_researcher_cannot_revoke_anothers_token(logged_in, client):
    _, ada = logged_in
    grace = get_user_model().objects.create_user("grace", password="pw")
    theirs = ApiToken.objects.create(user=grace, name="theirs", prefix="nev_x", key_hash="0" * 64)
    assert client.post(f"/api/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_token_needs_a_name_and_the_page_a_login(logged_in, client):
    page = client.post("/api/tokens/", {"name": "  "}, follow=True)
    assert "No token created: a token needs a name" in page.content.decode()
    assert not ApiToken.objects.exists()
    client.logout()
    assert client.get("/api/tokens/").status_code == 302


def test_api_token_command_creates_lists_and_revokes(db):
    user = get_user_model().objects.create_user("ada", password="pw")
    out = StringIO()
    call_command("api_token", "create", "ada", "--name", "pipeline", stdout=out, stderr=StringIO())
    secret = out.getvalue().strip()
    assert client_with(secret).get("/api/v1/networks/").status_code == 200
    listing = StringIO()
    call_command("api_token", "list", "ada", stdout=listing)
    token = ApiToken.objects.get(user=user)
    assert f"{token.pk}\t{token.prefix}…\tpipeline\tactive" in listing.getvalue()
    call_command("api_token", "revoke", "ada", token.prefix, stdout=StringIO())
    assert client_with(secret).get("/api/v1/networks/").status_code == 401
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("api_token", "list", "nobody")
    with pytest.raises(CommandError, match="no token of ada match '999'"):
        call_command("api_token", "revoke", "ada", "999")


def test_a_session_login_reaches_the_api_too(logged_in):
    client, _ = logged_in
    assert client.get("/api/v1/studies/", HTTP_ACCEPT="application/json").status_code == 200
