"""Figures for docs/faithfulness.md: metric_agreement on the demo study, with SIMULATED raters.

No person rated these. Each simulated rater looks at what the rating page shows (the neuron's frozen top
images) and rates a description by the share of those images that, by the probing set's labels, show every
concept it names: rating = round(1 + 4 x share + noise), noise ~ N(0, 0.75), clipped to 1..5; its best pick is
one of its highest-rated descriptions. That is a caricature of a careful rater who judges "most of the
above images", so metrics that look at the top images (recall) are favoured by construction: the figures
show the pipeline working end to end, not which metric agrees with people.

Run after the demo is built (the ratings are written as a tidy CSV with rater ids `simulated-*` and
imported through import_ratings, into the demo study, which must have no responses yet):

    python manage.py demo --no-serve
    python manage.py score_explanations --network demo-cnn --layer conv3.conv --probe synthetic --metric faithfulness
    python manage.py score_explanations --network demo-cnn --layer conv4.conv --probe synthetic --metric faithfulness
    python benchmarks/metric_agreement_demo.py [--raters 3] [--seed 0]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def simulated_rows(study, raters: int, seed: int, noise: float = 0.75) -> list[dict]:
    import numpy as np

    from evaluation.models import StudyImage, StudyItem
    from explain.probes import get_probe_set
    from scoring.concept_vectors import named_concepts

    rng = np.random.default_rng(seed)
    first_image = StudyImage.objects.filter(study_neuron__study=study).select_related("image__dataset").first()
    if first_image is None:
        sys.exit(f"study {study.name} froze no top images to rate")
    names = get_probe_set(first_image.image.dataset).concept_names
    rows = []
    for study_neuron in study.study_neurons.select_related("neuron__layer").order_by("order"):
        images = list(StudyImage.objects.filter(study_neuron=study_neuron).select_related("image").order_by("position"))
        items = list(StudyItem.objects.filter(study_neuron=study_neuron).select_related("method").order_by("pk"))
        for rater in range(raters):
            ratings = []
            for item in items:
                wanted = [names[i] for i in named_concepts(item.text, names)]
                share = np.mean([all(name in image.image.concepts for name in wanted) for image in images]) if wanted and images else 0.0
                ratings.append(int(np.clip(np.rint(1 + 4 * share + rng.normal(0, noise)), 1, 5)))
            top = [i for i, r in enumerate(ratings) if r == max(ratings)]
            best = items[int(rng.choice(top))]
            order = rng.permutation(len(items))
            for position, index in enumerate(order):
                item = items[index]
                rows.append({
                    "response_id": f"sim-{study_neuron.pk}-{rater}", "rater": f"simulated-{rater}",
                    "network": study.network.name, "layer": study_neuron.neuron.layer.name, "unit": study_neuron.neuron.unit,
                    "method": item.method.name, "rating": ratings[index], "best": item.pk == best.pk,
                    "uninterpretable": False, "none_fit": False, "position": position, "source": "imported",
                })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="demo")
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    from evaluation.models import Response, Study

    study = Study.objects.get(name=args.study)
    if Response.objects.filter(study=study).exists():
        sys.exit(f"study {study.name} already has responses; this script only fills an unrated demo study")
    started = time.perf_counter()
    rows = simulated_rows(study, args.raters, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "simulated-ratings.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        call_command("import_ratings", str(path), "--study", study.name, verbosity=0)
    print(f"imported {len(rows)} simulated ratings ({len(rows) // 3} responses) in {time.perf_counter() - started:.1f} s; "
          f"load average {os.getloadavg()}")
    call_command("metric_agreement", "--study", study.name, "--bootstrap", str(args.bootstrap), "--seed", str(args.seed))


if __name__ == "__main__":
    main()
