import os
import tempfile

import pytest

# Tests never reach a model hub, and never write into the developer's var/.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("NEURONEVAL_VAR_DIR", tempfile.mkdtemp(prefix="neuroneval-test-var-"))


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    """Each test writes media under its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_entry_limits():
    """Each test starts with no new-rater count against the test client's address."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request):
    """SQLite test databases live in a file, as in production, so live-server tests
    run real concurrent connections (an in-memory database is one shared connection)."""
    from django.conf import settings

    default = settings.DATABASES["default"]
    if default["ENGINE"] == "django.db.backends.sqlite3" and not default.get("TEST", {}).get("NAME"):
        worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
        folder = tempfile.mkdtemp(prefix="neuroneval-test-db-")
        default.setdefault("TEST", {})["NAME"] = os.path.join(folder, f"test-{worker}.sqlite3")
