"""Numba kernels: the oracle's pipeline per trial-step, in parallel (see ``_jit``).

- ``_jit``: the jitted code (:func:`simulate`, :func:`predict`,
  :func:`invert`, :func:`recover`, :func:`roundtrip`, :func:`monte_carlo`,
  :func:`ndtr`, :func:`ndtri`, :class:`Outputs`, :class:`RoundTrip`);
- ``_special``: the branch-free ``Phi``, ``Phi^-1`` and their logs they inline;
- ``_montecarlo``: the Monte Carlo driver they share with its numpy reference.

numba is imported when one of the public names is first used (``from
trilat.kernels import monte_carlo``), not by importing this package, so that
the pure-numpy ``_montecarlo`` driver stays light. ``import trilat`` does not
import this package at all.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Outputs",
    "RoundTrip",
    "invert",
    "monte_carlo",
    "ndtr",
    "ndtri",
    "predict",
    "recover",
    "roundtrip",
    "simulate",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the public names come from _jit, imported (with numba) on first use
    if name in __all__:
        from trilat.kernels import _jit

        return getattr(_jit, name)
    raise AttributeError(f"module 'trilat.kernels' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
