from django.core.management.base import BaseCommand, CommandError

from analysis.agreement import AGREEMENT_RESAMPLES, metric_agreement
from analysis.frames import metric_scores_frame
from analysis.tables import FORMATS, render_frame
from explain.lookups import comma_list

from ._options import add_selection_arguments, frame_from, selection_from, study_from


class Command(BaseCommand):
    help = ("Agreement of every automatic metric scored on a study's explanations with the people's ratings: Kendall's "
            "tau-b and Spearman's rho against the mean rating per (neuron, method), with bootstrap intervals that "
            "resample neurons, and whether the metric orders the methods as the people did.")

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        parser.add_argument("--metrics", default="", help="Comma-separated metric names to keep (default: all scored).")
        parser.add_argument("--bootstrap", type=int, default=AGREEMENT_RESAMPLES, help="Neuron bootstrap resamples.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--format", choices=FORMATS, default="md")

    def handle(self, *args, **options):
        if options["bootstrap"] < 1:
            raise CommandError("--bootstrap must be at least 1")
        study = study_from(options)
        _, used = selection_from(options).apply(frame_from(options, study))
        if used.empty:
            raise CommandError(f"study {study.name!r} has no ratings to compare with (with these options)")
        scores = metric_scores_frame(study)
        wanted = comma_list(options["metrics"])
        if wanted:
            unknown = sorted(set(wanted) - set(scores["metric"]))
            if unknown:
                raise CommandError(f"no scores of {', '.join(unknown)} for study {study.name!r}; scored: "
                                   f"{', '.join(sorted(set(scores['metric']))) or 'none'}")
            scores = scores[scores["metric"].isin(wanted)]
        if scores.empty:
            raise CommandError(f"no automatic metric has scores for the explanations of study {study.name!r}; "
                               "run score_explanations first")
        table = metric_agreement(used, scores, n_resamples=options["bootstrap"], seed=options["seed"])
        if options["format"] == "md":
            self.stdout.write(f"Agreement with the mean human rating per (neuron, method), study {study.name}, "
                              f"{used['response_id'].nunique()} responses; 95% intervals from {options['bootstrap']} "
                              "bootstrap resamples of neurons.\n")
            for row in table.itertuples(index=False):
                self.stdout.write(
                    f"{row.metric}: tau-b {row.kendall_tau_b:.3f} [{row.tau_ci_low:.3f}, {row.tau_ci_high:.3f}], "
                    f"Spearman {row.spearman:.3f} [{row.spearman_ci_low:.3f}, {row.spearman_ci_high:.3f}], "
                    f"{row.pairs} pairs over {row.neurons} neurons; methods "
                    f"{'in the same order as people' if row.same_order else 'ordered differently: ' + row.metric_order}"
                )
            self.stdout.write(f"\nPeople's order: {table['people_order'].iloc[0]}\n")
        self.stdout.write(render_frame(table, options["format"]))
