"""Registry of explanation methods: name -> ExplanationMethod subclass.

Each method module registers itself with `register`; `get_method` imports the
modules lazily so a method's heavy dependencies load only when it is used.
"""
from importlib import import_module

from .base import ExplanationMethod

_MODULES = {
    # method name -> module under explain.methods (filled in as methods land)
    "netdissect": "netdissect",
    "clip-dissect": "clip_dissect",
    "clip-dissect-annotations": "clip_dissect",
    "shuffled-control": "shuffled_control",
    "gpt-caption-activation": "tellme",
    "gpt-weight-label": "tellme",
    "gpt-weight-clip": "tellme",
    "occlusion-vocabulary": "occlusion_vocabulary",
    "dnd": "dnd",
    "dnd-without-step3": "dnd",
}
_REGISTRY: dict[str, type[ExplanationMethod]] = {}


def register(cls):
    _REGISTRY[cls.name] = cls
    return cls


def available_methods() -> list[str]:
    return sorted(set(_MODULES) | set(_REGISTRY))


def get_method(name: str) -> ExplanationMethod:
    if name not in _REGISTRY and name in _MODULES:
        import_module(f"{__name__}.{_MODULES[name]}")
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown method {name!r}; available: {', '.join(available_methods())}") from None
