"""Leaving a rater or one response out of the analysis, and taking them back in: kept as data, never a deletion."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import StudyError
from .models import Exclusion, Rater, Response, Study
from .quality import PolicyError, parse_policy

MAX_REASON_LENGTH = 500


def checked_policy_text(text: str | None) -> str:
    """The exclusion policy text, stripped, or a StudyError naming the rule that does not parse."""
    text = (text or "").strip()
    try:
        parse_policy(text)
    except PolicyError as error:
        raise StudyError(f"exclusion policy: {error}") from None
    return text


def set_exclusion_policy(study: Study, text: str | None) -> Study:
    """Store the study's exclusion policy (rules on rater quality signals); the analysis applies it, nothing is deleted."""
    study.exclusion_policy = checked_policy_text(text)
    study.save(update_fields=["exclusion_policy"])
    return study


def _target(study: Study, rater: Rater | None, response: Response | None) -> dict:
    if (rater is None) == (response is None):
        raise StudyError("name exactly one rater or one response to exclude or include")
    if rater is not None and rater.study_id != study.pk:
        raise StudyError(f"rater {rater.pk} does not belong to study '{study.name}'")
    if response is not None and response.study_id != study.pk:
        raise StudyError(f"response {response.pk} does not belong to study '{study.name}'")
    return {"rater": rater} if rater is not None else {"response": response}


def exclude(study: Study, *, rater: Rater | None = None, response: Response | None = None, reason: str,
            by=None) -> Exclusion:
    """Leave a rater's responses (or one response) out of every analysis of the study, with a reason.

    Excluding what is already excluded keeps the first exclusion and its reason.
    """
    target = _target(study, rater, response)
    reason = (reason or "").strip()
    if not reason:
        raise StudyError("an exclusion needs a reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise StudyError(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    active = Exclusion.objects.filter(study=study, lifted_at__isnull=True, **target).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            return Exclusion.objects.create(study=study, reason=reason, created_by=by, **target)
    except IntegrityError:
        # Two researchers excluded the same target at once: the first one stands.
        return Exclusion.objects.get(study=study, lifted_at__isnull=True, **target)


def include(study: Study, *, rater: Rater | None = None, response: Response | None = None, by=None) -> int:
    """Lift the active exclusion of a rater (or one response); returns how many were lifted (0 or 1)."""
    target = _target(study, rater, response)
    return Exclusion.objects.filter(study=study, lifted_at__isnull=True, **target).update(
        lifted_at=timezone.now(), lifted_by=by
    )


def active_exclusions(study: Study):
    return Exclusion.objects.filter(study=study, lifted_at__isnull=True)


def excluded_response_reasons(study: Study) -> dict[int, str]:
    """Response id -> why it is left out, for every response of the study under an active exclusion.

    A response excluded both on its own and through its rater gives its own reason.
    """
    reasons: dict[int, str] = {}
    by_rater = dict(active_exclusions(study).filter(rater__isnull=False).values_list("rater_id", "reason"))
    if by_rater:
        for response_id, rater_id in Response.objects.filter(study=study, rater_id__in=by_rater).values_list("pk", "rater_id"):
            reasons[response_id] = f"rater excluded: {by_rater[rater_id]}"
    for response_id, reason in active_exclusions(study).filter(response__isnull=False).values_list("response_id", "reason"):
        reasons[response_id] = f"response excluded: {reason}"
    return reasons
