"""Target networks: a registry of architectures, their weights, and reading layers by module name.

`Network.weights_source` says where the weights come from:
- a state-dict file: an absolute path, or a path relative to settings.VAR_DIR;
- `torchvision:<enum member>` (e.g. `torchvision:IMAGENET1K_V2`): torchvision's public
  weights, downloaded by torchvision where a hub is reachable;
- `random:<seed>`: random initialisation from a seed (untrained baselines, tests).

A unit of a conv layer is a channel. A unit of a ViT encoder block is a hidden
dimension; its activation map is that dimension over the grid of patch tokens
(class token dropped), so the spatial-mean summary is the mean over patch tokens.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tv_models
from torchvision import transforms

from explain.registries import registered_architectures

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TORCHVISION_ARCHITECTURES = {
    "resnet18": {"input_size": 224},
    "resnet50": {"input_size": 224},
    "resnet152": {"input_size": 224},
    "alexnet": {"input_size": 224},
    "vit_b_16": {"input_size": 224},
}


class NetworkError(ValueError):
    """A network or layer that cannot be loaded as asked; the message says which and why."""


def architectures() -> list[str]:
    """torchvision's, and those other apps registered (explain.registries), e.g. the demo app's demo-cnn."""
    return sorted({*TORCHVISION_ARCHITECTURES, *registered_architectures()})


def build_architecture(architecture: str, num_classes: int | None = None) -> nn.Module:
    """The architecture with freshly initialised weights (seed the RNG first for reproducibility)."""
    registered = registered_architectures()
    if architecture in registered:
        build, _ = registered[architecture]
        return build(num_classes)
    if architecture not in TORCHVISION_ARCHITECTURES:
        raise NetworkError(f"unknown architecture {architecture!r}; registry: {', '.join(architectures())}")
    return tv_models.get_model(architecture, weights=None, num_classes=num_classes or 1000)


def default_preprocess(architecture: str):
    registered = registered_architectures()
    if architecture in registered:
        _, preprocess = registered[architecture]
        return preprocess()
    size = TORCHVISION_ARCHITECTURES[architecture]["input_size"]
    return transforms.Compose(
        [
            transforms.Resize((size, size), antialias=True),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def resolve_weights_path(source: str) -> Path:
    from django.conf import settings

    path = Path(source).expanduser()
    return path if path.is_absolute() else Path(settings.VAR_DIR) / path


def load_network(network):
    """(model in eval mode, preprocess: PIL image -> tensor) for a Network row or its name."""
    from explain.lookups import named
    from explain.models import Network

    network = named(Network, network, what="network", error=NetworkError)
    architecture, source = network.architecture, network.weights_source.strip()
    if architecture not in architectures():
        raise NetworkError(f"network {network.name}: unknown architecture {architecture!r}; registry: {', '.join(architectures())}")
    num_classes = len(network.class_names) or None
    preprocess = default_preprocess(architecture)

    if not source:
        raise NetworkError(f"network {network.name} has no weights_source (imported explanations only); it cannot be run")
    if source.startswith("random:"):
        torch.manual_seed(int(source.split(":", 1)[1] or 0))
        model = build_architecture(architecture, num_classes)
    elif source.startswith("torchvision:"):
        if architecture not in TORCHVISION_ARCHITECTURES:
            raise NetworkError(f"network {network.name}: torchvision weights exist only for {', '.join(TORCHVISION_ARCHITECTURES)}")
        member = source.split(":", 1)[1]
        try:
            weights = tv_models.get_model_weights(architecture)[member]
        except KeyError:
            members = ", ".join(w.name for w in tv_models.get_model_weights(architecture))
            raise NetworkError(f"network {network.name}: {architecture} has no torchvision weights {member!r} ({members})") from None
        try:
            model = tv_models.get_model(architecture, weights=weights)
        except Exception as error:  # no hub here: urllib/HTTP errors of many kinds
            raise NetworkError(
                f"network {network.name}: could not fetch torchvision weights {member} ({error}); "
                "save them as a state dict and set weights_source to its path"
            ) from None
        preprocess = weights.transforms()
    else:
        path = resolve_weights_path(source)
        if not path.exists():
            raise NetworkError(f"network {network.name}: weights file {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if num_classes is None:
            num_classes = _infer_num_classes(architecture, state)
        model = build_architecture(architecture, num_classes)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise NetworkError(f"network {network.name}: {path} does not fit {architecture}: {error}") from None
    return model.eval(), preprocess


def _infer_num_classes(architecture: str, state: dict) -> int | None:
    """Places365 ResNets and the like differ only in the classifier width; read it from the file."""
    for key in ("fc.weight", "classifier.6.weight", "heads.head.weight", "classifier.weight"):
        if key in state:
            return int(state[key].shape[0])
    return None


def layer_names(model: nn.Module) -> list[str]:
    """Addressable module names, input side first."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if not name or name not in modules:
        tops = [n for n in layer_names(model) if "." not in n]
        raise NetworkError(f"the network has no layer {name!r}; top-level layers: {', '.join(tops)}")
    return modules[name]


def to_unit_maps(output: torch.Tensor) -> torch.Tensor:
    """A layer output as (batch, units, h, w).

    Conv: as is. Linear: (batch, units, 1, 1). ViT block (batch, 1 + patches, hidden):
    the class token is dropped and each hidden dimension is laid out over the patch grid.
    """
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.dim() == 4:
        return output
    if output.dim() == 2:
        return output[:, :, None, None]
    if output.dim() == 3:
        tokens = output.shape[1]
        for drop in (1, 0):
            side = int(round((tokens - drop) ** 0.5))
            if side * side == tokens - drop:
                patches = output[:, drop:, :]
                return patches.transpose(1, 2).reshape(output.shape[0], output.shape[2], side, side)
        raise NetworkError(f"cannot lay {tokens} tokens out on a square grid")
    raise NetworkError(f"layer output of shape {tuple(output.shape)} has no unit axis this tool understands")


@contextlib.contextmanager
def capture_layers(model: nn.Module, names):
    """Forward hooks that leave each named layer's output, as unit maps, in the yielded dict."""
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name in names:
        module = get_layer(model, name)

        def hook(_module, _inputs, output, name=name):
            captured[name] = to_unit_maps(output)

        handles.append(module.register_forward_hook(hook))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
