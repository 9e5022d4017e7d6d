"""Neuron ablation: zero a unit's feature map and measure the accuracy drop per class.

A unit is zeroed through the weights that make its feature map: the output channel of the layer's
last conv / linear (weight and bias) and, when a batch norm follows it inside the layer, that
channel's scale and shift too, so the map is exactly zero after the ReLU and pooling that follow.
Layers whose output is not such a chain (a ResNet block adds its shortcut after the last conv) get
the channel zeroed on the layer's output instead, through a forward hook; `zeroing_mode` says which.

Accuracy per class: for a single-label probing set, the share of a class's images predicted as that
class (per-class recall); for a multi-label set (the demo CNN predicts the presence of each concept)
the binary accuracy of each class's presence prediction.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

_PASS_THROUGH = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity)


def _feature_map_modules(layer: nn.Module):
    """(conv or linear, following batch norm or None) when the layer's output is that chain's; else None."""
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        return layer, None
    if not isinstance(layer, nn.Sequential):
        return None
    children = list(layer.children())
    producers = [i for i, child in enumerate(children) if isinstance(child, (nn.Conv2d, nn.Linear))]
    if not producers:
        return None
    last = producers[-1]
    norm = None
    for child in children[last + 1:]:
        if isinstance(child, (nn.BatchNorm2d, nn.BatchNorm1d)) and norm is None:
            norm = child
        elif not isinstance(child, _PASS_THROUGH):
            return None
    return children[last], norm


def zeroing_mode(model: nn.Module, layer_name: str) -> str:
    return "weights" if _feature_map_modules(dict(model.named_modules())[layer_name]) else "output-hook"


@contextlib.contextmanager
def units_zeroed(model: nn.Module, layer_name: str, units: Sequence[int]):
    """Within the block, `units` of `layer_name` output zero; everything is restored afterwards."""
    modules = dict(model.named_modules())
    if layer_name not in modules:
        raise KeyError(f"no module named {layer_name!r} in the network")
    units = list(units)
    chain = _feature_map_modules(modules[layer_name])
    if chain is None:
        def zero_output(_module, _inputs, output):
            output = output.clone()
            output[:, units] = 0
            return output

        handle = modules[layer_name].register_forward_hook(zero_output)
        try:
            yield
        finally:
            handle.remove()
        return
    saved = []
    with torch.no_grad():
        for module in chain:
            if module is None:
                continue
            for parameter in (module.weight, module.bias):
                if parameter is not None:
                    saved.append((parameter, parameter[units].clone()))
                    parameter[units] = 0
    try:
        yield
    finally:
        with torch.no_grad():
            for parameter, values in saved:
                parameter[units] = values


@torch.inference_mode()
def predictions(model: nn.Module, inputs: torch.Tensor, multilabel: bool, batch_size: int = 256) -> np.ndarray:
    """Predicted class per image, or (n, classes) booleans for a multi-label model (logit > 0)."""
    outputs = torch.cat([model(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])
    return (outputs > 0).numpy() if multilabel else outputs.argmax(dim=1).numpy()


def accuracy_per_class(predicted: np.ndarray, targets: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(accuracy of each class, images of each class, overall accuracy); NaN for a class with no image."""
    if targets.ndim == 2:  # multi-label presence
        correct = predicted == targets.astype(bool)
        return correct.mean(axis=0), targets.sum(axis=0), float(correct.mean())
    counts = np.bincount(targets, minlength=n_classes)
    hits = np.bincount(targets[predicted == targets], minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return per_class, counts, float((predicted == targets).mean())


@dataclass
class AblationEffect:
    units: list[int]
    baseline: np.ndarray  # accuracy per class
    ablated: np.ndarray
    counts: np.ndarray
    baseline_accuracy: float
    ablated_accuracy: float

    @property
    def drop(self) -> np.ndarray:
        return self.baseline - self.ablated

    def most_hurt(self, class_names: Sequence[str], count: int = 5) -> list[tuple[str, float]]:
        drop = np.nan_to_num(self.drop, nan=-np.inf)
        order = np.argsort(-drop, kind="stable")[:count]
        return [(class_names[i], float(self.drop[i])) for i in order if np.isfinite(drop[i])]


def ablation_effect(model: nn.Module, layer_name: str, units: Sequence[int], inputs: torch.Tensor, targets: np.ndarray,
                    n_classes: int, baseline: tuple | None = None) -> AblationEffect:
    """Accuracy per class with and without `units` zeroed (pass `baseline` to reuse the unablated one)."""
    multilabel = targets.ndim == 2
    if baseline is None:
        baseline = accuracy_per_class(predictions(model, inputs, multilabel), targets, n_classes)
    with units_zeroed(model, layer_name, units):
        ablated = accuracy_per_class(predictions(model, inputs, multilabel), targets, n_classes)
    return AblationEffect(list(units), baseline[0], ablated[0], baseline[1], baseline[2], ablated[2])
