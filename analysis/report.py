"""A study's report as files: every table in every format, the figures, the tidy responses, a summary.

Computed from one read of the study (analysis.frames) and one bootstrap
(analysis.services.report_frames); stored by analysis.report_cache, so pages and
downloads never recompute it.
"""
from __future__ import annotations

import io
import json

from analysis import stats
from analysis.frames import get_study, metric_scores_frame, ratings_frame
from analysis.plots import IMAGE_FORMATS, figure_bytes, study_figures
from analysis.services import ReportFrames, report_frames
from analysis.tables import FORMATS, render_comparison, render_frame
from evaluation.ratings_table import write_tidy_ratings

RESULT_TABLES = {
    "comparison": "Comparison table",
    "pairwise": "Pairwise tests",
    "agreement": "Agreement between raters",
    "raters": "Per rater",
    "positions": "Position bias",
    "sensitivity": "Sensitivity to the exclusion policy (all raters vs kept raters)",
}
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml", "csv": "text/csv", "md": "text/markdown",
                 "latex": "application/x-tex", "json": "application/json", "html": "text/html"}
FILE_EXTENSIONS = {"latex": "tex"}


def artifact_names() -> list[str]:
    """Every file a complete report can hold (figures only once there are valid responses)."""
    from analysis.plots import PLOT_NAMES

    names = [f"{kind}.{fmt}" for kind in RESULT_TABLES for fmt in FORMATS]
    names += [f"plots/{plot}.{fmt}" for plot in PLOT_NAMES for fmt in IMAGE_FORMATS]
    return names + ["responses.csv", "summary.json"]


def render_report(frames: ReportFrames, frame, n_resamples: int, tidy_ratings: bytes = b"") -> dict[str, bytes]:
    artifacts: dict[str, bytes] = {}
    for fmt in FORMATS:
        artifacts[f"comparison.{fmt}"] = render_comparison(frames.comparison, fmt).encode()
        for kind in ("pairwise", "agreement", "raters", "positions", "sensitivity"):
            artifacts[f"{kind}.{fmt}"] = render_frame(getattr(frames, kind), fmt).encode()
    if not frames.used.empty:
        for name, figure in study_figures(frames.comparison, frames.used).items():
            for fmt in IMAGE_FORMATS:
                artifacts[f"plots/{name}.{fmt}"] = figure_bytes(figure, fmt)
    artifacts["responses.csv"] = tidy_ratings
    summary = {
        "responses": int(frame["response_id"].nunique()),
        "used_responses": int(frames.used["response_id"].nunique()) if len(frames.used) else 0,
        "validity": frames.comparison.attrs.get("validity", {}),
        "excluded": frames.comparison.attrs.get("excluded", {"responses": 0, "reasons": {}}),
        "policy": frames.comparison.attrs.get("policy"),
        "bootstrap_resamples": n_resamples,
        "plots": sorted({name.split("/")[1].rsplit(".", 1)[0] for name in artifacts if name.startswith("plots/")}),
    }
    artifacts["summary.json"] = json.dumps(summary, indent=2).encode()
    return artifacts


def build_report(study, n_resamples: int = stats.DEFAULT_RESAMPLES) -> dict[str, bytes]:
    """Read the study once and render every file of its report."""
    study = get_study(study)
    frame = ratings_frame(study)
    frames = report_frames(frame, n_resamples=n_resamples, metric_scores=metric_scores_frame(study))
    tidy = io.StringIO()
    write_tidy_ratings(study, tidy)
    return render_report(frames, frame, n_resamples, tidy.getvalue().encode())
