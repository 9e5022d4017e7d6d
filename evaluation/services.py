"""The rating services other apps code against (the agreed interface).

Views, management commands and the crowd providers (MTurk, Prolific) are thin
wrappers around these functions; each lives in the module of its concern.
"""
from .assignment import (
    check_due_in_batch,
    claim_assignment_for_neuron,
    claim_next_assignment,
    has_task_left,
    lock_study,
    rater_progress,
    retry_in_seconds,
)
from .checks import checks_planned
from .errors import AlreadyAnswered, ConsistencyPrompt, NothingLeft, StudyError, SubmissionError
from .exclusions import active_exclusions, exclude, excluded_response_reasons, include, set_exclusion_policy
from .imports import ImportedRating, ImportedResponse, ImportRefused, ImportSummary, record_imported_responses
from .raters import enable_open_link, get_or_create_rater, invite_raters, new_rater_token, open_link, rater_link
from .ratings_table import TIDY_COLUMNS, tidy_rating_rows, write_tidy_ratings
from .lifecycle import allowed_transitions, change_status
from .reports import (
    collection_pace, known_data_version, method_progress, rater_quality, seconds_per_task, study_data_version,
    study_progress, study_section_key,
)
from .studies import MAX_METHODS, MIN_METHODS, AdaptivePlan, LayerSelection, create_study, eligible_counts
from .submission import submit_response
from .task import (
    BEST_QUESTION,
    NONE_FIT_LABEL,
    RATING_QUESTION,
    SCALE_LABELS,
    UNINTERPRETABLE_LABEL,
    preview_context,
    task_context,
)

__all__ = [
    "AdaptivePlan", "active_exclusions", "allowed_transitions", "AlreadyAnswered", "NothingLeft", "retry_in_seconds", "BEST_QUESTION", "change_status", "check_due_in_batch", "checks_planned",
    "ConsistencyPrompt",
    "claim_assignment_for_neuron", "claim_next_assignment", "collection_pace", "create_study", "eligible_counts",
    "enable_open_link", "exclude", "excluded_response_reasons", "get_or_create_rater", "has_task_left", "ImportedRating",
    "ImportedResponse", "ImportRefused", "ImportSummary", "include", "invite_raters", "LayerSelection", "lock_study",
    "MAX_METHODS", "method_progress", "MIN_METHODS", "new_rater_token", "NONE_FIT_LABEL", "open_link",
    "preview_context", "rater_link", "rater_progress", "rater_quality", "RATING_QUESTION", "record_imported_responses", "SCALE_LABELS", "seconds_per_task", "set_exclusion_policy",
    "known_data_version", "study_data_version", "study_progress", "study_section_key", "StudyError", "SubmissionError",
    "submit_response", "task_context",
    "TIDY_COLUMNS", "tidy_rating_rows", "UNINTERPRETABLE_LABEL", "write_tidy_ratings",
]
