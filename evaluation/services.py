"""The rating services other apps code against (the agreed interface).

Views, management commands and the crowd providers (MTurk, Prolific) are thin
wrappers around these functions; each lives in the module of its concern.
"""
from .assignment import claim_assignment_for_neuron, claim_next_assignment, lock_study, rater_progress
from .errors import AlreadyAnswered, StudyError, SubmissionError
from .exclusions import active_exclusions, exclude, excluded_response_reasons, include
from .raters import enable_open_link, get_or_create_rater, invite_raters, new_rater_token, open_link, rater_link
from .reports import RESPONSE_CSV_HEADER, response_csv_rows, responses_per_day, study_progress
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
    "AlreadyAnswered", "BEST_QUESTION", "active_exclusions", "exclude", "excluded_response_reasons", "include", "LayerSelection", "MAX_METHODS", "MIN_METHODS", "NONE_FIT_LABEL",
    "RATING_QUESTION", "RESPONSE_CSV_HEADER", "SCALE_LABELS", "StudyError", "SubmissionError", "UNINTERPRETABLE_LABEL",
    "claim_assignment_for_neuron", "claim_next_assignment", "create_study", "enable_open_link", "get_or_create_rater",
    "invite_raters", "lock_study", "new_rater_token", "open_link", "rater_link", "rater_progress", "response_csv_rows",
    "responses_per_day", "study_progress", "submit_response", "task_context",
]
