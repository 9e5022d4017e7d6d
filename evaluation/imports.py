"""Storing ratings collected elsewhere (a tidy file, a paper's released ratings) as responses.

`record_imported_responses` is the one way imported answers enter a study: it checks them with the
rules answers from the rating page obey (ratings 1..5, the best pick among the rated descriptions,
one response per rater and neuron, validity by the same best-choice rule) and stores everything in
one transaction, so a refused import leaves nothing behind. With `create=True` it also creates the
study, and the network, layers, neurons and methods the answers name.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from explain.models import Layer, Method, Network, Neuron

from .models import Rater, Rating, Response, Study, StudyItem, StudyMethod, StudyNeuron, rater_name
from .validation import RATING_MAX, RATING_MIN, validate_response

MAX_PROBLEMS_SHOWN = 10
BATCH_SIZE = 5000


@dataclass(frozen=True, slots=True)
class ImportedRating:
    """One description's rating in an imported response; `row` says where it came from (for messages)."""

    row: int
    method: str
    value: int
    position: int | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class ImportedResponse:
    """One rater's answer about one neuron. `is_valid` None: decided by the best-choice rule."""

    row: int
    response_id: str
    rater: str
    layer: str
    unit: int
    ratings: tuple[ImportedRating, ...]
    best_method: str | None = None
    uninterpretable: bool = False
    none_fit: bool = False
    submitted_at: datetime | None = None
    seconds: float | None = None
    visible_seconds: float | None = None
    source: str = ""
    is_valid: bool | None = None
    invalid_reason: str = ""


class ImportRefused(ValueError):
    """The answers cannot be stored; `problems` lists (row, reason), first rows first."""

    def __init__(self, problems):
        self.problems = sorted(set(problems))
        shown = [f"row {row}: {reason}" for row, reason in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(self.problems) - MAX_PROBLEMS_SHOWN} more problems")
        super().__init__("\n".join(shown))


@dataclass
class ImportSummary:
    study: Study
    responses: int
    ratings: int
    created: dict = field(default_factory=dict)
    validity_from_file_differs: int = 0


class _Problems(list):
    def add(self, row, reason):
        self.append((int(row), reason))

    def raise_if_any(self):
        if self:
            raise ImportRefused(self)


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def record_imported_responses(
    study_name: str, network_name: str, responses: list[ImportedResponse], *, create: bool = False, title: str = "",
    owner=None,
) -> ImportSummary:
    """Check and store imported responses in study `study_name` (all or nothing; see the module doc)."""
    problems = _Problems()
    try:
        validate_slug(study_name)
    except ValidationError:
        raise ImportRefused([(1, f"study name {study_name!r} is not a slug (letters, digits, - and _ only)")]) from None
    if not responses:
        raise ImportRefused([(1, "there are no responses to import")])
    _check_answers(responses, problems)
    problems.raise_if_any()
    with transaction.atomic():
        study = Study.objects.select_related("network").filter(name=study_name).first()
        asks_best = any(response.best_method is not None for response in responses)
        if study is None and not create:
            raise ImportRefused([(1, f"study {study_name!r} does not exist (use --create to make it)")])
        if study is not None and study.network.name != network_name:
            raise ImportRefused([(responses[0].row, f"network {network_name!r} is not the study's network {study.network.name!r}")])
        if study is not None and not study.ask_best and asks_best:
            first = next(r for r in responses if r.best_method is not None)
            raise ImportRefused([(first.row, f"best is given but study {study_name!r} asks no best question")])
        created = {}
        if study is None:
            network, made = Network.objects.get_or_create(
                name=network_name, defaults={"architecture": network_name, "description": f"Created by importing {title}"}
            )
            created["network"] = int(made)
            study = Study.objects.create(
                name=study_name, network=network, ask_best=asks_best, status=Study.Status.CLOSED, title=title,
                owner=owner,
            )
            created["study"] = 1
        items = _resolve_items(study, responses, create, problems, created)
        problems.raise_if_any()
        raters = _resolve_raters(study, responses, created)
        _check_not_already_stored(study, responses, items, raters, problems)
        problems.raise_if_any()
        stored, ratings, differs = _store(study, responses, items, raters)
    return ImportSummary(study, stored, ratings, created, differs)


