"""Seconds and peak memory of the method maths on layer-sized inputs (random activations).

    python benchmarks/methods.py [--images 800] [--units 512] [--concepts 2000]

Network Dissection: `--images` probing images of the synthetic set (64x64 masks,
15 concepts), `--units` units with 8x8 maps. soft-WPMI: the same images and units
against `--concepts` concepts (CLIP-Dissect's own set has 20k; its cost grows
linearly with it). Both are vectorised over units, so the time per unit should
fall, not rise, as the layer widens.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explain.methods.clip_dissect import soft_wpmi  # noqa: E402
from explain.methods.netdissect import dissect_layer  # noqa: E402
from demo.synthetic import CONCEPT_CATEGORIES, CONCEPT_NAMES, generate_image  # noqa: E402


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--concepts", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    index = {name: i for i, name in enumerate(CONCEPT_NAMES)}
    masks = [{index[k]: v for k, v in generate_image(0, i).masks.items()} for i in range(args.images)]
    print(f"inputs ready, peak RSS {peak_rss_mib():.0f} MiB")

    for units in (args.units // 8, args.units):
        # heavy-tailed, image-selective maps, like ReLU units
        maps = (rng.standard_normal((args.images, units, 8, 8), dtype=np.float32) ** 2) * (
            rng.random((args.images, units, 1, 1), dtype=np.float32) ** 4
        )
        start = time.perf_counter()
        dissect_layer(maps, masks.__getitem__, args.images, CONCEPT_CATEGORIES)
        seconds = time.perf_counter() - start
        print(f"netdissect  {args.images} images x {units:5d} units: {seconds:7.2f} s ({1000 * seconds / units:.1f} ms/unit), peak RSS {peak_rss_mib():.0f} MiB")

    concepts = rng.random((args.images, args.concepts))
    for units in (args.units // 8, args.units):
        activations = rng.random((args.images, units))
        start = time.perf_counter()
        soft_wpmi(concepts, activations)
        seconds = time.perf_counter() - start
        print(f"soft-wpmi   {args.images} images x {units:5d} units x {args.concepts} concepts: {seconds:7.2f} s ({1000 * seconds / units:.1f} ms/unit), peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
