"""Figures of a study's results (matplotlib, no pyplot state, Agg canvas): pure functions of result frames."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.stats import method_order  # noqa: E402

PLOT_NAMES = ("mean_rating", "best_rate", "rating_distribution")
IMAGE_FORMATS = ("png", "svg")


def _scope_keys(table: pd.DataFrame) -> list:
    keys = [None if pd.isna(v) else v for v in table["layer"]]
    return list(dict.fromkeys(keys))


def _grouped_point_ranges(table: pd.DataFrame, value: str, low: str, high: str, ylabel: str, title: str,
                          scale: float = 1.0) -> Figure:
    methods = list(dict.fromkeys(table["method"]))
    labels = dict(zip(table["method"], table["label"])) if "label" in table.columns else {}
    scopes = _scope_keys(table)
    figure = Figure(figsize=(min(10.0, max(5.0, 1.5 + 0.35 * len(scopes) * len(methods))), 4), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(methods))
    keys = [None if pd.isna(v) else v for v in table["layer"]]
    for m_index, method in enumerate(methods):
        xs, ys, lows, highs = [], [], [], []
        for s_index, scope in enumerate(scopes):
            rows = table[[k == scope and meth == method for k, meth in zip(keys, table["method"])]]
            if rows.empty or pd.isna(rows[value].iloc[0]):
                continue
            xs.append(s_index - 0.4 + width * (m_index + 0.5))
            ys.append(rows[value].iloc[0] * scale)
            lows.append(rows[low].iloc[0] * scale if pd.notna(rows[low].iloc[0]) else np.nan)
            highs.append(rows[high].iloc[0] * scale if pd.notna(rows[high].iloc[0]) else np.nan)
        ys, lows, highs = np.array(ys), np.array(lows), np.array(highs)
        # A percentile bootstrap interval of a tiny sample need not contain the mean: draw what lies beyond it.
        errors = np.clip(np.vstack([np.nan_to_num(ys - lows), np.nan_to_num(highs - ys)]), 0, None) if len(ys) else None
        axes.errorbar(xs, ys, yerr=errors, fmt="o", capsize=3, label=str(labels.get(method, method)))
    axes.set_xticks(range(len(scopes)), ["all layers" if s is None else str(s) for s in scopes])
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    return figure


def mean_rating_figure(table: pd.DataFrame) -> Figure:
    """Mean rating per method with its 95% neuron-bootstrap CI, overall and per layer."""
    figure = _grouped_point_ranges(table, "mean", "boot_ci_low", "boot_ci_high", "Mean rating (1-5)",
                                   "Mean rating, 95% CI (bootstrap over neurons)")
    figure.axes[0].set_ylim(1, 5)
    return figure


def best_rate_figure(table: pd.DataFrame) -> Figure:
    return _grouped_point_ranges(table, "best_rate", "best_ci_low", "best_ci_high", "Selected as best (%)",
                                 "Best-selection rate, 95% Wilson CI", scale=100.0)


def rating_distribution_figure(used: pd.DataFrame) -> Figure:
    """Share of each rating 1..5 per method (stacked bars)."""
    methods = method_order(used)
    counts = used.groupby(["method", "rating"]).size().unstack(fill_value=0).reindex(index=methods, columns=[1, 2, 3, 4, 5],
                                                                                     fill_value=0)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    figure = Figure(figsize=(6, 0.5 * len(methods) + 1.8), layout="constrained")
    axes = figure.add_subplot()
    left = np.zeros(len(methods))
    colors = matplotlib.colormaps["RdYlGn"](np.linspace(0.1, 0.9, 5))
    for value, color in zip([1, 2, 3, 4, 5], colors):
        axes.barh(range(len(methods)), shares[value].to_numpy(), left=left, color=color, label=str(value))
        left += shares[value].to_numpy()
    labels = used.attrs.get("method_labels", {})
    axes.set_yticks(range(len(methods)), [str(labels.get(m, m)) for m in methods])
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("Share of ratings")
    axes.set_title("Rating distribution")
    axes.legend(title="rating", ncols=5, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return figure


def study_figures(table: pd.DataFrame, used: pd.DataFrame) -> dict[str, Figure]:
    figures = {"mean_rating": mean_rating_figure(table)}
    if table["best_rate"].notna().any():
        figures["best_rate"] = best_rate_figure(table)
    figures["rating_distribution"] = rating_distribution_figure(used)
    return figures


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=150)
    return buffer.getvalue()


def save_figures(figures: dict[str, Figure], out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in figures.items():
        for fmt in IMAGE_FORMATS:
            path = out_dir / f"{name}.{fmt}"
            path.write_bytes(figure_bytes(figure, fmt))
            written.append(path)
    return written
