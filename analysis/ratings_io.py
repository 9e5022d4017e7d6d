"""Import and export of ratings in the tidy CSV format.

Columns (one row per response x shown description): response_id, rater,
network, layer, unit, method, rating, best, uninterpretable, none_fit; optional
position, submitted_at, source, is_valid, invalid_reason, text. Row numbers in
error messages count the header as row 1, as a spreadsheet shows them.

An import checks the whole file first and stores it in one transaction, so a
file with any error changes nothing.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from analysis.frames import ratings_frame
from evaluation.models import Rater, Rating, Response, Study, StudyItem, StudyMethod, StudyNeuron
from explain.models import Layer, Method, Network, Neuron

from evaluation.validation import validate_response

REQUIRED_COLUMNS = [
    "response_id", "rater", "network", "layer", "unit", "method", "rating", "best", "uninterpretable", "none_fit",
]
OPTIONAL_COLUMNS = ["position", "submitted_at", "source", "is_valid", "invalid_reason", "text"]
EXPORT_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Per-response fields every row of a response must repeat identically.
RESPONSE_FIELDS = ["rater", "network", "layer", "unit", "uninterpretable", "none_fit", "submitted_at", "source",
                   "is_valid", "invalid_reason"]
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
_MAX_ERRORS_SHOWN = 10
_BATCH = 5000


class RatingsImportError(ValueError):
    """A file that cannot be imported; the message names file, row and reason."""


@dataclass
class ImportResult:
    study: Study
    responses: int
    ratings: int
    created: dict = field(default_factory=dict)
    validity_from_file_differs: int = 0


# ---------------------------------------------------------------- export


def frame_to_csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame as the strings written to CSV."""
    out = pd.DataFrame(index=frame.index)
    for column in ["response_id", "rater", "network", "layer", "method", "source", "invalid_reason", "text"]:
        out[column] = frame[column].astype(str)
    out["unit"] = frame["unit"].astype("int64").astype(str)
    out["rating"] = frame["rating"].astype("int64").astype(str)
    out["best"] = frame["best"].map({True: "true", False: "false"}).fillna("").astype(str)
    for flag in ("uninterpretable", "none_fit", "is_valid"):
        out[flag] = np.where(frame[flag].astype(bool), "true", "false")
    out["position"] = frame["position"].astype("Int64").astype(str).replace("<NA>", "")
    out["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True).map(lambda t: t.isoformat())
    return out[EXPORT_COLUMNS]


def export_ratings(study, path) -> int:
    """Write the study's responses (valid and invalid) as tidy CSV; returns the number of rows."""
    frame = ratings_frame(study, include_invalid=True)
    frame_to_csv_text(frame).to_csv(path, index=False)
    return len(frame)


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
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise RatingsImportError(f"{path}: cannot read as CSV ({error})") from error


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

    for column, low, high in (("rating", 1, 5), ("unit", 0, None), ("position", 0, None)):
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
        in_range = number >= low
        if high is not None:
            in_range &= number <= high
        out_of_range = whole & ~in_range
        span = f"{low}..{high}" if high is not None else f">= {low}"
        problems.add_rows(
            rows[out_of_range.to_numpy()], lambda row, c=column, t=text: f"{c} {t.iloc[row - 2]} is outside {span}"
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
    sources = set(Response.Source.values)
    bad_source = (frame["source"] != "") & ~frame["source"].isin(sources)
    problems.add_rows(
        rows[bad_source.to_numpy()],
        lambda row: f"source {frame['source'].iloc[row - 2]!r} is not one of {', '.join(sorted(sources))}",
    )
    for value in set(frame["method"].unique()) - {""}:
        try:
            validate_slug(value)
        except ValidationError:
            first = rows[(frame["method"] == value).to_numpy()][0]
            problems.add(first, f"method {value!r} is not a slug (letters, digits, - and _ only)")
    problems.raise_if_any()
    _check_responses(frame, problems)
    problems.raise_if_any()
    return frame


def _check_responses(frame: pd.DataFrame, problems: _Problems):
    """A response's rows agree; at most one best; no method or neuron twice."""
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
    duplicate_method = frame.duplicated(["response_id", "method"]).to_numpy()
    problems.add_rows(
        rows[duplicate_method],
        lambda row: f"method {frame['method'].iloc[row - 2]!r} appears twice in response {frame['response_id'].iloc[row - 2]!r}",
    )
    duplicate_position = (frame["position"].notna() & frame.duplicated(["response_id", "position"])).to_numpy()
    problems.add_rows(
        rows[duplicate_position],
        lambda row: f"position {frame['position'].iloc[row - 2]} appears twice in response {frame['response_id'].iloc[row - 2]!r}",
    )
    networks = frame["network"].unique()
    if len(networks) > 1:
        other = rows[(frame["network"] != networks[0]).to_numpy()][0]
        problems.add(other, f"network {frame['network'].iloc[other - 2]!r} differs from {networks[0]!r}: one study rates one network")
    heads = frame[(frame["row"] == first_row)]
    repeated = heads.duplicated(["rater", "layer", "unit"], keep="first")
    for row in heads.loc[repeated, "row"].to_numpy()[:_MAX_ERRORS_SHOWN]:
        head = heads[heads["row"] == row].iloc[0]
        earlier = heads[(heads["rater"] == head["rater"]) & (heads["layer"] == head["layer"]) & (heads["unit"] == head["unit"])]
        problems.add(
            row,
            f"rater {head['rater']!r} rated neuron {head['layer']}#{head['unit']} again (response "
            f"{head['response_id']!r}; first in response {earlier.iloc[0]['response_id']!r}, row {earlier.iloc[0]['row']})",
        )


# ---------------------------------------------------------------- storing


def import_ratings(path, study_name: str, create: bool = False, show_progress: bool = False) -> ImportResult:
    raw = read_ratings_csv(path)
    return import_ratings_frame(raw, study_name, create=create, source=str(path), show_progress=show_progress)


def import_ratings_frame(raw: pd.DataFrame, study_name: str, create: bool = False, source: str = "<ratings>",
                         show_progress: bool = False) -> ImportResult:
    """Check then store a table of strings in the tidy format (all or nothing)."""
    frame = parse_ratings(raw, source)
    problems = _Problems(source)
    try:
        validate_slug(study_name)
    except ValidationError:
        raise RatingsImportError(f"{source}: study name {study_name!r} is not a slug (letters, digits, - and _ only)")
    if frame.empty:
        raise RatingsImportError(f"{source}: the file has no data rows")
    with transaction.atomic():
        study = Study.objects.select_related("network").filter(name=study_name).first()
        network_name = frame["network"].iloc[0]
        file_asks_best = bool(frame["best"].notna().any())
        if study is None and not create:
            raise RatingsImportError(f"{source}: study {study_name!r} does not exist (use --create to make it)")
        if study is not None and study.network.name != network_name:
            problems.add(2, f"network {network_name!r} is not the study's network {study.network.name!r}")
            problems.raise_if_any()
        if study is not None and not study.ask_best and file_asks_best:
            row = frame.loc[frame["best"].notna(), "row"].iloc[0]
            problems.add(row, f"best is given but study {study_name!r} asks no best question")
            problems.raise_if_any()
        created = {}
        if study is None:
            network, made = Network.objects.get_or_create(
                name=network_name, defaults={"architecture": network_name, "description": f"Created by importing {source}"}
            )
            created["network"] = int(made)
            study = Study.objects.create(
                name=study_name, network=network, ask_best=file_asks_best, status=Study.Status.CLOSED,
                title=f"Imported from {Path(source).name}",
            )
            created["study"] = 1
        ask_best = study.ask_best
        items = _resolve_items(study, frame, create, problems, created)
        raters = _resolve_raters(study, frame, created)
        problems.raise_if_any()
        _check_not_already_stored(study, frame, items, raters, problems)
        problems.raise_if_any()
        responses, ratings_count, differs = _store(study, frame, items, raters, ask_best, show_progress)
    return ImportResult(study, responses, ratings_count, created, differs)


def _natural_key(name: str):
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _resolve_items(study: Study, frame: pd.DataFrame, create: bool, problems: _Problems, created: dict) -> dict:
    """(layer, unit, method) -> StudyItem id, creating what is missing when `create`."""
    network = study.network
    first_rows = frame.drop_duplicates("method").set_index("method")["row"]
    study_methods = dict(StudyMethod.objects.filter(study=study).values_list("method__name", "method_id"))
    methods = {}
    for name in frame["method"].drop_duplicates():
        if name in study_methods:
            methods[name] = study_methods[name]
        elif create:
            method, made = Method.objects.get_or_create(name=name, defaults={"kind": Method.Kind.IMPORTED, "display_name": name})
            created["methods"] = created.get("methods", 0) + int(made)
            next_order = StudyMethod.objects.filter(study=study).count()
            StudyMethod.objects.create(study=study, method=method, order=next_order)
            methods[name] = method.pk
        else:
            problems.add(first_rows[name], f"unknown method {name!r}: not in study {study.name!r} (use --create to add it)")
    if problems.found:
        return {}

    layers = dict(Layer.objects.filter(network=network).values_list("name", "pk"))
    missing_layers = sorted(set(frame["layer"]) - set(layers), key=_natural_key)
    if missing_layers and not create:
        for name in missing_layers:
            problems.add(frame.loc[frame["layer"] == name, "row"].iloc[0], f"unknown layer {name!r} of network {network.name!r}")
        return {}
    start = Layer.objects.filter(network=network).count()
    for offset, name in enumerate(missing_layers):
        layers[name] = Layer.objects.create(network=network, name=name, order=start + offset).pk
    created["layers"] = len(missing_layers)

    neuron_keys = frame[["layer", "unit"]].drop_duplicates()
    neuron_keys = neuron_keys.assign(layer_id=neuron_keys["layer"].map(layers), unit=neuron_keys["unit"].astype(int))
    existing = {
        (layer_id, unit): pk
        for pk, layer_id, unit in Neuron.objects.filter(layer_id__in=set(layers.values())).values_list("pk", "layer_id", "unit")
    }
    wanted = list(zip(neuron_keys["layer_id"], neuron_keys["unit"]))
    missing_neurons = [key for key in wanted if key not in existing]
    study_neurons = dict(StudyNeuron.objects.filter(study=study).values_list("neuron_id", "pk"))
    if not create:
        unknown = [key for key in wanted if existing.get(key) not in study_neurons]
        for layer_id, unit in unknown[:_MAX_ERRORS_SHOWN]:
            layer_name = next(name for name, pk in layers.items() if pk == layer_id)
            row = frame.loc[(frame["layer"] == layer_name) & (frame["unit"] == unit), "row"].iloc[0]
            problems.add(row, f"neuron {layer_name}#{unit} is not in study {study.name!r} (use --create to add it)")
        if unknown:
            return {}
    _insert_rows(Neuron, ["layer", "unit"], [(int(layer_id), int(unit)) for layer_id, unit in missing_neurons])
    created["neurons"] = len(missing_neurons)
    existing = {
        (layer_id, unit): pk
        for pk, layer_id, unit in Neuron.objects.filter(layer_id__in=set(layers.values())).values_list("pk", "layer_id", "unit")
    }
    order = StudyNeuron.objects.filter(study=study).count()
    new_study_neurons = []
    for key in wanted:
        if existing[key] not in study_neurons:
            new_study_neurons.append((study.pk, existing[key], order))
            order += 1
    _insert_rows(StudyNeuron, ["study", "neuron", "order"], new_study_neurons)
    created["study_neurons"] = len(new_study_neurons)
    study_neurons = dict(StudyNeuron.objects.filter(study=study).values_list("neuron_id", "pk"))

    item_ids = {
        (sn, method_id): pk for pk, sn, method_id in
        StudyItem.objects.filter(study_neuron__study=study).values_list("pk", "study_neuron_id", "method_id")
    }
    needed = frame.drop_duplicates(["layer", "unit", "method"])
    result, new_items = {}, []
    for layer, unit, method, text, row in zip(needed["layer"], needed["unit"], needed["method"], needed["text"], needed["row"]):
        key = (study_neurons[existing[(layers[layer], int(unit))]], methods[method])
        if key in item_ids:
            result[(layer, int(unit), method)] = key
        elif create:
            new_items.append((key[0], key[1], text))
            result[(layer, int(unit), method)] = key
        else:
            problems.add(row, f"study {study.name!r} showed no description of {method!r} for neuron {layer}#{unit}")
    _insert_rows(StudyItem, ["study_neuron", "method", "text"], new_items)
    created["items"] = len(new_items)
    item_ids = {
        (sn, method_id): pk for pk, sn, method_id in
        StudyItem.objects.filter(study_neuron__study=study).values_list("pk", "study_neuron_id", "method_id")
    }
    return {name: (key[0], item_ids[key]) for name, key in result.items()}


def _rater_names(study: Study) -> dict:
    """Rater name as analysis.frames writes it (external id, else rater-<pk>) -> Rater pk."""
    return {
        external_id or f"rater-{pk}": pk
        for pk, external_id in Rater.objects.filter(study=study).order_by("pk").values_list("pk", "external_id")
    }


def _resolve_raters(study: Study, frame: pd.DataFrame, created: dict) -> dict:
    """Rater name in the file -> Rater pk: the study's rater of that name, else a new imported rater."""
    existing = _rater_names(study)
    names = [name for name in frame["rater"].drop_duplicates() if name not in existing]
    Rater.objects.bulk_create(
        [Rater(study=study, kind=Rater.Kind.IMPORTED, external_id=name, token=secrets.token_urlsafe(24)) for name in names],
        batch_size=_BATCH,
    )
    created["raters"] = len(names)
    return _rater_names(study)


def _check_not_already_stored(study: Study, frame: pd.DataFrame, items: dict, raters: dict, problems: _Problems):
    heads = frame.drop_duplicates("response_id")
    stored_ids = {
        external_id or str(pk) for pk, external_id in Response.objects.filter(study=study).values_list("pk", "external_id")
    }
    for row, response_id in zip(heads["row"], heads["response_id"]):
        if response_id in stored_ids:
            problems.add(row, f"response {response_id!r} is already stored in study {study.name!r}")
            if len(problems.found) >= _MAX_ERRORS_SHOWN:
                return
    stored_pairs = set(Response.objects.filter(study=study).values_list("rater_id", "study_neuron_id"))
    if not stored_pairs:
        return
    for row, rater, layer, unit, method in zip(heads["row"], heads["rater"], heads["layer"], heads["unit"], heads["method"]):
        if (raters[rater], items[(layer, int(unit), method)][0]) in stored_pairs:
            problems.add(row, f"rater {rater!r} already has a stored response for neuron {layer}#{unit}")
            if len(problems.found) >= _MAX_ERRORS_SHOWN:
                return


def _insert_rows(model, field_names: list[str], rows: list[tuple], show_progress: bool = False, label: str = ""):
    """INSERT plain tuples with one prepared statement per batch.

    bulk_create builds a model instance and compiles every value, which for a
    million ratings on SQLite took minutes; executemany over the same columns
    keeps every database constraint and costs a fraction of that.
    """
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in field_names)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(field_names))})"
    with connection.cursor() as cursor:
        for start in tqdm(range(0, len(rows), _BATCH * 10), desc=label or f"storing {meta.verbose_name_plural}",
                          disable=not show_progress):
            cursor.executemany(sql, rows[start : start + _BATCH * 10])


