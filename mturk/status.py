"""Where a study stands on its crowd providers, from what harvest last recorded (no provider call)."""
from collections import Counter

from django.template.loader import render_to_string

from .models import LedgerEntry, Publication
from .providers import get_provider


def normalised_status(provider_status):
    return provider_status.upper().replace(" ", "_")


def publication_status(publication):
    provider = get_provider(publication)
    totals = Counter(
        normalised_status(status) for status in publication.crowd_assignments.values_list("provider_status", flat=True)
    )
    ledger = list(publication.ledger.all())
    return {
        "publication": publication,
        "totals": dict(totals),
        "missing_responses": publication.crowd_assignments.filter(response_missing=True).count(),
        "spend": spend_so_far(provider, totals["APPROVED"], ledger),
        "unsettled": [entry for entry in ledger if entry.state == LedgerEntry.State.PENDING],
        **provider.status_details(),
    }


def spend_so_far(provider, approved, ledger):
    """Approved work (also work a provider approved on its own after its auto-approval delay) plus bonuses paid."""
    bonuses = sum(
        (entry.amount or 0)
        for entry in ledger
        if entry.state == LedgerEntry.State.DONE and entry.operation in provider.bonus_operations
    )
    return provider.price_per_approval() * approved + bonuses


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
        lines.extend(get_provider(publication).status_lines(status))
        lines.append(f"  responses missing here: {status['missing_responses']}")
        lines.append(f"  spend so far: ${status['spend']:.2f}")
        for entry in status["unsettled"]:
            lines.append(f"  UNSETTLED: {entry}")
    return lines or [f"{study.name} is not published on any crowd provider"]
