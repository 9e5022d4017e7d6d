"""python manage.py import_probes PATH --name NAME --format {folder,broden} [--limit N]"""
from django.core.management.base import BaseCommand, CommandError

from explain.probes import ProbeImportError, import_broden_folder, import_image_folder


class Command(BaseCommand):
    help = "Store a probing dataset: an image folder (class subfolders optional) or a Broden-layout folder with masks."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", required=True)
        parser.add_argument("--format", choices=["folder", "broden"], default="folder")
        parser.add_argument("--limit", type=int, default=None, help="Broden: only the first N images of index.csv.")

    def handle(self, *args, **options):
        try:
            if options["format"] == "broden":
                dataset = import_broden_folder(options["path"], options["name"], limit=options["limit"])
            else:
                dataset = import_image_folder(options["path"], options["name"])
        except ProbeImportError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(f"stored probing set {dataset.name}: {dataset.images.count()} images, {len(dataset.concepts)} concepts")
        )
