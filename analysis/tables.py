"""Rendering of result frames as CSV, Markdown, LaTeX (booktabs), JSON and HTML. No Django, no statistics."""
from __future__ import annotations

import json
import math
from html import escape as html_escape

import numpy as np
import pandas as pd

from evaluation.csv_cells import safe_frame_csv

FORMATS = ("csv", "md", "latex", "json", "html")

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text) -> str:
    return "".join(_LATEX_SPECIALS.get(char, char) for char in str(text))


def markdown_escape(text) -> str:
    """A table cell Markdown shows as text: no raw HTML (renderers pass it through), no cell breaks."""
    return html_escape(str(text), quote=False).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


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
        return safe_frame_csv(table, index=False)
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


def _marks(scope: pd.DataFrame, column: str) -> list[str]:
    """Leader marks of a scope's rows ("best", "tied", ""); none when the table was not marked (no pairwise tests)."""
    return [str(m) if m else "" for m in scope[column]] if column in scope.columns else [""] * len(scope)


def _metric_columns(table: pd.DataFrame) -> list[str]:
    """Automatic-metric columns (analysis.stats.add_metric_columns), shown after the human ratings."""
    return [c for c in table.columns if str(c).startswith("metric:")]


def _metric_title(column: str) -> str:
    return column.split(":", 1)[1]


def _is_control(row) -> bool:
    value = getattr(row, "is_control", False)
    return bool(value) if not _is_missing(value) else False


def table_decimals(table: pd.DataFrame) -> int:
    """Decimals for every mean, SE and interval of a table: 2, or more (at most 4) until every positive SE shows a
    non-zero digit.

    One count for the whole table keeps its columns aligned; a large study (tens of thousands of ratings per
    method) has SEs below 0.005, which "± 0.00" would hide.
    """
    ses = pd.to_numeric(table["se"], errors="coerce").dropna() if "se" in table.columns else pd.Series(dtype=float)
    positive = ses[ses > 0]
    if positive.empty:
        return 2
    return int(min(4, max(2, math.ceil(-math.log10(2 * positive.min())))))


def _mean_se(mean, se, digits: int = 2) -> str:
    """Mean and its SE with the same decimals, as reviewers expect."""
    return "" if _is_missing(mean) else f"{mean:.{digits}f} ± {_number(se, digits) or '?'}"


def _fixed(digits: int):
    return lambda value: _number(value, digits)


def comparison_notes(table: pd.DataFrame) -> list[str]:
    """What a reader needs under the table, each said once: intervals, marks, invalid and excluded responses, controls."""
    notes = [
        "Mean rating ± standard error (SE) over the ratings of valid responses (1 = strongly disagree, 5 = strongly "
        "agree); n = ratings. 95% intervals: t interval and percentile bootstrap over neurons resampled within layers. "
        "Selected as best: share of valid responses that picked the method, 95% Wilson interval."
    ]
    if "mean_mark" in table.columns:
        alpha = table.attrs.get("mark_alpha", 0.05)
        notes.append(
            f"Bold: ahead of every other method in its scope (paired Wilcoxon signed-rank test on neurons, Holm-corrected "
            f"over the scope's pairs, alpha = {alpha:g}); tied: leaders that test does not separate; no mark: neither."
        )
    validity = table.attrs.get("validity")
    if validity and validity.get("invalid"):
        reasons = "; ".join(f"{reason} ({count})" for reason, count in validity["reasons"].items())
        notes.append(f"Invalid responses, left out: {validity['invalid']} of {validity['responses']} ({reasons}).")
    elif validity:
        notes.append(f"All {validity['responses']} responses valid.")
    if exclusion_note(table):
        notes.append(exclusion_note(table))
    if table.attrs.get("policy"):
        notes.append(policy_sentence(table.attrs["policy"]))
    controls = [_label(row) for row in table.drop_duplicates("method").itertuples(index=False) if _is_control(row)]
    if controls:
        notes.append(f"Negative control (descriptions shuffled across neurons): {', '.join(controls)}.")
    return notes


