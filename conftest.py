"""pytest, at the root: the doctests of the package (``--doctest-modules`` in pyproject.toml).

Only the package modules that have an example (``>>>``) are collected: importing
every module would load torch, numba and matplotlib for nothing.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "trilat"


def pytest_ignore_collect(collection_path: Path, config: object) -> bool | None:
    if collection_path.suffix == ".py" and PACKAGE in collection_path.parents:
        return ">>>" not in collection_path.read_text(encoding="utf-8")
    return None
