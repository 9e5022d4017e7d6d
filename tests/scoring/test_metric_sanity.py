"""metric_sanity on the demo CNN and its synthetic probing set: the paper's verdicts, printed one line per test."""
import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from demo.network import DemoTrainingConfig, ensure_demo_network
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
from scoring.faithfulness import RELIABLE_METRICS


@pytest.fixture(scope="session")
def trained_weights(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-weights-sanity")


@pytest.fixture
def demo(db, settings, tmp_path, trained_weights):
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    shutil.copytree(trained_weights, settings.VAR_DIR / "networks", dirs_exist_ok=True)
    # The demo's own probing set and training recipe (about half a minute of training, once per session).
    probe = ensure_synthetic_probe("synthetic-sanity", seed=0, config=SyntheticConfig())
    network = ensure_demo_network(seed=0, config=DemoTrainingConfig())
    shutil.copytree(settings.VAR_DIR / "networks", trained_weights, dirs_exist_ok=True)
    return network, probe


def verdicts(output: str) -> dict[tuple[str, str], str]:
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ("missing-labels", "extra-labels"):
            found[(parts[0], parts[2])] = parts[-1]
    return found


def test_on_the_output_layer_the_reliable_metrics_pass_and_recall_fails_extra_labels(demo):
    out = io.StringIO()
    call_command("metric_sanity", network="demo-cnn", layer="fc", probe="synthetic-sanity", stdout=out)
    found = verdicts(out.getvalue())
    assert len(found) == 18 and set(found.values()) <= {"pass", "fail"}
    for metric in RELIABLE_METRICS:
        assert found[(metric, "missing-labels")] == "pass", out.getvalue()
        assert found[(metric, "extra-labels")] == "pass", out.getvalue()
    assert found[("recall", "extra-labels")] == "fail"
    assert found[("precision", "missing-labels")] == "fail"
    known = [line for line in out.getvalue().splitlines() if "known-neuron" in line and "meta-AUPRC" in line]
    assert len(known) == 9
    meta = {line.split()[0]: float(line.split("meta-AUPRC")[1].split()[0]) for line in known}
    assert all(0.0 <= value <= 1.0 for value in meta.values())
    # Among and/or distractors, recall (partial to generic concepts) and precision (to specific ones) lose the truth.
    assert meta["pearson"] > meta["recall"] and meta["pearson"] > meta["precision"]


def test_hidden_units_get_their_best_label_and_the_known_neuron_test_finds_the_output_layer(demo):
    out = io.StringIO()
    call_command("metric_sanity", network="demo-cnn", layer="conv4", probe="synthetic-sanity", stdout=out)
    text = out.getvalue()
    assert "demo-cnn/conv4 on synthetic-sanity" in text and "the label raising the unit most" in text
    assert "Known-neuron test on demo-cnn/fc (15 output units" in text and "and/or of label pairs" in text
    assert len(verdicts(text)) == 18


def test_bad_requests_are_command_errors(demo, db):
    with pytest.raises(CommandError, match="no network named 'nope'"):
        call_command("metric_sanity", network="nope", layer="fc", probe="synthetic-sanity")
    with pytest.raises(CommandError, match="no probing dataset named 'nope'"):
        call_command("metric_sanity", network="demo-cnn", layer="fc", probe="nope")
    with pytest.raises(CommandError, match="no layer 'layer9'"):
        call_command("metric_sanity", network="demo-cnn", layer="layer9", probe="synthetic-sanity")
    with pytest.raises(CommandError, match="not a classifier output"):
        call_command("metric_sanity", network="demo-cnn", layer="conv4", probe="synthetic-sanity", known_layer="conv3")
    with pytest.raises(CommandError, match="--concept-share"):
        call_command("metric_sanity", network="demo-cnn", layer="fc", probe="synthetic-sanity", concept_share=1.5)
