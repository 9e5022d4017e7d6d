"""The study's exclusion policy applied by the analysis: nothing deleted, n before/after and per-rule counts in every
table, the sensitivity table beside the main one, the same verdict in rater_agreement."""
import html
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analysis.frames import ratings_frame
from analysis.panels import results_panel
from analysis.report import build_report
from analysis.report_cache import compute_report
from analysis.services import Selection, comparison_for_frame, sensitivity_for_frame
from analysis.tables import render_comparison
from evaluation.models import Response
from evaluation.services import set_exclusion_policy

pytestmark = pytest.mark.django_db

# In the hand-built study r2 answered 1 of 3 responses against the best-choice rule (R4), r1 none.
POLICY = "invalid_rate > 0.2 or check_pass_rate < 0.8"
SENTENCE = ('Exclusion policy "invalid_rate > 0.2 or check_pass_rate < 0.8": 1 of 2 raters left out (raters matching '
            "each rule: invalid_rate > 0.2: 1; check_pass_rate < 0.8: 0); responses used 5 with every rater, 3 with the "
            "kept raters (see the sensitivity table).")


@pytest.fixture
def policed(toy_study):
    set_exclusion_policy(toy_study, POLICY)
    return toy_study


def test_frame_marks_the_raters_the_policy_leaves_out_and_keeps_their_rows(policed):
    frame = ratings_frame(policed)
    assert len(frame) == 18 and Response.objects.filter(study=policed).count() == 6  # nothing deleted
    left_out = frame[frame["policy_excluded"]]
    assert set(left_out["rater"].astype(str)) == {"r2"} and len(left_out) == 9
    assert set(left_out["policy_reason"].astype(str)) == {"invalid_rate > 0.2"}
    assert frame.attrs["policy"] == {"policy": POLICY, "raters_before": 2, "raters_after": 1,
                                     "rule_counts": {"invalid_rate > 0.2": 1, "check_pass_rate < 0.8": 0}}


def test_comparison_table_reports_n_before_and_after_and_each_rule(policed):
    table = comparison_for_frame(ratings_frame(policed), n_resamples=50)
    assert list(table["n"]) == [3, 3, 3] and list(table["n_before_policy"]) == [5, 5, 5]
    assert table.attrs["policy"]["responses_before"] == 5 and table.attrs["policy"]["responses_after"] == 3
    for fmt in ("md", "html"):
        assert html.escape(SENTENCE, quote=fmt == "html") in render_comparison(table, fmt)
    latex = render_comparison(table, "latex")
    assert "1 of 2 raters left out" in latex and r"invalid\_rate > 0.2: 1" in latex
    csv = render_comparison(table, "csv")
    assert csv.splitlines()[0].endswith(",n_before_policy,policy")
    assert "3 with the kept raters" in csv.splitlines()[1]
    assert json.loads(render_comparison(table, "json"))[0]["n_before_policy"] == 5


def test_ignoring_the_policy_uses_every_rater_and_says_nothing_about_it(policed):
    table = comparison_for_frame(ratings_frame(policed), Selection(ignore_policy=True), n_resamples=50)
    assert list(table["n"]) == [5, 5, 5] and "policy" not in table.attrs and "n_before_policy" not in table.columns
    assert list(comparison_for_frame(ratings_frame(policed, policy=""), n_resamples=50)["n"]) == [5, 5, 5]


def test_sensitivity_table_puts_all_raters_beside_kept_raters(policed):
    sensitivity = sensitivity_for_frame(ratings_frame(policed)).set_index(["method"])
    overall = sensitivity[sensitivity["layer"].isna()]
    # alpha: all valid responses 5, 4, 3, 5, 2 (mean 3.8); r1's alone 5, 3, 5.
    assert overall.loc["alpha", "n_all"] == 5 and overall.loc["alpha", "n_kept"] == 3
    assert overall.loc["alpha", "mean_all"] == pytest.approx(3.8)
    assert overall.loc["alpha", "mean_kept"] == pytest.approx(13 / 3)
    assert overall.loc["alpha", "mean_change"] == pytest.approx(13 / 3 - 3.8)
    # Best picks: all raters alpha 2 of 5, beta 2 of 5, control 1 of 5; kept raters alpha 2 of 3, beta 1 of 3.
    assert overall.loc["beta", "best_rate_all"] == pytest.approx(0.4) and overall.loc["beta", "best_rate_kept"] == pytest.approx(1 / 3)
    assert overall.loc["alpha", "rank_kept"] == 1 and overall.loc["shuffled-control", "rank_all"] == 3
    assert list(sensitivity["layer"].iloc[3:].astype(str)) == ["layer1"] * 3 + ["layer2"] * 3
    assert sensitivity_for_frame(ratings_frame(policed, policy="")).empty


def test_report_holds_the_sensitivity_table_and_the_policy_summary(policed):
    artifacts = build_report(policed, n_resamples=50)
    summary = json.loads(artifacts["summary.json"])
    assert summary["policy"]["raters_after"] == 1 and summary["policy"]["responses_before"] == 5
    assert "mean_kept" in artifacts["sensitivity.csv"].decode().splitlines()[0]
    assert "1 of 2 raters left out" in artifacts["comparison.md"].decode()


def test_comparison_table_command_prints_the_sensitivity_table_beside_and_refuses_a_bad_policy(policed):
    out = StringIO()
    call_command("comparison_table", "--study", policed.name, "--bootstrap", "50", stdout=out)
    assert "1 of 2 raters left out" in out.getvalue()
    assert "## Sensitivity: all raters vs the raters the exclusion policy keeps" in out.getvalue()
    only = StringIO()
    call_command("comparison_table", "--study", policed.name, "--bootstrap", "50", "--sensitivity", "--format", "csv",
                 "--policy", "invalid_rate >= 0.3", stdout=only)
    header, alpha = only.getvalue().splitlines()[:2]
    assert header.startswith("layer,method,n_all,mean_all,n_kept,mean_kept") and alpha.startswith(",alpha,5,3.8,3,")
    with pytest.raises(CommandError, match='--policy: rule 1 "speed < 2": unknown signal "speed"'):
        call_command("comparison_table", "--study", policed.name, "--policy", "speed < 2", stdout=StringIO())


def test_rater_agreement_lists_each_raters_signals_and_the_verdict(policed):
    out = StringIO()
    call_command("rater_agreement", "--study", policed.name, "--format", "json", stdout=out)
    quality = {row["rater"]: row for row in json.loads(out.getvalue())["rater_quality"]}
    assert quality["r2"]["excluded"] and quality["r2"]["reasons"] == "invalid_rate > 0.2"
    assert quality["r2"]["invalid_rate"] == pytest.approx(1 / 3) and not quality["r1"]["excluded"]
    assert 0 <= quality["r1"]["quality_score"] <= 1
    markdown = StringIO()
    call_command("rater_agreement", "--study", policed.name, "--ignore-policy", stdout=markdown)
    assert "## rater_quality" in markdown.getvalue() and "quality_score" in markdown.getvalue()


def test_results_panel_shows_what_the_policy_removed_and_the_sensitivity_table(policed, settings):
    settings.ANALYSIS_REPORT_RESAMPLES = 50
    compute_report(policed)
    panel = results_panel(None, policed)
    assert html.escape(SENTENCE) in panel
    assert "<h3>Sensitivity to the exclusion policy</h3>" in panel
    assert "<th>mean_all</th><th>n_kept</th><th>mean_kept</th>" in panel
