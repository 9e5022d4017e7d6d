"""The writes of a publication's design: choosing it, changing it while unsent, freezing it when sent."""
from django.db import transaction
from django.utils import timezone

from .models import DesignFrozen, Publication
from .providers import provider_class


def open_publication(study, provider: str, production: bool = False, **design) -> Publication:
    """The study's publication on `provider` (created on first use), with `design` applied.

    `design` names fields of `Publication` or of the provider's design model; None values are left
    as they are. A change to a publication already sent to its provider raises `DesignFrozen`."""
    provider_type = provider_class(provider)
    with transaction.atomic():
        publication, _ = Publication.objects.get_or_create(study=study, provider=provider, production=production)
        wanted = {key: value for key, value in design.items() if value is not None}
        shared = {key: wanted.pop(key) for key in list(wanted) if key in Publication.DESIGN_FIELDS}
        rows = [(publication, shared)]
        if provider_type.design_model is not None:
            own, _ = provider_type.design_model.objects.get_or_create(publication=publication)
            unknown = set(wanted) - set(own.DESIGN_FIELDS)
            if unknown:
                raise ValueError(f"{provider} publications have no design field {', '.join(sorted(unknown))}")
            rows.append((own, wanted))
        elif wanted:
            raise ValueError(f"{provider} publications have no design field {', '.join(sorted(wanted))}")
        for row, changes in rows:
            changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
            if changed:
                for key, value in changed.items():
                    setattr(row, key, value)
                frozen = row.frozen_design_errors()
                if frozen:
                    raise DesignFrozen(frozen)
                row.full_clean()
                row.save()
    return publication


def freeze_design(publication: Publication) -> None:
    """Mark the design as sent to the provider; from now on neither code nor the admin can change it."""
    if publication.published_at is None:
        now = timezone.now()
        Publication.objects.filter(pk=publication.pk, published_at=None).update(published_at=now)
        publication.published_at = Publication.objects.values_list("published_at", flat=True).get(pk=publication.pk)


__all__ = ["DesignFrozen", "freeze_design", "open_publication"]
