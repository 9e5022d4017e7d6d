"""Rendered tables: Markdown parses as a table, LaTeX compiles with booktabs, names are escaped (no Django)."""
import json
import shutil
import subprocess

import pandas as pd
import pytest

from analysis import stats
from analysis.tables import comparison_html, latex_escape, render_comparison, render_frame

from .fixtures import hand_frame


@pytest.fixture(scope="module")
def table():
    frame = hand_frame()
    return stats.comparison_table(stats.select_responses(frame, include_invalid=True), stats.select_responses(frame),
                                  by_layer=True, n_resamples=100)


def parse_markdown_table(text):
    lines = [line for line in text.strip().splitlines()]
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header, rule, body = split[0], lines[1], split[2:]
    assert set(rule.replace("|", "")) == {"-"}
    assert all(len(row) == len(header) for row in body)
    return header, body


def test_markdown_is_a_table_with_one_row_per_method_and_scope(table):
    header, body = parse_markdown_table(render_comparison(table, "md"))
    assert header[:4] == ["Layer", "Method", "n", "Mean ± SE"]
    assert len(body) == 9  # 3 methods x (all layers, layer1, layer2)
    first = dict(zip(header, body[0]))
    assert first["Layer"] == "all layers" and first["Method"] == "alpha"
    # Mean 3.8 and SE sqrt(0.34) = 0.583; alpha ties beta for the highest mean, so both are bold.
    assert first["Mean ± SE"] == "**3.80 ± 0.583**"
    assert first["Selected as best"] == "**40.00%**"
    assert first["Valid / invalid"] == "5 / 1"


def test_json_rows_carry_the_agreed_keys(table):
    rows = json.loads(render_comparison(table, "json"))
    assert {"method", "layer", "n", "mean", "se", "ci_low", "ci_high", "best_rate"} <= set(rows[0])
    assert [row["layer"] for row in rows[:4]] == [None, None, None, "layer1"]
    assert sum(row["best_rate"] for row in rows if row["layer"] is None) == pytest.approx(1.0)


def test_csv_round_trips_the_numbers(table):
    import io

    parsed = pd.read_csv(io.StringIO(render_comparison(table, "csv")))
    assert parsed["mean"].tolist() == pytest.approx(table["mean"].tolist(), abs=1e-12)


def test_latex_has_paper_layout_with_bold_best_and_escaped_names(table):
    renamed = table.assign(method=table["method"].replace({"beta": "Net_Dissect & 50%"}))
    latex = render_comparison(renamed, "latex")
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"Net\_Dissect \& 50\%" in latex
    assert r"Mean rating & $\mathbf{3.80 \pm 0.583}$" in latex
    assert r"\textbf{40.00\%}" in latex
    assert "layer1: Selected as best" in latex


def test_latex_escape_covers_every_special_character():
    assert latex_escape(r"a\b&c%d$e#f_g{h}i~j^k") == (
        r"a\textbackslash{}b\&c\%d\$e\#f\_g\{h\}i\textasciitilde{}j\textasciicircum{}k"
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (Debian texlive-latex-base)")
def test_latex_compiles_in_a_minimal_document(table, tmp_path):
    renamed = table.assign(method=table["method"].replace({"beta": "Net_Dissect & 50%", "alpha": "CLIP~{x}^#"}))
    document = "\n".join([
        r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}",
        render_comparison(renamed, "latex"),
        render_frame(stats.pairwise_comparisons(stats.select_responses(hand_frame()), n_resamples=50), "latex"),
        r"\end{document}",
    ])
    (tmp_path / "table.tex").write_text(document)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "table.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "table.pdf").stat().st_size > 1000


def test_html_escapes_method_names(table):
    hostile = table.assign(method=table["method"].replace({"alpha": "<script>alert(1)</script>"}))
    html = comparison_html(hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<tr>") == 1 + 9


def test_generic_frames_render_in_every_format():
    frame = pd.DataFrame({"method": ["a|b", "c"], "value": [0.5, float("nan")]})
    header, body = parse_markdown_table(render_frame(frame, "md"))
    assert body[0][0] == r"a\|b" and body[1][1] == ""
    assert json.loads(render_frame(frame, "json"))[1]["value"] is None
    with pytest.raises(ValueError, match="unknown format"):
        render_frame(frame, "xls")
