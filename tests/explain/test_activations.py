import numpy as np
import pytest
import torch

from explain.activations import get_activation_cache, layer_maps, merge_top_k, record_activations, unit_activations
from explain.models import Network
from explain.networks import load_network
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


@pytest.fixture
def probe(db):
    return ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=40))


@pytest.fixture
def random_cnn(db):
    return Network.objects.create(name="random-cnn", architecture="demo-cnn", weights_source="random:0")


def brute_force_top_k(summaries, k):
    """Per unit, the k image rows with the highest value, earlier row first among equals."""
    return np.array(
        [sorted(range(len(column)), key=lambda row: (-column[row], row))[:k] for column in summaries.T]
    )


def test_merging_batches_equals_sorting_everything_including_ties():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, size=(30, 6)).astype(np.float32)  # many ties
    kept_values, kept_rows, kept_maps = np.zeros((6, 0)), np.zeros((6, 0), int), np.zeros((6, 0, 1, 1))
    for start in range(0, 30, 7):
        batch = values[start : start + 7]
        kept_values, kept_rows, kept_maps = merge_top_k(
            kept_values, kept_rows, kept_maps, batch.T, np.arange(start, start + len(batch)), batch.T[:, :, None, None], 4
        )
    assert np.array_equal(kept_rows, brute_force_top_k(values, 4))
    assert np.array_equal(kept_maps[:, :, 0, 0], np.take_along_axis(values.T, kept_rows, axis=1))


def test_one_pass_records_every_unit_and_streaming_top_k_matches_brute_force(var_dir, probe, random_cnn):
    caches = record_activations(random_cnn, probe, ["conv2", "conv3"], top_k=5, batch_size=8, show_progress=False)
    conv3 = caches["conv3"]
    assert conv3.unit_count == 64 and len(conv3.image_ids) == 40
    summaries = np.asarray(conv3.summaries())
    maps = np.asarray(conv3.maps())
    assert summaries.shape == (40, 64) and maps.shape == (40, 64, 8, 8)
    assert np.allclose(summaries, maps.mean(axis=(2, 3)), atol=1e-5)
    assert np.array_equal(conv3.top_indices(5), brute_force_top_k(summaries, 5))
    assert np.array_equal(conv3.top_indices(12), brute_force_top_k(summaries, 12))  # beyond the kept k: from summaries
    top_maps = conv3.top_maps()
    rows = conv3.top_indices(5)
    assert np.allclose(top_maps[7], maps[rows[7], 7])

    model, preprocess = load_network(random_cnn)
    from explain.probes import get_probe_set

    probe_set = get_probe_set(probe)
    images = torch.stack([preprocess(probe_set.load_image(row)) for row in range(40)])
    assert np.allclose(unit_activations(model, "conv3", images), summaries, atol=1e-5)
    assert np.allclose(unit_activations(model, "conv3", images, summary="max"), maps.max(axis=(2, 3)), atol=1e-5)
    assert np.allclose(layer_maps(model, "conv2", images), np.asarray(caches["conv2"].maps()), atol=1e-5)


def test_killed_run_resumes_after_its_last_batch_without_duplicates(var_dir, probe, random_cnn):
    reference = record_activations(random_cnn, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False)["conv3"]
    expected_rows, expected_summaries = reference.top_indices(5), np.array(reference.summaries())

    other = Network.objects.create(name="random-cnn-2", architecture="demo-cnn", weights_source="random:0")
    seen = []

    def kill_after_three_batches(done, total):
        seen.append(done)
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        record_activations(other, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False, progress=kill_after_three_batches)
    resumed = record_activations(other, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False, progress=lambda d, t: seen.append(d))["conv3"]

    assert seen == [1, 2, 3, 4, 5]  # batches 4 and 5 only, after the kill
    assert np.array_equal(resumed.top_indices(5), expected_rows)
    assert np.array_equal(np.asarray(resumed.summaries()), expected_summaries)
    assert all(len(set(row)) == 5 for row in resumed.top_indices(5))


def test_finished_recording_is_reused_and_changed_weights_start_over(var_dir, probe, random_cnn):
    first = np.array(get_activation_cache(random_cnn, probe, "conv4", batch_size=8).summaries())
    calls = []
    get_activation_cache(random_cnn, probe, "conv4", batch_size=8, progress=lambda d, t: calls.append(d))
    assert calls == []
    random_cnn.weights_source = "random:1"
    random_cnn.save()
    changed = get_activation_cache(random_cnn, probe, "conv4", batch_size=8, progress=lambda d, t: calls.append(d))
    assert calls == [1, 2, 3, 4, 5]
    assert not np.allclose(np.asarray(changed.summaries()), first)


def test_one_unit_recording_matches_that_unit_of_the_full_recording(var_dir, probe, random_cnn):
    full = record_activations(random_cnn, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False)["conv3"]
    single = record_activations(random_cnn, probe, ["conv3"], top_k=5, batch_size=8, units=[9], show_progress=False)["conv3"]
    assert np.asarray(single.summaries()).shape == (40, 1)
    assert np.array_equal(single.top_indices(5)[0], full.top_indices(5)[9])


def test_crash_after_writing_a_batch_but_before_saving_its_top_k_redoes_that_batch_once(var_dir, probe, random_cnn, monkeypatch):
    from explain import activations

    reference = record_activations(random_cnn, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False)["conv3"]
    expected_rows, expected_values = reference.top_indices(5), reference.top_values(5)

    other = Network.objects.create(name="random-cnn-3", architecture="demo-cnn", weights_source="random:0")
    original_save = activations._LayerRecorder._save_top

    def crash_when_saving_batch_two(self, completed_batches, *arrays):
        if completed_batches == 2:
            raise RuntimeError("power cut")
        return original_save(self, completed_batches, *arrays)

    monkeypatch.setattr(activations._LayerRecorder, "_save_top", crash_when_saving_batch_two)
    with pytest.raises(RuntimeError, match="power cut"):
        record_activations(other, probe, ["conv3"], top_k=5, batch_size=8, show_progress=False)
    monkeypatch.setattr(activations._LayerRecorder, "_save_top", original_save)

    batches = []
    resumed = record_activations(other, probe, ["conv3", "conv4"], top_k=5, batch_size=8, show_progress=False, progress=lambda d, t: batches.append(d))
    assert batches == [1, 2, 3, 4, 5]  # conv4 is new, so the pass starts over; conv3 skips its finished batch 1
    assert np.array_equal(resumed["conv3"].top_indices(5), expected_rows)
    assert np.allclose(resumed["conv3"].top_values(5), expected_values)


def test_writing_into_a_returned_array_never_changes_the_recording(var_dir, probe, random_cnn):
    cache = get_activation_cache(random_cnn, probe, "conv4", batch_size=8)
    summaries = cache.summaries()
    original = float(summaries[0, 0])
    summaries[0, 0] = original + 100.0
    cache.maps()[0, 0] += 100.0
    assert float(cache.summaries()[0, 0]) == original
    assert np.allclose(np.asarray(cache.maps()).mean(axis=(2, 3)), np.asarray(cache.summaries()), atol=1e-5)


def test_unknown_network_or_probing_set_is_named_in_the_error(var_dir, probe, random_cnn):
    from explain.networks import NetworkError

    with pytest.raises(NetworkError, match="no network named 'ghost'"):
        get_activation_cache("ghost", probe, "conv1")
    with pytest.raises(LookupError, match="no probing dataset named 'nothing'"):
        get_activation_cache(random_cnn, "nothing", "conv1")
