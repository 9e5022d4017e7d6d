"""Import of published neuron explanations, in the files' own formats.

Formats (as released with the CLIP-Dissect and DnD papers, see ../shared/data/published):

- ``clip-dissect``: ``layer,unit,description,similarity``; units 0-based; score = similarity.
- ``milan``: ``layer,unit,description``; units 0-based.
- ``netdissect``: NetDissect-Lite's per-layer ``tally`` file
  ``unit,category,label,score,...``, one file per layer (``--layer`` required).
  Its ``unit`` column is **1-based**: NetDissect-Lite writes ``unit + 1``, and the
  published files confirm it (units run 1..N for a layer of N channels, e.g.
  1..2048 for ResNet-50 layer4, never 0). Stored units are 0-based like all others;
  score = IoU, category kept in details.
- ``dnd``: Describe-and-Dissect, one file per layer (``--layer`` required):
  ``Neuron ID,Label 1,Label 2,Label 3`` (up to three ranked labels; a blank extra
  label is skipped, a blank first label is an error) or ``Neuron ID,label`` (fc).
  Neuron IDs are 0-based (the fc file runs 0..999).
- ``csv``: plain ``layer,unit,description[,score]``, units 0-based.

A file is validated completely before anything is written, and written in one
transaction: a bad file stores nothing. Re-importing replaces the method's
explanations of the neurons in the file (and those earlier imported from a file
of the same name) through `explain.services.store_explanations`, in place, so it
never duplicates and studies that froze an explanation keep it.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from explain.methods.base import ExplanationRecord
from explain.models import Layer, Method, Network, method_name_problem
from explain.services import store_explanations

FORMATS = ("clip-dissect", "milan", "netdissect", "dnd", "csv")

# Channel counts of the layers of known architectures, input side first. fc depends on
# the training set: 1000 classes for ImageNet, 365 for Places365 (see fc_width).
LAYER_WIDTHS = {
    "resnet18": {"conv1": 64, "layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512, "fc": 1000},
    "resnet34": {"conv1": 64, "layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512, "fc": 1000},
    "resnet50": {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048, "fc": 1000},
    "resnet101": {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048, "fc": 1000},
    "resnet152": {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048, "fc": 1000},
}
CLASS_COUNTS = {"places365": 365, "imagenet": 1000}


class ImportFileError(ValueError):
    """A problem with the file being imported; the message names file, row (or header) and reason."""

    def __init__(self, path, row, reason):
        self.path, self.row, self.reason = str(path), row, reason
        where = "" if row is None else ("header: " if row == "header" else f"row {row}: ")
        super().__init__(f"{path}: {where}{reason}")


@dataclass
class ParsedRow:
    layer: str
    unit: int
    rank: int
    text: str
    row: int  # 1-based data row in the file
    score: float | None = None
    details: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    network: str
    method: str
    source_file: str
    per_layer: dict[str, int]
    replaced: int

    @property
    def count(self) -> int:
        return sum(self.per_layer.values())


# -- reading the formats ----------------------------------------------------------


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(1-based data row number, {column: cell})])."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
            reader.fieldnames = header
            return header, [(number, row) for number, row in enumerate(reader, start=1)]
    except FileNotFoundError:
        raise ImportFileError(path, None, "file not found") from None
    except IsADirectoryError:
        raise ImportFileError(path, None, "is a folder, not a file") from None
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, f"not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise ImportFileError(path, None, f"not a readable CSV file ({error})") from None


def _read_rows(path: Path, required: list[str]) -> list[tuple[int, dict]]:
    header, rows = _read_table(path)
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(path, "header", f"missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})")
    return rows


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _unit(path, number, value: str, column: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", value):
        raise ImportFileError(path, number, f"{column} {value!r} is not an integer")
    return int(value)


def _score(path, number, value: str, column: str) -> float | None:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ImportFileError(path, number, f"{column} {value!r} is not a number") from None


def _description(path, number, value: str, column: str) -> str:
    if not value:
        raise ImportFileError(path, number, f"empty {column}")
    return value


def _parse_layer_unit_description(path, text_column, score_column, layer_filter, optional_score=False):
    required = ["layer", "unit", text_column] + ([score_column] if score_column and not optional_score else [])
    rows = _read_rows(path, required)
    parsed = []
    for number, row in rows:
        layer = _cell(row, "layer")
        if not layer:
            raise ImportFileError(path, number, "empty layer")
        if layer_filter and layer != layer_filter:
            continue
        parsed.append(
            ParsedRow(
                layer=layer,
                unit=_unit(path, number, _cell(row, "unit"), "unit"),
                rank=1,
                text=_description(path, number, _cell(row, text_column), text_column),
                row=number,
                score=_score(path, number, _cell(row, score_column), score_column) if score_column else None,
            )
        )
    return parsed


def parse_clip_dissect(path, layer=None):
    return _parse_layer_unit_description(path, "description", "similarity", layer)


def parse_milan(path, layer=None):
    return _parse_layer_unit_description(path, "description", None, layer)


def parse_plain_csv(path, layer=None):
    return _parse_layer_unit_description(path, "description", "score", layer, optional_score=True)


def parse_netdissect(path, layer):
    parsed = []
    for number, row in _read_rows(path, ["unit", "category", "label", "score"]):
        file_unit = _unit(path, number, _cell(row, "unit"), "unit")
        if file_unit < 1:
            raise ImportFileError(path, number, f"unit {file_unit} out of range: NetDissect-Lite units are 1-based")
        parsed.append(
            ParsedRow(
                layer=layer,
                unit=file_unit - 1,
                rank=1,
                text=_description(path, number, _cell(row, "label"), "label"),
                row=number,
                score=_score(path, number, _cell(row, "score"), "score"),
                details={"category": _cell(row, "category"), "unit_in_file": file_unit},
            )
        )
    return parsed


def parse_dnd(path, layer):
    header, rows = _read_table(path)
    label_columns = [name for name in header if re.fullmatch(r"(?i)label( \d+)?", name)]
    if "Neuron ID" not in header or not label_columns:
        raise ImportFileError(
            path, "header", f"missing column(s): need 'Neuron ID' and 'Label 1..3' or 'label' (found: {', '.join(header) or 'none'})"
        )
    parsed = []
    for number, row in rows:
        unit = _unit(path, number, _cell(row, "Neuron ID"), "Neuron ID")
        labels = [(column, _cell(row, column)) for column in label_columns]
        _description(path, number, labels[0][1], labels[0][0])
        ranked = [(column, text) for column, text in labels if text]
        for rank, (column, text) in enumerate(ranked, start=1):
            parsed.append(ParsedRow(layer=layer, unit=unit, rank=rank, text=text, row=number, details={"column": column}))
    return parsed


PARSERS = {
    "clip-dissect": (parse_clip_dissect, "similarity"),
    "milan": (parse_milan, ""),
    "netdissect": (parse_netdissect, "iou"),
    "dnd": (parse_dnd, ""),
    "csv": (parse_plain_csv, "score"),
}
ONE_LAYER_FORMATS = {"netdissect", "dnd"}


# -- the network side -----------------------------------------------------------------


def infer_architecture(network_name: str) -> str | None:
    """The known architecture named inside a network name (resnet50-imagenet -> resnet50)."""
    for architecture in sorted(LAYER_WIDTHS, key=len, reverse=True):
        if architecture in network_name.lower():
            return architecture
    return None


def fc_width(network: Network) -> int:
    if network.class_names:
        return len(network.class_names)
    name = network.name.lower()
    return next((count for dataset, count in CLASS_COUNTS.items() if dataset in name), CLASS_COUNTS["imagenet"])


def layer_width(network: Network, layer_name: str) -> int | None:
    """Units in a layer: the layer record's count if known, else the architecture's table."""
    layer = network.layers.filter(name=layer_name).first() if network.pk else None
    if layer is not None and layer.unit_count:
        return layer.unit_count
    widths = LAYER_WIDTHS.get(network.architecture, {})
    if layer_name == "fc" and "fc" in widths:
        return fc_width(network)
    return widths.get(layer_name)


def _network_for_import(name: str, architecture: str | None) -> Network:
    network = Network.objects.filter(name=name).first()
    if network is not None:
        return network
    architecture = architecture or infer_architecture(name)
    if not architecture:
        raise ValueError(
            f"network {name!r} does not exist and its architecture cannot be told from its name; "
            f"pass an architecture (known: {', '.join(sorted(LAYER_WIDTHS))})"
        )
    # Not saved yet: it is created inside the import transaction, once the file has passed.
    return Network(name=name, architecture=architecture, description="Known from imported explanations only (no weights).")


def _check_units(path, network: Network, parsed: list[ParsedRow]) -> dict[str, int]:
    widths: dict[str, int] = {}
    seen = set()
    for item in parsed:
        if item.layer not in widths:
            width = layer_width(network, item.layer)
            if width is None:
                raise ImportFileError(
                    path, item.row, f"layer {item.layer!r} is not a known layer of {network.name} ({network.architecture})"
                )
            widths[item.layer] = width
        if not 0 <= item.unit < widths[item.layer]:
            shown = item.details.get("unit_in_file", item.unit)
            raise ImportFileError(
                path, item.row, f"unit {shown} out of range for layer {item.layer} ({widths[item.layer]} units)"
            )
        key = (item.layer, item.unit, item.rank)
        if key in seen:
            raise ImportFileError(path, item.row, f"unit {item.unit} of layer {item.layer} appears twice")
        seen.add(key)
    return widths


# -- storing ------------------------------------------------------------------------------


def _layer_order(network: Network, name: str) -> int:
    names = list(LAYER_WIDTHS.get(network.architecture, {}))
    return names.index(name) if name in names else len(names)


def import_explanations(path, network, method, fmt, layer=None, architecture=None) -> ImportResult:
    """Store the explanations of a published file for `network` under `method`.

    Raises ImportFileError (file, row, reason) or ValueError (arguments); nothing is stored then.
    """
    path = Path(path)
    if fmt not in PARSERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt in ONE_LAYER_FORMATS and not layer:
        raise ValueError(f"format {fmt} holds one layer a file: name it with a layer argument (e.g. layer4)")
    if method_name_problem(method):
        raise ImportFileError(path, None, method_name_problem(method))
    parse, score_name = PARSERS[fmt]
    parsed = parse(path, layer)
    if not parsed:
        raise ImportFileError(path, None, "no explanations in the file" + (f" for layer {layer}" if layer else ""))

    network_name = network.name if isinstance(network, Network) else str(network)
    network_record = network if isinstance(network, Network) else _network_for_import(network_name, architecture)
    widths = _check_units(path, network_record, parsed)

    with transaction.atomic():
        if network_record.pk is None:
            network_record.save()
        method_record, _ = Method.objects.get_or_create(
            name=method, defaults={"kind": Method.Kind.IMPORTED, "display_name": method}
        )
        replaced = 0
        for layer_name, width in widths.items():
            layer_record, _ = Layer.objects.get_or_create(
                network=network_record,
                name=layer_name,
                defaults={"unit_count": width, "order": _layer_order(network_record, layer_name)},
            )
            records = [
                ExplanationRecord(
                    unit=item.unit, rank=item.rank, text=item.text, score=item.score, score_name=score_name,
                    details=item.details, source_row=item.row,
                )
                for item in parsed
                if item.layer == layer_name
            ]
            replaced += store_explanations(method_record, layer_record, records, source_file=path.name).replaced

    per_layer: dict[str, int] = {}
    for item in parsed:
        per_layer[item.layer] = per_layer.get(item.layer, 0) + 1
    return ImportResult(network_name, method, path.name, per_layer, replaced)
