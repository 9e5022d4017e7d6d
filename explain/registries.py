"""What apps above explain add to the engine, from their AppConfig.ready (explain never imports them).

- architectures: name -> (build(num_classes or None) -> torch module, preprocess() -> PIL image to tensor);
- networks and probing sets built the first time a job names them: name -> ensure(show_progress=...) -> row.

Kept free of torch and Django models so that registering costs nothing at start-up.
"""
from __future__ import annotations

from typing import Callable

_architectures: dict[str, tuple[Callable, Callable]] = {}
_on_demand_networks: dict[str, Callable] = {}
_on_demand_probes: dict[str, Callable] = {}


def register_architecture(name: str, build: Callable, preprocess: Callable) -> None:
    _architectures[name] = (build, preprocess)


def register_on_demand_network(name: str, ensure: Callable) -> None:
    """`ensure(show_progress=False)` builds (or finds) the Network row named `name`."""
    _on_demand_networks[name] = ensure


def register_on_demand_probe(name: str, ensure: Callable) -> None:
    """`ensure(show_progress=False)` builds (or finds) the ProbeDataset row named `name`."""
    _on_demand_probes[name] = ensure


def registered_architectures() -> dict[str, tuple[Callable, Callable]]:
    return dict(_architectures)


def on_demand_networks() -> dict[str, Callable]:
    return dict(_on_demand_networks)


def on_demand_probes() -> dict[str, Callable]:
    return dict(_on_demand_probes)
