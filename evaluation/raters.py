"""Raters and their links."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from .errors import StudyError
from .models import Rater, Study


@transaction.atomic
def invite_raters(study: Study, count: int, label_prefix: str = "invited") -> list[Rater]:
    """Create `count` raters with personal links, all or none (one transaction, inserted in batches)."""
    if count < 1:
        raise StudyError("count must be at least 1")
    start = study.raters.filter(kind=Rater.Kind.INVITED).count()
    raters = [
        Rater(study=study, token=new_rater_token(), kind=Rater.Kind.INVITED, label=f"{label_prefix} {start + i + 1}")
        for i in range(count)
    ]
    return Rater.objects.bulk_create(raters, batch_size=2000)


def get_or_create_rater(study: Study, kind: str, external_id: str) -> Rater:
    """The rater a crowd worker id (or an open-link browser) stands for in this study."""
    if not external_id:
        raise ValueError("external_id is required")
    try:
        with transaction.atomic():
            rater, _ = Rater.objects.get_or_create(
                study=study, kind=kind, external_id=external_id, defaults={"token": new_rater_token()}
            )
    except IntegrityError:
        rater = Rater.objects.get(study=study, kind=kind, external_id=external_id)
    return rater


def new_rater_token() -> str:
    return secrets.token_urlsafe(18)


def rater_link(rater: Rater) -> str:
    return settings.SITE_URL + reverse("evaluation:rater_home", args=[rater.token])


def open_link(study: Study) -> str:
    return settings.SITE_URL + reverse("evaluation:open_link", args=[study.open_link_token])


def enable_open_link(study: Study) -> str:
    if not study.open_link_token:
        study.open_link_token = secrets.token_urlsafe(12)
        study.save(update_fields=["open_link_token"])
    return open_link(study)
