"""Crowd providers by name; see base.CrowdProvider for the interface."""
from ..models import Publication


def get_provider(publication, **kwargs):
    if publication.provider == Publication.Provider.MTURK:
        from .mturk import MTurkProvider

        return MTurkProvider(publication, **kwargs)
    if publication.provider == Publication.Provider.PROLIFIC:
        from .prolific import ProlificProvider

        return ProlificProvider(publication, **kwargs)
    from .local import LocalProvider

    return LocalProvider(publication, **kwargs)
