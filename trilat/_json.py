"""Strict JSON for trilat's results: numpy to plain Python, non-finite floats to strings.

The one rule for every JSON trilat writes (``Comparison.to_json``, ``trilat
verify --json``, sweep files): JSON has no ``NaN`` or ``Infinity`` (``json.dumps``
writes them anyway unless ``allow_nan=False``, and strict parsers refuse
them), so :func:`plain` turns ``nan``, ``inf``, ``-inf`` into the strings
``"nan"``, ``"inf"``, ``"-inf"`` (unlike ``null``, they keep which one it was)
and :func:`unplain` turns them back. :func:`dumps` and :func:`loads` apply
them around :mod:`json`. (Sweep files written before this rule may hold bare
``NaN``/``Infinity``; :func:`loads` still reads them.)
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["dumps", "loads", "plain", "unplain"]


def plain(value: Any) -> Any:
    """numpy -> lists; non-finite floats -> strings, so that the JSON is strict."""
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    return value


def unplain(value: Any) -> Any:
    """Inverse of :func:`plain` for floats: "inf", "-inf" and "nan" back to floats."""
    if isinstance(value, dict):
        return {k: unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unplain(v) for v in value]
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps(plain(value), allow_nan=False, **kwargs)``: strict JSON."""
    return json.dumps(plain(value), allow_nan=False, **kwargs)


def loads(text: str | bytes) -> Any:
    """``unplain(json.loads(text))``: what :func:`dumps` wrote, non-finite floats restored."""
    return unplain(json.loads(text))