def _check_answers(responses, problems):
    """What the rating page guarantees of every answer, checked here for answers from elsewhere."""
    sources = set(Response.Source.values)
    seen_ids, seen_neurons = {}, {}
    for response in responses:
        if len(problems) >= MAX_PROBLEMS_SHOWN:
            return
        if response.response_id in seen_ids:
            problems.add(response.row, f"response {response.response_id!r} appears twice (first at row {seen_ids[response.response_id]})")
        seen_ids.setdefault(response.response_id, response.row)
        neuron = (response.rater, response.layer, response.unit)
        if neuron in seen_neurons:
            problems.add(
                response.row,
                f"rater {response.rater!r} rated neuron {response.layer}#{response.unit} again (response "
                f"{response.response_id!r}; first in response {seen_neurons[neuron][1]!r}, row {seen_neurons[neuron][0]})",
            )
        seen_neurons.setdefault(neuron, (response.row, response.response_id))
        if response.source and response.source not in sources:
            problems.add(response.row, f"source {response.source!r} is not one of {', '.join(sorted(sources))}")
        if not response.ratings:
            problems.add(response.row, f"response {response.response_id!r} rates no description")
        methods, positions = set(), set()
        for rating in response.ratings:
            if isinstance(rating.value, bool) or not isinstance(rating.value, int) or not RATING_MIN <= rating.value <= RATING_MAX:
                problems.add(rating.row, f"rating {rating.value!r} is outside {RATING_MIN}..{RATING_MAX}")
            if rating.method in methods:
                problems.add(rating.row, f"method {rating.method!r} appears twice in response {response.response_id!r}")
            if rating.position is not None and rating.position in positions:
                problems.add(rating.row, f"position {rating.position} appears twice in response {response.response_id!r}")
            methods.add(rating.method)
            positions.add(rating.position)
        if response.best_method is not None and response.best_method not in methods:
            problems.add(response.row, f"response {response.response_id!r} picks {response.best_method!r} as best but did not rate it")
    for method in {rating.method for response in responses for rating in response.ratings}:
        try:
            validate_slug(method)
        except ValidationError:
            row = next(r.row for response in responses for r in response.ratings if r.method == method)
            problems.add(row, f"method {method!r} is not a slug (letters, digits, - and _ only)")


def _first_rows(responses):
    """(first row naming each method, first row naming each layer, first row of each neuron)."""
    methods, layers, neurons = {}, {}, {}
    for response in responses:
        layers.setdefault(response.layer, response.row)
        neurons.setdefault((response.layer, response.unit), response.row)
        for rating in response.ratings:
            methods.setdefault(rating.method, rating.row)
    return methods, layers, neurons


def _resolve_items(study, responses, create, problems, created) -> dict:
    """(layer, unit, method) -> (study neuron pk, study item pk), creating what is missing when `create`."""
    network = study.network
    method_rows, layer_rows, neuron_rows = _first_rows(responses)
    study_methods = dict(StudyMethod.objects.filter(study=study).values_list("method__name", "method_id"))
    methods = {}
    for name, row in method_rows.items():
        if name in study_methods:
            methods[name] = study_methods[name]
        elif create:
            method, made = Method.objects.get_or_create(name=name, defaults={"kind": Method.Kind.IMPORTED, "display_name": name})
            created["methods"] = created.get("methods", 0) + int(made)
            StudyMethod.objects.create(study=study, method=method, order=StudyMethod.objects.filter(study=study).count())
            methods[name] = method.pk
        else:
            problems.add(row, f"unknown method {name!r}: not in study {study.name!r} (use --create to add it)")
    if problems:
        return {}

    layers = dict(Layer.objects.filter(network=network).values_list("name", "pk"))
    missing_layers = sorted(set(layer_rows) - set(layers), key=_natural_key)
    if missing_layers and not create:
        for name in missing_layers:
            problems.add(layer_rows[name], f"unknown layer {name!r} of network {network.name!r}")
        return {}
    start = Layer.objects.filter(network=network).count()
    for offset, name in enumerate(missing_layers):
        layers[name] = Layer.objects.create(network=network, name=name, order=start + offset).pk
    created["layers"] = len(missing_layers)

    def neuron_ids():
        return {
            (layer_id, unit): pk
            for pk, layer_id, unit in Neuron.objects.filter(layer_id__in=set(layers.values())).values_list("pk", "layer_id", "unit")
        }

    existing = neuron_ids()
    wanted = [(layers[layer], unit) for layer, unit in neuron_rows]
    study_neurons = dict(StudyNeuron.objects.filter(study=study).values_list("neuron_id", "pk"))
    if not create:
        for (layer, unit), key in zip(neuron_rows, wanted):
            if existing.get(key) not in study_neurons:
                problems.add(neuron_rows[(layer, unit)], f"neuron {layer}#{unit} is not in study {study.name!r} (use --create to add it)")
                if len(problems) >= MAX_PROBLEMS_SHOWN:
                    break
        if problems:
            return {}
    missing_neurons = [Neuron(layer_id=layer_id, unit=unit) for layer_id, unit in wanted if (layer_id, unit) not in existing]
    Neuron.objects.bulk_create(missing_neurons, batch_size=BATCH_SIZE)
    created["neurons"] = len(missing_neurons)
    existing = neuron_ids()
    order = StudyNeuron.objects.filter(study=study).count()
    new_study_neurons = []
    for key in wanted:
        if existing[key] not in study_neurons:
            new_study_neurons.append(StudyNeuron(study=study, neuron_id=existing[key], order=order))
            order += 1
    StudyNeuron.objects.bulk_create(new_study_neurons, batch_size=BATCH_SIZE)
    created["study_neurons"] = len(new_study_neurons)
    study_neurons = dict(StudyNeuron.objects.filter(study=study).values_list("neuron_id", "pk"))

    def item_ids():
        return {
            (sn, method_id): pk
            for pk, sn, method_id in StudyItem.objects.filter(study_neuron__study=study).values_list("pk", "study_neuron_id", "method_id")
        }

    stored_items = item_ids()
    keys, new_items = {}, {}
    for response in responses:
        study_neuron = study_neurons[existing[(layers[response.layer], response.unit)]]
        for rating in response.ratings:
            name = (response.layer, response.unit, rating.method)
            if name in keys:
                continue
            key = (study_neuron, methods[rating.method])
            keys[name] = key
            if key not in stored_items and key not in new_items:
                if create:
                    new_items[key] = StudyItem(study_neuron_id=key[0], method_id=key[1], text=rating.text)
                else:
                    problems.add(rating.row, f"study {study.name!r} showed no description of {rating.method!r} for neuron {response.layer}#{response.unit}")
    if problems:
        return {}
    StudyItem.objects.bulk_create(new_items.values(), batch_size=BATCH_SIZE)
    created["items"] = len(new_items)
    stored_items = item_ids()
    return {name: (key[0], stored_items[key]) for name, key in keys.items()}


