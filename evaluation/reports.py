"""What researchers read about a study's progress (its raw ratings: ratings_table)."""
from __future__ import annotations

import hashlib
import statistics
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection
from django.db.models import CharField, Count, Max, Q
from django.db.models.functions import Cast, Substr, TruncHour
from django.utils import timezone

from explain.models import Layer

from .models import Assignment, Exclusion, Response, Study


def study_data_version(study: Study) -> str:
    """A fingerprint of the study's answers, exclusions and exclusion policy: changes whenever one of them does.

    Responses are never edited in place (the admin shows them read only): new ones
    raise the count and the last id, deleted ones lower the count; the one change a
    stored answer sees, a crowd provider confirming it (Response.verified), raises the
    verified count. Exclusions change by being added or lifted.
    """
    responses = Response.objects.filter(study=study).aggregate(
        n=Count("pk"), last=Max("pk"), verified=Count("pk", filter=Q(verified=True)))
    exclusions = Exclusion.objects.filter(study=study).aggregate(
        n=Count("pk"), last=Max("pk"), lifted=Count("lifted_at"), last_lifted=Max("lifted_at")
    )
    last_lifted = exclusions["last_lifted"].isoformat() if exclusions["last_lifted"] else ""
    policy = hashlib.sha256(study.exclusion_policy.encode()).hexdigest()[:12] if study.exclusion_policy else ""
    return (f"r{responses['n']}-{responses['last']}-{responses['verified']}"
            f"|x{exclusions['n']}-{exclusions['last']}-{exclusions['lifted']}-{last_lifted}|p{policy}")


def known_data_version(study: Study) -> str:
    """The study's data version; a page that read it already leaves it on the study (`data_version`) for every
    section it renders, sparing the query."""
    return getattr(study, "data_version", None) or study_data_version(study)


def study_section_key(section: str, study: Study, *extra) -> str:
    """A cache key for one of a study's sections computed from its answers: it changes with the data version.
    created_at too: SQLite may give a new study the id of a deleted one."""
    return ":".join([f"study-{section}", str(study.pk), str(study.created_at.timestamp()), known_data_version(study),
                     *map(str, extra)])


def study_progress(study: Study) -> dict:
    """Per-layer counts for the study page: grouped queries, then sums in Python, whatever the study's size."""
    k = study.raters_per_neuron
    neurons_per_layer = dict(
        study.study_neurons.order_by().values("neuron__layer").annotate(n=Count("pk")).values_list("neuron__layer", "n")
    )
    per_neuron = (
        Response.objects.filter(study=study, is_check=False).order_by().values("study_neuron", "study_neuron__neuron__layer")
        .annotate(n=Count("pk"), valid=Count("pk", filter=Q(is_valid=True)))
        .values_list("study_neuron__neuron__layer", "n", "valid")
    )
    totals: dict = {}
    for layer_id, n, valid in per_neuron:
        entry = totals.setdefault(layer_id, [0, 0, 0])
        entry[0] += n
        entry[1] += valid
        entry[2] += int(n >= k)
    rows = []
    for layer_id, layer_name in Layer.objects.filter(pk__in=list(neurons_per_layer)).order_by("order", "name").values_list("pk", "name"):
        responses, valid, complete = totals.get(layer_id, (0, 0, 0))
        rows.append({
            "layer": layer_name, "neurons": neurons_per_layer[layer_id], "complete_neurons": complete,
            "responses": responses, "valid": valid, "target": neurons_per_layer[layer_id] * k,
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
            study_neuron__study=study, is_check=False, status=Assignment.Status.RESERVED, expires_at__gt=timezone.now(),
            response__isnull=True,
        ).count(),
    }


def method_progress(study: Study) -> list[dict]:
    """Per method (researchers only): how often valid responses picked it as best so far, and its share.

    Every response rates every description of its neuron, so the rating counts per
    method are the response counts above; what moves per method is the best pick.
    """
    best = dict(
        Response.objects.filter(study=study, is_check=False, is_valid=True, best_item__isnull=False)
        .order_by().values("best_item__method")
        .annotate(n=Count("pk")).values_list("best_item__method", "n")
    )
    total = sum(best.values())
    return [
        {"method": name, "best": best.get(method_id, 0), "share": best.get(method_id, 0) / total if total else None}
        for method_id, name in study.study_methods.order_by("order").values_list("method_id", "method__name")
    ]


def collection_pace(study: Study, hours: int = 24) -> dict:
    """Responses per hour over the last `hours`, the last hour's count, and the median time on task when recorded."""
    now = timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    recent = Response.objects.filter(study=study, is_check=False, submitted_at__gte=start).order_by()
    if connection.vendor == "sqlite":
        # SQLite stores UTC timestamps as ISO text; its first 13 characters are the hour. TruncHour would
        # call back into Python for every row.
        hours_counted = recent.annotate(hour=Substr(Cast("submitted_at", CharField()), 1, 13)).values("hour")
        per_hour = [(datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=dt_timezone.utc), n)
                    for hour, n in hours_counted.annotate(n=Count("pk")).order_by("hour").values_list("hour", "n")]
    else:
        per_hour = list(recent.annotate(hour=TruncHour("submitted_at")).values("hour").annotate(n=Count("pk"))
                        .order_by("hour").values_list("hour", "n"))
    pace = {
        "per_hour": per_hour,
        "last_hour": recent.filter(submitted_at__gte=now - timedelta(hours=1)).count(),
        "window_hours": hours,
        "median_seconds": None,
    }
    seconds = list(Response.objects.filter(study=study, seconds__isnull=False).values_list("seconds", flat=True))
    if seconds:
        pace["median_seconds"] = statistics.median(seconds)
    return pace


# Until a study has recorded times, the instructions estimate this much a task (three descriptions and a pick).
ESTIMATED_SECONDS_PER_TASK = 30.0
# Recorded times replace the estimate once this many answers have one.
RECORDED_TIMES_NEEDED = 5


def seconds_per_task(study: Study) -> tuple[float, int]:
    """(median time on task in seconds, how many recorded answers it comes from); the estimate when fewer
    than RECORDED_TIMES_NEEDED answers have a time. Checks count: to a rater they are tasks like any other."""
    times = list(Response.objects.filter(study=study, seconds__isnull=False).values_list("seconds", flat=True))
    if len(times) < RECORDED_TIMES_NEEDED:
        return ESTIMATED_SECONDS_PER_TASK, 0
    return statistics.median(times), len(times)


def rater_quality(study: Study) -> list[dict]:
    """Per rater: answers (checks apart), invalid answers, median time on task, attention checks passed."""
    rows = []
    raters = study.raters.annotate(
        answers=Count("responses", filter=Q(responses__is_check=False)),
        invalid=Count("responses", filter=Q(responses__is_check=False, responses__is_valid=False)),
        checks=Count("responses", filter=Q(responses__is_check=True)),
        checks_passed=Count("responses", filter=Q(responses__is_check=True, responses__check_passed=True)),
    ).filter(Q(answers__gt=0) | Q(checks__gt=0))
    times = {}
    for rater_id, seconds in Response.objects.filter(study=study, seconds__isnull=False).values_list("rater_id", "seconds"):
        times.setdefault(rater_id, []).append(seconds)
    for rater in raters.order_by("pk"):
        rows.append(
            {
                "rater": rater,
                "answers": rater.answers,
                "invalid": rater.invalid,
                "median_seconds": statistics.median(times[rater.pk]) if rater.pk in times else None,
                "checks": rater.checks,
                "checks_passed": rater.checks_passed,
                "check_pass_rate": rater.checks_passed / rater.checks if rater.checks else None,
            }
        )
    return rows
