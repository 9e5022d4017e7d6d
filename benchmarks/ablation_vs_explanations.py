"""Do the demo CNN's units hurt the concepts their explanations name? (issue 7, ablation check)

Builds the offline demo (synthetic probing set, demo CNN) if needed, makes sure the layer has
explanations by METHOD (running the explain job when it has none), ablates every unit of the layer,
and for each unit whose first-rank explanation names one of the network's output concepts, checks
whether that concept is among the outputs the unit's ablation hurts most. The same check with the
explanations shuffled across units is the chance level.

    python benchmarks/ablation_vs_explanations.py [--layer conv4] [--method netdissect] [--top 3]
"""
import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402


def named_concepts(text: str, concepts: list[str]) -> list[str]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    return [c for c in concepts if c in words]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", default="demo-cnn")
    parser.add_argument("--probe", default="synthetic")
    parser.add_argument("--layer", default="conv4")
    parser.add_argument("--method", default="netdissect")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--shuffles", type=int, default=200)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    from explain.jobs import run_explain_job
    from explain.models import Explanation
    from scoring.ablation_jobs import ablate_units

    started = time.perf_counter()
    if not Explanation.objects.filter(neuron__layer__network__name=args.network, neuron__layer__name=args.layer, method__name=args.method).exists():
        run_explain_job(args.network, args.probe, [args.layer], [args.method], show_progress=True)
    print(f"explanations ready in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    results = ablate_units(args.network, args.layer, None, args.probe, most_hurt=15, show_progress=True)
    print(f"ablated {len(results)} units in {time.perf_counter() - started:.0f} s")

    concepts = list(results[0].neuron.layer.network.class_names)
    labels = dict(Explanation.objects.filter(neuron__layer=results[0].neuron.layer, method__name=args.method, rank=1)
                  .values_list("neuron__unit", "text"))
    drops = {r.neuron.unit: {name: v["drop"] for name, v in r.per_class.items()} for r in results}
    ranked = {r.neuron.unit: [name for name, _ in r.most_hurt_classes] for r in results}
    overall = {r.neuron.unit: r.baseline_accuracy - r.ablated_accuracy for r in results}

    def hit_rate(assignment):
        hits, total, named_drop, other_drop = 0, 0, [], []
        for unit, text in assignment.items():
            names = named_concepts(text, concepts)
            if not names or unit not in ranked:
                continue
            total += 1
            hits += any(name in ranked[unit][: args.top] for name in names)
            named_drop += [drops[unit][n] for n in names]
            other_drop += [d for n, d in drops[unit].items() if n not in names]
        return hits, total, np.mean(named_drop) if named_drop else float("nan"), np.mean(other_drop) if other_drop else float("nan")

    hits, total, named_drop, other_drop = hit_rate(labels)
    print(f"units with a {args.method} label naming an output concept: {total} of {len(results)}")
    print(f"named concept among the {args.top} outputs hurt most: {hits}/{total} = {hits / max(total, 1):.3f}")
    print(f"mean accuracy drop on the named concept: {named_drop:+.4f}; on the other concepts: {other_drop:+.4f}")
    rng = np.random.default_rng(0)
    units, texts = list(labels), list(labels.values())
    shuffled = [hit_rate(dict(zip(units, rng.permutation(texts)))) for _ in range(args.shuffles)]
    rates = [h / t for h, t, _, _ in shuffled if t]
    print(f"chance (labels shuffled across units, {args.shuffles} times): {np.mean(rates):.3f} "
          f"(95% of shuffles <= {np.quantile(rates, 0.95):.3f})")
    print(f"mean overall accuracy drop of one unit: {np.mean(list(overall.values())):+.4f} "
          f"(max {max(overall.values()):+.4f})")


if __name__ == "__main__":
    main()
