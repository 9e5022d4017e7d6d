"""Cost of one-pass recording: all units of a layer vs one unit, demo CNN on the synthetic set.

    python benchmarks/activations.py [--layer conv3] [--repeats 3] [--no-maps]

Builds the demo assets on first use (the synthetic set, then about two minutes of
training). Each measurement records the layer from scratch into a temporary folder;
all-units and one-unit runs alternate and the best of `--repeats` each is reported,
since other processes share the CPU. Peak memory: the largest NumPy/Python allocation
total during one recording (tracemalloc; torch's own buffers are not traced), and the
process's resident-set high-water mark during the recording (Linux VmHWM, reset before
each run), which does include torch.
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
from demo.network import ensure_demo_network  # noqa: E402
from explain.networks import load_network  # noqa: E402
from demo.synthetic import ensure_synthetic_probe  # noqa: E402


def reset_peak_rss():
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_bytes():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def time_recording(network, dataset, layer, units, store_maps, model_and_preprocess):
    settings.VAR_DIR = Path(tempfile.mkdtemp(prefix="activation-bench-"))
    try:
        reset_peak_rss()
        tracemalloc.start()
        started = time.perf_counter()
        cache = record_activations(
            network, dataset, [layer], units=units, store_maps=store_maps, show_progress=False, model_and_preprocess=model_and_preprocess
        )[layer]
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"seconds": seconds, "traced": peak, "rss": peak_rss_bytes(), "units": cache.summaries().shape[1]}
    finally:
        shutil.rmtree(settings.VAR_DIR, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="conv3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-maps", action="store_true", help="Do not write the full activation maps memmap (the job writes it).")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    dataset = ensure_synthetic_probe(show_progress=True)
    network = ensure_demo_network(show_progress=True)
    real_var_dir = settings.VAR_DIR
    model_and_preprocess = load_network(network)
    store_maps = not args.no_maps
    print(f"demo-cnn on {dataset.name} ({dataset.images.count()} images), layer {args.layer}, store_maps={store_maps}")
    runs = {"all units": [], "one unit": []}
    for _ in range(args.repeats):
        runs["all units"].append(time_recording(network, dataset, args.layer, None, store_maps, model_and_preprocess))
        runs["one unit"].append(time_recording(network, dataset, args.layer, [0], store_maps, model_and_preprocess))
    settings.VAR_DIR = real_var_dir
    best = {}
    for label, results in runs.items():
        best[label] = min(r["seconds"] for r in results)
        print(
            f"{label:>9} ({results[0]['units']:>3} recorded): {best[label]:6.2f} s (best of {args.repeats}), "
            f"peak traced {max(r['traced'] for r in results) / 2**20:6.1f} MiB, "
            f"peak RSS {max(r['rss'] for r in results) / 2**20:6.0f} MiB"
        )
    print(f"ratio all/one: {best['all units'] / best['one unit']:.2f}")


if __name__ == "__main__":
    main()
