"""Tidy ratings import/export against a real SQLite database."""
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from analysis.frames import ratings_frame
from analysis.services import comparison_for_study
from evaluation.models import Response, Study

from .conftest import database_counts
from .fixtures import hand_frame

pytestmark = pytest.mark.django_db


def exported(study, tmp_path, name="ratings.csv"):
    path = tmp_path / name
    call_command("export_ratings", "--study", study.name, str(path))
    return path


def test_frame_reads_the_study_as_stored(toy_study):
    frame = ratings_frame(toy_study)
    expected = hand_frame()
    columns = ["response_id", "rater", "layer", "unit", "method", "rating", "best", "position", "is_valid", "invalid_reason",
               "uninterpretable", "text"]
    got = frame.astype({c: str for c in ["response_id", "rater", "layer", "method", "invalid_reason"]})
    # Local responses have no external id, so the frame names them by primary key; compare the rest.
    # Rename before sorting: keys compared as text put "10" before "9" (PostgreSQL's sequences
    # are not reset between tests, so the keys there are any width).
    got["response_id"] = got["response_id"].map(dict(zip(sorted(got["response_id"].unique(), key=int),
                                                         ["R1", "R2", "R3", "R4", "R5", "R6"])))
    got = got.sort_values(["response_id", "method"]).reset_index(drop=True)
    want = expected.sort_values(["response_id", "method"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[columns], want[columns], check_dtype=False)
    assert frame.attrs["methods"] == ["alpha", "beta", "shuffled-control"]
    assert frame.attrs["layers"] == ["layer1", "layer2"]
    assert len(ratings_frame(toy_study, include_invalid=False)) == 15


def test_round_trip_into_a_new_study_gives_an_identical_table(toy_study, tmp_path):
    first = exported(toy_study, tmp_path, "first.csv")
    call_command("import_ratings", str(first), "--study", "copy-of-toy", "--create")
    copy = Study.objects.get(name="copy-of-toy")
    assert copy.ask_best is True
    original = comparison_for_study(toy_study, by_layer=True, n_resamples=300)
    imported = comparison_for_study(copy, by_layer=True, n_resamples=300)
    pd.testing.assert_frame_equal(original, imported)
    assert original["n"].iloc[0] == 5
    # Exporting the copy writes the same file, byte for byte.
    second = exported(copy, tmp_path, "second.csv")
    assert second.read_text() == first.read_text()


def test_the_study_pages_download_imports_back_into_the_same_rows(toy_study, admin_client, tmp_path):
    def download(study):
        answer = admin_client.get(f"/studies/{study.name}/responses.csv")
        assert answer.status_code == 200
        return b"".join(answer.streaming_content).decode()

    page_file = tmp_path / "from-the-page.csv"
    page_file.write_text(download(toy_study))
    call_command("import_ratings", str(page_file), "--study", "copy-of-toy", "--create")
    copy = Study.objects.get(name="copy-of-toy")

    original_rows = pd.read_csv(page_file, dtype=str, keep_default_na=False)
    assert len(original_rows) == 18 and set(original_rows["method"]) == {"alpha", "beta", "shuffled-control"}
    assert download(copy) == page_file.read_bytes().decode()
    # export_ratings writes the same file as the page.
    assert exported(toy_study, tmp_path).read_text() == page_file.read_text()
    columns = ["response_id", "rater", "layer", "unit", "method", "rating", "best", "position", "is_valid", "text"]
    pd.testing.assert_frame_equal(
        ratings_frame(copy)[columns].astype(str), ratings_frame(toy_study)[columns].astype(str)
    )


def test_import_into_an_existing_study_adds_new_raters(toy_study, tmp_path):
    rows = pd.read_csv(exported(toy_study, tmp_path), dtype=str, keep_default_na=False)
    rows["response_id"] = "lab2-" + rows["response_id"]
    rows["rater"] = "lab2-" + rows["rater"]
    path = tmp_path / "lab2.csv"
    rows.to_csv(path, index=False)
    call_command("import_ratings", str(path), "--study", toy_study.name)
    assert Response.objects.filter(study=toy_study).count() == 12
    assert comparison_for_study(toy_study, n_resamples=50).set_index("method").loc["alpha", "n"] == 10


def test_validity_is_computed_by_the_rule_when_the_file_has_none(db, tmp_path):
    frame = hand_frame()
    path = tmp_path / "plain.csv"
    frame.drop(columns=["is_valid", "invalid_reason"]).assign(
        best=frame["best"].map({True: "true", False: "false"})
    ).to_csv(path, index=False)
    call_command("import_ratings", str(path), "--study", "plain", "--create")
    stored = dict(Response.objects.filter(study__name="plain").values_list("external_id", "is_valid"))
    assert stored == {"R1": True, "R2": True, "R3": True, "R4": False, "R5": True, "R6": True}


def bad_file_cases():
    """(name, how to spoil the exported file, expected words in the message)."""

    def rating_of_six(rows):
        rows.loc[4, "rating"] = "6"  # row 6 of the file (header is row 1)
        return rows, ["row 6", "rating 6 is outside 1..5"]

    def two_best(rows):
        rows.loc[(rows["response_id"] == rows.loc[0, "response_id"]), "best"] = "true"
        return rows, ["row 3", "second best"]

    def rater_disagrees(rows):
        rows.loc[1, "rater"] = "someone-else"
        return rows, ["row 3", "disagrees", "on rater"]

    def missing_column(rows):
        return rows.drop(columns=["rating"]), ["row 1", "missing column(s) rating"]

    def unknown_method(rows):
        rows["response_id"] = "new-" + rows["response_id"]
        rows["rater"] = "new-" + rows["rater"]
        rows.loc[7, "method"] = "gamma"
        return rows, ["row 9", "unknown method 'gamma'", "--create"]

    return [rating_of_six, two_best, rater_disagrees, missing_column, unknown_method]


@pytest.mark.parametrize("spoil", bad_file_cases(), ids=lambda f: f.__name__)
def test_bad_files_name_the_row_and_store_nothing(toy_study, tmp_path, spoil):
    rows = pd.read_csv(exported(toy_study, tmp_path), dtype=str, keep_default_na=False)
    rows, expected_words = spoil(rows)
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    before = database_counts()
    # Into the existing study (no --create) and, where the study could be created, into a new one.
    for arguments in (["--study", toy_study.name], ["--study", "brand-new", "--create"]):
        if spoil.__name__ == "unknown_method" and "--create" in arguments:
            continue
        with pytest.raises(CommandError) as error:
            call_command("import_ratings", str(path), *arguments)
        message = str(error.value)
        assert str(path) in message
        for words in expected_words:
            assert words in message
        assert database_counts() == before


def test_failure_after_creating_records_rolls_everything_back(toy_study, tmp_path):
    rows = pd.read_csv(exported(toy_study, tmp_path), dtype=str, keep_default_na=False)
    rows.loc[rows["method"] == "beta", "method"] = "brand-new-method"
    path = tmp_path / "again.csv"
    rows.to_csv(path, index=False)
    before = database_counts()
    # --create adds the method and items, then finds the responses already stored: nothing may remain.
    with pytest.raises(CommandError, match="already stored"):
        call_command("import_ratings", str(path), "--study", toy_study.name, "--create")
    assert database_counts() == before


def test_dnd_wide_format_becomes_one_response_per_evaluator(db, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(
        "Layer,Unit,Mean Caption Label,Topk-Sq Label,Mean Caption E1 Rating,Topk-Sq E1 Rating,"
        "Mean Caption E2 Rating,Topk-Sq E2 Rating,Uninterpretable E1,None E1,Uninterpretable E2,None E2\n"
        "1,10,red things,red stripes,3,5,4,5,FALSE,FALSE,FALSE,TRUE\n"
        "4,7,dogs,a dog's face,1,2,2,2,TRUE,FALSE,FALSE,FALSE\n"
    )
    call_command("import_ratings", str(path), "--study", "dnd-mini", "--create", "--format", "dnd-wide")
    frame = ratings_frame("dnd-mini")
    assert len(frame) == 8 and frame["response_id"].nunique() == 4
    assert frame["best"].isna().all()
    assert set(frame["layer"]) == {"layer1", "layer4"}
    table = comparison_for_study("dnd-mini", n_resamples=50).set_index("method")
    # mean-caption: 3, 4, 1, 2 -> 2.5; topk-sq: 5, 5, 2, 2 -> 3.5.
    assert table.loc["mean-caption", "mean"] == pytest.approx(2.5)
    assert table.loc["topk-sq", "mean"] == pytest.approx(3.5)
    assert set(frame.loc[frame["method"] == "topk-sq", "text"]) == {"red stripes", "a dog's face"}


def test_wide_file_without_its_columns_is_refused(db, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("Layer,Unit,Label\n1,2,dogs\n")
    before = database_counts()
    with pytest.raises(CommandError, match="row 1: no '<Method> E<k> Rating' columns"):
        call_command("import_ratings", str(path), "--study", "w", "--create", "--format", "dnd-wide")
    assert database_counts() == before


def test_export_of_an_unknown_study_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="no study named 'ghost'"):
        call_command("export_ratings", "--study", "ghost", str(tmp_path / "x.csv"))
