"""Weights from a layer's units to what comes after them, for the weight-based LLM explainers.

"TeLLMe what you see", equation 1: the weights of a unit to the output classes are, for the last
hidden layer, the output layer's weights, and for earlier layers the product of the weight
matrices from the unit's layer down to the output (nonlinearities ignored).

Choices the paper leaves open for convolutional networks: a conv kernel counts as the matrix of its
weights summed over the kernel's positions; a linear layer fed by a flattened feature map has its
weights summed over the spatial positions of each channel; batch norms, residual shortcuts and
modules whose input width does not continue the chain (a ResNet block's downsample branch) are
left out, so the product follows the main path.
"""
from __future__ import annotations

import torch
from torch import nn


def _module_matrix(module: nn.Module) -> torch.Tensor:
    """(out, in) matrix of a Linear or Conv2d (kernel summed over its positions)."""
    weight = module.weight.detach().float()
    return weight.sum(dim=(2, 3)) if weight.dim() == 4 else weight


def modules_after(model: nn.Module, layer_name: str) -> list[tuple[str, nn.Module]]:
    """Linear and Conv2d modules registered after `layer_name` (not inside it), in order."""
    names = [name for name, _ in model.named_modules()]
    if layer_name not in names:
        raise KeyError(f"no module named {layer_name!r} in the network")
    after = names.index(layer_name) + 1
    modules = dict(model.named_modules())
    return [
        (name, modules[name])
        for name in names[after:]
        if not name.startswith(layer_name + ".") and isinstance(modules[name], (nn.Linear, nn.Conv2d))
    ]


def next_layer_weights(model: nn.Module, layer_name: str, unit_count: int) -> tuple[str, torch.Tensor]:
    """(name of the first module fed by the layer, (its units, unit_count) weight matrix)."""
    for name, module in modules_after(model, layer_name):
        matrix = _module_matrix(module)
        if matrix.shape[1] == unit_count:
            return name, matrix
    raise ValueError(f"no Linear or Conv2d after {layer_name!r} takes its {unit_count} units as input")


def class_weights(model: nn.Module, layer_name: str, unit_count: int) -> torch.Tensor:
    """(n_classes, unit_count): the product of the weight matrices from the layer to the output."""
    product = torch.eye(unit_count)
    width = unit_count
    chain = []
    for name, module in modules_after(model, layer_name):
        matrix = _module_matrix(module)
        if matrix.shape[1] == width:
            product = matrix @ product
        elif isinstance(module, nn.Linear) and matrix.shape[1] % width == 0:
            # A flattened (channels, h, w) map: each channel owns a contiguous block of inputs.
            product = matrix.reshape(matrix.shape[0], width, -1).sum(dim=2) @ product
        else:
            continue
        width = matrix.shape[0]
        chain.append(name)
    if not chain or not isinstance(dict(model.named_modules())[chain[-1]], nn.Linear):
        raise ValueError(f"no chain of weights from {layer_name!r} to a final Linear layer")
    return product
