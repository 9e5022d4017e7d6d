"""Statistics pinned to numbers worked out by hand on the fixture in fixtures.py (no Django)."""
import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analysis import stats

from .fixtures import hand_frame

T_975_DF4 = 2.7764451051977934  # t table, 97.5th percentile, 4 degrees of freedom
Z_975 = 1.959963984540054  # normal table, 97.5th percentile


def wilson_by_hand(k, n, z=Z_975):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def table_for(frame, **kwargs):
    in_scope = stats.select_responses(frame, include_invalid=True)
    used = stats.select_responses(frame, include_invalid=kwargs.pop("include_invalid", False))
    return stats.comparison_table(in_scope, used, **kwargs).set_index(["layer", "method"])


def test_overall_table_matches_hand_computation():
    table = table_for(hand_frame(), n_resamples=200)
    overall = table.loc[None]

    # Valid responses R1 R2 R3 R5 R6. alpha: 5 4 3 5 2 -> mean 19/5 = 3.8;
    # squared deviations 1.44 + 0.04 + 0.64 + 1.44 + 3.24 = 6.8, variance 6.8/4 = 1.7.
    alpha = overall.loc["alpha"]
    assert alpha["n"] == 5
    assert alpha["mean"] == pytest.approx(3.8, abs=1e-9)
    assert alpha["sd"] == pytest.approx(math.sqrt(1.7), abs=1e-9)
    assert alpha["se"] == pytest.approx(math.sqrt(1.7 / 5), abs=1e-9)
    assert alpha["ci_low"] == pytest.approx(3.8 - T_975_DF4 * math.sqrt(0.34), abs=1e-9)
    assert alpha["ci_high"] == pytest.approx(3.8 + T_975_DF4 * math.sqrt(0.34), abs=1e-9)

    # beta: 3 4 5 4 3 -> 19/5 = 3.8; 0.64 + 0.04 + 1.44 + 0.04 + 0.64 = 2.8, variance 0.7, se sqrt(0.7/5).
    beta = overall.loc["beta"]
    assert beta["mean"] == pytest.approx(3.8, abs=1e-9)
    assert beta["se"] == pytest.approx(math.sqrt(0.14), abs=1e-9)
    assert beta["ci_high"] == pytest.approx(3.8 + T_975_DF4 * math.sqrt(0.14), abs=1e-9)

    # shuffled-control: 1 2 2 1 3 -> 9/5 = 1.8; same squared deviations as beta (2.8).
    control = overall.loc["shuffled-control"]
    assert control["mean"] == pytest.approx(1.8, abs=1e-9)
    assert control["ci_low"] == pytest.approx(1.8 - T_975_DF4 * math.sqrt(0.14), abs=1e-9)


def test_best_rates_and_wilson_intervals_match_hand_computation():
    overall = table_for(hand_frame(), n_resamples=200).loc[None]
    # Best picks among the 5 valid responses: alpha R1 R5, beta R2 R3, control R6.
    assert list(overall["best_n"]) == [2, 2, 1]
    assert list(overall["best_total"]) == [5, 5, 5]
    assert list(overall["best_rate"]) == pytest.approx([0.4, 0.4, 0.2], abs=1e-9)
    assert overall["best_rate"].sum() == pytest.approx(1.0, abs=1e-12)
    # Wilson 2/5: centre (0.4 + z^2/10) / (1 + z^2/5), half z/(1 + z^2/5) * sqrt(0.4*0.6/5 + z^2/100).
    low, high = wilson_by_hand(2, 5)
    assert overall.loc["alpha", "best_ci_low"] == pytest.approx(low, abs=1e-9)
    assert overall.loc["alpha", "best_ci_high"] == pytest.approx(high, abs=1e-9)
    assert (low, high) == pytest.approx((0.11762077423264788, 0.7692757187239871), abs=1e-9)
    low, high = wilson_by_hand(1, 5)
    assert overall.loc["shuffled-control", "best_ci_low"] == pytest.approx(low, abs=1e-9)
    assert overall.loc["shuffled-control", "best_ci_high"] == pytest.approx(high, abs=1e-9)


def test_validity_counts_and_reasons():
    overall = table_for(hand_frame(), n_resamples=50).loc[None]
    assert list(overall["n_valid"]) == [5, 5, 5]
    assert list(overall["n_invalid"]) == [1, 1, 1]
    assert set(overall["invalid_reasons"]) == {"best pick is not among the highest rated: 1"}


def test_including_invalid_responses_uses_all_six():
    overall = table_for(hand_frame(), include_invalid=True, n_resamples=50).loc[None]
    # alpha with R4's 4 added: 5 4 3 4 5 2 -> 23/6.
    assert overall.loc["alpha", "n"] == 6
    assert overall.loc["alpha", "mean"] == pytest.approx(23 / 6, abs=1e-9)
    # R4 picked the control, so its best rate is 2/6 and the three shares still sum to 1.
    assert overall.loc["shuffled-control", "best_rate"] == pytest.approx(2 / 6, abs=1e-9)
    assert overall["best_rate"].sum() == pytest.approx(1.0, abs=1e-12)


