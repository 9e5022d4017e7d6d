"""Zeroing units: all of a layer's units leaves chance accuracy, none leaves it unchanged."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from scoring.ablation import ablation_effect, units_zeroed, zeroing_mode


def colour_task(n=300, seed=0):
    """8x8 images whose class is the colour channel (R, G or B) of a bright square, balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.normal(0, 0.1, (n, 3, 8, 8)).astype(np.float32)
    for i, label in enumerate(labels):
        y, x = rng.integers(0, 5, 2)
        images[i, label, y:y + 3, x:x + 3] += 1.0
    return torch.from_numpy(images), labels


def trained_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(
        block=nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU()),
        pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(6, 3),
    ))
    images, labels = colour_task(seed=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(images), torch.from_numpy(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return trained_cnn()


def test_zeroing_no_unit_leaves_accuracy_unchanged(model):
    images, labels = colour_task()
    effect = ablation_effect(model, "block", [], images, labels, 3)
    assert effect.baseline_accuracy > 0.9
    assert effect.ablated_accuracy == effect.baseline_accuracy
    assert np.array_equal(effect.drop, np.zeros(3))


def test_zeroing_every_unit_of_the_layer_drops_accuracy_to_chance(model):
    images, labels = colour_task()
    effect = ablation_effect(model, "block", range(6), images, labels, 3)
    assert effect.ablated_accuracy == pytest.approx(1 / 3)  # one constant class, balanced set
    assert sorted(effect.ablated.tolist()) == [0.0, 0.0, 1.0]


def test_the_weights_are_restored_and_the_feature_map_is_exactly_zero_inside(model):
    images, _ = colour_task(n=6)
    before = [p.clone() for p in model.parameters()]
    with units_zeroed(model, "block", [1, 4]):
        maps = model.block(images)
        assert torch.count_nonzero(maps[:, [1, 4]]) == 0 and torch.count_nonzero(maps[:, [0, 2]]) > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert zeroing_mode(model, "block") == "weights"


def test_a_layer_that_is_not_a_plain_chain_is_zeroed_on_its_output():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(x) + x

    model = nn.Sequential(OrderedDict(res=Residual(), pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten()))
    assert zeroing_mode(model, "res") == "output-hook"
    with units_zeroed(model, "res", [2]):
        out = model(torch.ones(2, 3, 4, 4))
    assert out[:, 2].abs().sum() == 0 and out[:, 0].abs().sum() > 0
    assert model(torch.ones(1, 3, 4, 4))[:, 2].abs().sum() > 0


def test_class_most_hurt_by_a_unit_comes_first(model):
    images, labels = colour_task()
    effects = [ablation_effect(model, "block", [u], images, labels, 3) for u in range(6)]
    strongest = max(effects, key=lambda e: np.nanmax(e.drop))
    hurt = strongest.most_hurt(["red", "green", "blue"], count=3)
    assert hurt[0][1] == pytest.approx(float(np.nanmax(strongest.drop))) and hurt[0][1] > 0
