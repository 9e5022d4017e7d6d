"""What researchers read about a study's progress, and its raw responses."""
from __future__ import annotations

from typing import Iterable

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from explain.models import Layer

from .models import Assignment, Rating, Response, Study


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
        "neurons": study.study_neurons.count(),
        "target": study.study_neurons.count() * k,
        "raters": study.raters.count(),
        "reserved": Assignment.objects.filter(
            study_neuron__study=study, status=Assignment.Status.RESERVED, expires_at__gt=timezone.now(), response__isnull=True
        ).count(),
    }


def responses_per_day(study: Study) -> list[tuple]:
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
