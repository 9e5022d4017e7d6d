"""Record every call that moves money or creates paid work before it is sent and after it returns.

A crash between the two leaves a PENDING entry. The next run does not send the call again blindly:
it asks the caller's `reconcile` function what the provider did, and only a reconcile that proves
the call never happened lets it be sent again.
"""
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .models import LedgerEntry


class LedgerConflict(Exception):
    """A previous attempt of this call ended in an unknown state that cannot be settled automatically."""


@dataclass
class NotSent:
    """What a reconcile function returns when the provider shows the call never took effect."""


NOT_SENT = NotSent()


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def recorded_call(key, operation, params, send, *, publication=None, amount=None, reconcile=None):
    """Send `send()` at most once per `key`; return its (JSON-able) result.

    - DONE entry: the call already happened; return the stored result without sending.
    - PENDING entry (crash after recording "before"): `reconcile(entry)` returns the provider's
      result if the call took effect, or NOT_SENT if it provably did not; without a reconcile,
      LedgerConflict is raised so a person looks at it.
    - FAILED entry (the provider refused it): sent again, since a refusal moved nothing.
    """
    entry = LedgerEntry.objects.filter(key=key).first()
    if entry and entry.state == LedgerEntry.State.DONE:
        return entry.result
    if entry and entry.state == LedgerEntry.State.PENDING:
        if reconcile is None:
            target = key.split(":", 1)[-1]
            raise LedgerConflict(
                f"{operation} {target} was started at {entry.started_at:%Y-%m-%d %H:%M:%S} and its outcome was never "
                "recorded; check it on the provider and settle the ledger entry in the admin before retrying."
            )
        found = reconcile(entry)
        if found is not NOT_SENT:
            return _finish(entry, found)
    if entry is None:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                key=key,
                operation=operation,
                params=_jsonable(params),
                publication=publication,
                amount=Decimal(str(amount)) if amount is not None else None,
            )
    else:
        LedgerEntry.objects.filter(pk=entry.pk).update(state=LedgerEntry.State.PENDING, error="", finished_at=None)
    try:
        result = send()
    except Exception as error:
        if _provider_refused(error):
            LedgerEntry.objects.filter(pk=entry.pk).update(
                state=LedgerEntry.State.FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
        # Anything else (timeout, crash) stays PENDING: we do not know whether it took effect.
        raise
    return _finish(entry, result)


def _provider_refused(error):
    """True only when the provider clearly refused the request; a server fault may have acted on it."""
    from botocore.exceptions import ClientError

    from .providers.prolific.client import ProlificError

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return error.response.get("Error", {}).get("Code") != "ServiceFault" and status < 500
    return isinstance(error, ProlificError) and not error.maybe_sent


def _finish(entry, result):
    result = _jsonable(result)
    LedgerEntry.objects.filter(pk=entry.pk).update(
        state=LedgerEntry.State.DONE, result=result, error="", finished_at=timezone.now()
    )
    return result
