"""What researchers read about a study's progress (its raw ratings: ratings_table)."""
from __future__ import annotations

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from explain.models import Layer

from .models import Assignment, Response, Study


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
