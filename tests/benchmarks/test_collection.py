"""benchmarks/collection.py on one seeded simulated study: its summary line, and that it measures the product."""
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

import analysis.stats
import evaluation.adaptive
import evaluation.quality

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "collection.py"
DND_RATINGS = SCRIPT.parents[2] / "shared" / "data" / "human_evals" / "DnD__rn50_scoring_function_ratings.csv"
LAST_LINE = re.compile(
    r"^spend ratio adaptive/fixed at equal CI half-width: (\d+\.\d\d); "
    r"true ranking recovered: (\d+\.\d)% with quality controls vs (\d+\.\d)% without$"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DND_RATINGS.exists(), reason="needs ../shared/data/human_evals (the DnD released ratings)"),
]


def load_benchmark(monkeypatch):
    spec = importlib.util.spec_from_file_location("collection_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def counting(calls, name, function):
    def spy(*args, **kwargs):
        calls[name] += 1
        return function(*args, **kwargs)
    return spy


def test_one_seeded_study_prints_the_summary_line_from_the_products_functions(monkeypatch, capsys):
    benchmark = load_benchmark(monkeypatch)
    # The names the simulation calls are the product's own functions, not copies.
    assert benchmark.adaptive is evaluation.adaptive
    assert benchmark.rater_signals is evaluation.quality.rater_signals
    assert benchmark.apply_policy is evaluation.quality.apply_policy
    assert benchmark.cluster_bootstrap_ci is analysis.stats.cluster_bootstrap_ci
    assert benchmark.select_responses is analysis.stats.select_responses
    calls = Counter()
    for name in ("choose_row", "stop_decision", "estimate_components", "neuron_within"):
        monkeypatch.setattr(evaluation.adaptive, name, counting(calls, name, getattr(evaluation.adaptive, name)))
    for name in ("rater_signals", "apply_policy", "cluster_bootstrap_ci", "select_responses"):
        monkeypatch.setattr(benchmark, name, counting(calls, name, getattr(benchmark, name)))

    benchmark.main(["--studies", "1", "--seed", "3"])

    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    ratio, with_controls, without = (float(value) for value in match.groups())
    assert 0 < ratio < 2 and with_controls in (0.0, 100.0) and without in (0.0, 100.0)
    assert any(line.startswith("load average at start:") for line in lines)
    # One response per choice, a stop check every few responses, the policy on both designs, three analyses.
    assert calls["choose_row"] >= int(ratio * 2400) - 20
    assert calls["stop_decision"] >= 10 and calls["estimate_components"] >= 10
    assert calls["rater_signals"] >= 3 and calls["apply_policy"] == calls["rater_signals"]
    assert calls["cluster_bootstrap_ci"] == calls["select_responses"] == 3
