"""Production defaults: settings loaded in a fresh interpreter with a given environment."""
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config.secret_key import PUBLIC_KEYS, weakness

ROOT = Path(__file__).resolve().parents[2]
READ_SETTINGS = (
    "import json, config.settings as s; print(json.dumps({name: getattr(s, name, None) for name in "
    "['DEBUG', 'SECRET_KEY', 'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'SECURE_PROXY_SSL_HEADER', "
    "'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE']}))"
)


def clean_environment(tmp_path, **values):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NEURONEVAL_"))}
    env.update(NEURONEVAL_VAR_DIR=str(tmp_path), **values)
    return env


def load_settings(tmp_path, **values):
    done = subprocess.run([sys.executable, "-c", READ_SETTINGS], cwd=ROOT, env=clean_environment(tmp_path, **values),
                          capture_output=True, text=True, timeout=120)
    return done


def real_key():
    return secrets.token_urlsafe(64)


def test_debug_is_off_unless_asked_for_and_a_key_is_generated_once_and_kept(tmp_path):
    first = json.loads(load_settings(tmp_path).stdout)
    assert first["DEBUG"] is False
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not weakness(first["SECRET_KEY"])
    again = json.loads(load_settings(tmp_path, DJANGO_DEBUG="1").stdout)
    assert again["DEBUG"] is True
    assert again["SECRET_KEY"] == first["SECRET_KEY"]


@pytest.mark.parametrize("key", sorted(PUBLIC_KEYS) + ["short-but-mine", "django-insecure-" + "x1y2z3" * 10])
def test_a_public_or_weak_key_from_the_environment_stops_the_app_when_debug_is_off(tmp_path, key):
    done = load_settings(tmp_path, DJANGO_SECRET_KEY=key)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is refused" in done.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_real_key_from_the_environment_is_used_as_given(tmp_path):
    key = real_key()
    assert json.loads(load_settings(tmp_path, DJANGO_SECRET_KEY=key).stdout)["SECRET_KEY"] == key


def test_an_https_site_url_trusts_its_origin_and_turns_on_https_only_settings(tmp_path):
    loaded = json.loads(load_settings(tmp_path, NEURONEVAL_SITE_URL="https://ratings.example.org/").stdout)
    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://ratings.example.org"]
    assert "ratings.example.org" in loaded["ALLOWED_HOSTS"]
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["SECURE_SSL_REDIRECT"] is True and loaded["SESSION_COOKIE_SECURE"] is True
    local = json.loads(load_settings(tmp_path).stdout)
    assert local["CSRF_TRUSTED_ORIGINS"] == ["http://127.0.0.1:8000"]
    assert local["SECURE_PROXY_SSL_HEADER"] is None and local["SECURE_SSL_REDIRECT"] is None


@pytest.mark.slow
def test_check_deploy_is_clean_for_an_https_site_with_a_real_key(tmp_path):
    env = clean_environment(tmp_path, NEURONEVAL_SITE_URL="https://ratings.example.org", DJANGO_SECRET_KEY=real_key())
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_standard_password_validators_refuse_common_numeric_and_short_passwords():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["password123", "12345678901", "short"]:
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("violet-harbour-lantern-42")
