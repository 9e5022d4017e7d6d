"""The page an MTurk worker sees inside the worker frame: preview, task, hand-back to MTurk."""
from urllib.parse import urlsplit

from csp.constants import SELF
from csp.decorators import csp_replace, csp_update

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from evaluation import services as rating
from evaluation.entry_limits import allow_new_rater, refusal_message
from evaluation.models import Assignment, Rater, Response, Study
from evaluation.views import problem_page

from ...claims import read_claim, sign_claim
from ...identifiers import CROWD_ID, bad_crowd_ids, worker_key
from .models import Hit

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where MTurk may tell the page to post the finished assignment (turkSubmitTo).
MTURK_SUBMIT_HOSTS = {"www.mturk.com", "workersandbox.mturk.com"}
# Sites that frame the task page: the worker sites (production and sandbox) and the requester
# sites' HIT preview.
MTURK_FRAME_ANCESTORS = (
    "https://worker.mturk.com https://workersandbox.mturk.com https://www.mturk.com "
    "https://requester.mturk.com https://requestersandbox.mturk.com"
)


def frameable_by_mturk(view):
    """Drop X-Frame-Options for this view only, and let browsers allow MTurk's sites (and no other) to frame it;
    its answered page posts the HIT back to MTurk (externalSubmit), so the form may go there too."""
    framed = csp_replace({"frame-ancestors": [SELF, *MTURK_FRAME_ANCESTORS.split()]})(view)
    submitting = csp_update({"form-action": [f"https://{host}" for host in sorted(MTURK_SUBMIT_HOSTS)]})(framed)
    return xframe_options_exempt(submitting)


def _external_submit_url(turk_submit_to):
    parts = urlsplit(turk_submit_to or "")
    if parts.scheme != "https" or parts.hostname not in MTURK_SUBMIT_HOSTS:
        return None
    return f"https://{parts.hostname}/mturk/externalSubmit"


def _unavailable(request, base, message, status):
    return render(request, "mturk/unavailable.html", {**base, "message": message}, status=status)


# The page lives inside MTurk's iframe: it must be frameable there, and the browser will not send this
# site's (SameSite=Lax) CSRF cookie from inside a third-party frame. A signed claim naming the reserved
# assignment takes the CSRF token's place: a forged post cannot name an assignment it was not given.
# Nothing here proves the worker and assignment ids are MTurk's: answers are stored unverified and
# count (toward K and in tables) only once harvest finds that assignment with that worker on MTurk.
@frameable_by_mturk
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def mturk_task(request, hit_token):
    params = request.POST if request.method == "POST" else request.GET
    problem = bad_crowd_ids(params, ("assignmentId", "workerId", "hitId"))
    if problem or not CROWD_ID.fullmatch(hit_token):
        return problem_page(request, problem or "This HIT address is malformed.")
    hit = get_object_or_404(Hit.objects.select_related("publication__study", "study_neuron"), request_token=hit_token)
    assignment_id = params.get("assignmentId", "")
    worker_id = params.get("workerId", "")
    submit_url = _external_submit_url(params.get("turkSubmitTo", ""))
    base = {"hit": hit, "assignment_id": assignment_id, "external_submit_url": submit_url}

    if hit.status != Hit.Status.PUBLISHED or (hit.expires_at and hit.expires_at <= timezone.now()):
        return _unavailable(request, base, "This HIT is no longer available. Please return it.", status=410)
    study = hit.publication.study
    if study.status != Study.Status.OPEN:
        return _unavailable(request, base, f"This study is {study.status} and takes no answers now. Please return this HIT.", 403)

    if not assignment_id or assignment_id == PREVIEW_ASSIGNMENT_ID:
        return render(request, "mturk/task.html", {**base, "preview": True, "task": rating.preview_context(hit.study_neuron)})
    if not worker_id or submit_url is None:
        return problem_page(request, "This page must be opened from the MTurk HIT (workerId and turkSubmitTo are missing).")

    key = worker_key(worker_id, assignment_id)
    rater = Rater.objects.filter(study=study, kind=Rater.Kind.MTURK, external_id=key).first()
    if rater is not None and Response.objects.filter(rater=rater, study_neuron=hit.study_neuron).exists():
        # Already stored (double click, reload, retry): only send the worker on to MTurk again.
        return render(request, "mturk/submitted.html", base)

    if Response.objects.filter(
        study_neuron=hit.study_neuron, rater__kind=Rater.Kind.MTURK, rater__external_id=worker_id, verified=True
    ).exists():
        # MTurk confirmed this worker already answered the neuron (under another HIT of it).
        return render(request, "mturk/already_answered.html", base, status=409)

    if rater is not None and rater.assignments.exclude(study_neuron=hit.study_neuron).exists():
        # An MTurk assignment belongs to one HIT: the same pair on another HIT is made up, and an
        # unverified rater never holds more than one reservation.
        return problem_page(request, "This assignment belongs to another HIT; nothing was stored.")

    if request.method == "GET":
        new_rater = rater is None
        if new_rater:
            if not allow_new_rater(request):
                return _unavailable(request, base, refusal_message(), status=429)
            rater = rating.get_or_create_rater(study, Rater.Kind.MTURK, key)
        try:
            assignment = rating.claim_assignment_for_neuron(rater, hit.study_neuron)
        except rating.NothingLeft as full:
            if new_rater:
                rater.delete()  # it holds nothing: leave no row behind
            minutes = max(1, -(-(full.retry_in_seconds or 60) // 60))
            return _unavailable(
                request, base, f"All places on this HIT are being worked on; try again in {minutes} minutes or return it.", 409
            )
        except rating.AlreadyAnswered:
            return render(request, "mturk/already_answered.html", base, status=409)
        return _render_form(request, base, assignment, assignment_id, worker_id)

    claim = read_claim(request.POST.get("claim"), hit.publication.mturk_design.assignment_duration_seconds + 3600)
    if rater is None or not claim or claim["external_id"] != assignment_id:
        return problem_page(request, "This submission does not carry a valid claim for the assignment; reload the HIT.")
    assignment = get_object_or_404(Assignment, pk=claim["assignment"], rater=rater, study_neuron=hit.study_neuron)
    try:
        rating.submit_response(
            assignment, request.POST, source=Response.Source.MTURK, external_id=assignment_id, verified=False
        )
    except rating.ConsistencyPrompt as prompt:
        return _render_form(request, base, assignment, assignment_id, worker_id, prompt=prompt)
    except rating.SubmissionError as error:
        return _render_form(request, base, assignment, assignment_id, worker_id, error=str(error), status=400)
    return render(request, "mturk/submitted.html", base)


def _render_form(request, base, assignment, assignment_id, worker_id, error="", status=200, prompt=None):
    answers = request.POST if request.method == "POST" else None
    context = {
        **base,
        "task": rating.task_context(assignment, answers=answers, prompt=prompt),
        "preview": False,
        "claim": sign_claim(assignment, assignment_id),
        "worker_id": worker_id,
        "turk_submit_to": request.POST.get("turkSubmitTo") or request.GET.get("turkSubmitTo", ""),
        "error": error,
    }
    return render(request, "mturk/task.html", context, status=status)
