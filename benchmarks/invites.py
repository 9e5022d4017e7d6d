"""Inviting raters in bulk: invite_raters (one transaction, batched inserts) beside the old way
(one INSERT and commit per rater), on a fresh SQLite database (or DATABASE_URL).

    python benchmarks/invites.py --count 20000
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    options = parser.parse_args()
    os.environ.setdefault("NEURONEVAL_VAR_DIR", tempfile.mkdtemp(prefix="invite-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from evaluation.models import Rater, Study
    from evaluation.raters import invite_raters, new_rater_token
    from explain.models import Network

    call_command("migrate", verbosity=0)
    network, _ = Network.objects.get_or_create(name="invite-bench", defaults={"architecture": "demo-cnn"})
    baseline_study, _ = Study.objects.get_or_create(name="invite-bench-baseline", network=network)
    bulk_study, _ = Study.objects.get_or_create(name="invite-bench-bulk", network=network)

    def row_by_row():  # the implementation before issue 11
        for i in range(options.count):
            Rater.objects.create(study=baseline_study, token=new_rater_token(), kind=Rater.Kind.INVITED,
                                 label=f"invited {i + 1}")

    figures = {}
    for name, run in (("row by row (before)", row_by_row), ("invite_raters (after)", lambda: invite_raters(bulk_study, options.count))):
        started = time.perf_counter()
        run()
        figures[name] = time.perf_counter() - started
    assert Rater.objects.filter(study=bulk_study).count() == options.count
    print(f"{options.count} invites, database {django.db.connection.vendor}, load average {os.getloadavg()}")
    for name, seconds in figures.items():
        print(f"  {name:24s} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
