"""Multi-step work of rating studies: create a study, hand out tasks, take answers.

Views, management commands and the crowd providers (MTurk, Prolific) are thin
wrappers around these functions.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Mapping, Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from explain.models import Explanation, Layer, Method, Network, Neuron, TopImage

from .models import (
    Assignment,
    Rater,
    Rating,
    Response,
    Slot,
    Study,
    StudyImage,
    StudyItem,
    StudyMethod,
    StudyNeuron,
)
from .validation import RATING_MAX, RATING_MIN, validate_response

MIN_METHODS = 2
MAX_METHODS = 8

RATING_QUESTION = "Does the description accurately describe most of the above images?"
BEST_QUESTION = "Which description best describes the images?"
SCALE_LABELS = (
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neither agree nor disagree"),
    (4, "Agree"),
    (5, "Strongly agree"),
)
UNINTERPRETABLE_LABEL = "The images share no clear concept"
NONE_FIT_LABEL = "None of the descriptions fit"


class StudyError(ValueError):
    """A study cannot be created as asked; the message names the problem."""


class SubmissionError(Exception):
    """A rating submission is refused and nothing was stored; the message names the problem."""


class AlreadyAnswered(SubmissionError):
    """The rater has already answered this neuron."""


# --------------------------------------------------------------------------- study creation


@dataclass(frozen=True)
class LayerSelection:
    layer: str
    eligible: int
    selected: int


def create_study(
    name: str,
    network: Network | str,
    methods: Sequence[Method | str],
    layers: Sequence[str] | None = None,
    per_layer: int = 200,
    raters_per_neuron: int = 3,
    images_per_task: int = 10,
    seed: int = 0,
    explanation_rank: int | Mapping[str, int] = 1,
    ask_best: bool = True,
    title: str = "",
    instructions: str = "",
    probe: str | None = None,
    summary: str = TopImage.Summary.MEAN,
    status: str = Study.Status.OPEN,
) -> Study:
    """Pick neurons at random per layer and freeze what raters will be shown.

    Eligible neurons have an explanation of the chosen rank from every chosen
    method and top images. Texts and images are copied into StudyItem and
    StudyImage rows, so later re-imports never change this study.
    """
    network = _resolve_network(network)
    method_objs = _resolve_methods(methods)
    ranks = _ranks_per_method(method_objs, explanation_rank)
    layer_objs = _resolve_layers(network, layers)
    if Study.objects.filter(name=name).exists():
        raise StudyError(f"a study named '{name}' already exists")
    if per_layer < 1:
        raise StudyError("--per-layer must be at least 1")
    if raters_per_neuron < 1:
        raise StudyError("raters per neuron must be at least 1")
    if images_per_task < 1:
        raise StudyError("images per task must be at least 1")

    chosen: list[Neuron] = []
    selections = []
    for layer in layer_objs:
        eligible = _eligible_neurons(layer, method_objs, ranks, probe, summary)
        if not eligible:
            raise StudyError(
                f"layer '{layer.name}' has no neuron with top images and an explanation of the chosen rank "
                f"from every method ({', '.join(m.name for m in method_objs)})"
            )
        # Seeded per layer, so adding a layer never changes another layer's sample.
        rng = random.Random(f"{seed}:{network.name}:{layer.name}")
        picked = rng.sample(eligible, min(per_layer, len(eligible)))
        chosen.extend(picked)
        selections.append(LayerSelection(layer.name, len(eligible), len(picked)))

    # Interleave layers in the order tasks are handed out.
    random.Random(f"{seed}:{network.name}:order").shuffle(chosen)

    with transaction.atomic():
        study = Study.objects.create(
            name=name,
            title=title or name,
            instructions=instructions,
            network=network,
            raters_per_neuron=raters_per_neuron,
            images_per_task=images_per_task,
            ask_best=ask_best,
            seed=seed,
            status=status,
        )
        for order, method in enumerate(method_objs):
            StudyMethod.objects.create(study=study, method=method, order=order, explanation_rank=ranks[method.name])
        for order, neuron in enumerate(chosen):
            study_neuron = StudyNeuron.objects.create(study=study, neuron=neuron, order=order)
            _freeze_images(study_neuron, probe, summary, images_per_task)
            _freeze_items(study_neuron, method_objs, ranks)
    study.layer_selections = selections
    return study


def _resolve_network(network):
    if isinstance(network, Network):
        return network
    try:
        return Network.objects.get(name=network)
    except Network.DoesNotExist:
        known = ", ".join(Network.objects.values_list("name", flat=True)) or "none"
        raise StudyError(f"unknown network '{network}' (known: {known})") from None


def _resolve_methods(methods):
    names = [m.name if isinstance(m, Method) else str(m).strip() for m in methods]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise StudyError(f"a method is listed twice: {', '.join(names)}")
    if not MIN_METHODS <= len(names) <= MAX_METHODS:
        raise StudyError(f"a study compares {MIN_METHODS} to {MAX_METHODS} methods, got {len(names)}")
    found = {m.name: m for m in Method.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise StudyError(f"unknown method(s): {', '.join(missing)}")
    return [found[n] for n in names]


def _ranks_per_method(methods, explanation_rank):
    if isinstance(explanation_rank, Mapping):
        unknown = set(explanation_rank) - {m.name for m in methods}
        if unknown:
            raise StudyError(f"explanation rank given for a method not in the study: {', '.join(sorted(unknown))}")
        return {m.name: int(explanation_rank.get(m.name, 1)) for m in methods}
    return {m.name: int(explanation_rank) for m in methods}


def _resolve_layers(network, layers):
    all_layers = list(network.layers.all())
    if not layers:
        if not all_layers:
            raise StudyError(f"network '{network.name}' has no layers")
        return all_layers
    by_name = {layer.name: layer for layer in all_layers}
    missing = [name for name in layers if name not in by_name]
    if missing:
        raise StudyError(
            f"network '{network.name}' has no layer(s) {', '.join(missing)} (it has: {', '.join(by_name) or 'none'})"
        )
    return [by_name[name] for name in layers]


def _top_images_query(probe, summary):
    query = TopImage.objects.filter(summary=summary)
    if probe:
        query = query.filter(dataset__name=probe)
    return query


def _eligible_neurons(layer, methods, ranks, probe, summary):
    neurons = Neuron.objects.filter(layer=layer)
    for method in methods:
        neurons = neurons.filter(
            pk__in=Explanation.objects.filter(method=method, rank=ranks[method.name]).values("neuron")
        )
    neurons = neurons.filter(pk__in=_top_images_query(probe, summary).values("neuron"))
    return list(neurons.order_by("unit"))


def _freeze_images(study_neuron, probe, summary, images_per_task):
    top = _top_images_query(probe, summary).filter(neuron=study_neuron.neuron)
    # One probing set per neuron: the first one recorded, unless the study names one.
    first_dataset = top.order_by("dataset_id").values_list("dataset_id", flat=True).first()
    top = top.filter(dataset_id=first_dataset).order_by("rank")[:images_per_task]
    StudyImage.objects.bulk_create(
        StudyImage(study_neuron=study_neuron, position=position, image_id=t.image_id, activation=t.activation)
        for position, t in enumerate(top)
    )


def _freeze_items(study_neuron, methods, ranks):
    for method in methods:
        explanation = Explanation.objects.get(method=method, neuron=study_neuron.neuron, rank=ranks[method.name])
        StudyItem.objects.create(study_neuron=study_neuron, method=method, explanation=explanation, text=explanation.text)


# --------------------------------------------------------------------------- raters


def invite_raters(study: Study, count: int, label_prefix: str = "invited") -> list[Rater]:
    """Create `count` raters with personal links."""
    if count < 1:
        raise StudyError("count must be at least 1")
    start = study.raters.filter(kind=Rater.Kind.INVITED).count()
    return [
        Rater.objects.create(study=study, token=new_rater_token(), kind=Rater.Kind.INVITED, label=f"{label_prefix} {start + i + 1}")
        for i in range(count)
    ]


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


# --------------------------------------------------------------------------- assignment


def _lock_study(study_id):
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
        study = _lock_study(rater.study_id)
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
        _lock_study(rater.study_id)
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


def task_context(assignment: Assignment) -> dict:
    """Everything the rating form shows, and nothing that names a method or explanation."""
    study = assignment.study_neuron.study
    images = [
        {"url": study_image.image.image.url, "position": study_image.position}
        for study_image in assignment.study_neuron.images.select_related("image").order_by("position")
    ]
    descriptions = [
        {"token": slot.token, "text": slot.item.text, "number": slot.position + 1}
        for slot in assignment.slots.select_related("item").order_by("position")
    ]
    return {
        "assignment_token": assignment.token,
        "study_title": study.title or study.name,
        "instructions": study.instructions,
        "images": images,
        "descriptions": descriptions,
        "scale": SCALE_LABELS,
        "rating_question": RATING_QUESTION,
        "best_question": BEST_QUESTION,
        "ask_best": study.ask_best,
        "uninterpretable_label": UNINTERPRETABLE_LABEL,
        "none_fit_label": NONE_FIT_LABEL,
        "progress": rater_progress(assignment.rater),
    }


# --------------------------------------------------------------------------- submission


def _parse_rating(raw, number):
    if raw is None or str(raw).strip() == "":
        raise SubmissionError(f"description {number} has no rating: rate every description from {RATING_MIN} to {RATING_MAX}")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SubmissionError(f"rating of description {number} must be a whole number from {RATING_MIN} to {RATING_MAX}, got '{raw}'") from None
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
    if best_token:
        if best_token not in slots:
            raise SubmissionError("the description picked as best was not shown in this task")
        best = slots[best_token]
    return ratings, best, _flag(data, "uninterpretable"), _flag(data, "none_fit")


def _room_left(assignment):
    """Whether an expired reservation may still be answered without exceeding K."""
    study_neuron = assignment.study_neuron
    taken = (
        Response.objects.filter(study_neuron=study_neuron).count()
        + study_neuron.assignments.filter(status=Assignment.Status.RESERVED, response__isnull=True)
        .exclude(pk=assignment.pk)
        .count()
    )
    return taken < study_neuron.study.raters_per_neuron


def submit_response(assignment: Assignment, data: Mapping, source: str = Response.Source.LOCAL, external_id: str = "") -> Response:
    """Store one response with its ratings in one transaction. Submitting the same
    task again returns the stored response instead of storing a second one."""
    with transaction.atomic():
        study = _lock_study(assignment.study_neuron.study_id)
        assignment = Assignment.objects.select_related("rater", "study_neuron").get(pk=assignment.pk)
        existing = Response.objects.filter(rater=assignment.rater, study_neuron=assignment.study_neuron).first()
        if existing is not None:
            return existing
        if study.status == Study.Status.CLOSED:
            raise SubmissionError("this study is closed and no longer takes answers")
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
        )
        Rating.objects.bulk_create(
            Rating(response=response, item=slot.item, position=slot.position, value=value) for slot, value in ratings.items()
        )
        assignment.status = Assignment.Status.COMPLETED
        assignment.completed_at = now
        assignment.save(update_fields=["status", "completed_at"])
    return response


# --------------------------------------------------------------------------- progress for researchers


def study_progress(study: Study) -> dict:
    """Per-layer counts for the study page."""
    k = study.raters_per_neuron
    rows = []
    layer_ids = study.study_neurons.values_list("neuron__layer", flat=True).distinct()
    for layer in Layer.objects.filter(pk__in=layer_ids).order_by("order", "name"):
        neurons = study.study_neurons.filter(neuron__layer=layer)
        responses = Response.objects.filter(study=study, study_neuron__neuron__layer=layer)
        n_neurons = neurons.count()
        full = neurons.annotate(n=Count("responses")).filter(n__gte=k).count()
        rows.append(
            {
                "layer": layer.name,
                "neurons": n_neurons,
                "complete_neurons": full,
                "responses": responses.count(),
                "valid": responses.filter(is_valid=True).count(),
                "target": n_neurons * k,
            }
        )
    total = Response.objects.filter(study=study)
    return {
        "layers": rows,
        "responses": total.count(),
        "valid": total.filter(is_valid=True).count(),
        "target": study.study_neurons.count() * k,
        "raters": study.raters.count(),
        "reserved": Assignment.objects.filter(
            study_neuron__study=study, status=Assignment.Status.RESERVED, expires_at__gt=timezone.now(), response__isnull=True
        ).count(),
    }


def responses_per_day(study: Study) -> list[tuple]:
    from django.db.models.functions import TruncDate

    return list(
        Response.objects.filter(study=study)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(n=Count("pk"), valid=Count("pk", filter=Q(is_valid=True)))
        .order_by("day")
        .values_list("day", "n", "valid")
    )


RESPONSE_CSV_HEADER = [
    "response_id", "rater", "rater_kind", "network", "layer", "unit", "method", "position", "rating",
    "picked_best", "uninterpretable", "none_fit", "is_valid", "invalid_reason", "source", "external_id", "submitted_at",
]


def response_csv_rows(study: Study) -> Iterable[list]:
    """One row per rating of every stored response (valid or not)."""
    ratings = (
        Rating.objects.filter(response__study=study)
        .select_related(
            "response__rater", "response__study_neuron__neuron__layer__network", "item__method"
        )
        .order_by("response__submitted_at", "response_id", "position")
    )
    for rating in ratings.iterator():
        response = rating.response
        neuron = response.study_neuron.neuron
        yield [
            response.pk, response.rater.pk, response.rater.kind, neuron.layer.network.name, neuron.layer.name, neuron.unit,
            rating.item.method.name, rating.position, rating.value, int(response.best_item_id == rating.item_id),
            int(response.uninterpretable), int(response.none_fit), int(response.is_valid), response.invalid_reason,
            response.source, response.external_id, response.submitted_at.isoformat(),
        ]
