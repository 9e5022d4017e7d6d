import json

from django.core.management.base import BaseCommand, CommandError

from analysis.frames import ratings_frame
from analysis.services import agreement_for_frame
from analysis.tables import FORMATS, render_frame

from ._options import add_selection_arguments, selection_from, study_from


class Command(BaseCommand):
    help = ("Krippendorff's alpha (ordinal) per method and overall, share of neurons whose raters picked the same "
            "best, per-rater summary (to spot careless raters for --exclude-raters), and ratings by shown position.")

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        parser.add_argument("--format", choices=FORMATS, default="md")

    def handle(self, *args, **options):
        frame = ratings_frame(study_from(options), include_unverified=options["include_unverified"])
        try:
            sections = agreement_for_frame(frame, selection_from(options))
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
