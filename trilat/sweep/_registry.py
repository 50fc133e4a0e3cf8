"""What each built-in sweep takes: its parameters and their defaults, its default grid and seeds.

Data about the built-in sweeps of ``trilat.sweep._builtin``, which holds their
functions and joins the two into :data:`trilat.sweep.SWEEPS`. A sweep file
names the function it ran by module and name; the built-ins are recorded under
their public home, ``trilat.sweep:orthogonality`` (files written before the
move name them ``trilat.sweeps:orthogonality`` and still resume).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CATALOGUE", "DEFAULTS", "BuiltinSweep", "check_params"]

# Parameters of each built-in sweep and their values when a configuration leaves them out.
DEFAULTS: dict[str, dict[str, Any]] = {
    "recovery": {
        "D": 2,
        "N": 6,
        "cond": 1.0,
        "offset": 0.0,
        "sigma": 0.2,
        "T": 20,
        "n_trials": 50,
    },
    "orthogonality": {"D": 2, "N": 6},
    "linearization": {"t": 1, "sigma": 0.2, "D": 2, "N": 6, "n_trials": 2000},
    "ceiling": {"t": 1, "sigma": 0.2, "D": 2, "N": 6, "n_trials": 2000},
}


def check_params(config: Mapping[str, Any], sweep: str) -> dict[str, Any]:
    """``config`` over the defaults of built-in sweep ``sweep``; an unknown key raises
    ``ValueError`` (a typo in a grid must not silently sweep nothing)."""
    defaults = DEFAULTS[sweep]
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(
            f"the {sweep} sweep has no parameter(s) {unknown}; its parameters are "
            f"{sorted(defaults)}"
        )
    return {**defaults, **config}


@dataclass(frozen=True)
class BuiltinSweep:
    """A built-in sweep: its function, default grid and seeds, and what it shows.

    Attributes
    ----------
    name : str
        ``"recovery"``, ``"orthogonality"``, ``"linearization"`` or ``"ceiling"``.
    fn : callable ``(config, rng) -> dict[str, float]``
    grid : dict of str to list
        The default grid of ``trilat sweep NAME``.
    seeds : int
        Seeds per configuration by default.
    description : str
        One line, for ``trilat sweep --list``.

    Examples
    --------
    >>> from trilat.sweep import SWEEPS
    >>> builtin = SWEEPS["orthogonality"]  # a BuiltinSweep
    >>> builtin.name, builtin.fn.__name__, builtin.parameters
    ('orthogonality', 'orthogonality', {'D': 2, 'N': 6})
    """

    name: str
    fn: Callable[[dict[str, Any], np.random.Generator], dict[str, float]]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: int = 5
    description: str = ""

    @property
    def parameters(self) -> dict[str, Any]:
        """Every parameter the function accepts, with its default."""
        return dict(DEFAULTS[self.name])


# N from 2 to 1024: the powers of two and the midpoints 3 * 2^k between them
_N_TASKS = sorted([2**k for k in range(1, 11)] + [3 * 2**k for k in range(9)])
_TIMES = [1, 2, 3, 5, 8, 12, 20, 50, 100]

# The default grid, seeds per configuration and a one-line description of each built-in sweep.
CATALOGUE: dict[str, dict[str, Any]] = {
    "recovery": {
        "grid": {
            "D": [2, 8, 32],
            "N": [1, 2, 4, 8, 16, 32, 64, 128],
            "cond": [1.0, 1e3, 1e6, 1e9, 1e12, math.inf],
        },
        "seeds": 5,
        "description": (
            "identifiability and trilateration round-trip error against D, N and cond(C)"
        ),
    },
    "orthogonality": {
        "grid": {"N": _N_TASKS, "D": [2, 4, 8, 16, 32]},
        "seeds": 20,
        "description": "cosines between columns of random C against N, D and sqrt(D/((D+2)N))",
    },
    "linearization": {
        "grid": {"t": _TIMES, "sigma": [0.05, 0.1, 0.2, 0.4, 0.8]},
        "seeds": 5,
        "description": "closed-form affine decoder against exact recovery, over t and sigma",
    },
    "ceiling": {
        "grid": {"t": _TIMES, "sigma": [0.1, 0.2, 0.4, 0.8]},
        "seeds": 10,
        "description": "eq. 7 decodability ceiling against Monte Carlo r^2",
    },
}
