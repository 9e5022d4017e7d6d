"""The offline demo: synthetic probing set, demo CNN, offline methods, a study, links, a served site."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Rater, Study
from evaluation.services import StudyError, create_study, invite_raters, rater_link
from explain.lookups import comma_list

DEMO_STUDY = "demo"
DEMO_METHODS = ["netdissect", "clip-dissect-annotations", "shuffled-control"]
RESEARCHER = "researcher"
MIN_DEMO_NEURONS = 40


class Command(BaseCommand):
    help = (
        "Build the offline demo (synthetic probing set, demo CNN, NetDissect / CLIP-Dissect on annotations / "
        "shuffled control on two layers), create a study, print rater links and the researcher login, serve the site. "
        "Idempotent: a second run reuses what exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Only build; do not start the web server.")
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--layers", default="", help="Comma-separated layers of demo-cnn (default: its last two).")
        parser.add_argument("--per-layer", type=int, default=25)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        study = Study.objects.filter(name=DEMO_STUDY).first()
        if study is None:
            study = self.build(options)
        else:
            self.stdout.write(f"Reusing study '{DEMO_STUDY}' ({study.study_neurons.count()} neurons).")
        password = self.researcher_password()
        raters = list(study.raters.filter(kind=Rater.Kind.INVITED)[:3])
        if len(raters) < 3:
            raters += invite_raters(study, 3 - len(raters))

        site = f"http://{options['addrport']}"
        self.stdout.write(self.style.SUCCESS("\nThe demo study is ready."))
        self.stdout.write("Rater links (open each in its own browser or private window):")
        for rater in raters:
            self.stdout.write(f"  {rater_link(rater).replace(settings.SITE_URL, site)}")
        self.stdout.write(f"Researcher pages: {site}/studies/{DEMO_STUDY}/  (login '{RESEARCHER}', password '{password}')")
        self.stdout.write(f"Comparison table: python manage.py comparison_table --study {DEMO_STUDY} --format md")
        if not options["no_serve"]:
            # DEBUG stays off (DJANGO_DEBUG=1 turns it on); the local demo serves its own static files.
            call_command("runserver", options["addrport"], use_reloader=False, insecure_serving=True)

    def build(self, options):
        try:
            from demo.network import ensure_demo_network
            from explain.jobs import run_explain_job
            from demo.synthetic import ensure_synthetic_probe
        except ImportError as error:
            raise CommandError(f"the explanation engine is not installed in this checkout ({error})") from None

        self.stdout.write("Synthetic probing set ...")
        probe = ensure_synthetic_probe(name="synthetic", seed=options["seed"])
        self.stdout.write("Demo CNN (trained on the probing set the first time) ...")
        network = ensure_demo_network(seed=options["seed"])
        layers = comma_list(options["layers"]) or self.default_layers(network)
        self.stdout.write(f"Explaining layers {', '.join(layers)} with {', '.join(DEMO_METHODS)} ...")
        run_explain_job(network.name, probe.name, layers, DEMO_METHODS, top_k=10)
        try:
            study = create_study(
                DEMO_STUDY,
                network=network,
                methods=DEMO_METHODS,
                layers=layers,
                per_layer=options["per_layer"],
                raters_per_neuron=3,
                images_per_task=10,
                seed=options["seed"],
                probe=probe.name,
                title="Which description fits these images?",
            )
        except StudyError as error:
            raise CommandError(f"could not create the demo study: {error}") from None
        for selection in study.layer_selections:
            self.stdout.write(f"  {selection.layer}: {selection.selected} of {selection.eligible} eligible neurons")
        if study.study_neurons.count() < MIN_DEMO_NEURONS:
            self.stderr.write(
                self.style.WARNING(f"Only {study.study_neurons.count()} neurons qualified (the demo aims at {MIN_DEMO_NEURONS}).")
            )
        return study

    @staticmethod
    def default_layers(network):
        """The two deepest layers: they hold the most concept-like units."""
        recorded = [layer.name for layer in network.layers.order_by("order", "name")]
        if len(recorded) >= 2:
            return recorded[-2:]
        import torch

        from explain.networks import load_network

        model, _ = load_network(network)
        convs = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Conv2d)]
        if len(convs) < 2:
            raise CommandError(f"network '{network.name}' has fewer than two conv layers; pass --layers")
        return convs[-2:]

    def researcher_password(self):
        """A researcher account for the local demo; its password is kept next to the database."""
        credentials = settings.VAR_DIR / "demo-researcher-password.txt"
        User = get_user_model()
        user = User.objects.filter(username=RESEARCHER).first()
        if user is not None and credentials.exists():
            return credentials.read_text().strip()
        password = secrets.token_urlsafe(9)
        if user is None:
            user = User.objects.create_superuser(RESEARCHER, "", password)
        else:
            user.set_password(password)
            user.save()
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_text(password + "\n")
        credentials.chmod(0o600)
        return password
