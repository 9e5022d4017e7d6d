"""The pages a Prolific participant sees: entry from Prolific, the batch of tasks, the completion code."""
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from evaluation import services as rating
from evaluation.entry_limits import allow_new_rater, refusal_message
from evaluation.models import Assignment, Rater, Response, Study
from evaluation.views import not_open_page, problem_page

from ...claims import read_claim, sign_claim
from ...identifiers import CROWD_ID, bad_crowd_ids
from ...models import Publication
from .client import COMPLETION_URL
from .models import ParticipantSession, ProlificDesign


@require_http_methods(["GET"])
def start(request, publication_id):
    design = get_object_or_404(
        ProlificDesign.objects.select_related("publication__study"),
        publication_id=publication_id, publication__provider=Publication.Provider.PROLIFIC,
    )
    publication = design.publication
    participant_id = request.GET.get("PROLIFIC_PID", "").strip()
    session_id = request.GET.get("SESSION_ID", "").strip()
    study_id = request.GET.get("STUDY_ID", "").strip()
    missing = [name for name, value in [("PROLIFIC_PID", participant_id), ("STUDY_ID", study_id), ("SESSION_ID", session_id)] if not value]
    if missing:
        return problem_page(request, f"Open this study from Prolific: the link lacks {', '.join(missing)}.")
    problem = bad_crowd_ids(request.GET, ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"))
    if problem:
        return problem_page(request, problem)
    if design.prolific_study_id and study_id != design.prolific_study_id:
        return problem_page(request, "This link belongs to a different Prolific study.")
    if publication.study.status != Study.Status.OPEN:
        return not_open_page(request, publication.study, paused_status=403)
    known = ParticipantSession.objects.filter(publication=publication, session_id=session_id).first()
    if known is not None:
        if known.participant_id != participant_id:
            return problem_page(request, "This session belongs to another participant; open the study from Prolific.")
        return redirect("prolific:task", session_id=session_id)
    if not allow_new_rater(request):
        return render(request, "evaluation/limited.html", {"message": refusal_message()}, status=429)
    with transaction.atomic():
        rater = rating.get_or_create_rater(publication.study, Rater.Kind.PROLIFIC, participant_id)
        ParticipantSession.objects.get_or_create(
            publication=publication,
            session_id=session_id,
            defaults={"rater": rater, "participant_id": participant_id},
        )
    return redirect("prolific:task", session_id=session_id)


def _session(session_id):
    if not CROWD_ID.fullmatch(session_id):
        raise Http404("no such session")
    return get_object_or_404(
        ParticipantSession.objects.select_related("publication__study", "publication__prolific_design", "rater"),
        session_id=session_id,
    )


def _batch_answered(session) -> bool:
    """Every real task of the batch answered, and the attention checks planned within the batch too."""
    batch_size = session.publication.prolific_design.batch_size
    return (Response.objects.filter(rater=session.rater, is_check=False).count() >= batch_size
            and not rating.check_due_in_batch(session.rater, batch_size))


def _batch_finished(session) -> bool:
    """The participant rated the whole batch, or the study has nothing left for them at all (not
    merely everything reserved by others for now): only then is the completion code shown."""
    if _batch_answered(session):
        return True
    held = session.rater.assignments.filter(status=Assignment.Status.RESERVED, response__isnull=True).exists()
    return not held and rating.claim_next_assignment(session.rater) is None and rating.retry_in_seconds(session.rater) is None


@never_cache
@require_http_methods(["GET", "POST"])
def task(request, session_id):
    session = _session(session_id)
    study = session.publication.study
    batch_size = session.publication.prolific_design.batch_size
    if _batch_answered(session) or session.completed_at:
        return redirect("prolific:done", session_id=session_id)
    if study.status != Study.Status.OPEN:
        return not_open_page(request, study, paused_status=403)
    assignment = rating.claim_next_assignment(session.rater)
    if assignment is None:
        wait = rating.retry_in_seconds(session.rater)
        if wait is not None:
            return render(
                request, "evaluation/all_taken.html",
                {"study": study, "progress": rating.rater_progress(session.rater), "minutes": -(-wait // 60)},
            )
        return redirect("prolific:done", session_id=session_id)
    error, answers, prompt = "", None, None
    if request.method == "POST":
        claim = read_claim(request.POST.get("claim"), 24 * 3600)
        if not claim or claim["external_id"] != session_id:
            return problem_page(request, "This submission does not belong to your session; reload the page.")
        posted = get_object_or_404(Assignment, pk=claim["assignment"], rater=session.rater)
        try:
            rating.submit_response(posted, request.POST, source=Response.Source.PROLIFIC, external_id=session_id)
        except rating.ConsistencyPrompt as prompt_:
            prompt, answers, assignment = prompt_, request.POST, posted
        except rating.SubmissionError as error_:
            error, answers, assignment = str(error_), request.POST, posted
        else:
            return redirect("prolific:task", session_id=session_id)
    context = {
        "task": rating.task_context(assignment, answers=answers, prompt=prompt),
        "session": session,
        # Checks count on the page like any task, so the counter never gives one away.
        "progress_done": Response.objects.filter(rater=session.rater).count(),
        "progress_total": batch_size + rating.checks_planned(batch_size, session.publication.study.attention_check_every),
        "claim": sign_claim(assignment, session_id),
        "error": error,
        "action_url": reverse("prolific:task", args=[session_id]),
    }
    return render(request, "prolific/task.html", context, status=400 if error else 200)


@require_http_methods(["GET"])
def done(request, session_id):
    session = _session(session_id)
    if session.completed_at is None:
        if not _batch_finished(session):
            # No code before the work: back to the participant's next task.
            return redirect("prolific:task", session_id=session_id)
        ParticipantSession.objects.filter(pk=session.pk, completed_at=None).update(completed_at=timezone.now())
    code = session.publication.prolific_design.completion_code
    return render(
        request,
        "prolific/done.html",
        {"code": code, "completion_url": COMPLETION_URL.format(code=code)},
    )
