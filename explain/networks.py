"""Target networks: architectures by name, their weights and preprocessing, and reading layers by module name.

`Network.architecture` is any torchvision classification model by name (`resnet34`, `vit_b_16`,
`convnext_tiny`, ...), a timm model as `timm:<name>` (a bare name torchvision does not know is looked up
in timm too), or an architecture another app registered (explain.registries, e.g. the demo app's demo-cnn).

`Network.weights_source` says where the weights come from:
- a state-dict file: an absolute path, or a path relative to settings.VAR_DIR;
- `torchvision:<enum member>` (e.g. `torchvision:IMAGENET1K_V2`): torchvision's public
  weights, downloaded by torchvision where a hub is reachable;
- `random:<seed>`: random initialisation from a seed (untrained baselines, tests).

`Network.preprocessing` is how a PIL image becomes the network's input. Empty means "as the weights
expect": a torchvision model takes its weights' transforms (the given enum member's, else the
architecture's IMAGENET1K_V1, else its DEFAULT; for the ImageNet classifiers resize the shorter side to
256, center-crop 224, ImageNet mean/std, as the CLIP-Dissect and DnD reference code do), a timm model its pretrained config
(resize to input size / crop_pct, center crop), a registered architecture its own. A dict overrides it: `resize` (shorter side) and
`crop` (center crop), or `squash` (both sides to this size, no crop); `mean`, `std`, `interpolation`.

A unit of a conv layer is a channel. A unit of a ViT encoder block is a hidden
dimension; its activation map is that dimension over the grid of patch tokens
(class token dropped), so the spatial-mean summary is the mean over patch tokens.
"""
from __future__ import annotations

import contextlib
import math
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tv_models
from torchvision import transforms

from explain.registries import registered_architectures

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TIMM_PREFIX = "timm:"
INTERPOLATIONS = {
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "nearest": transforms.InterpolationMode.NEAREST,
}
PREPROCESSING_KEYS = {"resize", "crop", "squash", "mean", "std", "interpolation"}


class NetworkError(ValueError):
    """A network or layer that cannot be loaded as asked; the message says which and why."""


@lru_cache(maxsize=1)
def torchvision_classifiers() -> frozenset[str]:
    return frozenset(tv_models.list_models(module=tv_models))


def _timm_models(name: str) -> bool:
    import timm

    return bool(timm.list_models(name))


def architectures() -> list[str]:
    """torchvision's classifiers and those other apps registered; any timm model is accepted too (`timm:<name>`)."""
    return sorted({*torchvision_classifiers(), *registered_architectures()})


def resolve_architecture(architecture: str) -> tuple[str, str]:
    """("registered" | "torchvision" | "timm", model name) for an architecture string, or NetworkError."""
    architecture = (architecture or "").strip()
    if architecture in registered_architectures():
        return "registered", architecture
    if architecture.startswith(TIMM_PREFIX):
        name = architecture[len(TIMM_PREFIX) :]
        if name and _timm_models(name):
            return "timm", name
        raise NetworkError(f"timm has no model {name!r} (see timm.list_models())")
    if architecture in torchvision_classifiers():
        return "torchvision", architecture
    if architecture and _timm_models(architecture):
        return "timm", architecture
    raise NetworkError(
        f"unknown architecture {architecture!r}: not a torchvision classification model "
        f"(e.g. {', '.join(sorted(torchvision_classifiers())[:6])}, ...), not a timm model, "
        f"not a registered one ({', '.join(sorted(registered_architectures())) or 'none'})"
    )


def build_architecture(architecture: str, num_classes: int | None = None) -> nn.Module:
    """The architecture with freshly initialised weights (seed the RNG first for reproducibility)."""
    library, name = resolve_architecture(architecture)
    if library == "registered":
        build, _ = registered_architectures()[name]
        return build(num_classes)
    if library == "timm":
        import timm

        kwargs = {"num_classes": num_classes} if num_classes else {}
        return timm.create_model(name, pretrained=False, **kwargs)
    return tv_models.get_model(name, weights=None, num_classes=num_classes or 1000)


