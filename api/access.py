"""Who may read and change which study through the API.

Until studies have owners, only staff reach studies. When `evaluation.permissions` exists
(studies_visible_to, can_view_study, can_change_study), these three names are imported from it
instead and nothing else in the API changes.
"""
from evaluation.models import Study


def studies_visible_to(user):
    if user.is_authenticated and user.is_active and user.is_staff:
        return Study.objects.all()
    return Study.objects.none()


def can_view_study(user, study) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_change_study(user, study) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)
