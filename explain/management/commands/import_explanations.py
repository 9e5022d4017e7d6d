"""python manage.py import_explanations PATH --network NAME --method NAME --format FMT [--layer NAME]"""
from django.core.management.base import BaseCommand, CommandError

from explain.importers import FORMATS, LAYER_WIDTHS, import_explanations


class Command(BaseCommand):
    help = "Import published neuron explanations (CLIP-Dissect, MILAN, NetDissect-Lite, DnD or plain CSV files)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--network", required=True, help="Network name; created (without weights) if new.")
        parser.add_argument("--method", required=True, help="Method name the explanations are stored under.")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--layer", help="Layer the file describes (netdissect, dnd), or the one layer to take from a multi-layer file.")
        parser.add_argument(
            "--architecture",
            choices=sorted(LAYER_WIDTHS),
            help="Architecture of a new network, when its name does not say it (e.g. resnet50).",
        )

    def handle(self, path, network, method, fmt, layer=None, architecture=None, **options):
        try:
            result = import_explanations(path, network, method, fmt, layer=layer, architecture=architecture)
        except ValueError as error:  # ImportFileError included: file, row and reason
            raise CommandError(str(error)) from None
        layers = ", ".join(f"{name} {count}" for name, count in result.per_layer.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.count} explanations of {result.network} by {result.method} from "
                f"{result.source_file} ({layers}); {result.replaced} earlier ones replaced."
            )
        )