def test_per_layer_rows():
    table = table_for(hand_frame(), by_layer=True, n_resamples=50)
    # layer2 alpha: R5 5, R6 2 -> 3.5; sd sqrt(4.5), se sqrt(4.5/2) = 1.5.
    assert table.loc[("layer2", "alpha"), "mean"] == pytest.approx(3.5, abs=1e-9)
    assert table.loc[("layer2", "alpha"), "se"] == pytest.approx(1.5, abs=1e-9)
    # layer1 valid R1 R2 R3: beta picked twice, alpha once.
    assert table.loc[("layer1", "beta"), "best_rate"] == pytest.approx(2 / 3, abs=1e-9)
    layers = table.reset_index()["layer"]
    assert layers.isna().sum() == 3 and list(layers.dropna().unique()) == ["layer1", "layer2"]


def test_excluding_flagged_and_raters_and_restricting_methods():
    frame = hand_frame()
    selected = stats.select_responses(frame, exclude_flagged=True)
    assert set(selected["response_id"]) == {"R1", "R2", "R3", "R5"}
    selected = stats.select_responses(frame, exclude_raters=["r2"])
    assert set(selected["rater"]) == {"r1"}
    selected = stats.select_responses(frame, methods=["beta", "alpha"])
    assert stats.method_order(selected) == ["beta", "alpha"]


def test_cluster_bootstrap_is_seeded_and_counts_neurons_not_responses():
    rng = np.random.default_rng(1)
    neurons = np.repeat(np.arange(40), 3)
    values = rng.integers(1, 6, size=len(neurons)).astype(float)
    groups = np.zeros(len(values), dtype=int)
    first = stats.cluster_bootstrap_ci(values, neurons, groups, 1, n_resamples=500, seed=7)
    again = stats.cluster_bootstrap_ci(values, neurons, groups, 1, n_resamples=500, seed=7)
    assert np.array_equal(first, again)
    # Copying every response of a neuron three times adds no information about
    # other neurons: the cluster bootstrap interval is unchanged (weights scale
    # a neuron's sum and count alike), while the naive t interval shrinks.
    tripled = stats.cluster_bootstrap_ci(np.tile(values, 3), np.tile(neurons, 3), np.tile(groups, 3), 1,
                                         n_resamples=500, seed=7)
    assert np.allclose(first, tripled, atol=1e-12)
    assert stats.summarize_mean(np.tile(values, 3)).se < stats.summarize_mean(values).se
    low, high = first[0]
    assert low < values.mean() < high


def test_pairwise_comparisons_on_hand_fixture():
    used = stats.select_responses(hand_frame())
    pairs = stats.pairwise_comparisons(used, n_resamples=300).set_index(["method_a", "method_b"])
    # alpha - control on R1 R2 R3 R5 R6: 4 2 1 4 -1 -> mean 10/5 = 2.0.
    row = pairs.loc[("alpha", "shuffled-control")]
    assert row["n_responses"] == 5
    assert row["mean_diff"] == pytest.approx(2.0, abs=1e-9)
    # Wilcoxon on per-neuron means of those differences: layer1#0 (4+2)/2 = 3, layer1#1 1, layer2#0 (4-1)/2 = 1.5.
    expected = scipy_stats.wilcoxon([3.0, 1.0, 1.5])
    assert row["p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
    # Best-rate difference alpha - control: 2/5 - 1/5.
    assert row["best_rate_diff"] == pytest.approx(0.2, abs=1e-9)
    assert row["diff_ci_low"] <= 2.0 <= row["diff_ci_high"]
    # Holm over the three pairs: sorted p times (3, 2, 1), made monotone, capped at 1.
    p = pairs["p_value"].to_numpy()
    order = np.argsort(p)
    adjusted = np.minimum(1, np.maximum.accumulate(p[order] * np.array([3, 2, 1])))
    expected_holm = np.empty(3)
    expected_holm[order] = adjusted
    assert pairs["p_holm"].to_numpy() == pytest.approx(expected_holm, abs=1e-12)


def test_krippendorff_alpha_matches_rater_by_neuron_matrix():
    used = stats.select_responses(hand_frame(), include_invalid=True)
    result = stats.krippendorff_alpha(used).set_index("method")
    # alpha ratings as raters x neurons (layer1#0, layer1#1, layer2#0).
    reliability = [[5, 3, 5], [4, 4, 2]]
    expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="ordinal")
    assert result.loc["alpha", "alpha"] == pytest.approx(expected, abs=1e-12)
    assert result.loc["(all)", "units"] == 9


