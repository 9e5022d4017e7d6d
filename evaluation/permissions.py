"""Who may see and change a study: its owner and collaborators, and superusers (every study).

Every researcher page and download goes through these, so a study that is not
visible to a user is a 404 for them, never a 403 that confirms it exists.
"""
from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Study


def studies_visible_to(user) -> QuerySet[Study]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(Q(owner=user) | Q(collaborators=user)).distinct()


def can_view_study(user, study: Study) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if study.owner_id is not None and study.owner_id == user.pk:
        return True
    return study.collaborators.filter(pk=user.pk).exists()


def can_change_study(user, study: Study) -> bool:
    """Collaborators share the study fully (open, pause, exclude, invite); only visibility is checked."""
    return can_view_study(user, study)


def get_visible_study_or_404(user, name: str, change: bool = False) -> Study:
    """The study named `name` if `user` may see it (and change it, with `change`), else 404."""
    from django.http import Http404

    study = studies_visible_to(user).select_related("network").filter(name=name).first()
    if study is None or (change and not can_change_study(user, study)):
        raise Http404("No such study.")
    return study
