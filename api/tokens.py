"""Personal API tokens: made with a secret shown once, stored as a hash, revoked by the researcher."""
from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from .models import ApiToken

TOKEN_PREFIX = "nev_"
_SHOWN_PREFIX_LENGTH = 12


class TokenError(ValueError):
    """A token cannot be made or revoked as asked."""


def hash_token(token: str) -> str:
    # The tokens are 256-bit random strings, so a plain fast hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: (stored record, the secret to show once)."""
    name = (name or "").strip()
    if not name:
        raise TokenError("a token needs a name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise TokenError("a token name is at most 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(user=user, name=name, prefix=secret[:_SHOWN_PREFIX_LENGTH], key_hash=hash_token(secret))
    return record, secret


def revoke_token(token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def user_for_token(secret: str):
    """The active user a presented token stands for, or None."""
    record = (
        ApiToken.objects.select_related("user").filter(key_hash=hash_token(secret), revoked_at__isnull=True).first()
    )
    if record is None or not record.user.is_active:
        return None, None
    now = timezone.now()
    # One write a minute at most, so a busy notebook does not write on every request.
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record.user, record
