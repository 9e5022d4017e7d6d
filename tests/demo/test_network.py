import pytest
import torch

from demo.network import DemoTrainingConfig, ensure_demo_network, train_demo_network
from explain.networks import load_network
from demo.synthetic import CONCEPT_NAMES

TINY = DemoTrainingConfig(training_images=96, epochs=1, batch_size=32)


def test_training_is_deterministic_for_a_seed_and_reports_held_out_accuracy():
    first, metrics = train_demo_network(seed=3, config=TINY)
    again, _ = train_demo_network(seed=3, config=TINY)
    other, _ = train_demo_network(seed=4, config=TINY)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert not torch.equal(first.state_dict()["conv1.conv.weight"], other.state_dict()["conv1.conv.weight"])
    assert metrics["test_images"] == 800
    assert set(metrics["per_concept_accuracy"]) == set(CONCEPT_NAMES)
    assert 0.0 <= metrics["mean_concept_accuracy"] <= 1.0


@pytest.mark.django_db
def test_demo_network_is_saved_as_a_state_dict_once_and_loads_by_name(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    network = ensure_demo_network(seed=0, config=TINY)
    weights = tmp_path / network.weights_source
    assert weights.exists() and network.class_names == CONCEPT_NAMES
    modified = weights.stat().st_mtime_ns
    assert ensure_demo_network(seed=0, config=TINY).pk == network.pk
    assert weights.stat().st_mtime_ns == modified  # not retrained
    model, preprocess = load_network("demo-cnn")
    assert torch.equal(model.state_dict()["fc.weight"], torch.load(weights)["fc.weight"])
    with pytest.raises(ValueError, match="already exists with weights"):
        ensure_demo_network(seed=1, config=TINY)
