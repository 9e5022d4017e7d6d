"""`Idempotency-Key` on creates: a retried request gets the first response back instead of a second create.

The key is kept per user. The same key with the same request (method, path, body) replays the stored
response; with a different request it is refused (422); while the first request still runs, a second
one with its key is refused (409). Only completed creates (2xx) are kept: a refused request may be
corrected and retried with the same key. A key is kept for KEPT_FOR; after that it may be used again.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .models import IdempotencyRecord
from .problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEPT_FOR = timedelta(hours=24)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False,
    description="A client-chosen key (1-255 printable ASCII characters); a retry with the same key and body "
    "replays the first response.",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


def request_fingerprint(request) -> str:
    """A hash of what the request asks for: method, path, data fields and uploaded files' contents."""
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode())
    fields = {}
    for key in sorted(request.data.keys()) if hasattr(request.data, "keys") else []:
        if key in request.FILES:
            continue
        values = request.data.getlist(key) if hasattr(request.data, "getlist") else [request.data[key]]
        fields[key] = values
    if not hasattr(request.data, "keys"):
        fields = {"": request.data}
    digest.update(b"\0" + json.dumps(fields, sort_keys=True, default=str).encode())
    for key in sorted(request.FILES.keys()):
        for upload in request.FILES.getlist(key):
            file_digest = hashlib.sha256()
            for chunk in upload.chunks():
                file_digest.update(chunk)
            upload.seek(0)
            digest.update(f"\0{key}\0{upload.name}\0".encode() + file_digest.digest())
    return digest.hexdigest()


def _key_from(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise Problem(400, "invalid-idempotency-key",
                      f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces",
                      errors=[{"field": HEADER, "detail": "invalid key"}])
    return key


def idempotent(request, create) -> Response:
    """Run `create()` (returning a DRF Response) at most once per user and Idempotency-Key."""
    key = _key_from(request)
    if key is None:
        return create()
    fingerprint = request_fingerprint(request)
    IdempotencyRecord.objects.filter(user=request.user, created_at__lt=timezone.now() - KEPT_FOR).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=request.user, key=key, method=request.method, path=request.path[:500], request_hash=fingerprint
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user=request.user, key=key)
        if record.request_hash != fingerprint:
            raise Problem(422, "idempotency-key-reused",
                          f"{HEADER} {key!r} was used for a different request ({record.method} {record.path}); "
                          "use a new key for a new request",
                          errors=[{"field": HEADER, "detail": "already used for a different request"}]) from None
        if record.status_code is None:
            raise Problem(409, "idempotency-key-in-use",
                          f"a request with {HEADER} {key!r} is still being processed; retry later") from None
        replay = Response(record.body, status=record.status_code)
        replay["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = create()
    except BaseException:
        record.delete()
        raise
    if 200 <= response.status_code < 300:
        record.status_code = response.status_code
        record.body = json.loads(JSONRenderer().render(response.data) or b"null")
        record.save(update_fields=["status_code", "body"])
    else:
        record.delete()
    return response
