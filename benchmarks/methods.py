"""soft-WPMI and WPMI: the project's functions against a plain per-unit float32 loop of the same formula.

    python benchmarks/methods.py [--images 10000] [--units 512] [--concepts 2000 20000] [--repeats 2] [--threads N]
    python benchmarks/methods.py --netdissect [--images 800] [--units 512]

Each measurement runs in a fresh process (`--worker`), project and plain loop alternating, on the same
seeded float32 inputs (P uniform in [0, 1), activations uniform); input generation is not timed. A worker
prints seconds (wall, and CPU seconds of the process: user + system, which a loaded machine inflates
less), the peak memory it added on top of its inputs, minor page faults and the labels' hash;
the parent checks that project and loop give identical labels and prints the ratio of median seconds
(project / loop), with the load average (the machine is shared). With a CUDA device both run on it.

The plain loop is the reference code's structure (CLIP-Dissect `similarity.soft_wpmi` / `wpmi`): softmax
of the whole P, then per unit gather its top-k rows and sum the log terms; written here from the formula.
"""
import argparse
import hashlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explain.methods.clip_dissect import SoftWPMIParams, WPMIParams, soft_wpmi, wpmi  # noqa: E402


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def plain_loop(P, A, top_k, a, lam, min_prob, in_examples, device):
    """Per unit: gather the unit's top-k softmaxed rows, sum log(1 + q_r (x - 1) + min_prob) over ranks."""
    soft = torch.softmax(a * P.to(device), dim=1)
    indices = torch.topk(A.to(device), k=top_k, dim=0).indices
    q = in_examples.to(device)[:, None]
    rows = []
    for unit in range(A.shape[1]):
        x = soft[indices[:, unit]]
        rows.append(torch.log(1 + q * (x - 1) + min_prob).sum(dim=0))
    log_given = torch.stack(rows)
    log_prior = torch.logsumexp(log_given, dim=0, keepdim=True) - math.log(A.shape[1])
    return (log_given - lam * log_prior).cpu().numpy()


def plain_wpmi_loop(P, A, top_k, a, lam, min_prob, device):
    soft = torch.softmax(a * P.to(device), dim=1)
    indices = torch.topk(A.to(device), k=top_k, dim=0).indices
    log_given = torch.stack([torch.log(soft[indices[:, unit]] + min_prob).sum(dim=0) for unit in range(A.shape[1])])
    log_prior = torch.logsumexp(log_given, dim=0, keepdim=True) - math.log(A.shape[1])
    return (log_given - lam * log_prior).cpu().numpy()


def run_worker(args):
    generator = torch.Generator().manual_seed(0)
    P = torch.rand((args.images, args.concepts), generator=generator)
    A = torch.rand((args.images, args.units), generator=generator)
    inputs_mib, faults_before = peak_rss_mib(), minor_faults()
    start, cpu_start = time.perf_counter(), time.process_time()
    if args.worker == "project-soft-wpmi":
        scores = soft_wpmi(P, A, SoftWPMIParams(), device=args.device)
    elif args.worker == "loop-soft-wpmi":
        s = SoftWPMIParams()
        q = s.p_start - torch.arange(s.top_k) / s.top_k * (s.p_start - s.p_end)
        scores = plain_loop(P, A, s.top_k, s.temperature, s.lam, s.min_prob, q, args.device)
    elif args.worker == "project-wpmi":
        scores = wpmi(P, A, WPMIParams(), device=args.device)
    elif args.worker == "loop-wpmi":
        w = WPMIParams()
        scores = plain_wpmi_loop(P, A, w.top_k, w.temperature, w.lam, w.min_prob, args.device)
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    labels = scores.argmax(axis=1).astype(np.int64)
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "extra_mib": peak_rss_mib() - inputs_mib,
        "minor_faults": minor_faults() - faults_before,
        "labels": hashlib.sha256(labels.tobytes()).hexdigest()[:16],
        "load": os.getloadavg()[0],
    }))


