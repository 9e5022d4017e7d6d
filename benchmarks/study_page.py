"""The study page at 10,000 responses x 4 methods against the login page, side by side.

    python benchmarks/study_page.py [--responses 10000] [--views 30] [--workdir DIR]

Builds the study through the real import path (analysis.ratings_io.import_ratings) in a fresh
SQLite file, computes its report once (what every view used to do), then requests the login
page and the study page alternately through Django's full request handler (middleware,
sessions, templates, database) as a logged-in researcher. Target: median study page time at
most 10x the login page's. Prints both medians and the machine's load average.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["netdissect", "milan", "clip-dissect", "dnd"]
METHOD_MEANS = [3.1, 3.2, 3.7, 4.1]
LAYERS = ["layer1", "layer2", "layer3", "layer4"]
RATERS = 300


def write_ratings(path: Path, responses: int, seed: int = 0) -> None:
    """A tidy ratings file: 4 layers, 3 raters a neuron, a quarter of best picks careless (invalid)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    response = np.arange(responses)
    per_layer = responses // len(LAYERS)
    layer = np.minimum(response // per_layer, len(LAYERS) - 1)
    within = response - layer * per_layer
    unit = within // 3
    rater = (unit * 3 + within % 3 + layer * 7) % RATERS
    raw = np.array(METHOD_MEANS)[None, :] + rng.normal(0, 1.0, size=(responses, len(METHODS)))
    ratings = np.clip(np.rint(raw), 1, 5).astype(int)
    top = ratings == ratings.max(axis=1, keepdims=True)
    best = np.argmax(top * rng.random(top.shape), axis=1)
    careless = rng.random(responses) < 0.25
    best[careless] = rng.integers(0, len(METHODS), careless.sum())
    n = len(METHODS)
    stamps = pd.Timestamp.now(tz="UTC").floor("s") - pd.to_timedelta((responses - response) * 5, unit="s")
    pd.DataFrame({
        "response_id": np.repeat(response, n).astype(str),
        "rater": np.char.add("worker-", np.repeat(rater, n).astype(str)),
        "network": "resnet50", "layer": np.array(LAYERS)[np.repeat(layer, n)], "unit": np.repeat(unit, n),
        "method": np.tile(METHODS, responses), "rating": ratings.ravel(),
        "best": np.where(np.tile(np.arange(n), responses) == np.repeat(best, n), "true", "false"),
        "uninterpretable": "false", "none_fit": "false",
        "position": np.argsort(rng.random((responses, n)), axis=1).ravel(),
        "submitted_at": np.repeat(stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00"), n), "source": "mturk",
    }).to_csv(path, index=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=30, help="Requests of each page (alternating).")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="study-page-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["NEURONEVAL_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from analysis.ratings_io import import_ratings
    from analysis.report_cache import compute_report
    from evaluation.models import Study

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    print(f"work folder: {workdir}")
    started = time.perf_counter()
    write_ratings(workdir / "ratings.csv", args.responses)
    result = import_ratings(workdir / "ratings.csv", "benchmark", create=True)
    print(f"built study: {result.responses:,} responses, {result.ratings:,} ratings, {len(METHODS)} methods "
          f"in {time.perf_counter() - started:.1f} s")

    user = get_user_model().objects.create_user("bench", password="bench-password")
    study = Study.objects.get(name="benchmark")
    study.owner = user
    study.save()

    started = time.perf_counter()
    report = compute_report(study)
    print(f"one report computation (tables, pairwise, agreement, 3 plots x 2 formats, {settings.ANALYSIS_REPORT_RESAMPLES if hasattr(settings, 'ANALYSIS_REPORT_RESAMPLES') else 2000} resamples): "
          f"{time.perf_counter() - started:.2f} s (before this issue every view and every download paid it)")

    researcher = Client()
    researcher.force_login(user)
    anonymous = Client()
    study_url, login_url = f"/studies/{study.name}/", "/accounts/login/"
    for url, client in ((study_url, researcher), (login_url, anonymous)):  # warm caches, templates, connections
        assert client.get(url).status_code == 200, url
    report.refresh_from_db()
    computed_at = report.computed_at

    times = {"login": [], "study": []}
    for _ in range(args.views):
        for name, url, client in (("login", login_url, anonymous), ("study", study_url, researcher)):
            start = time.perf_counter()
            response = client.get(url)
            times[name].append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
    report.refresh_from_db()
    assert report.computed_at == computed_at, "the report was recomputed although nothing changed"
    body = researcher.get(study_url).content.decode()
    assert "Report computed" in body and "comparison-table" in body

    login, page = statistics.median(times["login"]), statistics.median(times["study"])
    print(f"login page  median {1000 * login:7.1f} ms  (min {1000 * min(times['login']):.1f}, max {1000 * max(times['login']):.1f}; {args.views} views)")
    print(f"study page  median {1000 * page:7.1f} ms  (min {1000 * min(times['study']):.1f}, max {1000 * max(times['study']):.1f}; {args.views} views, {len(body) // 1024} KiB)")
    print(f"ratio study / login: {page / login:.1f}x  (target <= 10x: {'met' if page <= 10 * login else 'NOT met'})")
    print(f"load average: {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
