"""Analysis at paper-times-a-hundred scale: 250,000 responses x 4 methods = 1,000,000 rating rows.

    python benchmarks/analysis.py [--responses 250000] [--workdir DIR]

Phases run in separate processes so each reports its own peak memory (max RSS):
  generate  a tidy ratings CSV (4 layers, 3 raters a neuron, 500 raters, ~25% invalid)
  import    the real import path (analysis.ratings_io.import_ratings -> evaluation.imports, --create)
            into a fresh SQLite file
  analyse   read the study back (analysis.frames), the comparison table by layer with the
            2000-resample neuron bootstrap, and the pairwise comparisons (overall and by layer)
Targets on a 2-core machine: import < 120 s; table + comparisons < 10 s; peak memory < 4 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["netdissect", "milan", "clip-dissect", "dnd"]
METHOD_MEANS = [3.1, 3.2, 3.7, 4.1]
LAYERS = ["layer1", "layer2", "layer3", "layer4"]


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def generate(path: Path, responses: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    per_layer = responses // len(LAYERS)
    response = np.arange(responses)
    layer = np.minimum(response // per_layer, len(LAYERS) - 1)
    within = response - layer * per_layer
    unit = within // 3
    rater = (unit * 3 + within % 3 + layer * 7) % 500  # three different raters per neuron
    neuron_effect = rng.normal(0, 0.6, size=(len(LAYERS), unit.max() + 1))[layer, unit]
    means = np.array(METHOD_MEANS)
    raw = means[None, :] + neuron_effect[:, None] + rng.normal(0, 0.9, size=(responses, len(METHODS)))
    ratings = np.clip(np.rint(raw), 1, 5).astype(int)
    top = ratings == ratings.max(axis=1, keepdims=True)
    best = np.argmax(top * rng.random(top.shape), axis=1)  # a random one of the highest rated
    careless = rng.random(responses) < 0.25
    best[careless] = rng.integers(0, len(METHODS), careless.sum())
    positions = np.argsort(rng.random((responses, len(METHODS))), axis=1)
    stamps = pd.Timestamp("2026-01-01T00:00:00Z") + pd.to_timedelta(response * 3, unit="s")
    n = len(METHODS)
    frame = pd.DataFrame({
        "response_id": np.repeat(response, n).astype(str),
        "rater": np.char.add("worker-", np.repeat(rater, n).astype(str)),
        "network": "resnet50",
        "layer": np.array(LAYERS)[np.repeat(layer, n)],
        "unit": np.repeat(unit, n),
        "method": np.tile(METHODS, responses),
        "rating": ratings.ravel(),
        "best": np.where(np.tile(np.arange(n), responses) == np.repeat(best, n), "true", "false"),
        "uninterpretable": np.where(np.repeat(rng.random(responses) < 0.05, n), "true", "false"),
        "none_fit": "false",
        "position": positions.ravel(),
        "submitted_at": np.repeat(stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00"), n),
        "source": "mturk",
    })
    frame.to_csv(path, index=False)
    return len(frame)


def setup_django(workdir: Path):
    os.environ["NEURONEVAL_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def phase_import(workdir: Path) -> dict:
    setup_django(workdir)
    from django.core.management import call_command

    from analysis.ratings_io import import_ratings

    call_command("migrate", verbosity=0)
    wall, cpu = time.perf_counter(), time.process_time()
    result = import_ratings(workdir / "ratings.csv", "benchmark", create=True)
    return {"import_s": time.perf_counter() - wall, "import_cpu_s": time.process_time() - cpu,
            "responses": result.responses, "ratings": result.ratings, "import_peak_mb": peak_memory_mb()}


def phase_analyse(workdir: Path) -> dict:
    setup_django(workdir)
    from analysis import stats
    from analysis.frames import ratings_frame
    from analysis.services import Selection

    figures = {}

    def timed(name, function):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        figures[f"{name}_s"] = time.perf_counter() - wall
        figures[f"{name}_cpu_s"] = time.process_time() - cpu
        return result

    frame = timed("read_frame", lambda: ratings_frame("benchmark"))
    in_scope, used = Selection().apply(frame)
    table = timed("table_by_layer", lambda: stats.comparison_table(in_scope, used, by_layer=True, n_resamples=2000))
    pairs = timed("pairwise_by_layer", lambda: stats.pairwise_comparisons(used, by_layer=True, n_resamples=2000))
    timed("one_pass", lambda: stats.comparison_and_pairwise(in_scope, used, by_layer=True, n_resamples=2000))
    figures["analyse_peak_mb"] = peak_memory_mb()
    figures["rows"] = len(frame)
    figures["valid_responses"] = int(frame.loc[frame["is_valid"], "response_id"].nunique())
    overall = table[table["layer"].isna()][["method", "n", "mean", "se", "boot_ci_low", "boot_ci_high", "best_rate"]]
    figures["overall_table"] = overall.round(4).to_dict(orient="records")
    figures["pairs"] = len(pairs)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=250_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--phase", choices=["generate", "import", "analyse"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="analysis-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    if args.phase == "generate":
        start = time.perf_counter()
        rows = generate(workdir / "ratings.csv", args.responses)
        print(json.dumps({"generate_s": time.perf_counter() - start, "rows": rows, "generate_peak_mb": peak_memory_mb()}))
        return
    if args.phase == "import":
        print(json.dumps(phase_import(workdir)))
        return
    if args.phase == "analyse":
        print(json.dumps(phase_analyse(workdir)))
        return

    print(f"work folder: {workdir}")
    results = {}
    for phase in ("generate", "import", "analyse"):
        completed = subprocess.run(
            [sys.executable, __file__, "--phase", phase, "--responses", str(args.responses), "--workdir", str(workdir)],
            capture_output=True, text=True, cwd=ROOT,
        )
        if completed.returncode != 0:
            print(completed.stdout, completed.stderr, sep="\n")
            raise SystemExit(f"phase {phase} failed")
        results.update(json.loads(completed.stdout.strip().splitlines()[-1]))
        print(f"{phase}: done", flush=True)

    print(f"rows: {results['rows']:,} ({results['responses']:,} responses; {results['valid_responses']:,} valid)")
    print(f"generate CSV:                           {results['generate_s']:7.1f} s wall  peak {results['generate_peak_mb']:.0f} MB")
    print(f"import (read, check, store):            {results['import_s']:7.1f} s wall {results['import_cpu_s']:7.1f} s CPU"
          f"  peak {results['import_peak_mb']:.0f} MB, target < 120 s")
    def line(label, key, note=""):
        print(f"{label:<40}{results[key + '_s']:7.1f} s wall {results[key + '_cpu_s']:7.1f} s CPU  {note}")

    line("read study into a frame:", "read_frame")
    line("comparison table by layer (2000 boot):", "table_by_layer")
    line("pairwise comparisons by layer:", "pairwise_by_layer", f"({results['pairs']} pair rows)")
    line("both in one pass (shared resamples):", "one_pass", "target < 10 s")
    print(f"analysis peak memory:                   {results['analyse_peak_mb']:7.0f} MB   target < 4096 MB")
    print(f"machine load average at the end: {os.getloadavg()} on {os.cpu_count()} cores")
    for row in results["overall_table"]:
        print("   ", row)


if __name__ == "__main__":
    main()
