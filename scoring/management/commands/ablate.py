from django.core.management.base import BaseCommand, CommandError

from scoring.ablation_jobs import AblationError, ablate_units


class Command(BaseCommand):
    help = "Zero each unit of a layer in turn; store the accuracy drop per class and the classes it hurts most."

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument("--layer", required=True)
        parser.add_argument("--units", nargs="*", type=int, default=[], help="Units to ablate (default: all).")
        parser.add_argument("--probe", default="synthetic", help="Labelled probing dataset.")
        parser.add_argument("--most-hurt", type=int, default=5)

    def handle(self, *args, **options):
        try:
            results = ablate_units(options["network"], options["layer"], options["units"], options["probe"],
                                   most_hurt=options["most_hurt"], show_progress=options["verbosity"] > 0)
        except (AblationError, KeyError, LookupError) as error:
            raise CommandError(str(error)) from error
        for result in results:
            hurt = ", ".join(f"{name} {drop:+.3f}" for name, drop in result.most_hurt_classes)
            self.stdout.write(
                f"unit {result.neuron.unit}\taccuracy {result.baseline_accuracy:.4f} -> {result.ablated_accuracy:.4f}\tmost hurt: {hurt}"
            )
