"""Three volunteers rate a whole small study through the web pages."""
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from evaluation.models import Response, StudyNeuron
from evaluation.services import create_study, invite_raters

from .conftest import METHOD_NAMES
from .helpers import answer, read_task


def play_until_done(raters):
    """Round-robin: each rater answers one task per round until all see the thank-you page.
    Returns {rater token: [task tokens answered]} and the texts each rater saw."""
    browsers = {r.token: Client() for r in raters}
    answered = {r.token: [] for r in raters}
    finished = set()
    rounds = 0
    while len(finished) < len(raters):
        rounds += 1
        assert rounds < 50, "raters never finished"
        for rater in raters:
            if rater.token in finished:
                continue
            url = reverse("evaluation:rater_task", args=[rater.token])
            page = browsers[rater.token].get(url).content.decode()
            if "Thank you!" in page:
                finished.add(rater.token)
                continue
            task = read_task(page)
            n = len(answered[rater.token])
            assert f"{n + 1} of 4" in page
            # The third rater's first answer picks a lower-rated description: kept, but invalid.
            best = 2 if (rater == raters[2] and n == 0) else 0
            response = browsers[rater.token].post(url, answer(task, values=[5, 4, 3], best_index=best))
            assert response.status_code == 302
            answered[rater.token].append(task["task"])
    return answered


def three_rater_study(network):
    study = create_study("three", network=network, methods=METHOD_NAMES, per_layer=2, raters_per_neuron=3)
    raters = invite_raters(study, 3)
    return study, raters, play_until_done(raters)


@pytest.mark.django_db
def test_three_raters_complete_a_small_study(explained_network):
    study, raters, answered = three_rater_study(explained_network)

    assert all(len(tasks) == 4 for tasks in answered.values())
    for study_neuron in StudyNeuron.objects.filter(study=study):
        assert study_neuron.responses.count() == 3
    for rater in raters:
        neurons = list(Response.objects.filter(rater=rater).values_list("study_neuron", flat=True))
        assert len(neurons) == len(set(neurons)) == 4
    assert Response.objects.filter(study=study).count() == 12
    assert Response.objects.filter(study=study, is_valid=True).count() == 11


@pytest.mark.django_db
def test_comparison_table_counts_the_valid_responses_of_three_raters(explained_network):
    study, _, _ = three_rater_study(explained_network)
    assert Response.objects.filter(study=study, is_valid=True).count() == 11
    out = StringIO()
    call_command("comparison_table", "--study", "three", "--format", "json", stdout=out)
    overall = [row for row in json.loads(out.getvalue()) if row["layer"] is None]
    assert sorted(row["method"] for row in overall) == sorted(METHOD_NAMES)
    assert all(row["n"] == 11 for row in overall)
