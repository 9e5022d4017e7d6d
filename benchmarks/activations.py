"""Cost of one-pass recording: all units of a layer vs one unit, demo CNN on the synthetic set.

    python benchmarks/activations.py [--layer conv3] [--repeats 3] [--store-maps]

Builds the demo assets on first use (the synthetic set, then about two minutes of
training). Each measurement records the layer from scratch into a temporary folder;
the best of `--repeats` runs is reported, since other processes share the CPU.
Peak memory: the largest Python/NumPy allocation total during one recording
(tracemalloc), and the process's peak resident set size.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from explain.activations import record_activations  # noqa: E402
from explain.demo_network import ensure_demo_network  # noqa: E402
from explain.networks import load_network  # noqa: E402
from explain.synthetic import ensure_synthetic_probe  # noqa: E402


def time_recording(network, dataset, layer, units, store_maps, model_and_preprocess):
    settings.VAR_DIR = Path(tempfile.mkdtemp(prefix="activation-bench-"))
    try:
        tracemalloc.start()
        started = time.perf_counter()
        cache = record_activations(
            network, dataset, [layer], units=units, store_maps=store_maps, show_progress=False, model_and_preprocess=model_and_preprocess
        )[layer]
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return seconds, peak, cache.unit_count if units is None else len(units)
    finally:
        shutil.rmtree(settings.VAR_DIR, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="conv3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store-maps", action="store_true", help="Also write the full activation maps memmap.")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    dataset = ensure_synthetic_probe(show_progress=True)
    network = ensure_demo_network(show_progress=True)
    real_var_dir = settings.VAR_DIR
    model_and_preprocess = load_network(network)
    print(f"demo-cnn on {dataset.name} ({dataset.images.count()} images), layer {args.layer}, store_maps={args.store_maps}")
    results = {}
    for label, units in (("all units", None), ("one unit", [0])):
        runs = [time_recording(network, dataset, args.layer, units, args.store_maps, model_and_preprocess) for _ in range(args.repeats)]
        seconds = min(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        results[label] = seconds
        print(f"{label:>9} ({runs[0][2]:>3} recorded): {seconds:6.2f} s (best of {args.repeats}), peak traced memory {peak / 2**20:7.1f} MiB")
    settings.VAR_DIR = real_var_dir
    print(f"ratio all/one: {results['all units'] / results['one unit']:.2f}")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
