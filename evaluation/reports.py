"""What researchers read about a study's progress (its raw ratings: ratings_table)."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from explain.models import Layer

from .models import Assignment, Rating, Response, Study


def study_progress(study: Study) -> dict:
    """Per-layer counts for the study page, in a few grouped queries whatever the study's size."""
    k = study.raters_per_neuron
    neurons_per_layer = dict(
        study.study_neurons.values("neuron__layer").annotate(n=Count("pk")).values_list("neuron__layer", "n")
    )
    responses_per_neuron = (
        Response.objects.filter(study=study).values("study_neuron").annotate(n=Count("pk"))
        .values_list("study_neuron__neuron__layer", "n")
    )
    complete: dict = {}
    for layer_id, n in responses_per_neuron:
        complete[layer_id] = complete.get(layer_id, 0) + int(n >= k)
    counts = {
        layer_id: (n, valid)
        for layer_id, n, valid in Response.objects.filter(study=study).values("study_neuron__neuron__layer")
        .annotate(n=Count("pk"), valid=Count("pk", filter=Q(is_valid=True)))
        .values_list("study_neuron__neuron__layer", "n", "valid")
    }
    rows = []
    for layer in Layer.objects.filter(pk__in=list(neurons_per_layer)).order_by("order", "name"):
        n_neurons = neurons_per_layer[layer.pk]
        responses, valid = counts.get(layer.pk, (0, 0))
        rows.append({
            "layer": layer.name, "neurons": n_neurons, "complete_neurons": complete.get(layer.pk, 0),
            "responses": responses, "valid": valid, "target": n_neurons * k,
        })
    n_neurons = sum(neurons_per_layer.values())
    return {
        "layers": rows,
        "responses": sum(row["responses"] for row in rows),
        "valid": sum(row["valid"] for row in rows),
        "neurons": n_neurons,
        "target": n_neurons * k,
        "raters": study.raters.count(),
        "reserved": Assignment.objects.filter(
            study_neuron__study=study, status=Assignment.Status.RESERVED, expires_at__gt=timezone.now(), response__isnull=True
        ).count(),
    }


def method_progress(study: Study) -> list[dict]:
    """Per method (researchers only): ratings so far, ratings in valid responses, times picked best in valid ones."""
    rows = (
        Rating.objects.filter(response__study=study)
        .values("item__method__name")
        .annotate(
            ratings=Count("pk"),
            valid=Count("pk", filter=Q(response__is_valid=True)),
            best=Count("pk", filter=Q(response__is_valid=True, response__best_item=F("item"))),
        )
    )
    by_name = {row["item__method__name"]: row for row in rows}
    result = []
    for name in study.study_methods.order_by("order").values_list("method__name", flat=True):
        row = by_name.get(name, {})
        result.append({"method": name, "ratings": row.get("ratings", 0), "valid": row.get("valid", 0),
                       "best": row.get("best", 0)})
    return result


def collection_pace(study: Study, hours: int = 24) -> dict:
    """Responses per hour over the last `hours`, the last hour's count, and the median time on task when recorded."""
    now = timezone.now()
    since = now - timedelta(hours=hours)
    recent = Response.objects.filter(study=study, submitted_at__gte=since)
    per_hour = list(
        recent.annotate(hour=TruncHour("submitted_at")).values("hour").annotate(n=Count("pk")).order_by("hour")
        .values_list("hour", "n")
    )
    pace = {
        "per_hour": per_hour,
        "last_hour": recent.filter(submitted_at__gte=now - timedelta(hours=1)).count(),
        "window_hours": hours,
        "median_seconds": None,
    }
    if any(field.name == "seconds" for field in Response._meta.get_fields()):
        seconds = sorted(s for s in Response.objects.filter(study=study).values_list("seconds", flat=True) if s is not None)
        if seconds:
            middle = len(seconds) // 2
            pace["median_seconds"] = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2
    return pace
