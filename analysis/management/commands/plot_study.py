from django.core.management.base import BaseCommand, CommandError

from analysis.plots import save_figures, study_figures
from analysis.services import comparison_for_frame

from ._options import add_bootstrap_arguments, add_selection_arguments, check_resamples, frame_from, selection_from


class Command(BaseCommand):
    help = "Write PNG and SVG figures: mean rating with CI and best rates with CI (overall and per layer), rating distributions."

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        add_bootstrap_arguments(parser)
        parser.add_argument("--out", required=True, help="Folder for the images.")

    def handle(self, *args, **options):
        check_resamples(options)
        frame = frame_from(options)
        selection = selection_from(options)
        try:
            table = comparison_for_frame(frame, selection, by_layer=True, n_resamples=options["bootstrap"], seed=options["seed"])
        except ValueError as error:
            raise CommandError(str(error))
        _, used = selection.apply(frame)
        if used.empty:
            raise CommandError("no responses to plot with these options")
        try:
            written = save_figures(study_figures(table, used), options["out"])
        except OSError as error:
            raise CommandError(f"cannot write to {options['out']}: {error}")
        for path in written:
            self.stdout.write(str(path))
