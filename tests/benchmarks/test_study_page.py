"""benchmarks/study_page.py at a small size: it builds its study, serves both pages and prints the figures the
note records (a broken page or a report recomputed by a view stops it with an error)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "study_page.py"


@pytest.mark.slow
def test_the_benchmark_prints_both_medians_the_ratio_and_the_load(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("NEURONEVAL_", "DJANGO_"))}
    result = subprocess.run([sys.executable, str(SCRIPT), "--responses", "400", "--views", "3", "--workdir",
                             str(tmp_path)], capture_output=True, text=True, timeout=300, env=environment,
                            cwd=SCRIPT.parents[1])
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "built study: 400 responses, 1,600 ratings, 4 methods" in out
    login = re.search(r"^login page  median +(\d+\.\d) ms", out, re.M)
    page = re.search(r"^study page  median +(\d+\.\d) ms", out, re.M)
    ratio = re.search(r"^ratio study / login: (\d+\.\d)x  \(target <= 10x: (met|NOT met)\)$", out, re.M)
    assert login and page and ratio, out
    assert float(ratio.group(1)) == pytest.approx(float(page.group(1)) / float(login.group(1)), rel=0.1)
    assert re.search(r"^load average: \(\d", out, re.M)
