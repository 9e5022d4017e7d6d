from django.core.management.base import BaseCommand, CommandError

from explain.lookups import comma_list
from explain.methods.params import ParamError, parse_params
from foundation.errors import FoundationUnavailable
from scoring import cosy_jobs, faithfulness_jobs, jobs, people_concepts
from scoring.cosy import CosyParams
from scoring.simulation import SimulationParams


def simulation_params(items) -> SimulationParams:
    """['correlation=reference', 'max_passes=5'] -> SimulationParams, each value converted to its field's type."""
    given = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name.strip():
            raise CommandError(f"--simulation-param {item!r}: expected NAME=VALUE")
        given[name.strip()] = value
    try:
        return parse_params(SimulationParams, given, "simulation")
    except ParamError as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    help = "Score the explanations of a layer with an automatic metric, store the scores, print the mean per method."

    def add_arguments(self, parser):
        parser.add_argument("--network", help="Required, except with --study (the study names its network and layers).")
        parser.add_argument("--layer", help="Required, except with --study.")
        parser.add_argument("--metric", required=True,
                            help=f"One of {', '.join([*jobs.EMBEDDING_METRICS, 'simulation', 'cosy'])}; or faithfulness metrics "
                                 f"(needs --probe), comma-separated: {', '.join(faithfulness_jobs.FAITHFULNESS_METRICS)}, "
                                 f"or 'faithfulness' for all of them.")
        parser.add_argument("--answers", help="Faithfulness with --concepts people: CSV of raters' yes/no answers "
                                              "(method, unit, image, answer[, rater, rank]).")
        parser.add_argument("--study", help="Faithfulness with --concepts people: the labelling study whose stored answers "
                                            "are the concept vectors (every layer of it; probing set from its images).")
        parser.add_argument("--concepts", default="labels", choices=[*faithfulness_jobs.AUTOMATIC_SOURCES, "people"],
                            help="Faithfulness: the concept vector from the probing set's labels, or CLIP similarity "
                                 "(continuous, or thresholded at one standard deviation above the mean).")
        parser.add_argument("--cosy-images", type=int, default=CosyParams.images_per_explanation,
                            help="CoSy: images generated per explanation.")
        parser.add_argument("--cosy-controls", type=int, default=CosyParams.control_images,
                            help="CoSy: control images drawn from the probing set.")
        parser.add_argument("--summary", default="mean", choices=["mean", "max"],
                            help="Faithfulness: per-image activation summary of each unit's map.")
        parser.add_argument("--method", action="append", default=[], help="Only this method (repeatable).")
        parser.add_argument("--references", help="One reference text a unit, by line (e.g. concepts/imagenet_labels.txt).")
        parser.add_argument("--probe", help="Probing dataset whose captions and activations the simulation uses.")
        parser.add_argument("--kind", default="caption", choices=["caption", "class"],
                            help="Simulate activations on captions (needs --probe) or weights to the output classes.")
        parser.add_argument("--few-shot-method", default="", help="Simulation examples from this method when none are hand-labelled.")
        parser.add_argument("--simulation-param", action="append", default=[], metavar="NAME=VALUE",
                            help="Simulation: a SimulationParams field, repeatable, e.g. correlation=reference (Bills et al.'s "
                                 "pooled correlation) or digit_tokens=reference (only the exact tokens 0-10 count).")
        parser.add_argument("--bertscore-model", default="roberta-large")
        parser.add_argument("--bertscore-layers", type=int, default=None)

    def handle(self, *args, **options):
        chosen = list(dict.fromkeys(comma_list(options["metric"])))
        if options["simulation_param"] and chosen != ["simulation"]:
            raise CommandError("--simulation-param applies to --metric simulation only")
        if options["study"]:
            return self.handle_study(chosen, options)
        missing = [f"--{name}" for name in ("network", "layer") if not options[name]]
        if missing:
            raise CommandError(f"{' and '.join(missing)} required (or --study with --concepts people)")
        known = [*jobs.EMBEDDING_METRICS, "simulation", "cosy", *faithfulness_jobs.FAITHFULNESS_METRICS, "faithfulness"]
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise CommandError(f"unknown metric {', '.join(unknown) or repr(options['metric'])}; choose from {', '.join(known)}")
        faithfulness = [m for m in chosen if m in faithfulness_jobs.FAITHFULNESS_METRICS or m == "faithfulness"]
        if faithfulness:
            if len(faithfulness) != len(chosen):
                raise CommandError("faithfulness metrics cannot be mixed with text or simulation metrics in one run")
            return self.handle_faithfulness(faithfulness, options)
        if len(chosen) > 1:
            raise CommandError("give one text, simulation or CoSy metric per run")
        if chosen == ["cosy"]:
            return self.handle_cosy(options)
        options["metric"] = chosen[0]
        try:
            if options["metric"] == "simulation":
                if options["kind"] == "caption" and not options["probe"]:
                    raise CommandError("--metric simulation needs --probe (the probing set of the captions and activations)")
                means = jobs.score_by_simulation(options["network"], options["layer"], options["probe"], kind=options["kind"],
                                                 methods=options["method"], few_shot_method=options["few_shot_method"],
                                                 params=simulation_params(options["simulation_param"]))
            else:
                extra = {}
                if options["metric"] == "bertscore":
                    extra = {"bertscore_model": options["bertscore_model"], "bertscore_layers": options["bertscore_layers"]}
                means = jobs.score_with_references(options["network"], options["layer"], options["metric"], methods=options["method"],
                                                   references_file=options["references"], **extra)
        except (jobs.ScoringError, FoundationUnavailable) as error:
            raise CommandError(str(error)) from error
        for method, mean in means.items():
            self.stdout.write(f"{method}\t{options['metric']}\t{mean:.4f}")

    def handle_faithfulness(self, metrics, options):
        if not options["probe"]:
            raise CommandError("faithfulness metrics need --probe (the probing set whose activations and concepts they compare)")
        if "faithfulness" in metrics:
            metrics = list(faithfulness_jobs.FAITHFULNESS_METRICS)
        if options["concepts"] == "people" or options["answers"]:
            if options["concepts"] != "people" or not options["answers"]:
                raise CommandError("people's concept vectors need both --concepts people and --answers FILE")
            try:
                answers = people_concepts.read_answers(options["answers"])
                outcome = people_concepts.score_with_answers(options["network"], options["layer"], options["probe"], answers,
                                                             metrics=metrics, summary=options["summary"],
                                                             source_name=options["answers"])
            except jobs.ScoringError as error:
                raise CommandError(str(error)) from error
            outcome["skipped"] = []
            return self.print_faithfulness(outcome)
        try:
            outcome = faithfulness_jobs.score_faithfulness(
                options["network"], options["layer"], options["probe"], metrics=metrics, source=options["concepts"],
                methods=options["method"], summary=options["summary"],
            )
        except (jobs.ScoringError, FoundationUnavailable) as error:
            raise CommandError(str(error)) from error
        self.print_faithfulness(outcome)

    def handle_study(self, chosen, options):
        """People's concept vectors from a labelling study's stored answers."""
        if options["concepts"] != "people" or options["answers"]:
            raise CommandError("--study takes people's answers from the study: give --concepts people and no --answers")
        metrics = list(faithfulness_jobs.FAITHFULNESS_METRICS) if "faithfulness" in chosen else chosen
        unknown = [name for name in metrics if name not in faithfulness_jobs.FAITHFULNESS_METRICS]
        if unknown or not metrics:
            raise CommandError(f"--study scores faithfulness metrics only ({', '.join(faithfulness_jobs.FAITHFULNESS_METRICS)}"
                               f" or 'faithfulness'), got {', '.join(unknown) or repr(options['metric'])}")
        try:
            outcome = people_concepts.score_study(options["study"], metrics=metrics, summary=options["summary"])
        except jobs.ScoringError as error:
            raise CommandError(str(error)) from error
        for network, layer, probe, answers in outcome["layers"]:
            self.stdout.write(f"# {network}/{layer} over {probe}: {answers} answers")
        outcome["skipped"] = []
        self.print_faithfulness(outcome)

    def print_faithfulness(self, outcome):
        for key, means in outcome["means"].items():
            for method, mean in means.items():
                self.stdout.write(f"{method}\t{key}\t{mean:.4f}")
        if outcome["skipped"]:
            self.stderr.write(f"{len(outcome['skipped'])} explanation(s) name no labelled concept of the probing set and were "
                              f"not scored, e.g. {outcome['skipped'][0]}")

    def handle_cosy(self, options):
        if not options["probe"]:
            raise CommandError("CoSy needs --probe (its control images come from the probing set)")
        params = CosyParams(images_per_explanation=options["cosy_images"], control_images=options["cosy_controls"],
                            summary=options["summary"])
        try:
            means = cosy_jobs.score_cosy(options["network"], options["layer"], options["probe"], methods=options["method"],
                                         params=params)
        except (jobs.ScoringError, FoundationUnavailable) as error:
            raise CommandError(str(error)) from error
        for metric, per_method in means.items():
            for method, mean in per_method.items():
                self.stdout.write(f"{method}\t{metric}\t{mean:.4f}")