def torchvision_weights(architecture: str, source: str):
    """The torchvision weights enum member a network's weights follow, or None (no download).

    For weights that are not torchvision's (a state-dict file, random:<seed>) this is the architecture's
    IMAGENET1K_V1 where it has one, else its DEFAULT: V1 is the classic recipe (resize 256, center-crop 224)
    that the CLIP-Dissect and DnD reference code use for every ResNet and that published checkpoints follow,
    where DEFAULT may be a later recipe (ResNet-50's IMAGENET1K_V2 resizes to 232).
    """
    library, name = resolve_architecture(architecture)
    if library != "torchvision":
        return None
    available = tv_models.get_model_weights(name)
    if source.startswith("torchvision:"):
        member = source.split(":", 1)[1]
        try:
            return available[member]
        except KeyError:
            members = ", ".join(w.name for w in available)
            raise NetworkError(f"{name} has no torchvision weights {member!r} ({members})") from None
    return getattr(available, "IMAGENET1K_V1", None) or getattr(available, "DEFAULT", None)


def weights_preprocessing(architecture: str, source: str = "", model: nn.Module | None = None) -> dict:
    """The preprocessing spec the weights expect (see the module doc); {} for a registered architecture (its own)."""
    library, name = resolve_architecture(architecture)
    if library == "torchvision":
        weights = torchvision_weights(architecture, source)
        preset = weights.transforms() if weights is not None else None
        if preset is None or not hasattr(preset, "crop_size"):
            return {"resize": 256, "crop": 224, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "interpolation": "bilinear"}
        return {
            "resize": int(preset.resize_size[0]),
            "crop": int(preset.crop_size[0]),
            "mean": [float(v) for v in preset.mean],
            "std": [float(v) for v in preset.std],
            "interpolation": preset.interpolation.value,
        }
    if library == "timm":
        from timm.data import resolve_data_config

        config = resolve_data_config({}, model=model if model is not None else build_architecture(architecture))
        size = int(config["input_size"][-1])
        return {
            "resize": int(math.floor(size / config.get("crop_pct", 1.0))),
            "crop": size,
            "mean": [float(v) for v in config["mean"]],
            "std": [float(v) for v in config["std"]],
            "interpolation": config.get("interpolation", "bilinear") if config.get("interpolation") in INTERPOLATIONS else "bilinear",
        }
    return {}


def check_preprocessing(spec) -> dict:
    """`spec` if it is a valid preprocessing override (see the module doc), else NetworkError naming the problem."""
    if not spec:
        return {}
    if not isinstance(spec, dict):
        raise NetworkError(f"preprocessing must be an object, got {type(spec).__name__}")
    unknown = sorted(set(spec) - PREPROCESSING_KEYS)
    if unknown:
        raise NetworkError(f"preprocessing: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(PREPROCESSING_KEYS))}")
    if ("squash" in spec) == ("resize" in spec):
        raise NetworkError("preprocessing needs exactly one of 'resize' (shorter side, with an optional 'crop') or 'squash'")
    if "squash" in spec and "crop" in spec:
        raise NetworkError("preprocessing: 'squash' resizes both sides; it takes no 'crop'")
    for key in ("resize", "crop", "squash"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 1):
            raise NetworkError(f"preprocessing: {key} must be a positive whole number of pixels, got {spec[key]!r}")
    for key in ("mean", "std"):
        values = spec.get(key, [0.0, 0.0, 0.0])
        if not isinstance(values, (list, tuple)) or len(values) != 3 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise NetworkError(f"preprocessing: {key} must be three numbers (R, G, B), got {values!r}")
    if any(v <= 0 for v in spec.get("std", [1.0])):
        raise NetworkError("preprocessing: std must be positive")
    if spec.get("interpolation", "bilinear") not in INTERPOLATIONS:
        raise NetworkError(f"preprocessing: interpolation must be one of {', '.join(INTERPOLATIONS)}")
    return dict(spec)


def build_preprocess(spec: dict):
    """PIL image -> normalised tensor, from a preprocessing spec."""
    spec = check_preprocessing(spec)
    interpolation = INTERPOLATIONS[spec.get("interpolation", "bilinear")]
    if "squash" in spec:
        steps = [transforms.Resize((spec["squash"], spec["squash"]), interpolation=interpolation, antialias=True)]
    else:
        steps = [transforms.Resize(spec["resize"], interpolation=interpolation, antialias=True)]
        if "crop" in spec:
            steps.append(transforms.CenterCrop(spec["crop"]))
    return transforms.Compose(
        [
            *steps,
            transforms.ToTensor(),
            transforms.Normalize(spec.get("mean", IMAGENET_MEAN), spec.get("std", IMAGENET_STD)),
        ]
    )


