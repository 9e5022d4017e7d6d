"""Sign-ins are throttled per username and client address (django-axes)."""
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client

# Run on PostgreSQL too (CI's second pass): the address is stored in an inet column there.
pytestmark = [pytest.mark.django_db, pytest.mark.submission_safety]

PASSWORD = "a-long-enough-password-1"
LOCKED = "Too many failed sign-ins for ada from your network address"


@pytest.fixture
def ada(django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    return django_user_model.objects.create_superuser("ada", password=PASSWORD)


def sign_in(client, password, url="/accounts/login/"):
    return client.post(url, {"username": "ada", "password": password})


def signed_in(client):
    return "_auth_user_id" in client.session


def test_after_n_bad_passwords_the_right_one_is_refused_with_the_lockout_page(ada):
    client = Client(REMOTE_ADDR="203.0.113.9")
    answers = [sign_in(client, "wrong") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]  # the third failure locks

    right = sign_in(client, PASSWORD)

    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert "(3 in a row)" in right.content.decode() and "0:30:00" in right.content.decode()
    assert not signed_in(client)
    # The admin's sign-in is the same account from the same address: locked too.
    admin = sign_in(client, PASSWORD, url="/admin/login/?next=/admin/")
    assert admin.status_code == 429 and not signed_in(client)


def test_another_address_is_not_locked_and_a_success_clears_the_count(ada):
    for _ in range(3):
        sign_in(Client(REMOTE_ADDR="203.0.113.9"), "wrong")
    elsewhere = Client(REMOTE_ADDR="198.51.100.4")
    sign_in(elsewhere, "wrong")
    assert sign_in(elsewhere, PASSWORD).status_code == 302 and signed_in(elsewhere)
    # Two more failures from there do not lock: the success reset that address's count.
    again = Client(REMOTE_ADDR="198.51.100.4")
    for _ in range(2):
        sign_in(again, "wrong")
    assert sign_in(again, PASSWORD).status_code == 302


def test_behind_the_proxy_the_forwarded_client_is_the_one_locked(ada, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(3):
        sign_in(Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.9"), "wrong")
    assert sign_in(Client(**proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"), PASSWORD).status_code == 429
    assert sign_in(Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.4"), PASSWORD).status_code == 302


def test_axes_reset_unlocks(ada):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        sign_in(client, "wrong")
    call_command("axes_reset_username", "ada")
    assert sign_in(client, PASSWORD).status_code == 302 and signed_in(client)


def test_a_sign_in_without_the_request_is_refused_loudly(ada):
    """Every authenticate() must pass the request, or the lockout could be bypassed; axes refuses instead."""
    from axes.exceptions import AxesBackendRequestParameterRequired

    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username="ada", password=PASSWORD)
