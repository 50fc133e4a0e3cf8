"""matplotlib for trilat's figures: imported only when a figure is made (the ``plot`` extra)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or a clear error naming the ``plot`` extra."""
    try:
        import matplotlib

        if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
            matplotlib.use("Agg")  # files only; never try to open a window on a headless node
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "trilat figures need matplotlib: pip install 'trilat[plot]' (or pip install matplotlib)"
        ) from exc
    return plt
