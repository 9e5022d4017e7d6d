import json

from django.core.management.base import BaseCommand, CommandError

from analysis.services import agreement_for_study
from analysis.tables import FORMATS, render_frame

from ._options import add_selection_arguments, frame_from, selection_from, study_from


class Command(BaseCommand):
    help = ("Krippendorff's alpha (ordinal) per method and overall, share of neurons whose raters picked the same "
            "best, per-rater summary (to spot careless raters for --exclude-raters), ratings by shown position, and "
            "every rater's quality signals with the exclusion policy's verdict (docs/analysis.md).")

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        parser.add_argument("--format", choices=FORMATS, default="md")

    def handle(self, *args, **options):
        study = study_from(options)
        frame = frame_from(options, study)
        try:
            sections = agreement_for_study(study, frame, selection_from(options), options["include_unverified"])
        except ValueError as error:  # unknown methods, or nothing left to analyse
            raise CommandError(str(error))
        fmt = options["format"]
        if fmt == "json":
            self.stdout.write(json.dumps({title: json.loads(render_frame(table, "json")) for title, table in sections.items()},
                                         indent=2))
            return
        for title, table in sections.items():
            heading = {"md": f"## {title}\n\n", "latex": f"% {title}\n", "html": f"<h3>{title}</h3>\n",
                       "csv": f"# {title}\n"}[fmt]
            self.stdout.write(heading + render_frame(table, fmt))