def exclusion_note(table: pd.DataFrame) -> str:
    """One sentence on the responses researchers excluded (table.attrs["excluded"]), or "" when none were."""
    excluded = table.attrs.get("excluded") or {}
    if not excluded.get("responses"):
        return ""
    reasons = "; ".join(f"{reason} ({count})" for reason, count in excluded.get("reasons", {}).items())
    return f"Excluded by the researchers and left out of every figure: {excluded['responses']} responses ({reasons})."


def policy_sentence(summary: dict) -> str:
    """One sentence on what an exclusion policy did (analysis tables print it under every table)."""
    rules = "; ".join(f"{rule}: {count}" for rule, count in summary["rule_counts"].items())
    left_out = summary["raters_before"] - summary["raters_after"]
    return (f"Exclusion policy \"{summary['policy']}\": {left_out} of {summary['raters_before']} raters left out "
            f"(raters matching each rule: {rules}); responses used {summary['responses_before']} with every "
            f"rater, {summary['responses_after']} with the kept raters (see the sensitivity table).")


def _method_cell(row) -> str:
    return _label(row) + (" (control)" if _is_control(row) else "")


def _marked_text(text: str, mark: str, bold: str) -> str:
    if not text:
        return text
    if mark == "best":
        return bold.format(text)
    if mark == "tied":
        return f"{text} (tied)"
    return text


