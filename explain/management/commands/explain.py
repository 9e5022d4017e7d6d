"""python manage.py explain --network NAME --probe NAME --layers A,B --methods X,Y [--top-k 10]"""
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from explain.activations import ActivationError
from explain.jobs import JobError, create_job, run_explain_job
from explain.lookups import comma_list
from explain.networks import NetworkError
from explain.probes import ProbeImportError
from explain.services import InvalidExplanations


def parse_method_params(items):
    """['shuffled-control.seed=3', ...] -> {'shuffled-control': {'seed': 3}}; values are JSON when they parse."""
    params = {}
    for item in items:
        key, separator, raw = item.partition("=")
        method, dot, name = key.partition(".")
        if not separator or not dot or not method or not name:
            raise CommandError(f"--param {item!r}: expected METHOD.NAME=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault(method, {})[name] = value
    return params


class Command(BaseCommand):
    help = (
        "Record the given layers of a network over a probing set in one pass, keep every unit's top images, "
        "and run explanation methods on them. demo-cnn and synthetic are built on first use."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument("--probe", required=True)
        parser.add_argument("--layers", required=True, type=comma_list, help="Module names, comma separated.")
        parser.add_argument("--methods", required=True, type=comma_list, help="Method names, comma separated.")
        parser.add_argument("--top-k", type=int, default=10)
        parser.add_argument("--summary", choices=["mean", "max"], default="mean")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument(
            "--no-maps",
            action="store_true",
            help="Do not keep every image's full activation maps on disk (huge for early layers); methods that need them "
            "(netdissect) then fail with a clear error. Top images' maps are always kept.",
        )
        parser.add_argument("--param", action="append", default=[], help="METHOD.NAME=VALUE, repeatable.")
        parser.add_argument(
            "--queue", action="store_true", help="Send the job to a Celery worker (needs CELERY_BROKER_URL) instead of running it here."
        )

    def handle(self, *args, **options):
        params = parse_method_params(options["param"])
        if options["top_k"] < 1:
            raise CommandError("--top-k must be at least 1")
        if options["queue"]:
            if not settings.CELERY_BROKER_URL:
                raise CommandError("--queue needs CELERY_BROKER_URL; without a broker the job runs here (leave out --queue)")
            from explain.tasks import run_explain_task

            job = create_job(
                options["network"], options["probe"], options["layers"], options["methods"], options["top_k"], options["summary"],
                method_params=params, store_maps=not options["no_maps"],
            )
            result = run_explain_task.delay(job.pk)
            job.celery_task_id = result.id or ""
            job.save(update_fields=["celery_task_id"])
            self.stdout.write(f"queued job {job.pk} (task {job.celery_task_id})")
            return
        try:
            job = run_explain_job(
                network=options["network"],
                probe=options["probe"],
                layers=options["layers"],
                methods=options["methods"],
                top_k=options["top_k"],
                summary=options["summary"],
                batch_size=options["batch_size"],
                store_maps=not options["no_maps"],
                method_params_by_name=params,
                show_progress=options["verbosity"] > 0,
            )
        except (JobError, InvalidExplanations, NetworkError, ActivationError, ProbeImportError, LookupError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"job {job.pk} succeeded: {units_handled_summary(job)}"))


def units_handled_summary(job) -> str:
    """Per method: explanations stored and units handled; a unit a method left unlabelled is counted, not hidden."""
    from explain.models import Layer

    layers = Layer.objects.filter(network__name=job.params["network"], name__in=job.params["layers"])
    units = sum(layer.unit_count for layer in layers)
    parts = []
    for method in job.params["methods"]:
        stored = job.explanations.filter(method__name=method)
        labelled = stored.values("neuron").distinct().count()
        part = f"{method}: {stored.count()} explanations of {units} units"
        if labelled < units:
            part += f" ({units - labelled} left unlabelled)"
        parts.append(part)
    return ", ".join(parts)
