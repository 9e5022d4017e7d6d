"""Taking an answer: one transaction, nothing stored unless every field is one the page offered."""
from __future__ import annotations

import math
import re
from typing import Mapping

from django.core import signing
from django.db import transaction
from django.utils import timezone

from .assignment import lock_study
from .checks import check_passed
from .errors import ConsistencyPrompt, SubmissionError
from .labelling import parse_labels, store_labels
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


def _check_task_token(assignment, data):
    task = data.get("task")
    if task is not None and task != assignment.token:
        raise SubmissionError("this form belongs to a task that was not given to you")


def _parse_submission(assignment, data):
    """(ratings by slot, best slot or None, flags); raises SubmissionError for anything not on the page."""
    _check_task_token(assignment, data)
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


def _visible_seconds(data, seconds):
    """The browser's figure for time with the page visible, clamped to 0..seconds: it can say less than the
    server's clock, never more. Empty when the browser reported nothing."""
    raw = str(data.get("visible_seconds", "") or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SubmissionError(f"visible_seconds must be a number of seconds, got '{raw[:40]}'") from None
    if not math.isfinite(value):
        raise SubmissionError(f"visible_seconds must be a finite number of seconds, got '{raw[:40]}'")
    return min(max(value, 0.0), seconds)


def _prompt_salt(assignment):
    return f"evaluation.consistency:{assignment.token}"


def sign_prompt(assignment, message: str) -> str:
    """The prompt as the form carries it back, so what is recorded as shown is what the server showed."""
    return signing.dumps(message, salt=_prompt_salt(assignment))


def _prompt_shown(assignment, data):
    signed = str(data.get("consistency_prompt", "") or "")
    if not signed:
        return ""
    try:
        return signing.loads(signed, salt=_prompt_salt(assignment))
    except signing.BadSignature:
        raise SubmissionError("the consistency note on this form was altered; reload the task") from None


def consistency_message(ratings, best):
    """What the prompt says when the best pick is rated below another description, else ''."""
    if best is None:
        return ""
    top_slot = max(ratings, key=lambda slot: (ratings[slot], -slot.position))
    if ratings[best] >= ratings[top_slot]:
        return ""
    return (
        f"You picked description {best.position + 1} as the best, but rated description {top_slot.position + 1} "
        f"higher ({ratings[top_slot]} against {ratings[best]}). Change your answers, or submit again to keep them."
    )


def _rating_answer(study, assignment, data):
    """(Response fields, how to store the ratings) of a rating task; raises SubmissionError or ConsistencyPrompt."""
    ratings, best, uninterpretable, none_fit = _parse_submission(assignment, data)
    prompt_shown = _prompt_shown(assignment, data)
    if study.consistency_prompt and study.ask_best:
        message = consistency_message(ratings, best)
        # Sending the very answer the prompt was about again is the rater's way of keeping it.
        if message and message != prompt_shown:
            raise ConsistencyPrompt(message, sign_prompt(assignment, message))
    is_valid, reason = validate_response(
        {slot.position + 1: value for slot, value in ratings.items()},
        best.position + 1 if best else None,
        study.ask_best,
    )
    passed = None
    if assignment.is_check:
        passed = check_passed(
            ratings,
            decoys=[slot for slot in ratings if slot.item.study_neuron_id != assignment.study_neuron_id],
            own=next(slot for slot in ratings if slot.item.study_neuron_id == assignment.study_neuron_id),
            best=best,
            ask_best=study.ask_best,
            none_fit=none_fit,
        )
    fields = {
        "best_item": best.item if best else None, "uninterpretable": uninterpretable, "none_fit": none_fit,
        "is_valid": is_valid, "invalid_reason": reason, "check_passed": passed, "consistency_prompt": prompt_shown,
    }

    def store(response):
        Rating.objects.bulk_create(
            Rating(response=response, item=slot.item, position=slot.position, value=value) for slot, value in ratings.items()
        )

    return fields, store


def _labelling_answer(study, assignment, data):
    """(Response fields, how to store the answers) of a labelling task: valid once every image is answered
    (anything less is refused before this point)."""
    _check_task_token(assignment, data)
    labels = parse_labels(assignment, data)
    item = assignment.slots.select_related("item").get().item
    return {"is_valid": True, "invalid_reason": ""}, lambda response: store_labels(response, labels, item)


def _room_left(assignment):
    """Whether an expired reservation may still be answered without exceeding K."""
    study_neuron = assignment.study_neuron
    taken = (
        Response.objects.filter(study_neuron=study_neuron, is_check=False, verified=True).count()
        + study_neuron.assignments.filter(is_check=False, status=Assignment.Status.RESERVED, response__isnull=True)
        .exclude(pk=assignment.pk)
        .count()
    )
    return taken < study_neuron.study.raters_per_neuron


def submit_response(
    assignment: Assignment, data: Mapping, source: str = Response.Source.LOCAL, external_id: str = "", verified: bool = True
) -> Response:
    """Store one response with its ratings (labelling studies: its per-image answers) in one transaction,
    with its time on task (first shown to submitted, by the server's clock). Submitting the same task again returns the stored response instead
    of storing a second one. `verified=False` for an answer whose worker the provider has yet to confirm
    (see Response.verified). With the study's consistency prompt on, an answer whose best pick is rated
    below another description raises ConsistencyPrompt, unless the form shows the rater already saw that
    very prompt (sending the same answer again keeps it)."""
    with transaction.atomic():
        study = lock_study(assignment.study_neuron.study_id)
        assignment = Assignment.objects.select_related("rater", "study_neuron").get(pk=assignment.pk)
        if assignment.is_check:
            existing = Response.objects.filter(assignment=assignment).first()
        else:
            existing = Response.objects.filter(
                rater=assignment.rater, study_neuron=assignment.study_neuron, is_check=False
            ).first()
        if existing is not None:
            return existing
        if study.status == Study.Status.CLOSED:
            raise SubmissionError("this study is closed and no longer takes answers")
        if study.status == Study.Status.DRAFT:
            raise SubmissionError("this study has not opened yet; your answer was not stored")
        # A paused study still takes answers to tasks handed out before the pause: that work was done.
        now = timezone.now()
        if (
            not assignment.is_check
            and assignment.status != Assignment.Status.COMPLETED
            and assignment.expires_at <= now
            and not _room_left(assignment)
        ):
            raise SubmissionError(
                "your reservation of this task expired and other raters have completed it; your answer was not stored"
            )
        shown_at = assignment.shown_at or assignment.reserved_at
        seconds = max((now - shown_at).total_seconds(), 0.0)
        answer = _labelling_answer if study.kind == Study.Kind.LABELLING else _rating_answer
        fields, store = answer(study, assignment, data)
        response = Response.objects.create(
            study=study,
            rater=assignment.rater,
            study_neuron=assignment.study_neuron,
            assignment=assignment,
            source=source,
            external_id=external_id,
            submitted_at=now,
            shown_at=shown_at,
            seconds=seconds,
            visible_seconds=_visible_seconds(data, seconds),
            is_check=assignment.is_check,
            verified=verified,
            **fields,
        )
        store(response)
        assignment.status = Assignment.Status.COMPLETED
        assignment.completed_at = now
        assignment.save(update_fields=["status", "completed_at"])
    return response
