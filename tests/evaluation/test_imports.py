"""Imported answers enter a study through one service, under the rating page's rules, all or nothing."""
from datetime import datetime, timezone

import pytest

from evaluation.imports import ImportedRating, ImportedResponse, ImportRefused, record_imported_responses
from evaluation.models import Rater, Rating, Response, Study, StudyItem
from explain.models import Neuron

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def answer(row, response_id, rater, unit, values, best=None, **extra):
    """One response to neuron layer1#unit rating methods alpha, beta (in that order) with `values`."""
    ratings = tuple(
        ImportedRating(row + i, method, value, position=i, text=f"{method} text")
        for i, (method, value) in enumerate(zip(["alpha", "beta"], values))
    )
    return ImportedResponse(row, response_id, rater, "layer1", unit, ratings, best_method=best, submitted_at=WHEN, **extra)


def counts():
    return (Study.objects.count(), Rater.objects.count(), Response.objects.count(), Rating.objects.count(),
            StudyItem.objects.count(), Neuron.objects.count())


def test_a_new_study_is_created_with_validity_decided_by_the_best_choice_rule():
    summary = record_imported_responses("lab", "net", [
        answer(2, "a1", "ann", 0, (5, 2), best="alpha"),
        answer(4, "a2", "ann", 1, (1, 4), best="alpha"),
    ], create=True)

    assert (summary.responses, summary.ratings, summary.created["study"], summary.created["raters"]) == (2, 4, 1, 1)
    stored = {r.external_id: r for r in Response.objects.all()}
    assert stored["a1"].is_valid and stored["a1"].source == "imported" and stored["a1"].best_item.method.name == "alpha"
    assert not stored["a2"].is_valid and "below the highest rating 4" in stored["a2"].invalid_reason
    assert Rater.objects.get().kind == Rater.Kind.IMPORTED
    assert Study.objects.get().status == Study.Status.CLOSED


@pytest.mark.parametrize("bad, words", [
    (answer(2, "b1", "ann", 0, (6, 2)), "row 2: rating 6 is outside 1..5"),
    (answer(2, "b1", "ann", 0, (5, 2), best="gamma"), "row 2: response 'b1' picks 'gamma' as best but did not rate it"),
    (answer(2, "b1", "ann", 0, (5, 2), source="carrier-pigeon"), "source 'carrier-pigeon' is not one of"),
    (answer(2, "a1", "bob", 1, (5, 2)), "row 6: response 'a1' appears twice (first at row 2)"),
    (answer(2, "b1", "ann", 0, (5, 2)), "row 6: rater 'ann' rated neuron layer1#0 again"),
], ids=["rating-range", "best-not-rated", "source", "same-id", "same-rater-and-neuron"])
def test_answers_the_rating_page_would_refuse_are_refused_and_nothing_is_stored(bad, words):
    before = counts()
    with pytest.raises(ImportRefused) as refused:
        record_imported_responses("lab", "net", [bad, answer(6, "a1", "ann", 0, (3, 3))], create=True)
    assert words in str(refused.value)
    assert counts() == before


def test_importing_again_is_refused_naming_the_stored_response():
    record_imported_responses("lab", "net", [answer(2, "a1", "ann", 0, (5, 2), best="alpha")], create=True)
    before = counts()
    with pytest.raises(ImportRefused, match="row 2: response 'a1' is already stored in study 'lab'"):
        record_imported_responses("lab", "net", [answer(2, "a1", "ann", 0, (5, 2), best="alpha")])
    with pytest.raises(ImportRefused, match="row 2: rater 'ann' already has a stored response for neuron layer1#0"):
        record_imported_responses("lab", "net", [answer(2, "other", "ann", 0, (5, 2), best="alpha")])
    assert counts() == before


def test_without_create_unknown_methods_and_neurons_are_named():
    record_imported_responses("lab", "net", [answer(2, "a1", "ann", 0, (5, 2), best="alpha")], create=True)
    with pytest.raises(ImportRefused, match="row 2: neuron layer1#9 is not in study 'lab'"):
        record_imported_responses("lab", "net", [answer(2, "b1", "bob", 9, (5, 2), best="alpha")])
    gamma = ImportedResponse(3, "b2", "bob", "layer1", 0, (ImportedRating(3, "gamma", 4),), submitted_at=WHEN)
    with pytest.raises(ImportRefused, match="row 3: unknown method 'gamma': not in study 'lab'"):
        record_imported_responses("lab", "net", [gamma])
