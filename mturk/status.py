"""Where a study stands on its crowd providers, from what harvest last recorded (no provider call)."""
from collections import Counter

from django.template.loader import render_to_string

from .cost import mturk_assignment_fee
from .models import Hit, LedgerEntry, Publication


def publication_status(publication):
    counts_by_hit = {}
    for hit_id, status in publication.crowd_assignments.values_list("hit_id", "provider_status"):
        counts_by_hit.setdefault(hit_id, Counter())[status.upper().replace(" ", "_")] += 1
    hits = []
    for hit in publication.hits.select_related("study_neuron__neuron__layer"):
        counts = counts_by_hit.get(hit.pk, Counter())
        hits.append(
            {
                "hit": hit,
                "neuron": str(hit.study_neuron.neuron),
                "available": hit.assignments_available,
                "pending": hit.assignments_pending,
                "submitted": counts["SUBMITTED"],
                "approved": counts["APPROVED"],
                "rejected": counts["REJECTED"],
            }
        )
    all_counts = Counter()
    for counts in counts_by_hit.values():
        all_counts.update(counts)
    ledger = publication.ledger.all()
    spend = spend_so_far(publication, all_counts["APPROVED"], ledger)
    return {
        "publication": publication,
        "hits": hits,
        "published_hits": sum(1 for h in hits if h["hit"].status == Hit.Status.PUBLISHED),
        "totals": dict(all_counts),
        "missing_responses": publication.crowd_assignments.filter(response_missing=True).count(),
        "spend": spend,
        "unsettled": [entry for entry in ledger if entry.state == LedgerEntry.State.PENDING],
    }


def spend_so_far(publication, approved, ledger):
    """Approved work (also work MTurk approved on its own after the auto-approval delay) plus bonuses paid."""
    if publication.provider == Publication.Provider.MTURK:
        per_approval = publication.reward + mturk_assignment_fee(publication.reward, publication.study.raters_per_neuron)
    else:
        per_approval = publication.reward * publication.batch_size
    bonuses = sum(
        (entry.amount or 0)
        for entry in ledger
        if entry.state == LedgerEntry.State.DONE and entry.operation in {"SendBonus", "ProlificBonusPay"}
    )
    return per_approval * approved + bonuses


def study_status(study):
    return [publication_status(p) for p in Publication.objects.filter(study=study).order_by("provider", "production")]


def study_status_html(study):
    """A safe HTML fragment the evaluation study page can embed."""
    return render_to_string("mturk/_study_status.html", {"study": study, "publications": study_status(study)})


def study_status_lines(study):
    lines = []
    for status in study_status(study):
        publication = status["publication"]
        lines.append(str(publication))
        if publication.provider == Publication.Provider.MTURK:
            lines.append(f"  HITs published: {status['published_hits']} of {len(status['hits'])}")
            for row in status["hits"]:
                lines.append(
                    f"  {row['hit'].hit_id or '(creating)'} {row['neuron']}: available {row['available']}, "
                    f"pending {row['pending']}, submitted {row['submitted']}, approved {row['approved']}, "
                    f"rejected {row['rejected']}"
                )
        else:
            lines.append(f"  provider id: {publication.external_id or '(not drafted)'}")
            for key, value in sorted(status["totals"].items()):
                lines.append(f"  {key.lower()}: {value}")
        lines.append(f"  responses missing here: {status['missing_responses']}")
        lines.append(f"  spend so far: ${status['spend']:.2f}")
        for entry in status["unsettled"]:
            lines.append(f"  UNSETTLED: {entry}")
    return lines or [f"{study.name} is not published on any crowd provider"]
