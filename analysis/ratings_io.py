"""Reading ratings files in the tidy CSV format (evaluation.ratings_table) and handing them to
evaluation's import service; writing a study out in the same format.

Row numbers in error messages count the header as row 1, as a spreadsheet shows them. This module
only reads and checks the file; `evaluation.imports.record_imported_responses` checks the answers
as the rating page would and stores them all or nothing.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.csv_cells import unescape_frame
from evaluation.imports import ImportedRating, ImportedResponse, ImportRefused, ImportSummary, record_imported_responses
from evaluation.ratings_table import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, write_tidy_ratings

# Per-response fields every row of a response must repeat identically.
RESPONSE_FIELDS = ["rater", "network", "layer", "unit", "uninterpretable", "none_fit", "submitted_at", "seconds",
                   "visible_seconds", "source",
                   "is_valid", "invalid_reason"]
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
_MAX_ERRORS_SHOWN = 10


class RatingsImportError(ValueError):
    """A file that cannot be imported; the message names file, row and reason."""


# ---------------------------------------------------------------- export


def export_ratings(study, path) -> int:
    """Write the study's responses (valid and invalid) as tidy CSV, as the study page's download
    does; returns the number of rows."""
    with open(path, "w", encoding="utf-8", newline="") as stream:
        return write_tidy_ratings(study, stream)


# ---------------------------------------------------------------- parsing


class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[int, str]] = []

    def add(self, row: int, reason: str):
        self.found.append((int(row), reason))

    def add_rows(self, rows, reason_for_row, limit=_MAX_ERRORS_SHOWN):
        for row in list(rows)[:limit]:
            self.add(row, reason_for_row(row))

    def raise_if_any(self):
        if not self.found:
            return
        found = sorted(set(self.found))
        lines = [f"{self.source}, row {row}: {reason}" for row, reason in found[:_MAX_ERRORS_SHOWN]]
        if len(found) > _MAX_ERRORS_SHOWN:
            lines.append(f"... and {len(found) - _MAX_ERRORS_SHOWN} more problems")
        raise RatingsImportError("\n".join(lines))


def _parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(parsed as boolean with <NA> for empty, mask of unparseable)."""
    lowered = values.str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[lowered.isin(_TRUE)] = True
    parsed[lowered.isin(_FALSE)] = False
    bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE) | (lowered == ""))
    return parsed, bad


