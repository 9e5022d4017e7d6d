"""A study's life cycle: draft -> open <-> paused -> closed, changed by the researcher from the study page.

Draft: being built, previewed only. Open: raters get tasks. Paused: raters are told
to come back later (answers to tasks already handed out still count). Closed: final.
"""
from __future__ import annotations

from django.db import transaction

from .assignment import lock_study
from .errors import StudyError
from .models import Study

Status = Study.Status

TRANSITIONS = {
    Status.DRAFT: {Status.OPEN, Status.CLOSED},
    Status.OPEN: {Status.PAUSED, Status.CLOSED},
    Status.PAUSED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}
ACTION_LABELS = {Status.OPEN: "Open", Status.PAUSED: "Pause", Status.CLOSED: "Close"}


def allowed_transitions(study: Study) -> list[str]:
    return [status for status in (Status.OPEN, Status.PAUSED, Status.CLOSED) if status in TRANSITIONS[Status(study.status)]]


def change_status(study: Study, new_status: str) -> Study:
    """Move the study to `new_status` if its life cycle allows it; a study with no neurons never opens."""
    if new_status not in Status.values:
        raise StudyError(f"unknown study status '{new_status}' (one of {', '.join(Status.values)})")
    with transaction.atomic():
        locked = lock_study(study.pk)
        if new_status == locked.status:
            return locked
        if new_status not in TRANSITIONS[Status(locked.status)]:
            moves = " or ".join(sorted(TRANSITIONS[Status(locked.status)])) or "nothing (closed is final)"
            raise StudyError(f"the study is {locked.status}; it can become {moves}, not {new_status}")
        if new_status == Status.OPEN and not locked.study_neurons.exists():
            raise StudyError("this study has no neurons to rate; it cannot open")
        locked.status = new_status
        locked.save(update_fields=["status"])
    study.status = new_status
    return locked
