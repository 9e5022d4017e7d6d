"""The sections analysis adds to evaluation's researcher pages (registered in AnalysisConfig.ready)."""
from __future__ import annotations

import json

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from analysis.plots import IMAGE_FORMATS, PLOT_NAMES
from analysis.report import FILE_EXTENSIONS, RESULT_TABLES
from analysis.report_cache import request_refresh, stored_artifact, stored_report, throttle_seconds
from analysis.tables import FORMATS
from evaluation.rater_scores import rater_label

_ALT_TEXT = {
    "mean_rating": "Mean rating per method with 95% CI, overall and per layer",
    "best_rate": "Best-selection rate per method with 95% Wilson CI",
    "rating_distribution": "Distribution of ratings 1-5 per method",
}


def results_state(study) -> tuple:
    """(stored report or None, refresh status): asks for a refresh when the stored report is out of date."""
    status = request_refresh(study)
    return stored_report(study), status


def results_stamp(report, status) -> str:
    computed = report.computed_at.isoformat() if report and report.computed_at else "none"
    return f"{computed}|{status}"


def results_panel(request, study, state=None) -> str:
    """The results section; rendered once per stored report and refresh status, then served from the cache."""
    report, status = state or results_state(study)
    key = (f"study-results-panel:{study.pk}:{study.created_at.timestamp()}:{study.name}:{results_stamp(report, status)}:"
           f"{report.error if report else ''}")
    html = cache.get(key)
    if html is None:
        html = _render_results_panel(request, study, report, status)
        cache.set(key, html, PANEL_CACHE_SECONDS)
    return mark_safe(html)


PANEL_CACHE_SECONDS = 3600


def _render_results_panel(request, study, report, status) -> str:
    computed = bool(report and report.computed_at)
    summary = json.loads(stored_artifact(study, "summary.json") or b"{}") if computed else {}
    downloads = [
        {"title": title, "links": [(fmt, f"{kind}.{fmt}", FILE_EXTENSIONS.get(fmt, fmt)) for fmt in FORMATS]}
        for kind, title in RESULT_TABLES.items()
    ]
    return render_to_string("analysis/_results_panel.html", {
        "study": study,
        "report": report,
        "computed": computed,
        "status": status,
        "stamp": results_stamp(report, status),
        "throttle": int(throttle_seconds()),
        "summary": summary,
        "comparison_html": (stored_artifact(study, "comparison.html") or b"").decode() if computed else "",
        "sensitivity_html": (stored_artifact(study, "sensitivity.html") or b"").decode()
        if computed and summary.get("policy") else "",
        "figures": [{"name": name, "alt": _ALT_TEXT[name]} for name in summary.get("plots", [])],
        "downloads": downloads,
        "table_kinds": RESULT_TABLES,
        "plot_names": PLOT_NAMES,
        "image_formats": IMAGE_FORMATS,
    })


def rater_panel(request, rater) -> str:
    """How this rater compares with the other raters of the same neurons, from the stored report."""
    study = rater.study
    report, status = results_state(study)
    rows = json.loads(stored_artifact(study, "raters.json") or b"[]") if report and report.computed_at else []
    name = rater_label(rater)
    row = next((r for r in rows if r.get("rater") == name), None)
    return render_to_string("analysis/_rater_panel.html", {"rater": rater, "row": row, "report": report, "status": status},
                            request=request)


def metric_agreement_panel(request, study) -> str:
    """Each automatic metric's rank agreement with the people's ratings ("" when no metric is scored yet).

    Computed live (metric scores change without a new report) and cached per study until a response or an
    exclusion changes, or a minute after a metric score changes.
    """
    from django.db.models import Count, Max

    from analysis.agreement import metric_agreement
    from analysis.frames import metric_scores_frame, ratings_frame
    from analysis.services import Selection
    from evaluation.services import study_section_key
    from scoring.models import MetricScore

    # The study page has the answers' fingerprint already (responses, exclusions, policy). The scores' fingerprint
    # joins every description of the study (the page's slowest query at 10,000 responses): read once a minute.
    minute = timezone.now().strftime("%Y%m%d%H%M")

    def scores_fingerprint():
        scores = MetricScore.objects.filter(explanation__in=study_explanations(study)).aggregate(
            n=Count("pk"), latest=Max("created_at"))
        return f"{scores['n']}:{scores['latest'].timestamp() if scores['latest'] else 0}"

    scores = cache.get_or_set(f"study-metric-scores:{study.pk}:{study.created_at.timestamp()}:{minute}",
                              scores_fingerprint, 120)
    key = study_section_key("metric-agreement", study, scores)
    html = cache.get(key)
    if html is None:
        score_frame = metric_scores_frame(study)
        _, used = Selection().apply(ratings_frame(study)) if not score_frame.empty else (None, None)
        table = metric_agreement(used, score_frame, n_resamples=AGREEMENT_PANEL_RESAMPLES) if used is not None and not used.empty else None
        html = "" if table is None or table.empty else render_to_string(
            "analysis/_metric_agreement_panel.html",
            {"rows": table.to_dict("records"), "people_order": table["people_order"].iloc[0], "resamples": AGREEMENT_PANEL_RESAMPLES},
        )
        cache.set(key, html, PANEL_CACHE_SECONDS)
    return mark_safe(html)


AGREEMENT_PANEL_RESAMPLES = 500


def study_explanations(study):
    from evaluation.models import StudyItem

    return StudyItem.objects.filter(study_neuron__study=study, explanation__isnull=False).values("explanation")
