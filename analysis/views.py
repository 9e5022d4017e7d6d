"""Researcher-only results of a study, served from its stored report (analysis.report_cache)."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse

from analysis.panels import results_panel, results_stamp, results_state
from analysis.plots import IMAGE_FORMATS, PLOT_NAMES
from analysis.report import CONTENT_TYPES, FILE_EXTENSIONS, artifact_names
from analysis.report_cache import compute_report, request_refresh, stored_artifact, stored_report
from evaluation.permissions import get_visible_study_or_404


def _serve(request, study, name: str, attachment: bool = True) -> HttpResponse:
    """The stored file `name` of the study's report; the first request of a study computes it."""
    if name not in artifact_names():
        raise Http404("unknown result")
    report = stored_report(study)
    if report is None or report.computed_at is None:
        report = compute_report(study)
    else:
        request_refresh(study)
    content = stored_artifact(study, name)
    if content is None:
        raise Http404("no data for this result yet")
    fmt = name.rsplit(".", 1)[1]
    content_type = CONTENT_TYPES[fmt] + ("; charset=utf-8" if fmt not in IMAGE_FORMATS else "")
    response = HttpResponse(content, content_type=content_type)
    response["X-Report-Computed-At"] = report.computed_at.isoformat()
    if attachment and fmt not in ("html",) + IMAGE_FORMATS:
        stem = name.rsplit(".", 1)[0].replace("/", "-")
        response["Content-Disposition"] = f'attachment; filename="{study.name}-{stem}.{FILE_EXTENSIONS.get(fmt, fmt)}"'
    return response


@login_required
def study_plot(request, name, plot, fmt):
    study = get_visible_study_or_404(request.user, name)
    if plot not in PLOT_NAMES or fmt not in IMAGE_FORMATS:
        raise Http404("unknown plot")
    return _serve(request, study, f"plots/{plot}.{fmt}")


@login_required
def study_table(request, name, fmt):
    study = get_visible_study_or_404(request.user, name)
    return _serve(request, study, f"comparison.{fmt}")


@login_required
def study_result(request, name, file):
    study = get_visible_study_or_404(request.user, name)
    return _serve(request, study, file)


@login_required
def study_results_panel(request, name):
    """The study page's results section, polled: 204 while nothing changed since `since`."""
    study = get_visible_study_or_404(request.user, name)
    state = results_state(study)
    if request.GET.get("since") == results_stamp(*state):
        return HttpResponse(status=204)
    return HttpResponse(results_panel(request, study, state))
