"""Management commands, figures, the study report fragment and the researcher-only result URLs."""
import json
import xml.etree.ElementTree as ElementTree
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from analysis.panels import results_panel
from analysis.report_cache import compute_report

pytestmark = pytest.mark.django_db


def run(*arguments) -> str:
    out = StringIO()
    call_command(*arguments, stdout=out)
    return out.getvalue()


def test_comparison_table_json_counts_valid_responses(toy_study):
    rows = json.loads(run("comparison_table", "--study", toy_study.name, "--format", "json", "--bootstrap", "200"))
    assert [row["method"] for row in rows] == ["alpha", "beta", "shuffled-control"]
    assert [row["n"] for row in rows] == [5, 5, 5]
    assert sum(row["best_rate"] for row in rows) == pytest.approx(1.0)
    assert rows[0]["boot_ci_low"] <= rows[0]["mean"] <= rows[0]["boot_ci_high"]


def test_comparison_table_options(toy_study):
    def table(*options):
        return json.loads(run("comparison_table", "--study", toy_study.name, "--format", "json", "--bootstrap", "50",
                              *options))

    assert [row["n"] for row in table("--include-invalid")] == [6, 6, 6]
    assert [row["n"] for row in table("--exclude-flagged")] == [4, 4, 4]  # R6 was flagged uninterpretable
    assert [row["n"] for row in table("--exclude-raters", "r2")] == [3, 3, 3]
    assert [row["method"] for row in table("--methods", "beta,alpha")] == ["beta", "alpha"]
    by_layer = table("--by", "layer")
    assert [row["layer"] for row in by_layer] == [None] * 3 + ["layer1"] * 3 + ["layer2"] * 3
    mixed = table("--mixed-model", "--include-invalid", "--by", "layer")
    assert {"mm_mean", "mm_ci_low", "mm_ci_high", "mm_converged"} <= set(mixed[0])
    # Every response rated every method: the model's method means are the raw means, method by method.
    assert [row["mm_mean"] for row in mixed] == pytest.approx([row["mean"] for row in mixed], abs=1e-6)


def test_commands_refuse_bad_options_with_a_message(toy_study):
    with pytest.raises(CommandError, match="no study named 'nope'"):
        run("comparison_table", "--study", "nope")
    with pytest.raises(CommandError, match="unknown method"):
        run("comparison_table", "--study", toy_study.name, "--methods", "alpha,gamma")
    with pytest.raises(CommandError, match="--bootstrap must be at least 1"):
        run("compare_methods", "--study", toy_study.name, "--bootstrap", "0")


def test_compare_methods_lists_every_pair(toy_study):
    rows = json.loads(run("compare_methods", "--study", toy_study.name, "--format", "json", "--bootstrap", "200"))
    assert [(row["method_a"], row["method_b"]) for row in rows] == [
        ("alpha", "beta"), ("alpha", "shuffled-control"), ("beta", "shuffled-control")]
    assert all(row["p_value"] <= row["p_holm"] <= 1 for row in rows)


def test_rater_agreement_reports_alpha_raters_and_positions(toy_study):
    text = run("rater_agreement", "--study", toy_study.name)
    assert "## krippendorff_alpha" in text and "## position_bias" in text and "## rater_quality" in text
    summary = text.split("## raters")[1].split("## position_bias")[0]
    rater_lines = [line for line in summary.splitlines() if line.startswith("| r1 |") or line.startswith("| r2 |")]
    assert len(rater_lines) == 2
    assert "1.3333" in rater_lines[0]  # r1's mean rating of the shuffled control, 4/3


