"""Metric-human agreement on the hand-computed study (valid responses: R4 is invalid).

Mean human rating per (neuron, method):
            alpha  beta  shuffled-control
layer1#0    4.5    3.5   1.5
layer1#1    3.0    5.0   2.0
layer2#0    3.5    3.5   2.0
People's order of the methods by mean: beta (4.0) > alpha (3.67) > shuffled-control (1.83).
"""
import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from scipy import stats

from analysis.agreement import metric_agreement, paired_scores
from analysis.stats import select_responses

from .fixtures import hand_frame

HUMAN = {
    ("layer1", 0, "alpha"): 4.5, ("layer1", 0, "beta"): 3.5, ("layer1", 0, "shuffled-control"): 1.5,
    ("layer1", 1, "alpha"): 3.0, ("layer1", 1, "beta"): 5.0, ("layer1", 1, "shuffled-control"): 2.0,
    ("layer2", 0, "alpha"): 3.5, ("layer2", 0, "beta"): 3.5, ("layer2", 0, "shuffled-control"): 2.0,
}


def scores_frame(metric: str, value_of) -> pd.DataFrame:
    return pd.DataFrame([(layer, unit, method, metric, value_of(human)) for (layer, unit, method), human in HUMAN.items()],
                        columns=["layer", "unit", "method", "metric", "value"])


def used():
    return select_responses(hand_frame())


def test_pairs_are_the_mean_valid_rating_per_neuron_and_method():
    pairs = paired_scores(used(), scores_frame("m", lambda h: h))
    assert {(r.layer, r.unit, r.method): r.human for r in pairs.itertuples()} == HUMAN


def test_a_metric_equal_to_the_people_agrees_perfectly_and_its_reverse_perfectly_disagrees():
    scores = pd.concat([scores_frame("same", lambda h: h), scores_frame("reversed", lambda h: -h)])
    table = metric_agreement(used(), scores, n_resamples=200).set_index("metric")
    assert table.loc["same", "kendall_tau_b"] == pytest.approx(1.0)
    assert table.loc["same", "spearman"] == pytest.approx(1.0)
    assert table.loc["same", "people_order"] == "beta > alpha > shuffled-control"
    assert bool(table.loc["same", "same_order"])
    assert table.loc["reversed", "kendall_tau_b"] == pytest.approx(-1.0)
    assert table.loc["reversed", "metric_order"] == "shuffled-control > alpha > beta"
    assert not bool(table.loc["reversed", "same_order"])
    assert table.loc["same", "pairs"] == 9 and table.loc["same", "neurons"] == 3


def test_tau_is_scipys_tau_b_and_the_neuron_bootstrap_interval_brackets_it():
    noisy = {key: value for key, value in zip(HUMAN, [0.9, 0.2, 0.1, 0.3, 0.8, 0.4, 0.5, 0.7, 0.0])}
    scores = pd.DataFrame([(*key, "m", value) for key, value in noisy.items()], columns=["layer", "unit", "method", "metric", "value"])
    row = metric_agreement(used(), scores, n_resamples=500, seed=1).iloc[0]
    expected = stats.kendalltau(list(HUMAN.values()), list(noisy.values()), variant="b").statistic
    assert row["kendall_tau_b"] == pytest.approx(expected)
    assert row["spearman"] == pytest.approx(stats.spearmanr(list(HUMAN.values()), list(noisy.values())).statistic)
    assert row["tau_ci_low"] <= row["kendall_tau_b"] <= row["tau_ci_high"]
    # Resampling whole neurons of three keeps it reproducible by seed.
    again = metric_agreement(used(), scores, n_resamples=500, seed=1).iloc[0]
    assert again["tau_ci_low"] == row["tau_ci_low"]


def test_a_constant_metric_has_no_correlation():
    row = metric_agreement(used(), scores_frame("flat", lambda h: 1.0), n_resamples=50).iloc[0]
    assert np.isnan(row["kendall_tau_b"]) and np.isnan(row["tau_ci_low"])


def attach_scores(study, metric, value_of):
    from evaluation.models import StudyItem
    from explain.models import Explanation
    from scoring.models import MetricScore

    for item in StudyItem.objects.filter(study_neuron__study=study).select_related("study_neuron__neuron__layer", "method"):
        neuron = item.study_neuron.neuron
        if item.explanation is None:
            item.explanation = Explanation.objects.create(method=item.method, neuron=neuron, text=item.text)
            item.save()
        MetricScore.objects.create(explanation=item.explanation, metric=metric,
                                   value=value_of(HUMAN[(neuron.layer.name, neuron.unit, item.method.name)]))


def test_metric_agreement_command_prints_tau_with_its_interval_per_metric(toy_study):
    attach_scores(toy_study, "auprc@labels", lambda h: h)
    attach_scores(toy_study, "recall@labels", lambda h: -h)
    out = io.StringIO()
    call_command("metric_agreement", "--study", toy_study.name, "--bootstrap", "100", stdout=out)
    lines = {line.split(":")[0]: line for line in out.getvalue().splitlines() if line.startswith(("auprc@", "recall@"))}
    assert lines["auprc@labels"].startswith("auprc@labels: tau-b 1.000 [") and "same order as people" in lines["auprc@labels"]
    assert "tau-b -1.000" in lines["recall@labels"] and "ordered differently" in lines["recall@labels"]
    out = io.StringIO()
    call_command("metric_agreement", "--study", toy_study.name, "--bootstrap", "50", "--format", "json",
                 "--metrics", "auprc@labels", stdout=out)
    assert [row["metric"] for row in json.loads(out.getvalue())] == ["auprc@labels"]


def test_metric_agreement_refuses_what_it_cannot_answer(toy_study):
    with pytest.raises(CommandError, match="no automatic metric has scores"):
        call_command("metric_agreement", "--study", toy_study.name)
    with pytest.raises(CommandError, match="no study named 'nope'"):
        call_command("metric_agreement", "--study", "nope")
    attach_scores(toy_study, "auprc@labels", lambda h: h)
    with pytest.raises(CommandError, match="no scores of iou@clip"):
        call_command("metric_agreement", "--study", toy_study.name, "--metrics", "iou@clip")
    with pytest.raises(CommandError, match="--bootstrap"):
        call_command("metric_agreement", "--study", toy_study.name, "--bootstrap", "0")


def test_the_study_page_shows_the_agreement_panel_with_escaped_names(toy_study, client, django_user_model, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    client.force_login(django_user_model.objects.create_superuser("researcher", "r@example.org", "pw"))
    page = client.get(f"/studies/{toy_study.name}/").content.decode()
    assert "Automatic metrics against the people" not in page  # nothing scored yet: no panel
    attach_scores(toy_study, "<b>auprc</b>@labels", lambda h: h)
    # The page reads the study's scores once a minute (the join over its descriptions is its slowest query).
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=1))
    page = client.get(f"/studies/{toy_study.name}/").content.decode()
    assert "Automatic metrics against the people" in page
    assert "&lt;b&gt;auprc&lt;/b&gt;@labels" in page and "<b>auprc</b>" not in page
    assert "1.000 [" in page and "beta &gt; alpha &gt; shuffled-control" in page
