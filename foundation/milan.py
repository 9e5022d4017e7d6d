"""MILAN (Hernandez et al. 2022) run locally: only when its package and decoder weights are installed.

MILAN's descriptions can always be imported from its published files (see
`explain.importers`); generating new ones needs the authors' `milan` package and a
trained decoder checkpoint, which this project neither ships nor downloads.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import FoundationUnavailable


def milan_status(weights_path: str | None) -> tuple[bool, str]:
    """(available, reason): whether MILAN can run here, and what is missing if not."""
    if importlib.util.find_spec("milan") is None:
        return False, ("MILAN is unavailable: the `milan` package is not installed "
                       "(install it from https://github.com/evandez/neuron-descriptions and set "
                       "NEURONEVAL_MILAN_WEIGHTS to a decoder checkpoint); import its published descriptions instead.")
    if not weights_path:
        return False, "MILAN is unavailable: NEURONEVAL_MILAN_WEIGHTS (decoder checkpoint path) is not set."
    if not Path(weights_path).is_file():
        return False, f"MILAN is unavailable: decoder checkpoint {weights_path} does not exist."
    return True, ""


def require_milan(weights_path: str | None) -> str:
    """The checkpoint path when MILAN can run here; otherwise FoundationUnavailable naming what is missing."""
    available, reason = milan_status(weights_path)
    if not available:
        raise FoundationUnavailable(reason)
    return weights_path
