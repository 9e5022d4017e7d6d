"""How many new raters one client address may start on the anonymous entry points.

Each new rater can hold a reservation; without a limit ten requests reserve a small study away
from the people it is meant for. The count lives in Django's cache per address and window
(settings NEW_RATERS_PER_CLIENT, NEW_RATERS_WINDOW_SECONDS); the address is the client's as
evaluation.client_address finds it behind the configured number of reverse proxies.

The cache must be one that every server process shares (config/settings.py: the file cache under the var
dir by default, Redis with NEURONEVAL_CACHE_URL), or each gunicorn worker would count on its own.
"""
from django.conf import settings
from django.core.cache import cache

from .client_address import client_address

REFUSAL = (
    "Too many new rating sessions were started from your network address; "
    "try again in {minutes} minutes or continue in the session you already have."
)


def allow_new_rater(request) -> bool:
    """Count one new rater for this client; False once the client is over the limit for the window."""
    key = f"new-raters:{client_address(request) or 'unknown'}"
    window = settings.NEW_RATERS_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        count = 1
    return count <= settings.NEW_RATERS_PER_CLIENT


def refusal_message() -> str:
    return REFUSAL.format(minutes=max(1, settings.NEW_RATERS_WINDOW_SECONDS // 60))
