from django.core.management.base import BaseCommand, CommandError

from analysis.frames import metric_scores_frame, ratings_frame
from analysis.services import comparison_for_frame
from analysis.tables import FORMATS, render_comparison

from ._options import add_bootstrap_arguments, add_selection_arguments, check_resamples, selection_from, study_from


class Command(BaseCommand):
    help = "Per-method mean rating (t and neuron-bootstrap CIs) and best-selection rate (Wilson CI), overall and per layer."

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        add_bootstrap_arguments(parser)
        parser.add_argument("--by", choices=["layer"], help="Also one block per layer.")
        parser.add_argument("--format", choices=FORMATS, default="md")
        parser.add_argument("--mixed-model", action="store_true",
                            help="Add means from rating ~ method with random intercepts for neuron and rater.")

    def handle(self, *args, **options):
        check_resamples(options)
        study = study_from(options)
        frame = ratings_frame(study, include_unverified=options["include_unverified"])
        try:
            table = comparison_for_frame(
                frame, selection_from(options), by_layer=options["by"] == "layer", n_resamples=options["bootstrap"],
                seed=options["seed"], mixed_model=options["mixed_model"], metric_scores=metric_scores_frame(study),
            )
        except ValueError as error:
            raise CommandError(str(error))
        if table.empty:
            raise CommandError(f"study {study.name!r} has no responses to analyse with these options")
        self.stdout.write(render_comparison(table, options["format"]), ending="")
