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
