"""Taking an answer: one transaction, nothing stored unless every field is one the page offered."""
from __future__ import annotations

import re
from typing import Mapping

from django.db import transaction
from django.utils import timezone

from .assignment import lock_study
from .errors import SubmissionError
from .models import Assignment, Rating, Response, Study
from .validation import RATING_MAX, RATING_MIN, validate_response


# Exactly what the form's radio buttons send: one ASCII digit. int() would also take "+5", "0_5"
# and Arabic-Indic "٥"; none of them is an answer the page offered.
RATING_PATTERN = re.compile(r"[0-9]")  # a literal range: ASCII digits only
# How much of a refused value an error message may quote (a 1 MB value is never echoed back).
QUOTED_VALUE_LIMIT = 20


def _quoted(raw):
    text = str(raw)
    return repr(text) if len(text) <= QUOTED_VALUE_LIMIT else f"a value of {len(text)} characters"


def _parse_rating(raw, number):
    if raw is None or str(raw).strip() == "":
        raise SubmissionError(f"description {number} has no rating: rate every description from {RATING_MIN} to {RATING_MAX}")
    text = str(raw).strip()
    if not RATING_PATTERN.fullmatch(text):
        raise SubmissionError(
            f"rating of description {number} must be one of the digits {RATING_MIN} to {RATING_MAX}, got {_quoted(raw)}"
        )
    value = int(text)
    if not RATING_MIN <= value <= RATING_MAX:
        raise SubmissionError(f"rating of description {number} must be from {RATING_MIN} to {RATING_MAX}, got {value}")
    return value


def _flag(data, name):
    return str(data.get(name, "")).strip().lower() in {"1", "on", "true", "yes"}


def _parse_submission(assignment, data):
    """(ratings by slot, best slot or None, flags); raises SubmissionError for anything not on the page."""
    task = data.get("task")
    if task is not None and task != assignment.token:
        raise SubmissionError("this form belongs to a task that was not given to you")
    slots = {slot.token: slot for slot in assignment.slots.select_related("item")}
    for key in data.keys():
        if key.startswith("rating-") and key[len("rating-"):] not in slots:
            raise SubmissionError(
                "the form names a description that is not part of this task (stale or foreign page); reload the task"
            )
    ratings = {}
    for token, slot in slots.items():
        ratings[slot] = _parse_rating(data.get(f"rating-{token}"), slot.position + 1)
    best_token = str(data.get("best", "") or "").strip()
    best = None
    if not best_token and assignment.study_neuron.study.ask_best:
        raise SubmissionError("pick the description that best describes the images")
    if best_token:
        if best_token not in slots:
            raise SubmissionError("the description picked as best was not shown in this task")
        best = slots[best_token]
    return ratings, best, _flag(data, "uninterpretable"), _flag(data, "none_fit")


def _room_left(assignment):
    """Whether an expired reservation may still be answered without exceeding K."""
    study_neuron = assignment.study_neuron
    taken = (
        Response.objects.filter(study_neuron=study_neuron, verified=True).count()
        + study_neuron.assignments.filter(status=Assignment.Status.RESERVED, response__isnull=True)
        .exclude(pk=assignment.pk)
        .count()
    )
    return taken < study_neuron.study.raters_per_neuron


def submit_response(
    assignment: Assignment, data: Mapping, source: str = Response.Source.LOCAL, external_id: str = "", verified: bool = True
) -> Response:
    """Store one response with its ratings in one transaction. Submitting the same
    task again returns the stored response instead of storing a second one. `verified=False`
    for an answer whose worker the provider has yet to confirm (see Response.verified)."""
    with transaction.atomic():
        study = lock_study(assignment.study_neuron.study_id)
        assignment = Assignment.objects.select_related("rater", "study_neuron").get(pk=assignment.pk)
        existing = Response.objects.filter(rater=assignment.rater, study_neuron=assignment.study_neuron).first()
        if existing is not None:
            return existing
        if study.status == Study.Status.CLOSED:
            raise SubmissionError("this study is closed and no longer takes answers")
        if study.status == Study.Status.DRAFT:
            raise SubmissionError("this study has not opened yet; your answer was not stored")
        # A paused study still takes answers to tasks handed out before the pause: that work was done.
        now = timezone.now()
        if assignment.status != Assignment.Status.COMPLETED and assignment.expires_at <= now and not _room_left(assignment):
            raise SubmissionError(
                "your reservation of this task expired and other raters have completed it; your answer was not stored"
            )
        ratings, best, uninterpretable, none_fit = _parse_submission(assignment, data)
        is_valid, reason = validate_response(
            {slot.position + 1: value for slot, value in ratings.items()},
            best.position + 1 if best else None,
            study.ask_best,
        )
        response = Response.objects.create(
            study=study,
            rater=assignment.rater,
            study_neuron=assignment.study_neuron,
            assignment=assignment,
            best_item=best.item if best else None,
            uninterpretable=uninterpretable,
            none_fit=none_fit,
            is_valid=is_valid,
            invalid_reason=reason,
            source=source,
            external_id=external_id,
            submitted_at=now,
            verified=verified,
        )
        Rating.objects.bulk_create(
            Rating(response=response, item=slot.item, position=slot.position, value=value) for slot, value in ratings.items()
        )
        assignment.status = Assignment.Status.COMPLETED
        assignment.completed_at = now
        assignment.save(update_fields=["status", "completed_at"])
    return response
