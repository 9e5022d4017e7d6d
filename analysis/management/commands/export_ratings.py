from django.core.management.base import BaseCommand, CommandError

from analysis.ratings_io import export_ratings

from ._options import study_from


class Command(BaseCommand):
    help = "Write a study's responses (valid and invalid) as a tidy ratings CSV, one row per response x description."

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True)
        parser.add_argument("path")

    def handle(self, *args, **options):
        study = study_from(options)
        try:
            rows = export_ratings(study, options["path"])
        except OSError as error:
            raise CommandError(f"cannot write {options['path']}: {error}")
        self.stdout.write(f"Wrote {rows} rows of study {study.name} to {options['path']}")