def effective_preprocessing(network, model: nn.Module | None = None) -> dict:
    """The preprocessing spec a Network row runs with: its override, else what its weights expect."""
    if network.preprocessing:
        return check_preprocessing(network.preprocessing)
    return weights_preprocessing(network.architecture, network.weights_source.strip(), model)


def visible_region(height: int, width: int, spec: dict) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of an image of this size that the network sees after `spec`'s resize and
    center crop, in the image's own pixels; None when it sees the whole image (squash, no crop)."""
    if not spec or "squash" in spec or "crop" not in spec:
        return None
    scale = spec["resize"] / min(height, width)
    resized_h, resized_w = (spec["resize"], int(spec["resize"] * width / height)) if height <= width else (
        int(spec["resize"] * height / width), spec["resize"])
    crop = spec["crop"]
    if crop > resized_h or crop > resized_w:
        return None
    top, left = int(round((resized_h - crop) / 2.0)), int(round((resized_w - crop) / 2.0))
    return (
        int(round(top / scale)), int(round(left / scale)),
        min(height, int(round((top + crop) / scale))), min(width, int(round((left + crop) / scale))),
    )


def network_preprocess(network, model: nn.Module | None = None):
    """The preprocess of a Network row: its override, else what its weights expect."""
    if network.preprocessing:
        return build_preprocess(network.preprocessing)
    library, name = resolve_architecture(network.architecture)
    if library == "registered":
        _, preprocess = registered_architectures()[name]
        return preprocess()
    return build_preprocess(weights_preprocessing(network.architecture, network.weights_source.strip(), model))


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
    try:
        library, name = resolve_architecture(architecture)
    except NetworkError as error:
        raise NetworkError(f"network {network.name}: {error}") from None
    num_classes = len(network.class_names) or None

    if not source:
        raise NetworkError(f"network {network.name} has no weights_source (imported explanations only); it cannot be run")
    if source.startswith("random:"):
        try:
            seed = int(source.split(":", 1)[1] or 0)
        except ValueError:
            raise NetworkError(f"network {network.name}: weights {source!r}: the seed must be a whole number") from None
        torch.manual_seed(seed)
        model = build_architecture(architecture, num_classes)
    elif source.startswith("torchvision:"):
        if library != "torchvision":
            raise NetworkError(f"network {network.name}: torchvision weights need a torchvision architecture, not {architecture!r}")
        try:
            weights = torchvision_weights(architecture, source)
        except NetworkError as error:
            raise NetworkError(f"network {network.name}: {error}") from None
        try:
            model = tv_models.get_model(name, weights=weights)
        except Exception as error:  # no hub here: urllib/HTTP errors of many kinds
            raise NetworkError(
                f"network {network.name}: could not fetch torchvision weights {weights.name} ({error}); "
                "save them as a state dict and set weights_source to its path"
            ) from None
    else:
        path = resolve_weights_path(source)
        if not path.exists():
            raise NetworkError(f"network {network.name}: weights file {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip and torch errors of many kinds
            raise NetworkError(f"network {network.name}: {path} is not a readable state dict ({type(error).__name__}: {error})") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise NetworkError(f"network {network.name}: {path} holds a {type(state).__name__}, not a state dict")
        state = {key.removeprefix("module."): value for key, value in state.items()}  # saved from DataParallel
        if num_classes is None:
            num_classes = _infer_num_classes(architecture, state)
        model = build_architecture(architecture, num_classes)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise NetworkError(f"network {network.name}: {path} does not fit {architecture}: {error}") from None
    return model.eval(), network_preprocess(network, model)


def _infer_num_classes(architecture: str, state: dict) -> int | None:
    """Places365 ResNets and the like differ only in the classifier width; read it from the file."""
    for key in ("fc.weight", "classifier.6.weight", "heads.head.weight", "classifier.weight", "head.fc.weight", "head.weight"):
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
