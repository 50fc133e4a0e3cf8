"""Strict JSON for trilat's results: numpy to plain Python, non-finite floats to strings.

JSON has no ``NaN`` or ``Infinity``; ``json.dumps`` writes them anyway unless
``allow_nan=False``. Every result trilat writes goes through :func:`plain`
(``nan``, ``inf``, ``-inf`` become the strings ``"nan"``, ``"inf"``,
``"-inf"``) and is read back through :func:`unplain`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["plain", "unplain"]


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