def _store(study: Study, frame: pd.DataFrame, items: dict, raters: dict, ask_best: bool, show_progress: bool):
    keys = list(zip(frame["layer"].tolist(), frame["unit"].astype(int).tolist(), frame["method"].tolist()))
    frame = frame.assign(
        study_neuron_id=[items[key][0] for key in keys],
        item_id=[items[key][1] for key in keys],
        rater_id=frame["rater"].map(raters),
    )
    codes, _ = pd.factorize(frame["response_id"], sort=False)
    frame = frame.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
    starts = np.flatnonzero(np.r_[True, frame["response_id"].to_numpy()[1:] != frame["response_id"].to_numpy()[:-1]])
    ends = np.r_[starts[1:], len(frame)]

    def column(name):
        return frame[name].astype(object).where(frame[name].notna(), None).tolist()

    method, rating, best, item_id = column("method"), column("rating"), column("best"), column("item_id")
    is_valid_file, reason_file = column("is_valid"), column("invalid_reason")
    now = timezone.now()
    stamps = frame["submitted_at"].iloc[starts]
    stamps = [
        connection.ops.adapt_datetimefield_value(now if pd.isna(stamp) else stamp.to_pydatetime()) for stamp in stamps
    ]
    rater_id, study_neuron_id = column("rater_id"), column("study_neuron_id")
    uninterpretable, none_fit = column("uninterpretable"), column("none_fit")
    response_id, source = column("response_id"), column("source")

    response_rows, differs = [], 0
    for index, (start, end) in tqdm(enumerate(zip(starts.tolist(), ends.tolist())), total=len(starts),
                                    desc="checking responses", disable=not show_progress):
        ratings = {method[i]: int(rating[i]) for i in range(start, end)}
        best_row = next((i for i in range(start, end) if best[i] is True), None)
        rule_valid, rule_reason = validate_response(ratings, None if best_row is None else method[best_row], ask_best)
        if is_valid_file[start] is None:
            is_valid, reason = rule_valid, rule_reason
        else:
            is_valid, reason = bool(is_valid_file[start]), reason_file[start]
            differs += int(is_valid != rule_valid)
        response_rows.append((
            study.pk, int(rater_id[start]), int(study_neuron_id[start]),
            None if best_row is None else int(item_id[best_row]),
            bool(uninterpretable[start]), bool(none_fit[start]), is_valid, "" if is_valid else (reason or ""),
            source[start] or Response.Source.IMPORTED, str(response_id[start]), stamps[index],
        ))
    _insert_rows(Response, ["study", "rater", "study_neuron", "best_item", "uninterpretable", "none_fit", "is_valid",
                            "invalid_reason", "source", "external_id", "submitted_at"], response_rows, show_progress)
    pks = dict(Response.objects.filter(study=study).exclude(external_id="").values_list("external_id", "pk"))
    response_pk = frame["response_id"].map(pks)
    rating_rows = list(zip(response_pk.astype(int).tolist(), frame["item_id"].astype(int).tolist(), column("position"),
                           frame["rating"].astype(int).tolist()))
    _insert_rows(Rating, ["response", "item", "position", "value"], rating_rows, show_progress)
    return len(response_rows), len(rating_rows), differs
