"""The registry of crowd providers: one class per `Publication.Provider` value, found by name.

Each provider package (`local/`, `mturk/`, `prolific/`) registers its class with `@register`;
`mturk.apps.MturkConfig.ready` imports them. Commands, pages and services ask this registry for
a publication's provider and then speak only `base.CrowdProvider`'s interface.
"""
from __future__ import annotations

from importlib import import_module

_REGISTRY: dict[str, type] = {}

# The packages that hold a provider; imported once when the app is ready.
PROVIDER_MODULES = ("mturk.providers.local.provider", "mturk.providers.mturk.provider", "mturk.providers.prolific.provider")


def register(provider_class):
    """Class decorator: make `provider_class` the provider of publications whose `provider` is its `name`."""
    from mturk.models import Publication

    name = provider_class.name
    if name not in Publication.Provider.values:
        raise ValueError(f"provider {name!r} is not one of Publication.Provider ({', '.join(Publication.Provider.values)})")
    if _REGISTRY.get(name, provider_class) is not provider_class:
        raise ValueError(f"two providers are registered as {name!r}: {_REGISTRY[name].__qualname__} and {provider_class.__qualname__}")
    _REGISTRY[name] = provider_class
    return provider_class


def load_providers():
    for module in PROVIDER_MODULES:
        import_module(module)


def provider_class(name: str):
    """The registered class for a provider name; LookupError listing the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"no crowd provider {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def provider_names() -> list[str]:
    return sorted(_REGISTRY)


def get_provider(publication, **kwargs):
    """The provider object for one publication (keyword arguments go to its constructor, e.g. `client=`)."""
    return provider_class(publication.provider)(publication, **kwargs)
