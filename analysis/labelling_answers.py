"""Hands a labelling study's stored answers to scoring (which cannot import evaluation) as people's concept vectors.

Installed into scoring.people_concepts when Django starts (AnalysisConfig.ready); `score_explanations
--concepts people --study S` then scores the study's explanations from what its raters answered.
"""
from evaluation.errors import StudyError
from evaluation.labelling import answer_rows
from evaluation.models import Study
from scoring.jobs import ScoringError


def study_answers(name: str) -> list[dict]:
    """The study's verified, not excluded per-image answers (evaluation.labelling.ANSWER_COLUMNS)."""
    study = Study.objects.filter(name=name).select_related("network").first()
    if study is None:
        known = ", ".join(Study.objects.filter(kind=Study.Kind.LABELLING).values_list("name", flat=True)) or "none"
        raise ScoringError(f"no study named {name!r} (labelling studies: {known})")
    try:
        return answer_rows(study)
    except StudyError as error:
        raise ScoringError(str(error)) from None
