"""benchmarks/load.py as a smoke run: raters go through the real pages served by gunicorn to the end of the
study, and every invariant read back from the database holds."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_quick_run_on_sqlite_answers_every_place_and_keeps_the_invariants():
    run = subprocess.run(
        [sys.executable, "benchmarks/load.py", "--quick", "--database", "sqlite"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "DEBUG=False" in run.stdout and "--worker-class gthread" in run.stdout
    # Two scenarios (4 raters thinking 0.2 s, 3 raters not thinking), each on a study of 6 neurons x K=2:
    # every rater reaches the thank-you page, so all 12 places are answered, each once, and no 5xx.
    assert re.findall(r"\((\d+) answers in [\d.]+ s; (\d+) raters reached the thank-you page", run.stdout) == [
        ("12", "4"), ("12", "3")
    ], run.stdout
    assert len(re.findall(r"3xx 12, 4xx 0, 5xx 0; transport failures 0", run.stdout)) == 2, run.stdout
    invariants = re.findall(r"invariants: (\w+): responses stored (\d+), most responses on one neuron (\d+), (.*)", run.stdout)
    assert [found[:3] for found in invariants] == [("OK", "12", "2")] * 2, run.stdout
    for *_, counts in invariants:
        assert set(re.findall(r"[a-z() ,]+? (\d+)(?:,|$)", counts)) == {"0"}, counts
