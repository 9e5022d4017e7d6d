"""Errors of the rating services; each message names the problem for the person who caused it."""


class StudyError(ValueError):
    """A study cannot be created as asked; the message names the problem."""


class SubmissionError(Exception):
    """A rating submission is refused and nothing was stored; the message names the problem."""


class AlreadyAnswered(SubmissionError):
    """The rater has already answered this neuron."""
