from django.core.management.base import BaseCommand, CommandError

from scoring.faithfulness import METRICS
from scoring.jobs import ScoringError
from scoring.sanity import DECISIVE_SHARE, TESTS
from scoring.sanity_jobs import DEFAULT_CONCEPT_SHARE, DEFAULT_MIN_SELECTIVITY, run_sanity

TEST_NAMES = {"missing": "missing-labels", "extra": "extra-labels"}


class Command(BaseCommand):
    help = (
        "Sanity checks of the faithfulness metrics (Oikarinen et al., ICML 2025) on real units: the missing-labels and "
        "extra-labels tests with the probing set's labels, one line per metric and test ending in pass or fail, and "
        "the known-neuron test (meta-AUPRC) on a classifier output layer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument("--layer", required=True, help="Layer whose units the label tests use.")
        parser.add_argument("--probe", required=True, help="Labelled probing set (synthetic, Broden).")
        parser.add_argument("--known-layer", help="Classifier output layer for the known-neuron test "
                                                  "(default: --layer if it is one, else the network's last linear layer).")
        parser.add_argument("--summary", default="mean", choices=["mean", "max"])
        parser.add_argument("--min-selectivity", type=float, default=DEFAULT_MIN_SELECTIVITY,
                            help="Hidden units: keep those whose best label raises them by this many standard deviations.")
        parser.add_argument("--concept-share", type=float, default=DEFAULT_CONCEPT_SHARE,
                            help="Thin each concept's positives to this share of the images (0: use them all).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--labels-only", action="store_true",
                            help="Known-neuron test against the labels alone, without 'a and b' / 'a or b' distractors.")

    def handle(self, *args, **options):
        if not 0 <= options["concept_share"] < 1:
            raise CommandError("--concept-share must be at least 0 and below 1")
        try:
            report = run_sanity(options["network"], options["layer"], options["probe"], summary=options["summary"],
                                known_layer=options["known_layer"], min_selectivity=options["min_selectivity"],
                                concept_share=options["concept_share"], seed=options["seed"],
                                compound_concepts=not options["labels_only"])
        except ScoringError as error:
            raise CommandError(str(error)) from error

        share = f"{options['concept_share']:.0%} of the images" if options["concept_share"] else "their own frequency"
        self.stdout.write(f"{options['network']}/{report.layer} on {options['probe']}: {len(report.units)} units, "
                          f"each against {report.unit_concepts_from}; concepts thinned to {share}.")
        self.stdout.write(f"A test passes when the mean score falls at every corrupted share (25/50/75%) and, at "
                          f"{DECISIVE_SHARE:.0%}, falls in >= 90% of units by a median >= 10%.")
        width = max(len(name) for name in METRICS)
        for name, metric in METRICS.items():
            for test in TESTS:
                result = report.label_results[(name, test)]
                means = " -> ".join(f"{value:.3f}" for _, value in sorted(result.mean_score.items()))
                self.stdout.write(
                    f"{name:<{width}}  {'reliable' if metric.reliable else 'compared'}  {TEST_NAMES[test]:<14}  "
                    f"fell in {result.fall_share[DECISIVE_SHARE]:6.1%} of units, median fall "
                    f"{result.relative_fall[DECISIVE_SHARE]:6.1%}  (mean clean -> 25/50/75%: {means})  {'pass' if result.passed else 'fail'}"
                )
        if report.known_results is None:
            self.stdout.write(f"known-neuron test: not run ({report.known_skipped_reason})")
            return
        units = next(iter(report.known_results.values())).units
        self.stdout.write(f"Known-neuron test on {options['network']}/{report.known_layer} ({units} output units, each "
                          f"unit's class as its true explanation, scored against {report.known_concepts} concepts"
                          f"{'' if options['labels_only'] else ': the labels and and/or of label pairs'}):")
        for name, result in report.known_results.items():
            self.stdout.write(f"{name:<{width}}  known-neuron    meta-AUPRC {result.meta_auprc:.3f}  "
                              f"true concept strictly first for {result.top1:.0%} of units")
