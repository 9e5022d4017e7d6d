"""Researcher-only downloads of a study's results."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse

from analysis.plots import PLOT_NAMES, figure_bytes, study_figures
from analysis.report import study_results
from analysis.tables import render_comparison
from evaluation.permissions import get_visible_study_or_404

_CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml", "csv": "text/csv", "md": "text/markdown",
                  "latex": "application/x-tex", "json": "application/json", "html": "text/html"}


@login_required
def study_plot(request, name, plot, fmt):
    study = get_visible_study_or_404(request.user, name)
    if plot not in PLOT_NAMES or fmt not in ("png", "svg"):
        raise Http404("unknown plot")
    table, used, _ = study_results(study)
    figures = study_figures(table, used) if not used.empty else {}
    if plot not in figures:
        raise Http404("no data for this plot yet")
    return HttpResponse(figure_bytes(figures[plot], fmt), content_type=_CONTENT_TYPES[fmt])


@login_required
def study_table(request, name, fmt):
    study = get_visible_study_or_404(request.user, name)
    if fmt not in _CONTENT_TYPES or fmt in ("png", "svg"):
        raise Http404("unknown format")
    table, _, _ = study_results(study)
    response = HttpResponse(render_comparison(table, fmt), content_type=f"{_CONTENT_TYPES[fmt]}; charset=utf-8")
    if fmt != "html":
        extension = {"latex": "tex"}.get(fmt, fmt)
        response["Content-Disposition"] = f'attachment; filename="{study.name}-comparison.{extension}"'
    return response
