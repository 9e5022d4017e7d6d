"""python manage.py explain_chunked --network N --probe P --layer L --method M [--units 0-63,100] [--chunk-size 32]

Queues a chunked generation job for the GPU workers (or runs it here when no broker is configured)."""
from django.core.management.base import BaseCommand, CommandError

from explain.distributed import submit_chunked_job
from explain.lookups import comma_list
from explain.management.commands.explain import parse_method_params


def parse_units(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    units = []
    for part in comma_list(text):
        first, dash, last = part.partition("-")
        try:
            units.extend(range(int(first), int(last) + 1) if dash else [int(first)])
        except ValueError:
            raise CommandError(f"--units: {part!r} is not a unit number or a range like 0-63") from None
    return units


class Command(BaseCommand):
    help = "Explain one layer's units with one method, split into chunks that GPU workers share."

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument("--probe", default="")
        parser.add_argument("--layer", required=True)
        parser.add_argument("--method", required=True)
        parser.add_argument("--units", default="", help="e.g. 0-63,100 (default: every unit of the layer)")
        parser.add_argument("--chunk-size", type=int, default=32)
        parser.add_argument("--top-k", type=int, default=10)
        parser.add_argument("--summary", default="mean", choices=["mean", "max"])
        parser.add_argument("--param", action="append", default=[], help="METHOD.NAME=VALUE, e.g. dnd.beta=5")

    def handle(self, *args, **options):
        by_method = parse_method_params(options["param"])
        others = sorted(set(by_method) - {options["method"]})
        if others:
            raise CommandError(f"--param for {', '.join(others)}, but this job runs only {options['method']}")
        params = by_method.get(options["method"], {})
        try:
            job = submit_chunked_job(
                network=options["network"], probe=options["probe"], layer=options["layer"], method=options["method"],
                units=parse_units(options["units"]) or None, chunk_size=options["chunk_size"],
                summary=options["summary"], top_k=options["top_k"], params=params,
            )
        except (KeyError, ValueError) as error:
            raise CommandError(str(error).strip("'\"")) from None
        job.refresh_from_db()
        self.stdout.write(f"job {job.pk}: {job.status} {job.progress_done}/{job.progress_total} {job.progress_message}")
        if job.error:
            raise CommandError(f"job {job.pk} failed: {job.error}")
