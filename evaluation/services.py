"""The rating services other apps code against (the agreed interface).

Views, management commands and the crowd providers (MTurk, Prolific) are thin
wrappers around these functions; each lives in the module of its concern.
"""
from .assignment import claim_assignment_for_neuron, claim_next_assignment, lock_study, rater_progress
from .errors import AlreadyAnswered, StudyError, SubmissionError
from .exclusions import active_exclusions, exclude, excluded_response_reasons, include
from .imports import ImportedRating, ImportedResponse, ImportRefused, ImportSummary, record_imported_responses
from .raters import enable_open_link, get_or_create_rater, invite_raters, new_rater_token, open_link, rater_link
from .ratings_table import TIDY_COLUMNS, tidy_rating_rows, write_tidy_ratings
from .reports import responses_per_day, study_progress
from .studies import MAX_METHODS, MIN_METHODS, LayerSelection, create_study
from .submission import submit_response
from .task import (
    BEST_QUESTION,
    NONE_FIT_LABEL,
    RATING_QUESTION,
    SCALE_LABELS,
    UNINTERPRETABLE_LABEL,
    task_context,
)

__all__ = [
    "AlreadyAnswered", "BEST_QUESTION", "ImportRefused", "ImportSummary", "ImportedRating", "ImportedResponse",
    "LayerSelection", "MAX_METHODS", "MIN_METHODS", "NONE_FIT_LABEL", "RATING_QUESTION", "SCALE_LABELS", "StudyError",
    "SubmissionError", "TIDY_COLUMNS", "UNINTERPRETABLE_LABEL", "active_exclusions", "exclude", "excluded_response_reasons",
    "include",
    "claim_assignment_for_neuron", "claim_next_assignment", "create_study", "enable_open_link", "get_or_create_rater",
    "invite_raters", "lock_study", "new_rater_token", "open_link", "rater_link", "rater_progress",
    "record_imported_responses", "responses_per_day", "study_progress", "submit_response", "task_context", "tidy_rating_rows", "write_tidy_ratings",
]
