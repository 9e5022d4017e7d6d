"""Errors of the rating services; each message names the problem for the person who caused it."""


class StudyError(ValueError):
    """A study cannot be created as asked; the message names the problem."""


class SubmissionError(Exception):
    """A rating submission is refused and nothing was stored; the message names the problem."""


class AlreadyAnswered(SubmissionError):
    """The rater has already answered this neuron."""


class ConsistencyPrompt(SubmissionError):
    """Not stored yet: the best pick is rated below another description, and the study asks to point that out.
    `signed` is the prompt as the form carries it back (see submission.sign_prompt)."""

    def __init__(self, message: str, signed: str):
        super().__init__(message)
        self.signed = signed


class NothingLeft(SubmissionError):
    """No place is free for this rater now; `retry_in_seconds` says when a reservation runs out
    (None: every place is answered, nothing will free up)."""

    def __init__(self, message, retry_in_seconds=None):
        super().__init__(message)
        self.retry_in_seconds = retry_in_seconds
