"""Pages crowd workers see: the MTurk task inside the worker frame, and the Prolific batch session."""
import functools
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from evaluation import services as rating
from evaluation.models import Assignment, Rater, Response, Study
from evaluation.permissions import get_visible_study_or_404

from .models import Hit, ParticipantSession, Publication
from .preview import preview_task
from .prolific import COMPLETION_URL
from .status import study_status_html

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where MTurk may tell the page to post the finished assignment (turkSubmitTo).
MTURK_SUBMIT_HOSTS = {"www.mturk.com", "workersandbox.mturk.com"}
CLAIM_SALT = "mturk.claim"
# Sites that frame the task page: the worker sites (production and sandbox) and the requester
# sites' HIT preview.
MTURK_FRAME_ANCESTORS = (
    "https://worker.mturk.com https://workersandbox.mturk.com https://www.mturk.com "
    "https://requester.mturk.com https://requestersandbox.mturk.com"
)


def frameable_by_mturk(view):
    """Drop X-Frame-Options for this view only, and let browsers allow MTurk's sites (and no other) to frame it."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = f"frame-ancestors 'self' {MTURK_FRAME_ANCESTORS}"
        return response

    return xframe_options_exempt(wrapped)


def _sign_claim(assignment, external_id):
    return signing.dumps({"assignment": assignment.pk, "external_id": external_id}, salt=CLAIM_SALT)


def _read_claim(value, max_age):
    try:
        return signing.loads(value or "", salt=CLAIM_SALT, max_age=max_age)
    except signing.BadSignature:
        return None


def _external_submit_url(turk_submit_to):
    parts = urlsplit(turk_submit_to or "")
    if parts.scheme != "https" or parts.hostname not in MTURK_SUBMIT_HOSTS:
        return None
    return f"https://{parts.hostname}/mturk/externalSubmit"


# The page lives inside MTurk's iframe: it must be frameable there, and the browser will not send this
# site's (SameSite=Lax) CSRF cookie from inside a third-party frame. A signed claim naming the reserved
# assignment takes the CSRF token's place: a forged post cannot name an assignment it was not given.
@frameable_by_mturk
@csrf_exempt
@require_http_methods(["GET", "POST"])
def mturk_task(request, hit_token):
    hit = get_object_or_404(Hit.objects.select_related("publication__study", "study_neuron"), request_token=hit_token)
    params = request.POST if request.method == "POST" else request.GET
    assignment_id = params.get("assignmentId", "")
    worker_id = params.get("workerId", "")
    submit_url = _external_submit_url(params.get("turkSubmitTo", ""))
    base = {"hit": hit, "assignment_id": assignment_id, "external_submit_url": submit_url}

    if not assignment_id or assignment_id == PREVIEW_ASSIGNMENT_ID:
        return render(request, "mturk/task.html", {**base, "preview": True, "task": preview_task(hit.study_neuron)})
    if not worker_id or submit_url is None:
        return HttpResponseBadRequest("This page must be opened from the MTurk HIT (workerId and turkSubmitTo are missing).")

    study = hit.publication.study
    stored = Response.objects.filter(study=study, source=Response.Source.MTURK, external_id=assignment_id).first()
    if stored is not None:
        # Already stored (double click, reload, retry): only send the worker on to MTurk again.
        return render(request, "mturk/submitted.html", base)

    rater = rating.get_or_create_rater(study, Rater.Kind.MTURK, worker_id)
    if Response.objects.filter(rater=rater, study_neuron=hit.study_neuron).exists():
        return render(request, "mturk/already_answered.html", base, status=409)

    if request.method == "GET":
        try:
            assignment = rating.claim_assignment_for_neuron(rater, hit.study_neuron)
        except rating.AlreadyAnswered:
            return render(request, "mturk/already_answered.html", base, status=409)
        return _render_form(request, base, assignment, assignment_id, worker_id)

    claim = _read_claim(request.POST.get("claim"), hit.publication.assignment_duration_seconds + 3600)
    if not claim or claim["external_id"] != assignment_id:
        return HttpResponseBadRequest("This submission does not carry a valid claim for the assignment; reload the HIT.")
    assignment = get_object_or_404(Assignment, pk=claim["assignment"], rater=rater, study_neuron=hit.study_neuron)
    try:
        rating.submit_response(assignment, request.POST, source=Response.Source.MTURK, external_id=assignment_id)
    except rating.SubmissionError as error:
        return _render_form(request, base, assignment, assignment_id, worker_id, error=str(error), status=400)
    return render(request, "mturk/submitted.html", base)


def _render_form(request, base, assignment, assignment_id, worker_id, error="", status=200):
    context = {
        **base,
        "task": rating.task_context(assignment),
        "preview": False,
        "claim": _sign_claim(assignment, assignment_id),
        "worker_id": worker_id,
        "turk_submit_to": request.POST.get("turkSubmitTo") or request.GET.get("turkSubmitTo", ""),
        "error": error,
    }
    return render(request, "mturk/task.html", context, status=status)


@require_http_methods(["GET"])
def prolific_start(request, publication_id):
    publication = get_object_or_404(Publication, pk=publication_id, provider=Publication.Provider.PROLIFIC)
    participant_id = request.GET.get("PROLIFIC_PID", "").strip()
    session_id = request.GET.get("SESSION_ID", "").strip()
    study_id = request.GET.get("STUDY_ID", "").strip()
    missing = [name for name, value in [("PROLIFIC_PID", participant_id), ("STUDY_ID", study_id), ("SESSION_ID", session_id)] if not value]
    if missing:
        return HttpResponseBadRequest(f"Open this study from Prolific: the link lacks {', '.join(missing)}.")
    if publication.external_id and study_id != publication.external_id:
        return HttpResponseBadRequest("This link belongs to a different Prolific study.")
    with transaction.atomic():
        rater = rating.get_or_create_rater(publication.study, Rater.Kind.PROLIFIC, participant_id)
        ParticipantSession.objects.get_or_create(
            publication=publication,
            session_id=session_id,
            defaults={"rater": rater, "participant_id": participant_id},
        )
    return redirect("mturk:prolific_task", session_id=session_id)


def _session(session_id):
    return get_object_or_404(
        ParticipantSession.objects.select_related("publication__study", "rater"), session_id=session_id
    )


@require_http_methods(["GET", "POST"])
def prolific_task(request, session_id):
    session = _session(session_id)
    publication = session.publication
    done_count = Response.objects.filter(rater=session.rater).count()
    if done_count >= publication.batch_size or session.completed_at:
        return redirect("mturk:prolific_done", session_id=session_id)
    assignment = rating.claim_next_assignment(session.rater)
    if assignment is None:
        return redirect("mturk:prolific_done", session_id=session_id)
    error = ""
    if request.method == "POST":
        claim = _read_claim(request.POST.get("claim"), 24 * 3600)
        if not claim or claim["external_id"] != session_id:
            return HttpResponseBadRequest("This submission does not belong to your session; reload the page.")
        posted = get_object_or_404(Assignment, pk=claim["assignment"], rater=session.rater)
        try:
            rating.submit_response(posted, request.POST, source=Response.Source.PROLIFIC, external_id=session_id)
        except rating.SubmissionError as error_:
            error = str(error_)
            assignment = posted
        else:
            return redirect("mturk:prolific_task", session_id=session_id)
    context = {
        "task": rating.task_context(assignment),
        "session": session,
        "progress_done": done_count,
        "progress_total": publication.batch_size,
        "claim": _sign_claim(assignment, session_id),
        "error": error,
        "action_url": reverse("mturk:prolific_task", args=[session_id]),
    }
    return render(request, "mturk/prolific_task.html", context, status=400 if error else 200)


@require_http_methods(["GET"])
def prolific_done(request, session_id):
    session = _session(session_id)
    if session.completed_at is None:
        ParticipantSession.objects.filter(pk=session.pk, completed_at=None).update(completed_at=timezone.now())
    code = session.publication.completion_code
    return render(
        request,
        "mturk/prolific_done.html",
        {"code": code, "completion_url": COMPLETION_URL.format(code=code)},
    )


@login_required
def study_status_page(request, name):
    study = get_visible_study_or_404(request.user, name)
    return render(request, "mturk/study_status.html", {"study": study, "status_html": study_status_html(study)})
