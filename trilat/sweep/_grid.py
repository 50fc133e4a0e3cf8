"""The units of a sweep: configurations, their canonical form and their random streams.

A configuration is a flat mapping of parameter names to bool, int, float or
str (the columns of a tidy table). Its identity is its canonical JSON (keys
sorted, no spaces, floats by shortest repr), and the random stream of unit
``(config, seed)`` is derived from that identity alone: blake2b, never
Python's ``hash()``, which is salted per process.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trilat._checks import positive_int
from trilat.sweep._result import RESERVED_COLUMNS

__all__ = ["Config", "SweepFunction", "canonical_json", "expand_grid", "unit_seed"]

Config = dict[str, Any]
SweepFunction = Callable[[Config, np.random.Generator], Mapping[str, Any]]


def _scalar(value: Any, where: str) -> bool | int | float | str:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    raise ValueError(
        f"{where} must be a bool, int, float or str (a column of a tidy table), "
        f"got {type(value).__name__} {value!r}"
    )


def _config(config: Any, where: str) -> Config:
    if not isinstance(config, Mapping):
        raise ValueError(f"{where} must be a mapping of parameter names to values, got {config!r}")
    out = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise ValueError(f"{where} has a non-string parameter name {key!r}")
        if key in RESERVED_COLUMNS:
            raise ValueError(
                f"{where} uses the reserved column name {key!r}; reserved: {list(RESERVED_COLUMNS)}"
            )
        out[key] = _scalar(value, f"{where}[{key!r}]")
    return out


def canonical_json(config: Mapping[str, Any]) -> str:
    """The configuration as canonical JSON: keys sorted, no spaces, floats by shortest repr.

    Parameters
    ----------
    config : mapping of str to bool, int, float or str
        numpy scalars are converted to the Python scalars they equal.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import canonical_json
    >>> canonical_json({"sigma": 0.2, "N": np.int64(6), "D": 2})
    '{"D":2,"N":6,"sigma":0.2}'
    """
    return json.dumps(_config(config, "config"), sort_keys=True, separators=(",", ":"))


def unit_seed(config: Mapping[str, Any], seed: int, root: int = 0) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one unit of work, a pure function of ``(config, seed, root)``.

    ``entropy = (w_0..w_3, root words)``, ``w`` the little-endian 32-bit words
    of the 16-byte blake2b digest of :func:`canonical_json` ``(config)``;
    ``spawn_key = (seed,)``, as if spawned by ``SeedSequence(entropy)``.

    Parameters
    ----------
    config : mapping
        The configuration.
    seed : int
        Seed index ``>= 0`` (replicate number).
    root : int
        Root seed ``>= 0``; changes every stream of a sweep at once.

    Returns
    -------
    numpy.random.SeedSequence

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import unit_seed
    >>> seq = unit_seed({"D": 2, "N": 6}, seed=3)
    >>> seq.spawn_key
    (3,)
    >>> a = np.random.default_rng(seq).random()
    >>> b = np.random.default_rng(unit_seed({"N": 6, "D": 2}, seed=3)).random()
    >>> a == b  # the order of the keys does not matter
    True
    """
    seed = positive_int(seed, "seed", minimum=0)
    root = positive_int(root, "root", minimum=0)
    digest = hashlib.blake2b(canonical_json(config).encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    root_words = [
        (root >> (32 * i)) & 0xFFFFFFFF for i in range(max(1, -(-root.bit_length() // 32)))
    ]
    return np.random.SeedSequence(entropy=words + root_words, spawn_key=(seed,))


def expand_grid(grid: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Config]:
    """The configurations of a grid.

    A mapping ``{name: values}`` gives the cartesian product of the values,
    the last name varying fastest (a scalar counts as one value); a sequence
    of mappings is taken as the explicit list of configurations.

    Parameters
    ----------
    grid : mapping of str to sequence, or sequence of mappings

    Returns
    -------
    list of dict
        Configurations, each a dict of Python scalars.

    Raises
    ------
    ValueError
        An empty grid or list of values, non-scalar values, or duplicated configurations.

    Examples
    --------
    >>> from trilat.sweep import expand_grid
    >>> expand_grid({"D": [2, 4], "N": [8, 64]})  # the last name varies fastest
    [{'D': 2, 'N': 8}, {'D': 2, 'N': 64}, {'D': 4, 'N': 8}, {'D': 4, 'N': 64}]
    >>> expand_grid([{"D": 2, "N": 8}, {"D": 3}])  # an explicit list
    [{'D': 2, 'N': 8}, {'D': 3}]
    """
    if isinstance(grid, Mapping):
        axes = []
        for name, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                values = [values]
            values = list(values)
            if not values:
                raise ValueError(f"grid[{name!r}] is empty; give at least one value")
            axes.append(values)
        configs = [
            _config(dict(zip(grid, combo, strict=True)), "grid entry")
            for combo in itertools.product(*axes)
        ]
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        configs = [_config(c, f"grid[{i}]") for i, c in enumerate(grid)]
    else:
        raise ValueError(
            f"grid must be a mapping of names to values or a list of configurations, got {grid!r}"
        )
    if not configs:
        raise ValueError("grid has no configurations")
    seen: dict[str, int] = {}
    for i, c in enumerate(configs):
        key = canonical_json(c)
        if key in seen:
            raise ValueError(f"grid repeats configuration {key} (entries {seen[key]} and {i})")
        seen[key] = i
    return configs