def test_plot_study_writes_png_and_svg(toy_study, tmp_path):
    run("plot_study", "--study", toy_study.name, "--out", str(tmp_path / "plots"), "--bootstrap", "50")
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["best_rate.png", "best_rate.svg", "mean_rating.png", "mean_rating.svg",
                     "rating_distribution.png", "rating_distribution.svg"]
    assert (tmp_path / "plots" / "mean_rating.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ElementTree.parse(tmp_path / "plots" / "mean_rating.svg").getroot()
    assert root.tag.endswith("svg")


def test_results_panel_is_a_safe_fragment_with_table_figures_and_downloads(toy_study, settings):
    from evaluation.models import Response

    settings.ANALYSIS_REPORT_RESAMPLES = 50
    Response.objects.filter(study=toy_study, is_valid=False).update(invalid_reason="<script>alert(1)</script>")
    compute_report(toy_study)
    html = results_panel(None, toy_study)
    assert html.startswith('<div id="study-results"')
    assert "from 6 responses (50 bootstrap resamples)" in html
    assert '<table class="comparison-table">' in html
    assert html.count('<img alt="') == 3
    assert f"/analysis/studies/{toy_study.name}/files/comparison.latex" in html
    assert "<script" not in html
    assert "Invalid responses, left out: 1 of 6 (&lt;script&gt;alert(1)&lt;/script&gt; (1))." in html


def test_the_study_page_shows_the_report_that_analysis_registers(toy_study, client, settings):
    settings.ANALYSIS_REPORT_RESAMPLES = 50
    client.force_login(get_user_model().objects.create_superuser("researcher", "r@example.org", "pw"))
    client.get(f"/studies/{toy_study.name}/")  # the first view asks for the report; it is computed after the response
    page = client.get(f"/studies/{toy_study.name}/").content.decode()
    assert "<h2>Results</h2>" in page and '<div id="study-results"' in page
    assert '<table class="comparison-table">' in page and page.count('<img alt="') == 3


def test_results_panel_without_responses(db, settings):
    from .conftest import build_study
    from .fixtures import hand_frame

    settings.ANALYSIS_REPORT_RESAMPLES = 50
    study = build_study("empty", hand_frame().iloc[0:0])
    # Outside an HTTP request the refresh it asks for runs at once.
    assert "No valid responses yet." in results_panel(None, study)


def test_result_urls_need_a_login(client, toy_study):
    plot_url = f"/analysis/studies/{toy_study.name}/plots/mean_rating.png"
    table_url = f"/analysis/studies/{toy_study.name}/comparison.latex"
    assert client.get(plot_url).status_code == 302
    user = get_user_model().objects.create_user("researcher", password="pw-for-tests")
    toy_study.owner = user
    toy_study.save()
    client.force_login(user)
    response = client.get(plot_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content[:4] == b"\x89PNG"
    latex = client.get(table_url)
    assert latex.status_code == 200 and b"\\toprule" in latex.content
    assert client.get(f"/analysis/studies/{toy_study.name}/plots/unknown.png").status_code == 404


def test_tables_print_display_names_escaped(toy_study):
    from explain.models import Method

    Method.objects.filter(name="alpha").update(display_name="Net_Dissect & <co>")
    latex = run("comparison_table", "--study", toy_study.name, "--format", "latex", "--bootstrap", "20")
    assert r"Net\_Dissect \& <co>" in latex
    html = run("comparison_table", "--study", toy_study.name, "--format", "html", "--bootstrap", "20")
    assert "Net_Dissect &amp; &lt;co&gt;" in html
    rows = json.loads(run("comparison_table", "--study", toy_study.name, "--format", "json", "--bootstrap", "20"))
    assert rows[0]["method"] == "alpha" and rows[0]["label"] == "Net_Dissect & <co>"


def test_rater_agreement_json_is_one_document(toy_study):
    sections = json.loads(run("rater_agreement", "--study", toy_study.name, "--format", "json"))
    assert set(sections) == {"krippendorff_alpha", "best_agreement", "raters", "position_bias", "rater_quality"}
    assert sections["best_agreement"] == [{"neurons": 2, "same_best": 0, "share": 0.0}]


def test_commands_on_a_study_without_responses_say_so(db):
    from .conftest import build_study
    from .fixtures import hand_frame

    study = build_study("no-answers", hand_frame().iloc[0:0])
    with pytest.raises(CommandError, match="has no responses to analyse"):
        run("comparison_table", "--study", study.name, "--format", "json")
    with pytest.raises(CommandError, match="no responses"):
        run("compare_methods", "--study", study.name)
    with pytest.raises(CommandError, match="no responses"):
        run("plot_study", "--study", study.name, "--out", "/tmp/never-written")


def test_comparison_table_shows_automatic_metric_means_beside_the_ratings(toy_study):
    from evaluation.models import StudyItem
    from explain.models import Explanation
    from scoring.models import MetricScore

    # Scores of 0.2 and 0.4 for alpha's descriptions in layer1, 0.9 for one of beta's in layer2.
    scored = {("alpha", "layer1"): [0.2, 0.4], ("beta", "layer2"): [0.9]}
    for (method, layer), values in scored.items():
        items = StudyItem.objects.filter(
            study_neuron__study=toy_study, method__name=method, study_neuron__neuron__layer__name=layer
        ).order_by("study_neuron__neuron__unit")[: len(values)]
        for item, value in zip(items, values):
            item.explanation = Explanation.objects.create(method=item.method, neuron=item.study_neuron.neuron, text=item.text)
            item.save()
            MetricScore.objects.create(explanation=item.explanation, metric="text-cosine", value=value)

    rows = json.loads(run("comparison_table", "--study", toy_study.name, "--format", "json", "--bootstrap", "20",
                          "--by", "layer"))
    cells = {(row["layer"], row["method"]): row["metric:text-cosine"] for row in rows}
    assert cells[(None, "alpha")] == pytest.approx(0.3)
    assert cells[(None, "beta")] == pytest.approx(0.9)
    assert cells[(None, "shuffled-control")] is None
    assert cells[("layer1", "alpha")] == pytest.approx(0.3)
    assert cells[("layer2", "alpha")] is None
    markdown = run("comparison_table", "--study", toy_study.name, "--format", "md", "--bootstrap", "20")
    assert "| text-cosine |" in markdown.splitlines()[0] + " |"
    assert "0.300" in markdown
    latex = run("comparison_table", "--study", toy_study.name, "--format", "latex", "--bootstrap", "20")
    assert "text-cosine & 0.300 & 0.900 & --" in latex
