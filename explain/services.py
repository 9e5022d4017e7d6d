"""The one way explanations are written: `store_explanations`.

The explain job, the chunked job and every importer store what a method said about
a layer through it. Rows are updated in place, keyed by (neuron, method, rank), so
what points at an explanation (a study's frozen items, metric and simulation scores)
keeps pointing at it across reruns; only ranks that disappeared are deleted.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Sequence

from django.db import transaction

from explain.methods.base import ExplanationRecord
from explain.models import Explanation, Job, Layer, Method, Neuron



class InvalidExplanations(ValueError):
    """Records that cannot be stored; the message names the method, layer and unit. Nothing is written then."""


@dataclass(frozen=True)
class StoredExplanations:
    created: int
    updated: int
    unchanged: int
    deleted: int

    @property
    def replaced(self) -> int:
        """Earlier rows that this store overwrote or removed."""
        return self.updated + self.unchanged + self.deleted


def store_explanations(
    method: Method,
    layer: Layer,
    records: Sequence[ExplanationRecord],
    *,
    job: Job | None = None,
    source_file: str = "",
    units: Sequence[int] = (),
) -> StoredExplanations:
    """Make `method`'s explanations of the units in `records` (of `layer`) exactly `records`.

    A unit's earlier ranks that `records` no longer has are deleted; units not in
    `records` are left alone (a chunk stores only its own units). With a `source_file`,
    the rows an earlier import of a file of that name stored in this layer are also
    this store's to replace, so re-importing a shrunken file leaves nothing behind.
    `units`: units the method handled, including those it left without a record (NetDissect's dead
    units); their earlier rows are deleted too, so a rerun leaves no stale label.
    Invalid records raise InvalidExplanations before anything is written.
    """
    values_by_key = _validated_values(method, layer, records, job, source_file)
    handled = {unit for unit, _ in values_by_key} | {int(unit) for unit in units}
    units = {unit for unit, _ in values_by_key}
    with transaction.atomic():
        if units:
            Neuron.objects.bulk_create([Neuron(layer=layer, unit=unit) for unit in sorted(units)], ignore_conflicts=True)
        neurons = {neuron.unit: neuron for neuron in layer.neurons.filter(unit__in=units)}
        in_scope = Explanation.objects.filter(method=method, neuron__layer=layer, neuron__unit__in=handled)
        if source_file:
            in_scope = in_scope | Explanation.objects.filter(method=method, neuron__layer=layer, source_file=source_file)
        previous = {(row.neuron.unit, row.rank): row for row in in_scope.select_related("neuron")}

        to_create, updated, unchanged = [], 0, 0
        for (unit, rank), values in values_by_key.items():
            row = previous.pop((unit, rank), None)
            if row is None:
                to_create.append(Explanation(method=method, neuron=neurons[unit], rank=rank, **values))
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                # one UPDATE per changed row: bulk_update's CASE expressions are far slower on big layers
                row.save(update_fields=[name.removesuffix("_id") for name in values])
                updated += 1
            else:
                unchanged += 1
        deleted = len(previous)
        if previous:
            Explanation.objects.filter(pk__in=[row.pk for row in previous.values()]).delete()
        Explanation.objects.bulk_create(to_create, batch_size=1000)
    return StoredExplanations(created=len(to_create), updated=updated, unchanged=unchanged, deleted=deleted)


def _validated_values(method, layer, records, job, source_file) -> dict[tuple[int, int], dict]:
    values_by_key: dict[tuple[int, int], dict] = {}
    for record in records:
        unit, rank = _whole_number(record.unit), _whole_number(record.rank)
        if unit is None or unit < 0 or (layer.unit_count is not None and unit >= layer.unit_count):
            raise InvalidExplanations(f"{method.name}: unit {record.unit!r} is not a unit of layer {layer} ({layer.unit_count} units)")
        where = f"{method.name}: unit {unit} of layer {layer}"
        if rank is None or rank < 1:
            raise InvalidExplanations(f"{where}: rank {record.rank!r} is not a positive integer")
        text = (record.text or "").strip()
        if not text:
            raise InvalidExplanations(f"{where}: empty explanation")
        if (unit, rank) in values_by_key:
            raise InvalidExplanations(f"{where}: two explanations of rank {rank}")
        score = None if record.score is None or not math.isfinite(record.score) else float(record.score)
        values_by_key[(unit, rank)] = {
            "text": text,
            "score": score,
            "score_name": record.score_name if score is not None else "",
            "job_id": job.pk if job is not None else None,
            "source_file": source_file,
            "source_row": record.source_row,
            "details": record.details,
        }
    return values_by_key


def _whole_number(value) -> int | None:
    """`value` as an int when it is one (numpy integers included), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None
