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

from .checks import build_check, check_due, checks_planned
from .collection import is_stopped, next_adaptive_neuron
from .errors import AlreadyAnswered, NothingLeft, SubmissionError
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
    """StudyNeurons annotated with `load`: verified responses plus live reservations.

    Unverified crowd answers (a forged worker id can store one) take no place: they cannot
    fill a neuron and lock the real workers out; they are counted once the provider confirms them."""
    responses = (
        Response.objects.filter(study_neuron=OuterRef("pk"), is_check=False, verified=True).order_by().values("study_neuron").annotate(n=Count("pk")).values("n")
    )
    reserved = (
        Assignment.objects.filter(
            study_neuron=OuterRef("pk"), is_check=False, status=Assignment.Status.RESERVED, response__isnull=True
        )
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


def _new_assignment(rater, study_neuron, now, items=None, is_check=False):
    shuffle_seed = secrets.randbits(48)
    assignment = Assignment.objects.create(
        rater=rater,
        study_neuron=study_neuron,
        is_check=is_check,
        shuffle_seed=shuffle_seed,
        reserved_at=now,
        expires_at=now + timedelta(seconds=settings.RESERVATION_TIMEOUT_SECONDS),
    )
    items = sorted(items, key=lambda item: item.pk) if items is not None else list(study_neuron.items.order_by("pk"))
    random.Random(shuffle_seed).shuffle(items)
    Slot.objects.bulk_create(
        Slot(assignment=assignment, position=position, token=secrets.token_urlsafe(12), item=item)
        for position, item in enumerate(items)
    )
    return assignment


def _current_assignment(rater):
    return rater.assignments.filter(status=Assignment.Status.RESERVED, response__isnull=True).order_by("reserved_at").first()


def _next_neuron(study, rater, record_stop=False):
    """The neuron this rater would get next: fewest responses (stored or reserved), not done by the rater,
    still short of the study's raters per neuron. An adaptive study asks evaluation.adaptive instead
    (which records the study's stop when `record_stop`: only under the study lock)."""
    if study.collection == Study.Collection.ADAPTIVE:
        return next_adaptive_neuron(study, rater, record=record_stop)
    done = Response.objects.filter(rater=rater, is_check=False).values("study_neuron")
    held = rater.assignments.filter(
        is_check=False, status__in=[Assignment.Status.RESERVED, Assignment.Status.COMPLETED]
    ).values("study_neuron")
    return (
        _neuron_load(study)
        .filter(load__lt=study.raters_per_neuron)
        .exclude(pk__in=done)
        .exclude(pk__in=held)
        .order_by("load", "order")
        .first()
    )


def has_task_left(rater: Rater) -> bool:
    """Whether the rater has a task waiting or would be given one now (reserves nothing)."""
    study = rater.study
    return (
        _current_assignment(rater) is not None
        or _check_is_due(study, rater)
        or _next_neuron(study, rater) is not None
    )


def claim_next_assignment(rater: Rater) -> Assignment | None:
    """The rater's current task, or a new one: the neuron with the fewest responses
    (stored or reserved) that this rater has not done and that still needs raters.
    None when nothing is left for this rater."""
    now = timezone.now()
    with transaction.atomic():
        study = lock_study(rater.study_id)
        _expire_stale(study, now)
        current = _current_assignment(rater)
        if current is not None:
            return current
        # A planned check comes even after the rater's last real task, so every full block holds one.
        if _check_is_due(study, rater):
            check = _claim_check(rater, now)
            if check is not None:
                return check
        candidate = _next_neuron(study, rater, record_stop=True)
        if candidate is None:
            return None
        expired = rater.assignments.filter(study_neuron=candidate, is_check=False).first()
        if expired is not None:
            # The rater's own abandoned task: same descriptions in the same order again.
            return _reserve(expired, now)
        return _new_assignment(rater, candidate, now)


def claim_assignment_for_neuron(rater: Rater, study_neuron: StudyNeuron) -> Assignment:
    """The assignment of a fixed neuron (an MTurk HIT names it), under the same cap K as
    `claim_next_assignment`. Raises AlreadyAnswered if this rater already answered the neuron,
    NothingLeft when its K places are answered or reserved by others."""
    if study_neuron.study_id != rater.study_id:
        raise SubmissionError("this neuron belongs to another study")
    now = timezone.now()
    with transaction.atomic():
        lock_study(rater.study_id)
        if Response.objects.filter(rater=rater, study_neuron=study_neuron, is_check=False).exists():
            raise AlreadyAnswered("you have already rated this neuron")
        existing = rater.assignments.filter(study_neuron=study_neuron, is_check=False).first()
        if existing is not None and existing.status == Assignment.Status.RESERVED and existing.expires_at > now:
            return existing
        _expire_stale(study_neuron.study, now)
        if is_stopped(study_neuron.study):
            raise NothingLeft("this study has collected what it needs", retry_in_seconds=None)
        load = _neuron_load(study_neuron.study).get(pk=study_neuron.pk).load
        if load >= study_neuron.study.raters_per_neuron:
            raise NothingLeft(
                "every place on this task is answered or being worked on", retry_in_seconds=_next_release([study_neuron.pk], now)
            )
        if existing is not None:
            return _reserve(existing, now)
        return _new_assignment(rater, study_neuron, now)


def _check_is_due(study, rater):
    every = study.attention_check_every
    if not every:
        return False
    answered = Response.objects.filter(rater=rater).count()
    return check_due(rater.token, answered, study.study_neurons.count(), every)


def check_due_in_batch(rater: Rater, batch_size: int) -> bool:
    """Whether an attention check planned within a batch of `batch_size` real tasks (a Prolific session) is still
    to come for this rater: a batch ends after its checks, as a local rater's tasks end after theirs."""
    every = rater.study.attention_check_every
    if not every:
        return False
    return check_due(rater.token, Response.objects.filter(rater=rater).count(), batch_size, every)


def _claim_check(rater, now):
    """The rater's abandoned check again (same descriptions, same order), else a new one."""
    abandoned = rater.assignments.filter(is_check=True, response__isnull=True).order_by("reserved_at").first()
    if abandoned is not None:
        return _reserve(abandoned, now)
    rated = set(rater.responses.filter(is_check=False).values_list("study_neuron_id", flat=True))
    material = build_check(rater.study, random.Random(secrets.randbits(64)), rated)
    if material is None:
        return None
    return _new_assignment(rater, material.study_neuron, now, items=[material.own, *material.decoys], is_check=True)


def _next_release(study_neuron_ids, now) -> int | None:
    """Seconds until the first live reservation on these neurons expires (None: none is live)."""
    first = (
        Assignment.objects.filter(
            study_neuron_id__in=study_neuron_ids, status=Assignment.Status.RESERVED, response__isnull=True, expires_at__gt=now
        )
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    return None if first is None else max(1, int((first - now).total_seconds()))


def retry_in_seconds(rater: Rater) -> int | None:
    """When nothing is left for `rater` now: seconds until another rater's reservation on a neuron
    this rater could still do runs out, or None when the study is truly done for this rater."""
    now = timezone.now()
    study = rater.study
    if is_stopped(study):
        return None
    if study.collection == Study.Collection.ADAPTIVE:
        # Not stopped yet: what is out may still meet the target, or come back for others to take.
        return _next_release(list(study.study_neurons.values_list("pk", flat=True)), now)
    done = Response.objects.filter(rater=rater, is_check=False).values("study_neuron")
    open_neurons = (
        _neuron_load(study).filter(
            load__gte=study.raters_per_neuron
        ).exclude(pk__in=done)
    )
    verified = Response.objects.filter(verified=True, is_check=False).values("study_neuron").annotate(n=Count("pk"))
    counts = {row["study_neuron"]: row["n"] for row in verified.filter(study_neuron__study=study)}
    waiting = [sn.pk for sn in open_neurons if counts.get(sn.pk, 0) < study.raters_per_neuron]
    return _next_release(waiting, now) if waiting else None


def rater_progress(rater: Rater) -> dict:
    """Tasks answered and the most this rater can get, attention checks included on both sides,
    so that progress moves the same way on a check as on any task."""
    study = rater.study
    done = rater.responses.count()
    neurons = study.study_neurons.count()
    total = neurons + checks_planned(neurons, study.attention_check_every)
    return {"done": done, "total": total, "current": min(done + 1, total)}
