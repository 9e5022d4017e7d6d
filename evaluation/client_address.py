"""The address of the client a request came from, behind as many reverse proxies as the operator says.

Each proxy appends the address it received the request from to X-Forwarded-For, so behind N trusted proxies
the client is the N-th entry from the right; anything to the left of it was written by the client and proves
nothing. With no trusted proxy (the default, NEURONEVAL_TRUSTED_PROXIES=0) the header is ignored and the
client is the connection's own address: a client talking to gunicorn directly could otherwise pick any
address it likes and escape every per-address limit.
"""
import ipaddress

from django.conf import settings


def _valid_address(text: str) -> str:
    text = text.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def client_address(request) -> str | None:
    """The client's IP address as a string, None when there is none (a request made in code, a Unix socket)."""
    connection = _valid_address(request.META.get("REMOTE_ADDR", "")) or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return connection
    forwarded = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if not forwarded:
        return connection
    # Fewer entries than proxies: the leftmost one was still written by a trusted proxy.
    return _valid_address(forwarded[-min(proxies, len(forwarded))]) or connection
