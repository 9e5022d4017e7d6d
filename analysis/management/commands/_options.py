"""Options shared by the analysis commands."""
from django.core.management.base import CommandError

from analysis import stats
from analysis.frames import ratings_frame
from analysis.services import Selection
from evaluation.models import Study
from evaluation.quality import PolicyError
from explain.lookups import comma_list, named


def add_selection_arguments(parser):
    parser.add_argument("--study", required=True, help="Study name.")
    parser.add_argument("--include-invalid", action="store_true", help="Also use responses that failed the validity rule.")
    parser.add_argument("--exclude-flagged", action="store_true", help="Drop responses flagged uninterpretable or none-fit.")
    parser.add_argument("--methods", default="", help="Comma-separated methods to keep, in table order.")
    parser.add_argument("--exclude-raters", default="", help="Comma-separated rater ids to leave out.")
    parser.add_argument("--include-excluded", action="store_true",
                        help="Also use responses researchers excluded on the study page (left out by default).")
    parser.add_argument("--include-unverified", action="store_true",
                        help="Also use crowd answers the provider has not confirmed yet (MTurk: before harvest).")
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--policy", default=None,
                        help="An exclusion policy for this run instead of the study's, e.g. 'check_pass_rate < 0.8 or "
                             "median_seconds < 5 s' (docs/analysis.md); nothing is stored.")
    policy.add_argument("--ignore-policy", action="store_true", help="Use every rater (the study's exclusion policy ignored).")


def add_bootstrap_arguments(parser):
    parser.add_argument("--bootstrap", type=int, default=stats.DEFAULT_RESAMPLES, help="Cluster-bootstrap resamples.")
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED)


def selection_from(options) -> Selection:
    return Selection(
        include_invalid=options["include_invalid"],
        exclude_flagged=options["exclude_flagged"],
        methods=comma_list(options["methods"]) or None,
        exclude_raters=comma_list(options["exclude_raters"]),
        include_excluded=options.get("include_excluded", False),
        ignore_policy=options.get("ignore_policy", False),
    )


def study_from(options) -> Study:
    return named(Study.objects.select_related("network"), options["study"], what="study", error=CommandError)


def check_resamples(options):
    if options["bootstrap"] < 1:
        raise CommandError("--bootstrap must be at least 1")


def frame_from(options, study: Study | None = None):
    """The study's ratings frame as the options ask (unverified answers, exclusion policy)."""
    try:
        return ratings_frame(study or study_from(options), include_unverified=options["include_unverified"],
                             policy=options.get("policy"))
    except PolicyError as error:
        raise CommandError(f"--policy: {error}") from None
