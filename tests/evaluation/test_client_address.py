"""The client's address behind the configured number of reverse proxies (X-Forwarded-For trusted only so far)."""
import pytest
from django.test import RequestFactory

from evaluation.client_address import client_address

pytestmark = pytest.mark.crowd


def request_from(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/join/x/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_behind_one_proxy_the_last_entry_is_the_client_and_what_the_client_wrote_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # nginx appends the address it saw to whatever the client sent.
    assert client_address(request_from("10.0.0.2", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"
    assert client_address(request_from("10.0.0.2", "203.0.113.9")) == "203.0.113.9"
    assert client_address(request_from("10.0.0.2", "2001:db8::1")) == "2001:db8::1"


def test_behind_two_proxies_the_second_entry_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request_from("10.0.0.3", "6.6.6.6, 203.0.113.9, 10.0.0.2")) == "203.0.113.9"
    # A request that passed one proxy only: the entry that proxy wrote.
    assert client_address(request_from("10.0.0.3", "203.0.113.9")) == "203.0.113.9"


def test_a_missing_or_malformed_header_falls_back_to_the_connection(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request_from("10.0.0.2")) == "10.0.0.2"
    assert client_address(request_from("10.0.0.2", "not-an-address")) == "10.0.0.2"
    assert client_address(request_from("10.0.0.2", " , ")) == "10.0.0.2"


def test_no_address_is_none_never_a_made_up_one(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("")) is None and client_address(request_from("not-an-ip")) is None
