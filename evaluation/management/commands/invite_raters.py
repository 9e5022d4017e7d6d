from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Study
from evaluation.services import StudyError, invite_raters, rater_link
from explain.lookups import named


class Command(BaseCommand):
    help = "Create personal rater links for a study and print them, one a line."

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True)
        parser.add_argument("--count", type=int, default=1)

    def handle(self, *args, **options):
        study = named(Study, options["study"], what="study", error=CommandError)
        try:
            raters = invite_raters(study, options["count"])
        except StudyError as error:
            raise CommandError(str(error)) from None
        for rater in raters:
            self.stdout.write(rater_link(rater))
