"""pytest, at the root: the doctests of the package (``--doctest-modules`` in pyproject.toml).

Only the package modules that have an example (``>>>``) are collected: importing
every module would load torch, numba and matplotlib for nothing. Modules that
cannot be imported without an optional dependency (torch for
``trilat.experiments``, hypothesis for ``trilat.testing``) are left out when it
is missing, as the tests that need it are skipped.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "trilat"

# what a package module needs to be imported at all
NEEDS = {PACKAGE / "experiments": "torch", PACKAGE / "testing.py": "hypothesis"}


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def pytest_ignore_collect(collection_path: Path, config: object) -> bool | None:
    if collection_path.suffix == ".py" and PACKAGE in collection_path.parents:
        for where, module in NEEDS.items():
            if (collection_path == where or where in collection_path.parents) and _missing(module):
                return True
        return ">>>" not in collection_path.read_text(encoding="utf-8")
    return None
