"""The registry of explanation methods: name -> ExplanationMethod subclass.

Each method module registers its classes with the `register` decorator; that is the
only list of methods. The modules of this package are imported the first time the
registry is read, so listing or getting a method always sees every registered one.
"""
import pkgutil
from importlib import import_module

from .base import ExplanationMethod

_REGISTRY: dict[str, type[ExplanationMethod]] = {}
_discovered = False


def register(cls):
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name to register under")
    _REGISTRY[cls.name] = cls
    return cls


def _discover():
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            import_module(f"{__name__}.{module.name}")
        _discovered = True


def available_methods() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def get_method(name: str) -> ExplanationMethod:
    _discover()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown method {name!r}; available: {', '.join(available_methods())}") from None