def spawn(worker, concepts, args):
    command = [sys.executable, __file__, "--worker", worker, "--images", str(args.images), "--units", str(args.units),
               "--concepts", str(concepts), "--device", args.device, "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args):
    print(f"{args.images} images x {args.units} units, device {args.device}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()}")
    print(f"{'score':10} {'concepts':>8} {'run':>3} {'project s':>9} {'loop s':>8} {'proj cpu':>8} {'loop cpu':>8} "
          f"{'proj +MiB':>9} {'loop +MiB':>9} "
          f"{'proj faults':>11} {'loop faults':>11} {'load':>5}")
    verdicts = []
    for score in ("soft-wpmi", "wpmi"):
        for concepts in args.concepts:
            project, loop = [], []
            for repeat in range(args.repeats):
                # alternate which goes first, so drifting load hits both alike
                order = ("project", "loop") if repeat % 2 == 0 else ("loop", "project")
                runs = {kind: spawn(f"{kind}-{score}", concepts, args) for kind in order}
                project.append(runs["project"])
                loop.append(runs["loop"])
                print(f"{score:10} {concepts:8d} {repeat:3d} {runs['project']['seconds']:9.2f} {runs['loop']['seconds']:8.2f} "
                      f"{runs['project']['cpu_seconds']:8.2f} {runs['loop']['cpu_seconds']:8.2f} "
                      f"{runs['project']['extra_mib']:9.0f} {runs['loop']['extra_mib']:9.0f} "
                      f"{runs['project']['minor_faults']:11d} {runs['loop']['minor_faults']:11d} {runs['loop']['load']:5.2f}")
            ratio = statistics.median(r["seconds"] for r in project) / statistics.median(r["seconds"] for r in loop)
            cpu_ratio = statistics.median(r["cpu_seconds"] for r in project) / statistics.median(r["cpu_seconds"] for r in loop)
            identical = {r["labels"] for r in project} == {r["labels"] for r in loop} and len({r["labels"] for r in project}) == 1
            verdicts.append((score, concepts, ratio, cpu_ratio, identical))
    print(f"load average {os.getloadavg()}")
    for score, concepts, ratio, cpu_ratio, identical in verdicts:
        print(f"{score:10} {args.images}x{args.units}x{concepts}: project/loop time ratio {ratio:.2f} "
              f"({'<= 1.0' if ratio <= 1.0 else '> 1.0'}), CPU time ratio {cpu_ratio:.2f}, labels identical: {identical}")


def netdissect(args):
    from explain.methods.netdissect import dissect_layer
    from demo.synthetic import CONCEPT_CATEGORIES, CONCEPT_NAMES, generate_image

    rng = np.random.default_rng(0)
    index = {name: i for i, name in enumerate(CONCEPT_NAMES)}
    masks = [{index[k]: v for k, v in generate_image(0, i).masks.items()} for i in range(args.images)]
    for units in (args.units // 8, args.units):
        # heavy-tailed, image-selective maps, like ReLU units
        maps = (rng.standard_normal((args.images, units, 8, 8), dtype=np.float32) ** 2) * (
            rng.random((args.images, units, 1, 1), dtype=np.float32) ** 4
        )
        start = time.perf_counter()
        dissect_layer(maps, masks.__getitem__, args.images, CONCEPT_CATEGORIES)
        seconds = time.perf_counter() - start
        print(f"netdissect  {args.images} images x {units:5d} units: {seconds:7.2f} s ({1000 * seconds / units:.1f} ms/unit), "
              f"peak RSS {peak_rss_mib():.0f} MiB, load {os.getloadavg()[0]:.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--concepts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads of every worker")
    parser.add_argument("--netdissect", action="store_true", help="time Network Dissection on the synthetic set instead")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.netdissect:
        args.images = args.images or 800
        return netdissect(args)
    args.images = args.images or 10000
    torch.set_num_threads(args.threads)
    if args.worker:
        args.concepts = args.concepts[0]
        return run_worker(args)
    compare(args)


if __name__ == "__main__":
    main()
