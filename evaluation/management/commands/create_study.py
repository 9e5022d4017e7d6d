from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from evaluation.services import AdaptivePlan, StudyError, create_study
from explain.lookups import comma_list


def explanation_rank(value):
    """'2' for every method, or 'netdissect=2,milan=1' per method."""
    if "=" not in value:
        return int(value)
    ranks = {}
    for part in comma_list(value):
        method, _, rank = part.partition("=")
        ranks[method.strip()] = int(rank)
    return ranks


def _adaptive_plan(options):
    if not options["adaptive"]:
        return None
    return AdaptivePlan(
        min_raters=options["min_raters"], target_half_width=options["target_half_width"],
        budget_responses=options["budget_responses"], budget_money=options["budget_money"],
        draw_neurons=options["draw_neurons"], start_neurons=options["start_neurons"],
    )


class Command(BaseCommand):
    help = ("Create a study: random neurons per layer, their images and one description per method, frozen; "
            "a rating study (default) or a labelling study (--kind labelling).")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--network", required=True)
        parser.add_argument("--methods", required=True, type=comma_list, help="Comma-separated method names (2 to 8; labelling: 1 to 8).")
        parser.add_argument("--layers", type=comma_list, default=None, help="Comma-separated layer names (default: all).")
        parser.add_argument("--per-layer", type=int, default=200)
        parser.add_argument("--raters", type=int, default=3, help="Raters per neuron (K).")
        parser.add_argument("--images", type=int, default=10, help="Images per task.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--rank", type=explanation_rank, default=1,
            help="Which ranked explanation is shown: one number for every method, or method=rank,... (default 1).",
        )
        parser.add_argument("--probe", default=None, help="Probing set whose top images are shown (default: first recorded).")
        parser.add_argument("--no-best", action="store_true", help="Do not ask which description is best.")
        parser.add_argument(
            "--attention-checks", type=int, default=0, metavar="N",
            help="One attention-check task in every N tasks a rater gets (e.g. 10; default 0 = none).",
        )
        parser.add_argument(
            "--consistency-prompt", action="store_true",
            help="Before storing a best pick rated below another description, point it out to the rater.",
        )
        adaptive = parser.add_argument_group("adaptive collection (docs/analysis.md); --raters is then the cap")
        adaptive.add_argument("--adaptive", action="store_true", help="Collect adaptively instead of K raters everywhere.")
        adaptive.add_argument("--min-raters", type=int, default=2,
                              help="Raters every neuron gets first (default 2; 1 spreads answers over more neurons, "
                              "the start neurons still get two).")
        adaptive.add_argument("--target-half-width", type=float, default=None,
                              help="Stop when every method mean and difference has a 95%% CI half-width at most this.")
        adaptive.add_argument("--budget-responses", type=int, default=None, help="Stop after this many responses.")
        adaptive.add_argument("--budget-money", type=Decimal, default=None, help="Stop when responses cost this much.")
        adaptive.add_argument("--cost-per-response", type=Decimal, default=Decimal("0.10"),
                              help="What one response costs, fees included (default 0.10).")
        adaptive.add_argument("--draw-neurons", action="store_true",
                              help="Start with --start-neurons neurons and draw more when that helps more per response.")
        adaptive.add_argument("--start-neurons", type=int, default=40)
        parser.add_argument(
            "--exclusion-policy", default="",
            help="Raters the analysis leaves out, e.g. 'check_pass_rate < 0.8 or median_seconds < 5 s' (docs/analysis.md).",
        )
        parser.add_argument(
            "--kind", choices=["rating", "labelling"], default="rating",
            help="rating: 1-5 per description and a best pick; labelling: per image, does it show one description?",
        )
        parser.add_argument("--top-images", type=int, default=None,
                            help="Labelling: the unit's top images per task (default 5).")
        parser.add_argument("--random-images", type=int, default=None,
                            help="Labelling: random probing images per task, drawn with --seed (default 5).")
        parser.add_argument("--title", default="")
        parser.add_argument("--instructions", default="")
        parser.add_argument("--status", choices=["draft", "open", "paused", "closed"], default="open")
        parser.add_argument("--owner", default=None, help="Username of the researcher who owns the study.")

    def handle(self, *args, **options):
        owner = None
        if options["owner"]:
            from django.contrib.auth import get_user_model

            owner = get_user_model().objects.filter(username=options["owner"]).first()
            if owner is None:
                raise CommandError(f"no user named '{options['owner']}' (create one with createsuperuser or the admin)")
        try:
            study = create_study(
                options["name"],
                network=options["network"],
                methods=options["methods"],
                layers=options["layers"],
                per_layer=options["per_layer"],
                raters_per_neuron=options["raters"],
                images_per_task=options["images"],
                seed=options["seed"],
                explanation_rank=options["rank"],
                ask_best=not options["no_best"],
                title=options["title"],
                instructions=options["instructions"],
                probe=options["probe"],
                status=options["status"],
                owner=owner,
                attention_check_every=options["attention_checks"],
                consistency_prompt=options["consistency_prompt"],
                adaptive=_adaptive_plan(options),
                cost_per_response=options["cost_per_response"],
                exclusion_policy=options["exclusion_policy"],
                kind=options["kind"],
                top_images_per_task=options["top_images"],
                random_images_per_task=options["random_images"],
            )
        except StudyError as error:
            raise CommandError(str(error)) from None
        for selection in study.layer_selections:
            note = "" if selection.selected == options["per_layer"] else f" (only {selection.eligible} eligible)"
            self.stdout.write(f"  {selection.layer}: {selection.selected} neurons{note}")
        if study.kind == study.Kind.LABELLING:
            summary = (f"Created labelling study '{study.name}' ({study.status}): {study.study_neurons.count()} tasks "
                       f"(neuron x method), {study.top_images_per_task} top + {study.random_images_per_task} random "
                       f"images a task, {study.raters_per_neuron} raters a task.")
        else:
            summary = (f"Created study '{study.name}' ({study.status}): {study.study_neurons.count()} neurons, "
                       f"{study.study_methods.count()} methods, {study.raters_per_neuron} raters a neuron.")
        self.stdout.write(self.style.SUCCESS(summary))