def test_best_agreement_share():
    used = stats.select_responses(hand_frame())
    # Valid picks: layer1#0 alpha vs beta (differ), layer1#1 only one valid pick, layer2#0 alpha vs control (differ).
    assert stats.best_agreement(used) == {"neurons": 2, "same_best": 0, "share": 0.0}
    agreeing = hand_frame()
    agreeing.loc[agreeing["response_id"] == "R6", "best"] = agreeing.loc[agreeing["response_id"] == "R6", "method"] == "alpha"
    agreeing.loc[(agreeing["response_id"] == "R6") & (agreeing["method"] == "alpha"), "rating"] = 5
    assert stats.best_agreement(stats.select_responses(agreeing))["same_best"] == 1


def test_rater_summary_shows_control_ratings_and_invalid_rate():
    summary = stats.rater_summary(hand_frame()).set_index("rater")
    # r1 rated the control 1, 2, 1 -> 4/3; r2 rated it 2, 3, 3 -> 8/3.
    assert summary.loc["r1", "control_mean"] == pytest.approx(4 / 3, abs=1e-9)
    assert summary.loc["r2", "control_mean"] == pytest.approx(8 / 3, abs=1e-9)
    assert summary.loc["r2", "invalid_rate"] == pytest.approx(1 / 3, abs=1e-9)
    assert summary.loc["r1", "responses"] == 3
    assert summary.loc["r2", "flagged"] == 1
    # r1's ratings vs r2's on the same descriptions: |5-4| |3-4| |1-2| |3-4| |5-2| |2-3| |5-2| |4-3| |1-3| -> 14/9.
    assert summary.loc["r1", "mean_abs_diff_from_others"] == pytest.approx(14 / 9, abs=1e-9)


def test_position_bias_by_shown_position():
    bias = stats.position_bias(stats.select_responses(hand_frame())).set_index("position")
    # Position 0 in valid responses: R1 alpha 5, R2 beta 4, R3 control 2, R5 control 1, R6 beta 3 -> 15/5.
    assert bias.loc[0, "mean"] == pytest.approx(3.0, abs=1e-9)
    # Best picks shown at position 0: R1 (alpha) and R2 (beta) -> 2 of 5.
    assert bias.loc[0, "best_rate"] == pytest.approx(0.4, abs=1e-9)
    assert bias["best_n"].sum() == 5


def test_mixed_model_recovers_method_means_on_balanced_data():
    rng = np.random.default_rng(0)
    rows = []
    for unit in range(30):
        neuron_effect = rng.normal(0, 0.5)
        for rater, rater_effect in enumerate((-0.4, 0.0, 0.4)):
            for method, true_mean in (("a", 2.0), ("b", 4.0)):
                rows.append({"layer": "l1", "unit": unit, "rater": f"r{rater}", "method": method,
                             "rating": true_mean + neuron_effect + rater_effect + rng.normal(0, 0.3)})
    frame = pd.DataFrame(rows)
    frame.attrs = {"methods": ["a", "b"]}
    means = stats.mixed_model_means(frame).set_index("method")
    # Balanced design: the fixed effects equal the raw method means.
    assert means.loc["a", "mm_mean"] == pytest.approx(frame[frame.method == "a"].rating.mean(), abs=1e-6)
    assert means.loc["b", "mm_ci_low"] < means.loc["b", "mm_mean"] < means.loc["b", "mm_ci_high"]


def test_one_pass_gives_the_same_table_and_pairs_as_separate_calls():
    frame = hand_frame()
    in_scope, used = stats.select_responses(frame, include_invalid=True), stats.select_responses(frame)
    table, pairs = stats.comparison_and_pairwise(in_scope, used, by_layer=True, n_resamples=300, seed=3)
    # The resampled neurons depend only on the seed and the neurons, so sharing them changes nothing.
    pd.testing.assert_frame_equal(table, stats.comparison_table(in_scope, used, by_layer=True, n_resamples=300, seed=3))
    pd.testing.assert_frame_equal(pairs, stats.pairwise_comparisons(used, by_layer=True, n_resamples=300, seed=3))


def test_bootstrap_resamples_neurons_within_each_layer():
    # Two layers with constant but different ratings: a stratified resample always keeps
    # each layer's share of neurons, so the overall mean cannot move at all.
    values = np.array([1.0] * 10 + [5.0] * 30)
    neurons = np.arange(40)
    strata = np.array([0] * 10 + [1] * 30)
    interval = stats.cluster_bootstrap_ci(values, neurons, np.zeros(40, dtype=int), 1, n_resamples=200, strata=strata)
    assert interval[0] == pytest.approx([4.0, 4.0], abs=1e-12)
    unstratified = stats.cluster_bootstrap_ci(values, neurons, np.zeros(40, dtype=int), 1, n_resamples=200)
    assert unstratified[0, 1] - unstratified[0, 0] > 0.5


def test_mixed_model_refuses_studies_too_large_to_fit(monkeypatch):
    monkeypatch.setattr(stats, "MIXED_MODEL_MAX_CELLS", 10)
    with pytest.raises(ValueError, match="use the neuron-bootstrap interval"):
        stats.mixed_model_means(hand_frame())
