"""Who reads a labelling study's answers for scoring.

Scoring cannot import evaluation (they are siblings); the app above both (analysis) installs the reader when
Django starts: study name -> rows of the answers CSV's columns plus network, layer and probe. This module stays
free of the metric libraries because it is imported at start-up.
"""
from __future__ import annotations

from typing import Callable

from .jobs import ScoringError

_study_answer_reader: Callable[[str], list[dict]] | None = None


def install_study_answer_reader(reader: Callable[[str], list[dict]]) -> None:
    global _study_answer_reader
    _study_answer_reader = reader


def read_study_answers(study: str) -> list[dict]:
    if _study_answer_reader is None:
        raise ScoringError("no reader of study answers is installed (the analysis app installs it; is it in INSTALLED_APPS?)")
    return _study_answer_reader(study)