def _rater_names(study):
    """A rater's name in a tidy file (external id, else rater-<pk>) -> its pk."""
    return {
        rater_name(pk, external_id): pk
        for pk, external_id in Rater.objects.filter(study=study).order_by("pk").values_list("pk", "external_id")
    }


def _resolve_raters(study, responses, created) -> dict:
    """Rater name -> pk: the study's rater of that name, else a new imported rater."""
    existing = _rater_names(study)
    names = [name for name in dict.fromkeys(response.rater for response in responses) if name not in existing]
    Rater.objects.bulk_create(
        [Rater(study=study, kind=Rater.Kind.IMPORTED, external_id=name, token=secrets.token_urlsafe(24)) for name in names],
        batch_size=BATCH_SIZE,
    )
    created["raters"] = len(names)
    return _rater_names(study)


def _check_not_already_stored(study, responses, items, raters, problems):
    stored_ids = {
        external_id or str(pk) for pk, external_id in Response.objects.filter(study=study).values_list("pk", "external_id")
    }
    stored_pairs = set(Response.objects.filter(study=study, is_check=False).values_list("rater_id", "study_neuron_id"))
    for response in responses:
        if response.response_id in stored_ids:
            problems.add(response.row, f"response {response.response_id!r} is already stored in study {study.name!r}")
        else:
            study_neuron = items[(response.layer, response.unit, response.ratings[0].method)][0]
            if (raters[response.rater], study_neuron) in stored_pairs:
                problems.add(
                    response.row, f"rater {response.rater!r} already has a stored response for neuron {response.layer}#{response.unit}"
                )
        if len(problems) >= MAX_PROBLEMS_SHOWN:
            return


def _store(study, responses, items, raters):
    now = timezone.now()
    rows, differs = [], 0
    for response in responses:
        rule_valid, rule_reason = validate_response(
            {rating.method: rating.value for rating in response.ratings}, response.best_method, study.ask_best
        )
        if response.is_valid is None:
            is_valid, reason = rule_valid, rule_reason
        else:
            is_valid, reason = response.is_valid, response.invalid_reason
            differs += int(is_valid != rule_valid)
        study_neuron = items[(response.layer, response.unit, response.ratings[0].method)][0]
        best_item = items[(response.layer, response.unit, response.best_method)][1] if response.best_method else None
        rows.append(Response(
            study=study, rater_id=raters[response.rater], study_neuron_id=study_neuron, best_item_id=best_item,
            uninterpretable=response.uninterpretable, none_fit=response.none_fit, is_valid=is_valid,
            invalid_reason="" if is_valid else (reason or ""), source=response.source or Response.Source.IMPORTED,
            external_id=response.response_id, submitted_at=response.submitted_at or now,
            seconds=response.seconds, visible_seconds=response.visible_seconds,
        ))
    Response.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    if any(row.pk is None for row in rows[:1]):
        pks = dict(Response.objects.filter(study=study).values_list("external_id", "pk"))
        for row in rows:
            row.pk = pks[row.external_id]
    ratings = [
        Rating(response_id=row.pk, item_id=items[(response.layer, response.unit, rating.method)][1],
               position=rating.position, value=rating.value)
        for row, response in zip(rows, responses)
        for rating in response.ratings
    ]
    Rating.objects.bulk_create(ratings, batch_size=BATCH_SIZE)
    return len(rows), len(ratings), differs
