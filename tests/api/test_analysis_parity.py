"""The API's analysis of a study imported from a ratings file is exactly what the commands print."""
import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from analysis.ratings_io import export_ratings
from tests.analysis.conftest import build_study

pytestmark = pytest.mark.django_db

OPTION_SETS = [
    pytest.param({}, [], id="defaults"),
    pytest.param({"by": "layer"}, ["--by", "layer"], id="by-layer"),
    pytest.param({"include_invalid": "true"}, ["--include-invalid"], id="include-invalid"),
    pytest.param({"exclude_flagged": "true"}, ["--exclude-flagged"], id="exclude-flagged"),
    pytest.param({"by": "layer", "include_invalid": "true", "exclude_flagged": "true", "methods": "beta,alpha",
                  "bootstrap": "300", "seed": "7"},
                 ["--by", "layer", "--include-invalid", "--exclude-flagged", "--methods", "beta,alpha",
                  "--bootstrap", "300", "--seed", "7"], id="all-options"),
]


@pytest.fixture
def imported_study(api, tmp_path):
    """The hand-computed ratings of tests/analysis as a tidy CSV file, imported through the API into a new study."""
    export_ratings(build_study("hand-computed"), tmp_path / "hand.csv")
    csv_bytes = (tmp_path / "hand.csv").read_bytes()
    response = api.post("/api/v1/study-imports/",
                        {"name": "from-file", "file": SimpleUploadedFile("hand.csv", csv_bytes, "text/csv")},
                        format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["responses"] == 6
    return "from-file"


def command_json(command: str, study: str, options: list[str]):
    out = StringIO()
    call_command(command, "--study", study, "--format", "json", *options, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("query, options", OPTION_SETS)
def test_comparison_table_is_the_commands(api, imported_study, query, options):
    response = api.get(f"/api/v1/studies/{imported_study}/comparison/", query)
    assert response.status_code == 200
    printed = command_json("comparison_table", imported_study, options)
    assert response.json() == printed
    assert len(printed) >= 2 and all(isinstance(row["mean"], float) for row in printed)
    if options:  # each option changes this study's numbers, so the equality above shows the API applies it
        assert printed != command_json("comparison_table", imported_study, [])


def test_comparison_by_layer_has_a_block_per_layer(api, imported_study):
    rows = api.get(f"/api/v1/studies/{imported_study}/comparison/", {"by": "layer", "bootstrap": 50}).json()
    assert [row["layer"] for row in rows] == [None] * 3 + ["layer1"] * 3 + ["layer2"] * 3
    assert [row["n"] for row in rows[:3]] == [5, 5, 5]


def test_pairwise_and_agreement_are_the_commands(api, imported_study):
    pairwise = api.get(f"/api/v1/studies/{imported_study}/pairwise/", {"bootstrap": 100, "by": "layer"}).json()
    assert pairwise == command_json("compare_methods", imported_study, ["--bootstrap", "100", "--by", "layer"])
    agreement = api.get(f"/api/v1/studies/{imported_study}/agreement/", {"include_invalid": "true"}).json()
    assert agreement == command_json("rater_agreement", imported_study, ["--include-invalid"])


def test_unknown_method_and_empty_selection_are_problems(api, imported_study):
    unknown = api.get(f"/api/v1/studies/{imported_study}/comparison/", {"methods": "alpha,gamma"})
    assert unknown.status_code == 400
    assert "gamma" in unknown.json()["detail"]
    nobody = api.get(f"/api/v1/studies/{imported_study}/comparison/", {"exclude_raters": "r1,r2"})
    assert nobody.status_code == 422
    assert nobody.json()["type"].endswith("/no-responses")


def test_the_exclusion_policy_applies_alike_in_the_api_and_the_commands(api, imported_study):
    from evaluation.models import Study
    from evaluation.services import set_exclusion_policy

    set_exclusion_policy(Study.objects.get(name=imported_study), "invalid_rate > 0.2")
    rows = api.get(f"/api/v1/studies/{imported_study}/comparison/", {"bootstrap": 50}).json()
    assert rows == command_json("comparison_table", imported_study, ["--bootstrap", "50"])
    assert [row["n"] for row in rows] == [3, 3, 3] and [row["n_before_policy"] for row in rows] == [5, 5, 5]
    everyone = api.get(f"/api/v1/studies/{imported_study}/comparison/", {"bootstrap": 50, "ignore_policy": "true"}).json()
    assert [row["n"] for row in everyone] == [5, 5, 5]
    agreement = api.get(f"/api/v1/studies/{imported_study}/agreement/").json()
    assert agreement == command_json("rater_agreement", imported_study, [])
    assert [row["excluded"] for row in agreement["rater_quality"]] == [False, True]