def _comparison_markdown(table: pd.DataFrame) -> str:
    header = [
        "Layer", "Method", "n", "Mean ± SE", "95% CI (t)", "95% CI (neuron bootstrap)",
        "Selected as best", "Best 95% CI (Wilson)", "Valid / invalid",
    ] + [markdown_escape(_metric_title(c)) for c in _metric_columns(table)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    digits = table_decimals(table)
    for _, scope in _scopes(table):
        mean_marks, best_marks = _marks(scope, "mean_mark"), _marks(scope, "best_mark")
        for i, row in enumerate(scope.itertuples(index=False)):
            mean = _marked_text(_mean_se(row.mean, row.se, digits), mean_marks[i], "**{}**")
            best = _marked_text(_percent(row.best_rate, 1), best_marks[i], "**{}**")
            cells = [
                _scope_label(row.layer), markdown_escape(_method_cell(row)), str(row.n), mean,
                _interval(row.ci_low, row.ci_high, _fixed(digits)),
                _interval(row.boot_ci_low, row.boot_ci_high, _fixed(digits)),
                best, _interval(row.best_ci_low, row.best_ci_high, _one_decimal_percent),
                f"{row.n_valid} / {row.n_invalid}",
            ]
            cells += [_number(scope[c].iloc[i], 3) for c in _metric_columns(table)]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [markdown_escape(note) for note in comparison_notes(table)]
    return "\n".join(lines) + "\n"


def _one_decimal_percent(value) -> str:
    return _percent(value, 1)


def comparison_latex(table: pd.DataFrame) -> str:
    """Paper layout in a table float: methods as columns; per scope n, mean ± SE and selected-as-best rows; notes below.

    Compiles with booktabs alone. Bold: best by the Holm-corrected paired tests;
    double dagger: tied leaders; dagger on a column: the negative control.
    """
    methods = list(dict.fromkeys(table["method"]))
    first = table.drop_duplicates("method").set_index("method")
    heads = []
    for method in methods:
        row = first.loc[method]
        label = row["label"] if "label" in first.columns and not _is_missing(row["label"]) and row["label"] else method
        control = "is_control" in first.columns and bool(row["is_control"])
        heads.append(latex_escape(label) + (r"$^{\dagger}$" if control else ""))
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{Human ratings per method: mean rating $\pm$ standard error (SE), number of ratings $n$, "
        r"and share of valid responses selecting the method as best.}",
        r"\begin{tabular}{l" + "c" * len(methods) + "}",
        r"\toprule",
        " & ".join([""] + heads) + r" \\",
    ]
    digits = table_decimals(table)
    for layer, scope in _scopes(table):
        mean_marks = dict(zip(scope["method"], _marks(scope, "mean_mark")))
        best_marks = dict(zip(scope["method"], _marks(scope, "best_mark")))
        scope = scope.set_index("method").reindex(methods)
        lines.append(r"\midrule")
        prefix = "" if layer is None else f"{latex_escape(layer)}: "
        n_cells, mean_cells, best_cells = [], [], []
        for method in methods:
            n, mean, se, rate = (scope.at[method, key] for key in ("n", "mean", "se", "best_rate"))
            n_cells.append("--" if _is_missing(n) else str(int(n)))
            if _is_missing(mean):
                mean_cells.append("--")
            else:
                body = f"{mean:.{digits}f} \\pm {_number(se, digits) or '?'}"
                mean_cells.append(_latex_marked(f"${body}$", f"$\\mathbf{{{body}}}$", mean_marks.get(method, "")))
            if _is_missing(rate):
                best_cells.append("--")
            else:
                body = f"{100 * rate:.1f}\\%"
                best_cells.append(_latex_marked(body, f"\\textbf{{{body}}}", best_marks.get(method, "")))
        lines.append(" & ".join([f"{prefix}$n$ (ratings)"] + n_cells) + r" \\")
        lines.append(" & ".join([f"{prefix}Mean rating $\\pm$ SE"] + mean_cells) + r" \\")
        lines.append(" & ".join([f"{prefix}Selected as best"] + best_cells) + r" \\")
        for column in _metric_columns(table):
            values = [scope.at[m, column] for m in methods]
            lines.append(" & ".join(
                [f"{prefix}{latex_escape(_metric_title(column))}"] + ["--" if _is_missing(v) else f"{v:.3f}" for v in values]
            ) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip", r"{\footnotesize"]
    notes = comparison_notes(table)
    if any(_marks(table, column).count("tied") for column in ("mean_mark", "best_mark")):
        notes.append("Double dagger: tied leaders.")
    if any(head.endswith(r"$^{\dagger}$") for head in heads):
        notes.append("Dagger: negative control.")
    lines += [latex_escape(note).replace("±", r"$\pm$") + r"\par" for note in notes]
    lines += ["}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _latex_marked(plain: str, bold: str, mark: str) -> str:
    if mark == "best":
        return bold
    if mark == "tied":
        return plain + r"$^{\ddagger}$"
    return plain


def comparison_html(table: pd.DataFrame) -> str:
    header = ["Layer", "Method", "n", "Mean ± SE", "95% CI (t)", "95% CI (neuron bootstrap)", "Selected as best",
              "Best 95% CI", "Valid / invalid"] + [_metric_title(c) for c in _metric_columns(table)]
    digits = table_decimals(table)
    out = ['<table class="comparison-table">', "<thead><tr>" + "".join(f"<th>{html_escape(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for _, scope in _scopes(table):
        mean_marks, best_marks = _marks(scope, "mean_mark"), _marks(scope, "best_mark")
        for i, row in enumerate(scope.itertuples(index=False)):
            cells = [
                html_escape(_scope_label(row.layer)),
                html_escape(_label(row)) + (' <span class="control">(control)</span>' if _is_control(row) else ""),
                str(int(row.n)),
                _html_marked(html_escape(_mean_se(row.mean, row.se, digits)), mean_marks[i]),
                html_escape(_interval(row.ci_low, row.ci_high, _fixed(digits))),
                html_escape(_interval(row.boot_ci_low, row.boot_ci_high, _fixed(digits))),
                _html_marked(html_escape(_percent(row.best_rate, 1)), best_marks[i]),
                html_escape(_interval(row.best_ci_low, row.best_ci_high, _one_decimal_percent)),
                html_escape(f"{row.n_valid} / {row.n_invalid}"),
            ] + [html_escape(_number(scope[c].iloc[i], 3)) for c in _metric_columns(table)]
            row_class = ' class="control-row"' if _is_control(row) else ""
            out.append(f"<tr{row_class}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    out += [f'<p class="table-note">{html_escape(note)}</p>' for note in comparison_notes(table)]
    return "\n".join(out) + "\n"


def _html_marked(text: str, mark: str) -> str:
    if not text:
        return text
    if mark == "best":
        return f"<strong>{text}</strong>"
    if mark == "tied":
        return f'{text} <span class="tied">(tied)</span>'
    return text


# ---------------------------------------------------------------- any result frame


def render_frame(frame: pd.DataFrame, fmt: str, digits: int = 4) -> str:
    """A plain result frame (pairwise comparisons, agreement, per rater, positions) in one of FORMATS."""
    if fmt == "csv":
        return safe_frame_csv(frame, index=False)
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
