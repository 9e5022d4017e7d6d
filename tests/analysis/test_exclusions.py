"""Analysis leaves excluded responses out by default and says how many and why."""
import pytest

from analysis.frames import ratings_frame
from analysis.services import Selection, comparison_for_frame
from analysis.tables import render_comparison
from evaluation.models import Rater, Response
from evaluation.services import exclude, include

pytestmark = pytest.mark.django_db


def test_frame_marks_excluded_responses_with_their_reason(toy_study):
    rater_r1 = Rater.objects.get(study=toy_study, external_id="r1")
    exclude(toy_study, rater=rater_r1, reason="careless")
    frame = ratings_frame(toy_study)
    excluded = frame[frame["excluded"]]
    assert set(excluded["rater"].astype(str)) == {"r1"} and len(excluded) == 9  # 3 responses x 3 methods
    assert set(excluded["exclusion_reason"].astype(str)) == {"rater excluded: careless"}
    assert not frame.loc[~frame["excluded"], "exclusion_reason"].astype(str).any()


def test_comparison_leaves_excluded_responses_out_and_counts_them(toy_study):
    before = comparison_for_frame(ratings_frame(toy_study), n_resamples=50)
    assert list(before["n"]) == [5, 5, 5] and list(before["n_excluded"]) == [0, 0, 0]
    r1_response = Response.objects.filter(study=toy_study, rater__external_id="r1").order_by("pk").first()
    exclude(toy_study, response=r1_response, reason="fast click")
    table = comparison_for_frame(ratings_frame(toy_study), n_resamples=50)
    assert list(table["n"]) == [4, 4, 4] and list(table["n_excluded"]) == [1, 1, 1]
    assert table.attrs["excluded"] == {"responses": 1, "reasons": {"response excluded: fast click": 1}}
    for fmt in ("md", "html"):
        assert "1 responses (response excluded: fast click (1))" in render_comparison(table, fmt)
    with_excluded = comparison_for_frame(ratings_frame(toy_study), Selection(include_excluded=True), n_resamples=50)
    assert list(with_excluded["n"]) == [5, 5, 5]
    include(toy_study, response=r1_response)
    assert list(comparison_for_frame(ratings_frame(toy_study), n_resamples=50)["n"]) == [5, 5, 5]
