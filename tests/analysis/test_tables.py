"""Rendered tables: Markdown parses as a table, LaTeX compiles with booktabs, names are escaped (no Django)."""
import json
import shutil
import subprocess

import pandas as pd
import pytest

from analysis import stats
from analysis.tables import comparison_html, latex_escape, render_comparison, render_frame, table_decimals

from .fixtures import hand_frame


@pytest.fixture(scope="module")
def table():
    frame = hand_frame()
    return stats.comparison_table(stats.select_responses(frame, include_invalid=True), stats.select_responses(frame),
                                  by_layer=True, n_resamples=100)


def parse_markdown_table(text):
    """The table part (notes follow after a blank line)."""
    lines = text.strip().split("\n\n")[0].splitlines()
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
    # Mean 3.8 and SE sqrt(0.34) = 0.583, both to two decimals; no pairwise tests in this table, so nothing is marked.
    assert first["Mean ± SE"] == "3.80 ± 0.58"
    assert first["Selected as best"] == "40.0%"
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
    assert r"Mean rating $\pm$ SE & $3.80 \pm 0.58$" in latex
    assert r"$n$ (ratings) & 5 & 5 & 5" in latex
    assert "layer1: Selected as best & 33.3\\%" in latex
    assert r"\caption{Human ratings per method: mean rating $\pm$ standard error (SE)" in latex


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


def clear_winner_frame(neurons=12):
    """Every rater rates 'strong' 5, 'weak' 3 and the control 1 and picks 'strong': a difference no test can miss."""
    rows = []
    for unit in range(neurons):
        for method, rating in (("strong", 5), ("weak", 3), ("shuffled-control", 1)):
            rows.append({"response_id": f"R{unit}", "rater": "r1", "network": "n", "layer": "layer1", "unit": unit,
                         "method": method, "rating": rating, "best": method == "strong", "uninterpretable": False,
                         "none_fit": False, "position": 0, "is_valid": True, "invalid_reason": ""})
    frame = pd.DataFrame(rows)
    frame["best"] = frame["best"].astype("boolean")
    frame.attrs = {"methods": ["strong", "weak", "shuffled-control"], "layers": ["layer1"], "controls": ["shuffled-control"]}
    return frame


def reviewer_table(frame):
    from analysis.services import report_frames

    return report_frames(frame, n_resamples=100).comparison


def test_best_is_marked_only_when_holm_corrected_tests_beat_every_other_method():
    table = reviewer_table(clear_winner_frame())
    overall = table[table["layer"].isna()].set_index("method")
    assert overall.loc["strong", "mean_mark"] == "best" and overall.loc["weak", "mean_mark"] == ""
    assert overall.loc["strong", "best_mark"] == "best"
    header, body = parse_markdown_table(render_comparison(table, "md"))
    strong = dict(zip(header, body[0]))
    assert strong["Mean ± SE"] == "**5.00 ± 0.00**"
    assert dict(zip(header, body[2]))["Method"] == "shuffled-control (control)"
    assert r"$\mathbf{5.00 \pm 0.00}$" in render_comparison(table, "latex")


def test_leaders_the_tests_cannot_separate_are_marked_tied_not_best():
    table = reviewer_table(hand_frame())  # 3 neurons: no signed-rank test can reach 0.05
    overall = table[table["layer"].isna()].set_index("method")
    assert overall.loc["alpha", "mean_mark"] == "tied" and overall.loc["beta", "mean_mark"] == "tied"
    assert "best" not in set(table["mean_mark"]) | set(table["best_mark"])
    md = render_comparison(table, "md")
    assert "3.80 ± 0.58 (tied)" in md and "**" not in md.split("\n\n")[0]
    html = render_comparison(table, "html")
    assert '<span class="tied">(tied)</span>' in html and "<strong>" not in html


def test_notes_say_each_thing_once_under_the_table():
    table = reviewer_table(hand_frame())
    html = render_comparison(table, "html")
    assert html.count("best pick is not among the highest rated") == 1
    assert "Invalid responses, left out: 1 of 6 (best pick is not among the highest rated (1))." in html
    assert "Invalid reasons" not in html  # no per-row column any more
    latex = render_comparison(table, "latex")
    assert "Mean rating $\\pm$ standard error (SE) over the ratings of valid responses" in latex
    assert "Holm-corrected" in latex and "Double dagger: tied leaders." in latex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (Debian texlive-latex-base)")
def test_reviewer_latex_table_compiles(tmp_path):
    table = reviewer_table(clear_winner_frame())
    document = "\n".join([r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}",
                          render_comparison(table, "latex"), r"\end{document}"])
    (tmp_path / "table.tex").write_text(document)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "table.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Dagger: negative control." in render_comparison(table, "latex")


def test_a_positive_se_below_half_a_hundredth_gives_the_whole_table_three_decimals(table):
    large_study = table.assign(se=table["se"].where(table.index != 0, 0.004))
    header, body = parse_markdown_table(render_comparison(large_study, "md"))
    first, second = dict(zip(header, body[0])), dict(zip(header, body[1]))
    assert first["Mean ± SE"] == "3.800 ± 0.004" and len(second["Mean ± SE"].split(" ± ")[1]) == 5
    low, high = first["95% CI (t)"].strip("[]").split(", ")
    assert len(low.split(".")[1]) == 3 and len(high.split(".")[1]) == 3
    assert r"3.800 \pm 0.004" in render_comparison(large_study, "latex")
    assert "3.800 ± 0.004" in render_comparison(large_study, "html")


@pytest.mark.parametrize("smallest_se, decimals", [(0.0, 2), (0.58, 2), (0.005, 2), (0.0049, 3), (0.0004, 4), (1e-9, 4)])
def test_decimals_grow_until_the_smallest_positive_se_shows(table, smallest_se, decimals):
    assert table_decimals(table.assign(se=table["se"].where(table.index != 0, smallest_se))) == decimals


def test_the_tied_note_appears_only_when_a_method_is_marked_tied():
    assert "Double dagger" not in render_comparison(reviewer_table(clear_winner_frame()), "latex")
    assert "Double dagger: tied leaders." in render_comparison(reviewer_table(hand_frame()), "latex")
