from django.core.management.base import BaseCommand, CommandError

from analysis.services import pairwise_for_frame
from analysis.tables import FORMATS, render_frame

from ._options import add_bootstrap_arguments, add_selection_arguments, check_resamples, frame_from, selection_from


class Command(BaseCommand):
    help = ("Every pair of methods on the same responses: mean difference with paired neuron-bootstrap CI, "
            "Wilcoxon signed-rank p (Holm-adjusted), best-rate difference with bootstrap CI.")

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        add_bootstrap_arguments(parser)
        parser.add_argument("--by", choices=["layer"])
        parser.add_argument("--format", choices=FORMATS, default="md")

    def handle(self, *args, **options):
        check_resamples(options)
        frame = frame_from(options)
        try:
            table = pairwise_for_frame(frame, selection_from(options), by_layer=options["by"] == "layer",
                                       n_resamples=options["bootstrap"], seed=options["seed"])
        except ValueError as error:  # unknown methods, or nothing left to compare
            raise CommandError(str(error))
        if options["format"] != "json":
            table["layer"] = table["layer"].map(lambda layer: "all layers" if layer is None else layer)
        self.stdout.write(render_frame(table, options["format"]), ending="")
