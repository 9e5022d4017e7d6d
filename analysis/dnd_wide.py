"""The DnD paper's wide human-ratings CSV, converted to the tidy ratings format.

Wide layout: Layer, Unit, "<Method> Label" per method, "<Method> E<k> Rating"
per method and evaluator k, "Uninterpretable E<k>", "None E<k>". Each
(neuron, evaluator) becomes one response; the study asked no best question.
"""
from __future__ import annotations

import re

import pandas as pd
from django.utils.text import slugify

from analysis.ratings_io import RatingsImportError

_RATING = re.compile(r"^(?P<method>.+) E(?P<evaluator>\d+) Rating$")


def read_dnd_wide(path, network: str = "resnet50") -> pd.DataFrame:
    """Tidy table of strings (the import's input) from the wide file."""
    try:
        wide = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise RatingsImportError(f"{path}: cannot read as CSV ({error})") from error
    return dnd_wide_to_tidy(wide, network=network, source=str(path))


def dnd_wide_to_tidy(wide: pd.DataFrame, network: str = "resnet50", source: str = "<dnd-wide>") -> pd.DataFrame:
    for column in ("Layer", "Unit"):
        if column not in wide.columns:
            raise RatingsImportError(f"{source}, row 1: missing column {column!r} of the DnD wide format")
    rating_columns = [(m.group("method"), m.group("evaluator"), column)
                      for column in wide.columns if (m := _RATING.match(column))]
    if not rating_columns:
        raise RatingsImportError(f"{source}, row 1: no '<Method> E<k> Rating' columns")
    methods = list(dict.fromkeys(method for method, _, _ in rating_columns))
    evaluators = list(dict.fromkeys(evaluator for _, evaluator, _ in rating_columns))
    parts = []
    for evaluator in evaluators:
        for position, method in enumerate(methods):
            column = f"{method} E{evaluator} Rating"
            if column not in wide.columns:
                raise RatingsImportError(f"{source}, row 1: missing column {column!r}")
            layer = wide["Layer"].str.strip()
            parts.append(pd.DataFrame({
                "response_id": "layer" + layer + "-unit" + wide["Unit"].str.strip() + "-E" + evaluator,
                "rater": f"E{evaluator}",
                "network": network,
                "layer": ("layer" + layer).where(~layer.str.startswith("layer"), layer),
                "unit": wide["Unit"].str.strip(),
                "method": slugify(method),
                "rating": wide[column],
                "best": "",
                "uninterpretable": wide.get(f"Uninterpretable E{evaluator}", pd.Series("", index=wide.index)),
                "none_fit": wide.get(f"None E{evaluator}", pd.Series("", index=wide.index)),
                "text": wide.get(f"{method} Label", pd.Series("", index=wide.index)),
                "source": "imported",
                "_order": wide.index * len(methods) + position,
                "_evaluator": int(evaluator),
            }))
    tidy = pd.concat(parts, ignore_index=True).sort_values(["_evaluator", "_order"], kind="stable")
    return tidy.drop(columns=["_order", "_evaluator"]).reset_index(drop=True)
