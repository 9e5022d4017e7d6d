from django.core.management.base import BaseCommand, CommandError

from analysis.dnd_wide import read_dnd_wide
from analysis.ratings_io import RatingsImportError, import_ratings_frame, read_ratings_csv


class Command(BaseCommand):
    help = ("Import ratings from a tidy CSV (or the DnD paper's wide CSV with --format dnd-wide) into a study; "
            "all or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--study", required=True)
        parser.add_argument("--create", action="store_true",
                            help="Create the study and any network, layers, neurons and methods the file names.")
        parser.add_argument("--format", choices=["tidy", "dnd-wide"], default="tidy")
        parser.add_argument("--network", default="resnet50", help="Network name for --format dnd-wide.")

    def handle(self, *args, **options):
        path = options["path"]
        try:
            if options["format"] == "dnd-wide":
                raw = read_dnd_wide(path, network=options["network"])
            else:
                raw = read_ratings_csv(path)
            result = import_ratings_frame(raw, options["study"], create=options["create"], source=path)
        except RatingsImportError as error:
            raise CommandError(f"Nothing imported.\n{error}")
        created = ", ".join(f"{count} {kind}" for kind, count in result.created.items() if count)
        self.stdout.write(
            f"Imported {result.responses} responses ({result.ratings} ratings) into study {result.study.name}"
            + (f"; created {created}" if created else "")
        )
        if result.validity_from_file_differs:
            self.stdout.write(
                f"Note: {result.validity_from_file_differs} responses carry an is_valid from the file that differs "
                "from the validity rule; the file's value was kept."
            )
