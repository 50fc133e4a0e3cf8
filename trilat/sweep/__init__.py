"""Parameter sweeps: ``sweep(fn, grid, seeds)`` and the theorem's built-in sweeps.

- ``_engine``: :func:`sweep`, serial, on a process pool or on Dask, resumable;
- ``_grid``: grids, canonical configurations and the seed of each unit;
- ``_store``: the sweep file (JSON lines or Parquet) and its columns;
- ``_result``: :class:`SweepResult`, the tidy table;
- ``_registry`` and ``_builtin``: the built-in sweeps (:data:`SWEEPS`);
- ``_plots``: their figures (:func:`sweep_figure`, the ``plot`` extra);
- ``_cli``: ``trilat sweep NAME``.

Examples
--------
>>> from trilat.sweep import orthogonality, sweep
>>> result = sweep(orthogonality, {"D": [2, 4], "N": [8, 64]}, seeds=3, progress=False)
>>> len(result.records), result.params  # 4 configurations x 3 seeds
(12, ('D', 'N'))
"""

from trilat.sweep._builtin import (
    DEFAULTS,
    SWEEPS,
    BuiltinSweep,
    ceiling,
    linearization,
    orthogonality,
    recovery,
)
from trilat.sweep._engine import read_sweep, sweep
from trilat.sweep._grid import canonical_json, expand_grid, unit_seed
from trilat.sweep._plots import (
    ceiling_figure,
    linearization_figure,
    orthogonality_figure,
    recovery_figure,
    sweep_figure,
)
from trilat.sweep._result import SweepResult

__all__ = [
    "DEFAULTS",
    "SWEEPS",
    "BuiltinSweep",
    "SweepResult",
    "canonical_json",
    "ceiling",
    "ceiling_figure",
    "expand_grid",
    "linearization",
    "linearization_figure",
    "orthogonality",
    "orthogonality_figure",
    "read_sweep",
    "recovery",
    "recovery_figure",
    "sweep",
    "sweep_figure",
    "unit_seed",
]
