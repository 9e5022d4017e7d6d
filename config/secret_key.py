"""The secret key: from DJANGO_SECRET_KEY, or generated once per install and kept under the var dir.

Generating beats refusing to start: the README's first command and a bare `docker run` work without anyone
inventing a key (people invent weak ones), the key is never in the repository, and it survives restarts because
the var dir is the install's persistent volume. Several web containers share it through that volume or set
DJANGO_SECRET_KEY. A key given in the environment that is public or weak is refused when DEBUG is off.
"""
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "secret_key"
# Keys that have been printed in this repository's history or docs: anyone can sign with them.
PUBLIC_KEYS = frozenset({
    "insecure-local-only-key-change-me-for-any-deployment",
    "change-me",
    "build-only",
})
# Django's own deploy check (security.W009) asks for this much.
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5


def weakness(key):
    """Why a key must not sign anything in production, or '' when it may."""
    if key in PUBLIC_KEYS:
        return "it is published in the neuroneval repository"
    if key.startswith("django-insecure"):
        return "it is a Django placeholder ('django-insecure...')"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"it is shorter than {MIN_LENGTH} characters or has fewer than {MIN_UNIQUE_CHARACTERS} distinct ones"
    return ""


def kept_key(var_dir):
    """The install's generated key, created on first use (0600); concurrent first starts agree on one key."""
    path = Path(var_dir) / KEY_FILE_NAME
    if not path.exists():
        candidate = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(candidate, path)  # atomic: the first process to link wins, the others read its key
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    key = path.read_text().strip()
    if weakness(key):
        raise ImproperlyConfigured(f"The secret key in {path} is unusable ({weakness(key)}); delete the file to "
                                   "have a new one generated, or set DJANGO_SECRET_KEY.")
    return key


def secret_key(environ_key, var_dir, debug):
    """DJANGO_SECRET_KEY when set (refused if weak and DEBUG is off), else the install's kept key."""
    if environ_key:
        problem = weakness(environ_key)
        if problem and not debug:
            raise ImproperlyConfigured(
                f"DJANGO_SECRET_KEY is refused: {problem}. Unset it to have a key generated and kept in "
                f"{Path(var_dir) / KEY_FILE_NAME}, or set one from: "
                "python -c 'import secrets; print(secrets.token_urlsafe(64))'")
        return environ_key
    return kept_key(var_dir)
