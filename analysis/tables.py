"""Rendering of result frames as CSV, Markdown, LaTeX (booktabs), JSON and HTML. No Django, no statistics."""
from __future__ import annotations

import json
import math
from html import escape as html_escape

import numpy as np
import pandas as pd

FORMATS = ("csv", "md", "latex", "json", "html")

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text) -> str:
    return "".join(_LATEX_SPECIALS.get(char, char) for char in str(text))


def markdown_escape(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(value, digits: int) -> str:
    return "" if _is_missing(value) else f"{value:.{digits}f}"


def _percent(value, digits: int = 2) -> str:
    return "" if _is_missing(value) else f"{100 * value:.{digits}f}%"


def _interval(low, high, show=lambda v: _number(v, 3)) -> str:
    return "" if _is_missing(low) or _is_missing(high) else f"[{show(low)}, {show(high)}]"


def _label(row) -> str:
    """A method's display name when the table carries one (column `label`), else its name."""
    label = getattr(row, "label", None)
    return str(row.method) if _is_missing(label) or not label else str(label)


def _scope_label(layer) -> str:
    return "all layers" if _is_missing(layer) else str(layer)


def _records(frame: pd.DataFrame) -> list[dict]:
    records = []
    for record in frame.to_dict(orient="records"):
        clean = {}
        for key, value in record.items():
            if _is_missing(value):
                clean[key] = None
            elif isinstance(value, np.integer):
                clean[key] = int(value)
            elif isinstance(value, np.floating):
                clean[key] = float(value)
            elif isinstance(value, (np.bool_,)):
                clean[key] = bool(value)
            else:
                clean[key] = value
        records.append(clean)
    return records


# ---------------------------------------------------------------- comparison table


def render_comparison(table: pd.DataFrame, fmt: str) -> str:
    """The comparison table (analysis.stats.comparison_table) in one of FORMATS."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return json.dumps(_records(table), indent=2, allow_nan=False) + "\n"
    if fmt == "md":
        return _comparison_markdown(table)
    if fmt == "latex":
        return comparison_latex(table)
    if fmt == "html":
        return comparison_html(table)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _scopes(table: pd.DataFrame):
    """(layer, rows) in table order, overall (layer missing) first."""
    keys = [None if _is_missing(v) else v for v in table["layer"]]
    for key in dict.fromkeys(keys):
        yield key, table[[k == key for k in keys]]


def _best_mask(values: pd.Series) -> np.ndarray:
    numbers = values.astype(float).to_numpy()
    if not np.isfinite(numbers).any():
        return np.zeros(len(numbers), dtype=bool)
    return np.isclose(numbers, np.nanmax(numbers), rtol=0, atol=1e-12)


def _metric_columns(table: pd.DataFrame) -> list[str]:
    """Automatic-metric columns (analysis.stats.add_metric_columns), shown after the human ratings."""
    return [c for c in table.columns if str(c).startswith("metric:")]


def _metric_title(column: str) -> str:
    return column.split(":", 1)[1]


def exclusion_note(table: pd.DataFrame) -> str:
    """One sentence on the responses researchers excluded (table.attrs["excluded"]), or "" when none were."""
    excluded = table.attrs.get("excluded") or {}
    if not excluded.get("responses"):
        return ""
    reasons = "; ".join(f"{reason} ({count})" for reason, count in excluded.get("reasons", {}).items())
    return f"Excluded by the researchers and left out of every figure: {excluded['responses']} responses ({reasons})."


def _comparison_markdown(table: pd.DataFrame) -> str:
    header = [
        "Layer", "Method", "n", "Mean ± SE", "SD", "95% CI (t)", "95% CI (neuron bootstrap)",
        "Selected as best", "Best 95% CI (Wilson)", "Valid / invalid",
    ] + [markdown_escape(_metric_title(c)) for c in _metric_columns(table)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for _, scope in _scopes(table):
        top_mean, top_best = _best_mask(scope["mean"]), _best_mask(scope["best_rate"])
        for i, row in enumerate(scope.itertuples(index=False)):
            mean = f"{_number(row.mean, 2)} ± {_number(row.se, 3)}"
            best = _percent(row.best_rate)
            if top_mean[i]:
                mean = f"**{mean}**"
            if top_best[i] and best:
                best = f"**{best}**"
            cells = [
                _scope_label(row.layer), markdown_escape(_label(row)), str(row.n), mean, _number(row.sd, 3),
                _interval(row.ci_low, row.ci_high),
                _interval(row.boot_ci_low, row.boot_ci_high),
                best, _interval(row.best_ci_low, row.best_ci_high, _percent),
                f"{row.n_valid} / {row.n_invalid}",
            ]
            cells += [_number(scope[c].iloc[i], 3) for c in _metric_columns(table)]
            lines.append("| " + " | ".join(cells) + " |")
    if exclusion_note(table):
        lines += ["", markdown_escape(exclusion_note(table))]
    return "\n".join(lines) + "\n"


def comparison_latex(table: pd.DataFrame) -> str:
    """Paper layout: methods as columns; per scope a mean ± SE row and a selected-as-best row, best in bold."""
    methods = list(dict.fromkeys(table["method"]))
    labels = dict(zip(table["method"], table["label"])) if "label" in table.columns else {}
    lines = [
        r"\begin{tabular}{l" + "c" * len(methods) + "}",
        r"\toprule",
        " & ".join([""] + [latex_escape(labels.get(m, m)) for m in methods]) + r" \\",
    ]
    for layer, scope in _scopes(table):
        scope = scope.set_index("method").reindex(methods)
        lines.append(r"\midrule")
        prefix = "" if layer is None else f"{latex_escape(layer)}: "
        top_mean, top_best = _best_mask(scope["mean"]), _best_mask(scope["best_rate"])
        mean_cells, best_cells = [], []
        for i, method in enumerate(methods):
            mean, se, rate = scope.at[method, "mean"], scope.at[method, "se"], scope.at[method, "best_rate"]
            if _is_missing(mean):
                mean_cells.append("--")
            else:
                body = f"{mean:.2f} \\pm {_number(se, 3) or '?'}"
                mean_cells.append(f"$\\mathbf{{{body}}}$" if top_mean[i] else f"${body}$")
            if _is_missing(rate):
                best_cells.append("--")
            else:
                body = f"{100 * rate:.2f}\\%"
                best_cells.append(f"\\textbf{{{body}}}" if top_best[i] else body)
        lines.append(" & ".join([f"{prefix}Mean rating"] + mean_cells) + r" \\")
        lines.append(" & ".join([f"{prefix}Selected as best"] + best_cells) + r" \\")
        for column in _metric_columns(table):
            values = [scope.at[m, column] for m in methods]
            lines.append(" & ".join(
                [f"{prefix}{latex_escape(_metric_title(column))}"] + ["--" if _is_missing(v) else f"{v:.3f}" for v in values]
            ) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def comparison_html(table: pd.DataFrame) -> str:
    header = ["Layer", "Method", "n", "Mean ± SE", "95% CI (t)", "95% CI (neuron bootstrap)", "Selected as best",
              "Best 95% CI", "Valid / invalid", "Invalid reasons"] + [_metric_title(c) for c in _metric_columns(table)]
    out = ['<table class="comparison-table">', "<thead><tr>" + "".join(f"<th>{html_escape(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for _, scope in _scopes(table):
        top_mean, top_best = _best_mask(scope["mean"]), _best_mask(scope["best_rate"])
        for i, row in enumerate(scope.itertuples(index=False)):
            mean = html_escape(f"{_number(row.mean, 2)} ± {_number(row.se, 3)}")
            best = html_escape(_percent(row.best_rate))
            cells = [
                html_escape(_scope_label(row.layer)), html_escape(_label(row)), str(int(row.n)),
                f"<strong>{mean}</strong>" if top_mean[i] else mean,
                html_escape(_interval(row.ci_low, row.ci_high)),
                html_escape(_interval(row.boot_ci_low, row.boot_ci_high)),
                f"<strong>{best}</strong>" if top_best[i] and best else best,
                html_escape(_interval(row.best_ci_low, row.best_ci_high, _percent)),
                html_escape(f"{row.n_valid} / {row.n_invalid}"),
                html_escape(str(row.invalid_reasons or "")),
            ] + [html_escape(_number(scope[c].iloc[i], 3)) for c in _metric_columns(table)]
            out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    if exclusion_note(table):
        out.append(f'<p class="table-note">{html_escape(exclusion_note(table))}</p>')
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- any result frame


def render_frame(frame: pd.DataFrame, fmt: str, digits: int = 4) -> str:
    """A plain result frame (pairwise comparisons, agreement, per rater, positions) in one of FORMATS."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return json.dumps(_records(frame), indent=2, allow_nan=False) + "\n"

    def cell(value):
        if _is_missing(value):
            return ""
        if isinstance(value, (float, np.floating)):
            return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
        return str(value)

    columns = [str(c) for c in frame.columns]
    body = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    if fmt == "md":
        lines = ["| " + " | ".join(markdown_escape(c) for c in columns) + " |", "|" + "|".join(["---"] * len(columns)) + "|"]
        lines += ["| " + " | ".join(markdown_escape(v) for v in row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        lines = [r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
                 " & ".join(latex_escape(c) for c in columns) + r" \\", r"\midrule"]
        lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in body]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        out = ["<table>", "<thead><tr>" + "".join(f"<th>{html_escape(c)}</th>" for c in columns) + "</tr></thead>", "<tbody>"]
        out += ["<tr>" + "".join(f"<td>{html_escape(v)}</td>" for v in row) + "</tr>" for row in body]
        out += ["</tbody>", "</table>"]
        return "\n".join(out) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
