"""python manage.py add_network NAME --architecture ARCH --weights SOURCE [--class-names FILE] [--list-layers]"""
import json

from django.core.management.base import BaseCommand, CommandError

from explain.models import Network
from explain.network_services import add_network, list_layers
from explain.networks import NetworkError


class Command(BaseCommand):
    help = (
        "Register a target network: any torchvision classification model by name (resnet34, vit_b_16, ...) or a timm "
        "model (timm:NAME), with weights from a state-dict file, torchvision:<enum member> or random:<seed>. "
        "--list-layers prints the layers that can be explained (also for an existing network: give only NAME)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--architecture", help="torchvision model name, timm:NAME, or demo-cnn")
        parser.add_argument("--weights", help="state-dict file, torchvision:<enum member> or random:<seed>")
        parser.add_argument(
            "--class-names",
            help="file with one class name a line, or torchvision:<enum member> for that enum's metadata "
            "(default: the torchvision weights' own metadata when the weights are torchvision's)",
        )
        parser.add_argument(
            "--preprocessing",
            help='JSON override, e.g. \'{"resize": 256, "crop": 224}\' or \'{"squash": 224}\' (default: as the weights expect)',
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--list-layers", action="store_true", help="print every layer with its unit count and map size")

    def handle(self, *args, **options):
        name = options["name"]
        existing = Network.objects.filter(name=name).first()
        try:
            if existing is not None and options["list_layers"] and not (options["architecture"] or options["weights"]):
                network = existing
            else:
                if not options["architecture"] or not options["weights"]:
                    raise CommandError("--architecture and --weights are required to add a network")
                network = add_network(
                    name,
                    options["architecture"],
                    options["weights"],
                    class_names=options["class_names"],
                    preprocessing=self._preprocessing(options["preprocessing"]),
                    description=options["description"],
                )
                self.stdout.write(self.style.SUCCESS(
                    f"added network {network.name}: {network.architecture}, weights {network.weights_source}, "
                    f"{len(network.class_names)} class names, preprocessing {network.preprocessing or 'as the weights expect'}"
                ))
            if options["list_layers"]:
                for layer in list_layers(network):
                    shape = f"{layer.units} units, {layer.map_size[0]}x{layer.map_size[1]}" if layer.units is not None else "-"
                    self.stdout.write(f"{layer.name}\t{layer.kind}\t{shape}")
        except NetworkError as error:
            raise CommandError(str(error)) from None

    @staticmethod
    def _preprocessing(raw):
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise CommandError(f"--preprocessing is not valid JSON: {error}") from None
