"""Equation 1 of TeLLMe: weights of a unit to the classes through the layers after it."""
import pytest
import torch
from torch import nn

from explain.unit_weights import class_weights, next_layer_weights


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)
    )


def test_last_hidden_layer_weights_are_the_output_layer_weights():
    model = small_cnn()
    assert torch.equal(class_weights(model, "3", 5), model[6].weight.detach())


def test_earlier_layer_weights_are_the_product_down_to_the_output():
    model = small_cnn()
    expected = model[6].weight.detach() @ model[2].weight.detach().sum(dim=(2, 3))
    assert torch.allclose(class_weights(model, "1", 4), expected)
    assert class_weights(model, "1", 4).shape == (3, 4)


def test_a_flattened_feature_map_sums_each_channels_block_of_inputs():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.Linear(2 * 4, 3))
    blocks = model[2].weight.detach().reshape(3, 2, 4).sum(dim=2)
    assert torch.allclose(class_weights(model, "0", 2), blocks)


def test_next_layer_weights_name_the_module_the_layer_feeds():
    model = small_cnn()
    name, matrix = next_layer_weights(model, "1", 4)
    assert name == "2" and torch.allclose(matrix, model[2].weight.detach().sum(dim=(2, 3)))


def test_unknown_layer_is_named_in_the_error():
    with pytest.raises(KeyError, match="layer9"):
        class_weights(small_cnn(), "layer9", 4)
