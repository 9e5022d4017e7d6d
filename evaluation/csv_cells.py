"""CSV cells a spreadsheet will not run: every CSV the platform writes goes through here.

A cell that starts with = + - @, a tab or a carriage return is a formula to Excel, LibreOffice and Google
Sheets (`=HYPERLINK(...)` in a crowd worker's id or a description). Such cells are written with a leading
apostrophe, which spreadsheets show as text and never evaluate. The escape is reversible: a cell that already
starts with an apostrophe gets a second one, so `unescape_cell(escape_cell(x)) == x` for every string, and the
tidy ratings importer reads back exactly what was exported. Plain numbers ("-0.25", "+3") are left alone: no
spreadsheet runs them, and tables stay numeric.

Rows end with CRLF (RFC 4180). Python's csv module quotes a cell only for the characters of its line terminator,
so with "\n" alone a carriage return inside a cell (a description, a crowd session id) went out bare and split the
row when read back; with "\r\n" every cell holding either character is quoted.
"""
import csv
import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ESCAPED = re.compile(r"'[=+\-@\t\r']", re.DOTALL)
LINE_END = "\r\n"


def escape_cell(value):
    """The value as written to a CSV cell: strings that would run get a leading apostrophe."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(ESCAPE) or (value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)):
        return ESCAPE + value
    return value


def unescape_cell(value: str) -> str:
    """The inverse of escape_cell for a cell read back as text."""
    return value[1:] if _ESCAPED.match(value) else value


def safe_csv_writer(stream, **options):
    """csv.writer whose writerow escapes every cell (returns what the stream's write returns)."""
    writer = csv.writer(stream, lineterminator=LINE_END, **options)

    class SafeWriter:
        def writerow(self, row):
            return writer.writerow([escape_cell(cell) for cell in row])

    return SafeWriter()


def safe_frame_csv(frame: pd.DataFrame, **options) -> str:
    """frame.to_csv with every text cell (and the header) escaped."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_cell)
    safe.columns = [escape_cell(str(name)) for name in safe.columns]
    return safe.to_csv(lineterminator=LINE_END, **options)


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read with dtype=str, its cells (and header) as they were before escape_cell."""
    frame = frame.copy()
    frame.columns = [unescape_cell(str(name)) for name in frame.columns]
    for column in frame.columns:
        escaped = frame[column].str.match(_ESCAPED.pattern)
        if escaped.any():
            frame.loc[escaped, column] = frame.loc[escaped, column].str[1:]
    return frame