def read_ratings_csv(path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise RatingsImportError(f"{path}: cannot read as CSV ({error})") from error
    # Exports escape cells a spreadsheet would run (evaluation.csv_cells); read back what was exported.
    return unescape_frame(raw)


def parse_ratings(raw: pd.DataFrame, source: str = "<ratings>") -> pd.DataFrame:
    """Type and check a tidy ratings table of strings; raises RatingsImportError naming rows."""
    problems = _Problems(source)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        problems.add(1, f"missing column(s) {', '.join(missing)} (header has: {', '.join(map(str, raw.columns))})")
        problems.raise_if_any()
    raw = raw.reset_index(drop=True)
    for column in OPTIONAL_COLUMNS:
        if column not in raw.columns:
            raw[column] = ""
    rows = raw.index.to_numpy() + 2
    frame = pd.DataFrame({"row": rows})
    for column in ["response_id", "rater", "network", "layer", "method", "source", "invalid_reason", "text"]:
        frame[column] = raw[column].astype(str).str.strip() if column != "text" else raw[column].astype(str)
    for column in ["response_id", "rater", "network", "layer", "method"]:
        empty = frame[column] == ""
        problems.add_rows(rows[empty.to_numpy()], lambda row, c=column: f"{c} is empty")

    # The rating's range (1..5) is the rating page's rule, checked by evaluation's import service.
    for column, low in (("rating", None), ("unit", 0), ("position", 0)):
        text = raw[column].astype(str).str.strip()
        number = pd.to_numeric(text, errors="coerce")
        blank = text == ""
        whole = number.notna() & (number == number.round())
        if column == "position":
            bad_type = ~blank & ~whole
        else:
            bad_type = ~whole
        problems.add_rows(
            rows[bad_type.to_numpy()],
            lambda row, c=column, t=text: f"{c} is empty" if t.iloc[row - 2] == "" else f"{c} {t.iloc[row - 2]!r} is not a whole number",
        )
        if low is not None:
            out_of_range = whole & ~(number >= low)
            problems.add_rows(
                rows[out_of_range.to_numpy()], lambda row, c=column, t=text, low=low: f"{c} {t.iloc[row - 2]} is outside >= {low}"
            )
        frame[column] = number.where(whole).astype("Int64")

    for column in ("best", "uninterpretable", "none_fit", "is_valid"):
        parsed, bad = _parse_bool(raw[column].astype(str))
        problems.add_rows(rows[bad.to_numpy()], lambda row, c=column: f"{c} {raw[c].iloc[row - 2]!r} is not true/false")
        frame[column] = parsed
    for flag in ("uninterpretable", "none_fit"):
        frame[flag] = frame[flag].fillna(False)

    stamp_text = raw["submitted_at"].astype(str).str.strip()
    stamps = pd.to_datetime(stamp_text.where(stamp_text != ""), utc=True, errors="coerce", format="ISO8601")
    bad_stamp = (stamp_text != "") & stamps.isna()
    problems.add_rows(rows[bad_stamp.to_numpy()], lambda row: f"submitted_at {stamp_text.iloc[row - 2]!r} is not an ISO date-time")
    frame["submitted_at"] = stamps
    for column in ("seconds", "visible_seconds"):
        text = raw[column].astype(str).str.strip()
        number = pd.to_numeric(text, errors="coerce")
        bad = (text != "") & ~(number.notna() & np.isfinite(number) & (number >= 0))
        problems.add_rows(
            rows[bad.to_numpy()],
            lambda row, c=column, t=text: f"{c} {t.iloc[row - 2]!r} is not a number of seconds (0 or more)",
        )
        frame[column] = number.where(~bad).astype("float64")
    problems.raise_if_any()
    _check_responses(frame, problems)
    problems.raise_if_any()
    return frame


def _check_responses(frame: pd.DataFrame, problems: _Problems):
    """The rows of a response agree and name at most one best; the file rates one network.
    (What a response itself may say is checked by evaluation's import service.)"""
    rows = frame["row"].to_numpy()
    by_response = frame.groupby("response_id", sort=False)
    first_row = by_response["row"].transform("first")
    for column in RESPONSE_FIELDS:
        values = frame[column].astype(str).fillna("")
        first = values.groupby(frame["response_id"], sort=False).transform("first")
        differs = (values != first).to_numpy()
        problems.add_rows(
            rows[differs],
            lambda row, c=column, v=values, f=first: (
                f"response {frame['response_id'].iloc[row - 2]!r} disagrees with its row {first_row.iloc[row - 2]} "
                f"on {c}: {v.iloc[row - 2]!r} vs {f.iloc[row - 2]!r}"
            ),
        )
    picked = frame["best"].fillna(False).astype(bool)
    pick_number = picked.astype(int).groupby(frame["response_id"], sort=False).cumsum()
    second = (picked & (pick_number > 1)).to_numpy()
    problems.add_rows(
        rows[second], lambda row: f"response {frame['response_id'].iloc[row - 2]!r} has a second best row (only one allowed)"
    )
    given = frame["best"].notna()
    some_given = given.groupby(frame["response_id"], sort=False).transform("any")
    mixed = (some_given & ~given).to_numpy()
    problems.add_rows(
        rows[mixed],
        lambda row: f"best is empty but other rows of response {frame['response_id'].iloc[row - 2]!r} give true/false",
    )
    networks = frame["network"].unique()
    if len(networks) > 1:
        other = rows[(frame["network"] != networks[0]).to_numpy()][0]
        problems.add(other, f"network {frame['network'].iloc[other - 2]!r} differs from {networks[0]!r}: one study rates one network")


# ---------------------------------------------------------------- importing


def import_ratings(path, study_name: str, create: bool = False) -> ImportSummary:
    raw = read_ratings_csv(path)
    return import_ratings_frame(raw, study_name, create=create, source=str(path))


def import_ratings_frame(raw: pd.DataFrame, study_name: str, create: bool = False, source: str = "<ratings>",
                         owner=None) -> ImportSummary:
    """Check a table of strings in the tidy format, then store it through evaluation's import service
    (a study it creates belongs to `owner`)."""
    frame = parse_ratings(raw, source)
    if frame.empty:
        raise RatingsImportError(f"{source}: the file has no data rows")
    try:
        return record_imported_responses(
            study_name, frame["network"].iloc[0], imported_responses(frame), create=create,
            title=f"Imported from {Path(source).name}", owner=owner,
        )
    except ImportRefused as error:
        raise RatingsImportError("\n".join(f"{source}, {line}" for line in str(error).splitlines())) from None


def imported_responses(frame: pd.DataFrame) -> list[ImportedResponse]:
    """The parsed rows grouped into responses, in the order each response first appears."""
    codes, _ = pd.factorize(frame["response_id"], sort=False)
    order = frame.index.to_numpy()[pd.Series(codes).argsort(kind="stable").to_numpy()]
    frame = frame.loc[order].reset_index(drop=True)

    def column(name):
        return frame[name].astype(object).where(frame[name].notna(), None).tolist()

    row, method, rating, position, text, best = (column(c) for c in ("row", "method", "rating", "position", "text", "best"))
    response_id, rater, layer, unit = (column(c) for c in ("response_id", "rater", "layer", "unit"))
    uninterpretable, none_fit, source = column("uninterpretable"), column("none_fit"), column("source")
    is_valid, invalid_reason, submitted_at = column("is_valid"), column("invalid_reason"), column("submitted_at")
    seconds, visible_seconds = column("seconds"), column("visible_seconds")
    ids = frame["response_id"].to_numpy()
    starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]] + [len(ids)]
    responses = []
    for start, end in zip(starts[:-1], starts[1:]):
        ratings = tuple(
            ImportedRating(int(row[i]), method[i], int(rating[i]), None if position[i] is None else int(position[i]), text[i])
            for i in range(start, end)
        )
        best_row = next((i for i in range(start, end) if best[i] is True), None)
        stamp = submitted_at[start]
        responses.append(ImportedResponse(
            row=int(row[start]), response_id=response_id[start], rater=rater[start], layer=layer[start],
            unit=int(unit[start]), ratings=ratings, best_method=None if best_row is None else method[best_row],
            uninterpretable=bool(uninterpretable[start]), none_fit=bool(none_fit[start]),
            submitted_at=None if stamp is None else stamp.to_pydatetime(), seconds=seconds[start],
            visible_seconds=visible_seconds[start], source=source[start] or "",
            is_valid=None if is_valid[start] is None else bool(is_valid[start]), invalid_reason=invalid_reason[start] or "",
        ))
    return responses
