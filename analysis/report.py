"""The study page's results section: comparison table and figures as one safe HTML fragment."""
from __future__ import annotations

import base64
from html import escape

from analysis import stats
from analysis.frames import get_study, metric_scores_frame, ratings_frame
from analysis.plots import figure_bytes, study_figures
from analysis.services import Selection, comparison_for_frame
from analysis.tables import comparison_html

_ALT_TEXT = {
    "mean_rating": "Mean rating per method with 95% CI, overall and per layer",
    "best_rate": "Best-selection rate per method with 95% Wilson CI",
    "rating_distribution": "Distribution of ratings 1-5 per method",
}


def study_results(study, selection: Selection | None = None, n_resamples: int = stats.DEFAULT_RESAMPLES):
    """(comparison table by layer, rows used, all rows) for a study."""
    selection = selection or Selection()
    study = get_study(study)
    frame = ratings_frame(study)
    table = comparison_for_frame(
        frame, selection, by_layer=True, n_resamples=n_resamples, metric_scores=metric_scores_frame(study)
    )
    _, used = selection.apply(frame)
    return table, used, frame


def study_report_html(study, n_resamples: int = stats.DEFAULT_RESAMPLES) -> str:
    """Comparison table plus inline SVG figures (as <img> data URIs, which cannot run script); all text escaped."""
    study = get_study(study)
    table, used, frame = study_results(study, n_resamples=n_resamples)
    total = frame["response_id"].nunique()
    valid = frame.loc[frame["is_valid"], "response_id"].nunique()
    parts = [
        '<section class="study-results">',
        f"<p>Valid responses: {valid} / {total}.</p>",
    ]
    if used.empty:
        parts += ["<p>No valid responses yet.</p>", "</section>"]
        return "\n".join(parts)
    parts.append(
        "<p>Means with standard error, 95% t interval and 95% interval from 2000 bootstrap resamples of neurons; "
        "best-selection rates among valid responses with 95% Wilson intervals. Best value per scope in bold.</p>"
    )
    parts.append(comparison_html(table))
    for name, figure in study_figures(table, used).items():
        encoded = base64.b64encode(figure_bytes(figure, "svg")).decode("ascii")
        parts.append(
            f'<figure><img alt="{escape(_ALT_TEXT.get(name, name))}" src="data:image/svg+xml;base64,{encoded}">'
            f"<figcaption>{escape(_ALT_TEXT.get(name, name))}</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)
