from django.core.management.base import BaseCommand, CommandError

from foundation.errors import FoundationUnavailable
from scoring import jobs


class Command(BaseCommand):
    help = "Score the explanations of a layer with an automatic metric, store the scores, print the mean per method."

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument("--layer", required=True)
        parser.add_argument("--metric", required=True, choices=[*jobs.EMBEDDING_METRICS, "simulation"])
        parser.add_argument("--method", action="append", default=[], help="Only this method (repeatable).")
        parser.add_argument("--references", help="One reference text a unit, by line (e.g. concepts/imagenet_labels.txt).")
        parser.add_argument("--probe", help="Probing dataset whose captions and activations the simulation uses.")
        parser.add_argument("--kind", default="caption", choices=["caption", "class"],
                            help="Simulate activations on captions (needs --probe) or weights to the output classes.")
        parser.add_argument("--few-shot-method", default="", help="Simulation examples from this method when none are hand-labelled.")
        parser.add_argument("--bertscore-model", default="roberta-large")
        parser.add_argument("--bertscore-layers", type=int, default=None)

    def handle(self, *args, **options):
        try:
            if options["metric"] == "simulation":
                if options["kind"] == "caption" and not options["probe"]:
                    raise CommandError("--metric simulation needs --probe (the probing set of the captions and activations)")
                means = jobs.score_by_simulation(options["network"], options["layer"], options["probe"], kind=options["kind"],
                                                 methods=options["method"], few_shot_method=options["few_shot_method"])
            else:
                extra = {}
                if options["metric"] == "bertscore":
                    extra = {"bertscore_model": options["bertscore_model"], "bertscore_layers": options["bertscore_layers"]}
                means = jobs.score_with_references(options["network"], options["layer"], options["metric"], methods=options["method"],
                                                   references_file=options["references"], **extra)
        except (jobs.ScoringError, FoundationUnavailable) as error:
            raise CommandError(str(error)) from error
        for method, mean in means.items():
            self.stdout.write(f"{method}\t{options['metric']}\t{mean:.4f}")
