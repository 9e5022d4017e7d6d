"""Handing out tasks: which neuron a rater rates next, reserved until answered or expired."""
from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import AlreadyAnswered, SubmissionError
from .models import Assignment, Rater, Response, Slot, Study, StudyNeuron


def lock_study(study_id):
    """Serialise claims of one study: a row lock on PostgreSQL; on SQLite the
    IMMEDIATE transaction already holds the database write lock."""
    return Study.objects.select_for_update().get(pk=study_id)


def _expire_stale(study, now):
    Assignment.objects.filter(
        study_neuron__study=study, status=Assignment.Status.RESERVED, expires_at__lte=now
    ).update(status=Assignment.Status.EXPIRED)


def _neuron_load(study):
    """StudyNeurons annotated with `load`: stored responses plus live reservations."""
    responses = (
        Response.objects.filter(study_neuron=OuterRef("pk")).order_by().values("study_neuron").annotate(n=Count("pk")).values("n")
    )
    reserved = (
        Assignment.objects.filter(study_neuron=OuterRef("pk"), status=Assignment.Status.RESERVED, response__isnull=True)
        .order_by()
        .values("study_neuron")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return study.study_neurons.annotate(
        load=Coalesce(Subquery(responses), 0) + Coalesce(Subquery(reserved), 0)
    )


def _reserve(assignment, now):
    assignment.status = Assignment.Status.RESERVED
    assignment.reserved_at = now
    assignment.expires_at = now + timedelta(seconds=settings.RESERVATION_TIMEOUT_SECONDS)
    assignment.save(update_fields=["status", "reserved_at", "expires_at"])
    return assignment


def _new_assignment(rater, study_neuron, now):
    shuffle_seed = secrets.randbits(48)
    assignment = Assignment.objects.create(
        rater=rater,
        study_neuron=study_neuron,
        shuffle_seed=shuffle_seed,
        reserved_at=now,
        expires_at=now + timedelta(seconds=settings.RESERVATION_TIMEOUT_SECONDS),
    )
    items = list(study_neuron.items.order_by("pk"))
    random.Random(shuffle_seed).shuffle(items)
    Slot.objects.bulk_create(
        Slot(assignment=assignment, position=position, token=secrets.token_urlsafe(12), item=item)
        for position, item in enumerate(items)
    )
    return assignment


def claim_next_assignment(rater: Rater) -> Assignment | None:
    """The rater's current task, or a new one: the neuron with the fewest responses
    (stored or reserved) that this rater has not done and that still needs raters.
    None when nothing is left for this rater."""
    now = timezone.now()
    with transaction.atomic():
        study = lock_study(rater.study_id)
        _expire_stale(study, now)
        current = (
            rater.assignments.filter(status=Assignment.Status.RESERVED, response__isnull=True)
            .order_by("reserved_at")
            .first()
        )
        if current is not None:
            return current
        done = Response.objects.filter(rater=rater).values("study_neuron")
        held = rater.assignments.filter(status__in=[Assignment.Status.RESERVED, Assignment.Status.COMPLETED]).values(
            "study_neuron"
        )
        candidate = (
            _neuron_load(study)
            .filter(load__lt=study.raters_per_neuron)
            .exclude(pk__in=done)
            .exclude(pk__in=held)
            .order_by("load", "order")
            .first()
        )
        if candidate is None:
            return None
        expired = rater.assignments.filter(study_neuron=candidate).first()
        if expired is not None:
            # The rater's own abandoned task: same descriptions in the same order again.
            return _reserve(expired, now)
        return _new_assignment(rater, candidate, now)


def claim_assignment_for_neuron(rater: Rater, study_neuron: StudyNeuron) -> Assignment:
    """The assignment of a fixed neuron (an MTurk HIT names it). Raises AlreadyAnswered
    if this rater already answered the neuron."""
    if study_neuron.study_id != rater.study_id:
        raise SubmissionError("this neuron belongs to another study")
    now = timezone.now()
    with transaction.atomic():
        lock_study(rater.study_id)
        if Response.objects.filter(rater=rater, study_neuron=study_neuron).exists():
            raise AlreadyAnswered("you have already rated this neuron")
        existing = rater.assignments.filter(study_neuron=study_neuron).first()
        if existing is not None:
            if existing.status != Assignment.Status.RESERVED or existing.expires_at <= now:
                _reserve(existing, now)
            return existing
        return _new_assignment(rater, study_neuron, now)


def rater_progress(rater: Rater) -> dict:
    done = rater.responses.count()
    total = rater.study.study_neurons.count()
    return {"done": done, "total": total, "current": min(done + 1, total)}
