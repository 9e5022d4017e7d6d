from django.core.management.base import BaseCommand, CommandError

from analysis.frames import metric_scores_frame
from analysis.services import comparison_for_frame, sensitivity_for_frame
from analysis.tables import FORMATS, render_comparison, render_frame

from ._options import add_bootstrap_arguments, add_selection_arguments, check_resamples, frame_from, selection_from, study_from


SENSITIVITY_HEADINGS = {
    "md": "\n## Sensitivity: all raters vs the raters the exclusion policy keeps\n\n",
    "latex": "\n% Sensitivity: all raters vs the raters the exclusion policy keeps\n",
    "html": "\n<h3>Sensitivity: all raters vs the raters the exclusion policy keeps</h3>\n",
}


class Command(BaseCommand):
    help = "Per-method mean rating (t and neuron-bootstrap CIs) and best-selection rate (Wilson CI), overall and per layer."

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        add_bootstrap_arguments(parser)
        parser.add_argument("--by", choices=["layer"], help="Also one block per layer.")
        parser.add_argument("--format", choices=FORMATS, default="md")
        parser.add_argument("--mixed-model", action="store_true",
                            help="Add means from rating ~ method with random intercepts for neuron and rater.")
        parser.add_argument("--sensitivity", action="store_true",
                            help="Print only the sensitivity table: every rater vs the raters the exclusion policy keeps "
                                 "(md, latex and html print it after the comparison table anyway).")

    def handle(self, *args, **options):
        check_resamples(options)
        study = study_from(options)
        frame = frame_from(options, study)
        try:
            table = comparison_for_frame(
                frame, selection_from(options), by_layer=options["by"] == "layer", n_resamples=options["bootstrap"],
                seed=options["seed"], mixed_model=options["mixed_model"], metric_scores=metric_scores_frame(study),
            )
        except ValueError as error:
            raise CommandError(str(error))
        if table.empty:
            raise CommandError(f"study {study.name!r} has no responses to analyse with these options")
        fmt = options["format"]
        sensitivity = sensitivity_for_frame(frame, selection_from(options))
        if options["sensitivity"]:
            if not table.attrs.get("policy"):
                raise CommandError(f"study {study.name!r} has no exclusion policy in force (set one, or give --policy)")
            self.stdout.write(render_frame(sensitivity, fmt), ending="")
            return
        self.stdout.write(render_comparison(table, fmt), ending="")
        if table.attrs.get("policy") and fmt in SENSITIVITY_HEADINGS:
            self.stdout.write(SENSITIVITY_HEADINGS[fmt] + render_frame(sensitivity, fmt), ending="")
