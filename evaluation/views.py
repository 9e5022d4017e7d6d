"""Rater pages (behind their link only) and researcher pages (behind login)."""
import csv
import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import services
from .models import Assignment, Rater, Response, Study
from .permissions import get_visible_study_or_404, studies_visible_to
from .study_page import study_page_sections

# --------------------------------------------------------------------------- raters


def _rater_or_404(token):
    return get_object_or_404(Rater.objects.select_related("study"), token=token)


def _closed_page(request, study):
    return render(request, "evaluation/closed.html", {"study": study}, status=403)


def rater_home(request, token):
    """Instructions, and a button to start or resume."""
    rater = _rater_or_404(token)
    if rater.study.status != Study.Status.OPEN:
        return _closed_page(request, rater.study)
    return render(
        request,
        "evaluation/instructions.html",
        {"study": rater.study, "rater_token": rater.token, "progress": services.rater_progress(rater)},
    )


def rater_task(request, token):
    """GET: the rater's current or next task. POST: store the answer, then on to the next."""
    rater = _rater_or_404(token)
    study = rater.study
    if request.method == "POST":
        return _submit(request, rater)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    if study.status != Study.Status.OPEN:
        return _closed_page(request, study)
    assignment = services.claim_next_assignment(rater)
    if assignment is None:
        return render(request, "evaluation/thanks.html", {"study": study, "progress": services.rater_progress(rater)})
    return _task_page(request, rater, assignment)


def _task_page(request, rater, assignment, error="", status=200):
    return render(
        request,
        "evaluation/task.html",
        {"task": services.task_context(assignment), "rater_token": rater.token, "error": error, "disabled": False},
        status=status,
    )


def _submit(request, rater):
    assignment = Assignment.objects.filter(rater=rater, token=request.POST.get("task", "")).first()
    if assignment is None:
        return render(
            request,
            "evaluation/refused.html",
            {"rater_token": rater.token, "message": "This task was not given to you; your answer was not stored."},
            status=403,
        )
    try:
        services.submit_response(assignment, request.POST, source=Response.Source.LOCAL)
    except services.SubmissionError as error:
        if assignment.status == Assignment.Status.RESERVED:
            return _task_page(request, rater, assignment, error=str(error), status=400)
        return render(request, "evaluation/refused.html", {"rater_token": rater.token, "message": str(error)}, status=400)
    return redirect("evaluation:rater_task", token=rater.token)


def open_link(request, open_token):
    """Public volunteer link: one rater per browser, remembered in the session."""
    study = get_object_or_404(Study, open_link_token=open_token)
    if study.status != Study.Status.OPEN:
        return _closed_page(request, study)
    session_key = f"open-rater-{study.pk}"
    rater = Rater.objects.filter(study=study, token=request.session.get(session_key, "")).first()
    if rater is None:
        if not request.session.session_key:
            request.session.save()
        rater = services.get_or_create_rater(study, Rater.Kind.OPEN, f"browser-{services.new_rater_token()}")
        request.session[session_key] = rater.token
    return redirect("evaluation:rater_home", token=rater.token)


# --------------------------------------------------------------------------- researchers


@login_required
def study_list(request):
    studies = studies_visible_to(request.user).select_related("network")
    rows = [{"study": study, "progress": services.study_progress(study)} for study in studies]
    return render(request, "evaluation/study_list.html", {"rows": rows})


@login_required
def study_detail(request, name):
    study = get_visible_study_or_404(request.user, name)
    return render(
        request,
        "evaluation/study_detail.html",
        {
            "study": study,
            "progress": services.study_progress(study),
            "per_day": services.responses_per_day(study),
            "methods": study.study_methods.select_related("method"),
            "sections": study_page_sections(study),
            "open_link": services.open_link(study) if study.open_link_token else "",
            "invited": [(r, services.rater_link(r)) for r in study.raters.filter(kind=Rater.Kind.INVITED)],
        },
    )


@login_required
@require_POST
def study_invite(request, name):
    study = get_visible_study_or_404(request.user, name, change=True)
    try:
        count = int(request.POST.get("count", "1"))
        raters = services.invite_raters(study, count)
    except (ValueError, services.StudyError) as error:
        messages.error(request, f"No links created: {error}")
    else:
        messages.success(request, f"Created {len(raters)} rater link(s).")
    return redirect("evaluation:study_detail", name=name)


@login_required
@require_POST
def study_open_link(request, name):
    study = get_visible_study_or_404(request.user, name, change=True)
    services.enable_open_link(study)
    return redirect("evaluation:study_detail", name=name)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


@login_required
def study_responses_csv(request, name):
    """Every response, one row per rating, in the tidy ratings format `import_ratings` reads back
    (researchers only; streamed, so a large study is not held in memory)."""
    study = get_visible_study_or_404(request.user, name)
    writer = csv.writer(_Echo(), lineterminator="\n")
    lines = itertools.chain([writer.writerow(services.TIDY_COLUMNS)], map(writer.writerow, services.tidy_rating_rows(study)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.name}-ratings.csv"'
    return response
