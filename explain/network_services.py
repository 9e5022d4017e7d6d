"""Registering a target network, and listing the layers a researcher can explain.

`add_network` is the one write for a new Network: the `add_network` management command and the API
call it. Everything is checked before the row is written (architecture known, weights source usable,
class names consistent with the classifier, preprocessing valid); nothing is downloaded.
"""
from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from explain.models import Network
from explain.networks import (
    NetworkError,
    build_architecture,
    check_preprocessing,
    load_network,
    network_preprocess,
    resolve_architecture,
    resolve_weights_path,
    to_unit_maps,
    torchvision_weights,
)


def read_class_names(source: str, architecture: str = "") -> list[str]:
    """Class names from a file (one a line) or from torchvision weights' metadata (`torchvision:<enum member>`)."""
    if source.startswith("torchvision:"):
        weights = torchvision_weights(architecture, source)
        if weights is None:
            raise NetworkError(f"class names {source!r}: {architecture!r} is not a torchvision architecture")
        return list(weights.meta.get("categories") or [])
    path = Path(source).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise NetworkError(f"class names file {path}: cannot read it ({error})") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise NetworkError(f"class names file {path} has no names (one a line)")
    return names


def _check_weights(architecture: str, weights: str) -> None:
    if weights.startswith("random:"):
        seed = weights.split(":", 1)[1]
        if not seed.lstrip("-").isdigit():
            raise NetworkError(f"weights {weights!r}: random:<seed> needs a whole-number seed")
    elif weights.startswith("torchvision:"):
        if resolve_architecture(architecture)[0] != "torchvision":
            raise NetworkError(f"weights {weights!r}: torchvision weights need a torchvision architecture, not {architecture!r}")
        torchvision_weights(architecture, weights)
    elif not resolve_weights_path(weights).is_file():
        raise NetworkError(
            f"weights {weights!r}: no such file (give a state-dict file, torchvision:<enum member> or random:<seed>)"
        )


@transaction.atomic
def add_network(
    name: str,
    architecture: str,
    weights: str,
    class_names: list[str] | str | None = None,
    preprocessing: dict | None = None,
    description: str = "",
) -> Network:
    """Register a network that the explain job can run; NetworkError (a ValueError) names what is wrong.

    class_names: a list, a file path or `torchvision:<enum member>`; by default the torchvision weights'
    metadata when the weights are torchvision's, else none (the classifier width comes from the weights).
    """
    if not name or slugify(name) != name:
        raise NetworkError(f"network name {name!r} must be a slug (letters, digits, '-', '_')")
    if Network.objects.filter(name=name).exists():
        raise NetworkError(f"a network named {name!r} already exists")
    architecture, weights = (architecture or "").strip(), (weights or "").strip()
    library, model_name = resolve_architecture(architecture)
    if library == "timm" and not architecture.startswith("timm:"):
        architecture = f"timm:{model_name}"
    if not weights:
        raise NetworkError("weights source is empty: give a state-dict file, torchvision:<enum member> or random:<seed>")
    _check_weights(architecture, weights)
    if isinstance(class_names, str):
        class_names = read_class_names(class_names, architecture)
    elif class_names is None:
        known = torchvision_weights(architecture, weights) if weights.startswith("torchvision:") else None
        class_names = list(known.meta.get("categories") or []) if known is not None else []
    network = Network(
        name=name,
        architecture=architecture,
        weights_source=weights,
        class_names=list(class_names),
        preprocessing=check_preprocessing(preprocessing or {}),
        description=description,
    )
    if not weights.startswith("torchvision:"):  # torchvision's are fetched on first use; the rest load here
        # a state dict fixes the classifier's width; random weights take it from the class names
        trial = copy(network)
        if not weights.startswith("random:"):
            trial.class_names = []
        model, _ = load_network(trial)
        outputs = _output_width(model, trial)
        if class_names and outputs is not None and outputs != len(class_names):
            raise NetworkError(f"{len(class_names)} class names given, but the network has {outputs} outputs")
    try:
        network.save()
    except IntegrityError:
        raise NetworkError(f"a network named {name!r} already exists") from None
    return network


def _output_width(model, network) -> int | None:
    sample = _sample_input(network, model)
    with torch.inference_mode():
        output = model(sample)
    return int(output.shape[-1]) if isinstance(output, torch.Tensor) and output.dim() == 2 else None


def _sample_input(network, model) -> torch.Tensor:
    from PIL import Image

    return network_preprocess(network, model)(Image.new("RGB", (256, 256), (128, 128, 128)))[None]


@dataclass
class LayerInfo:
    name: str
    kind: str  # module class name
    units: int | None  # channels / hidden dimensions; None when the output has no unit axis
    map_size: tuple[int, int] | None


def list_layers(network: Network) -> list[LayerInfo]:
    """Every named module of the network with its unit count and map size, from one forward pass.

    The weights are not needed to know the layers, so torchvision weights are not fetched: the
    architecture is built with random weights of the same shapes.
    """
    if network.weights_source.strip().startswith("torchvision:"):
        torch.manual_seed(0)
        model = build_architecture(network.architecture, len(network.class_names) or None).eval()
    else:
        model, _ = load_network(network)
    modules = [name for name, _ in model.named_modules() if name]
    kinds = dict(model.named_modules())
    shapes: dict[str, tuple] = {}
    hooks = []
    for name in modules:
        def hook(_module, _inputs, output, name=name):
            try:
                maps = to_unit_maps(output)
            except (NetworkError, AttributeError, TypeError):
                return
            shapes.setdefault(name, tuple(maps.shape[1:]))

        hooks.append(kinds[name].register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(_sample_input(network, model))
    finally:
        for handle in hooks:
            handle.remove()
    return [
        LayerInfo(
            name=name,
            kind=type(kinds[name]).__name__,
            units=int(shapes[name][0]) if name in shapes else None,
            map_size=(int(shapes[name][1]), int(shapes[name][2])) if name in shapes else None,
        )
        for name in modules
    ]

