"""The one tidy ratings format: what the study page's download and `export_ratings` write, and what
`import_ratings` reads back.

One row per response x shown description. Columns: response_id, rater, network, layer, unit,
method, rating, best, uninterpretable, none_fit (required on import); position, submitted_at,
seconds, visible_seconds, source, is_valid, invalid_reason, text (optional). `response_id` is the response's external id
(MTurk assignment, Prolific session, imported id) or else its primary key; `rater` the rater's
external id or else `rater-<pk>`; `best` is true/false, empty on every row of a study that asked
no best question; flags are true/false; `submitted_at` is ISO 8601 in UTC; `seconds` is the time on
task (first shown to submitted, server clock) and `visible_seconds` the time the page was visible,
both in seconds, empty when not recorded. Attention-check answers are never written. Cells a spreadsheet would run
as a formula are written with a leading apostrophe (evaluation.csv_cells); the importer removes it.
"""
from __future__ import annotations

from typing import Iterator

from django.db.models import F

from .csv_cells import safe_csv_writer
from .models import Rating, Study, rater_name

REQUIRED_COLUMNS = [
    "response_id", "rater", "network", "layer", "unit", "method", "rating", "best", "uninterpretable", "none_fit",
]
OPTIONAL_COLUMNS = [
    "position", "submitted_at", "seconds", "visible_seconds", "source", "is_valid", "invalid_reason", "text",
]
TIDY_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TRUE, FALSE = "true", "false"


def _flag(value: bool) -> str:
    return TRUE if value else FALSE


def _seconds(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def tidy_rating_rows(study: Study) -> Iterator[list[str]]:
    """The study's ratings (valid and invalid responses) as rows of TIDY_COLUMNS, in submission order."""
    network = study.network.name
    ratings = (
        Rating.objects.filter(response__study=study, response__is_check=False)
        .order_by("response__submitted_at", "response_id", F("position").asc(nulls_last=True), "item_id")
        .values_list(
            "response_id", "response__external_id", "response__rater_id", "response__rater__external_id",
            "item__study_neuron__neuron__layer__name", "item__study_neuron__neuron__unit", "item__method__name",
            "value", "item_id", "response__best_item_id", "response__uninterpretable", "response__none_fit",
            "position", "response__submitted_at", "response__seconds", "response__visible_seconds", "response__source",
            "response__is_valid", "response__invalid_reason", "item__text",
        )
    )
    for (response_pk, response_external, rater_pk, rater_external, layer, unit, method, value, item_id, best_item_id,
         uninterpretable, none_fit, position, submitted_at, seconds, visible_seconds, source, is_valid, invalid_reason,
         text) in ratings.iterator(chunk_size=10000):
        yield [
            response_external or str(response_pk), rater_name(rater_pk, rater_external), network, layer, str(unit),
            method, str(value), _flag(item_id == best_item_id) if study.ask_best else "", _flag(uninterpretable),
            _flag(none_fit), "" if position is None else str(position), submitted_at.isoformat(), _seconds(seconds),
            _seconds(visible_seconds), source,
            _flag(is_valid), invalid_reason, text,
        ]


def write_tidy_ratings(study: Study, stream) -> int:
    """Write the header and every row to a text stream; returns the number of rows."""
    writer = safe_csv_writer(stream)
    writer.writerow(TIDY_COLUMNS)
    count = 0
    for row in tidy_rating_rows(study):
        writer.writerow(row)
        count += 1
    return count
