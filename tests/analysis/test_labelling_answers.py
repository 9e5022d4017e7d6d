"""`score_explanations --concepts people --study S`: what is refused before anything is scored (the scoring of
a completed labelling study is pinned end to end in tests/evaluation/test_labelling_browser.py)."""
import pytest
from django.core.management import CommandError, call_command

from evaluation.services import create_study
from scoring.models import MetricScore
from tests.evaluation.conftest import METHOD_NAMES, build_explained_network


@pytest.fixture
def studies(db):
    network = build_explained_network(layers=("layer1",), units_per_layer=1)
    create_study("rated", network=network, methods=METHOD_NAMES, per_layer=1)
    create_study("labelled", network=network, methods=METHOD_NAMES[:1], per_layer=1, kind="labelling")


@pytest.mark.parametrize("arguments, message", [
    (["--study", "nowhere"], "no study named 'nowhere' \\(labelling studies: labelled\\)"),
    (["--study", "rated"], "'rated' is a rating study; only labelling studies have image answers"),
    (["--study", "labelled"], "study labelled has no stored answers yet"),
    (["--study", "labelled", "--answers", "x.csv"], "give --concepts people and no --answers"),
    (["--study", "labelled", "--metric", "bertscore"], "faithfulness metrics only"),
])
def test_study_scoring_requests_that_cannot_work_are_command_errors(studies, arguments, message):
    options = {"--metric": "pearson", "--concepts": "people"}
    for flag, value in zip(arguments[::2], arguments[1::2]):
        options[flag] = value
    with pytest.raises(CommandError, match=message):
        call_command("score_explanations", *[part for pair in options.items() for part in pair])
    assert not MetricScore.objects.exists()


def test_without_a_study_the_network_and_layer_are_required(studies):
    with pytest.raises(CommandError, match="--network and --layer required"):
        call_command("score_explanations", "--metric", "pearson")
