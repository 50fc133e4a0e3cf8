"""The tidy table of a sweep: one row per (configuration, seed).

Columns: the configuration's parameters, ``seed``, the function's values
(float64; NaN on rows whose function raised), ``error_type`` and
``error_message`` (``None`` on rows that succeeded) and ``seconds`` (wall time
of the unit; the only column that differs between two runs of a sweep).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trilat.sweep._store import column_names, open_store, read_records

__all__ = ["RESERVED_COLUMNS", "SweepResult", "flatten"]

RESERVED_COLUMNS = ("seed", "error_type", "error_message", "seconds")


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record -> a tidy row ``{**config, seed, **values, error_type, error_message, seconds}``."""
    error = record.get("error") or {}
    return {
        **record["config"],
        "seed": record["seed"],
        **(record.get("values") or {}),
        "error_type": error.get("type"),
        "error_message": error.get("message"),
        "seconds": record.get("seconds", math.nan),
    }


def _column_dtype(column: list[Any]) -> tuple[np.dtype, Any]:
    """dtype and fill value for a parameter column (``None`` marks a missing entry)."""
    present = [v for v in column if v is not None]
    if any(isinstance(v, str) for v in present):
        width = max([len(str(v)) for v in present] + [1])
        return np.dtype(f"U{width}"), ""
    missing = len(present) < len(column)
    if present and not missing and all(isinstance(v, bool) for v in present):
        return np.dtype(bool), False
    if present and not missing and all(isinstance(v, int) for v in present):
        return np.dtype(np.int64), 0
    return np.dtype(np.float64), math.nan


@dataclass(frozen=True)
class SweepResult:
    """The results of :func:`trilat.sweep.sweep`, one row per (configuration, seed).

    Parameters
    ----------
    stored : sequence of dict
        Stored records, as written to a sweep file (see
        ``trilat.sweep._store``), in row order.

    Attributes
    ----------
    records : tuple of dict
        Tidy rows (see the module docstring); :func:`trilat.sweep.sweep`
        returns them in the order of the grid, seeds varying fastest.
    params : tuple of str
        Parameter (configuration) column names, in order of first appearance.
    values : tuple of str
        Value column names returned by the function, in order of first appearance.

    Examples
    --------
    >>> from trilat.sweep import orthogonality, sweep
    >>> result = sweep(orthogonality, {"D": [2, 4], "N": [8, 64]}, seeds=3, progress=False)
    >>> result.columns[:4], result.to_array().shape  # one row per (configuration, seed)
    (('D', 'N', 'seed', 'cos_max'), (12,))
    >>> summary = result.summarize()  # one row per configuration, mean and sem over seeds
    >>> summary[["D", "N", "n"]].tolist()
    [(2, 8, 3), (2, 64, 3), (4, 8, 3), (4, 64, 3)]
    """

    stored: tuple[dict[str, Any], ...]
    records: tuple[dict[str, Any], ...] = field(init=False, repr=False)
    params: tuple[str, ...] = field(init=False)
    values: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        stored = tuple(self.stored)
        params, values = column_names(stored)
        clash = sorted(set(params) & (set(values) | set(RESERVED_COLUMNS)))
        if clash:
            raise ValueError(
                f"column names {clash} are both configuration parameters and values or "
                f"reserved columns {list(RESERVED_COLUMNS)}"
            )
        sets = object.__setattr__
        sets(self, "stored", stored)
        sets(self, "records", tuple(flatten(r) for r in stored))
        sets(self, "params", params)
        sets(self, "values", values)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep file (JSON lines, or Parquet with pyarrow), rows in file order."""
        return cls(tuple(read_records(path)))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.params, "seed", *self.values, "error_type", "error_message", "seconds")

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The failed units: ``{"config", "seed", "error": {"type", "message", "traceback"}}``."""
        return [
            {"config": r["config"], "seed": r["seed"], "error": r["error"]}
            for r in self.stored
            if r.get("error")
        ]

    @property
    def n_errors(self) -> int:
        return sum(1 for r in self.stored if r.get("error"))

    def to_array(self) -> np.ndarray:
        """The table as a numpy structured array, one field per column.

        Parameters keep their type (bool, int64, float64, or a unicode string
        when any entry is a string; a column missing from some configurations
        becomes float64 with NaN, or ``""`` for strings). Values are float64,
        NaN where the row failed or did not return that value. ``error_type``
        and ``error_message`` are ``""`` on rows that succeeded.
        """
        n = len(self.records)
        fields: list[tuple[str, np.dtype]] = []
        data: dict[str, np.ndarray] = {}
        for p in self.params:
            column = [r.get(p) for r in self.records]
            dtype, fill = _column_dtype(column)
            fields.append((p, dtype))
            data[p] = np.array([fill if v is None else v for v in column], dtype=dtype)
        fields.append(("seed", np.dtype(np.int64)))
        data["seed"] = np.array([r["seed"] for r in self.records], dtype=np.int64)
        for v in self.values:
            fields.append((v, np.dtype(np.float64)))
            data[v] = np.array([r.get(v, math.nan) for r in self.records], dtype=np.float64)
        for name in ("error_type", "error_message"):
            column = [r[name] or "" for r in self.records]
            dtype = np.dtype(f"U{max([len(s) for s in column] + [1])}")
            fields.append((name, dtype))
            data[name] = np.array(column, dtype=dtype)
        fields.append(("seconds", np.dtype(np.float64)))
        data["seconds"] = np.array([r["seconds"] for r in self.records], dtype=np.float64)
        out = np.empty(n, dtype=fields)
        for name, column in data.items():
            out[name] = column
        return out

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame`` (needs pandas; nothing else does)."""
        try:
            import pandas
        except ImportError as exc:  # optional dependency
            raise ImportError(
                "SweepResult.to_pandas needs pandas (pip install pandas); "
                "SweepResult.to_array() gives the same table as a numpy structured array"
            ) from exc
        return pandas.DataFrame(list(self.records), columns=list(self.columns))

    def summarize(self, by: tuple[str, ...] | list[str] | None = None) -> np.ndarray:
        """Mean and standard error of every value over seeds, per configuration.

        ``mean = (1/n) sum_k v_k`` and ``sem = std(v, ddof=1) / sqrt(n)`` over
        the ``n`` successful rows of each group (NaN when ``n < 2``); failed
        rows count in ``n_errors`` only.

        Parameters
        ----------
        by : sequence of str, optional
            Parameter columns to group by (default: all parameters).

        Returns
        -------
        ndarray, shape (n_groups,)
            Structured array with the ``by`` fields, ``n``, ``n_errors``, and
            ``<value>_mean`` and ``<value>_sem`` per value, groups in order of
            first appearance.
        """
        by = tuple(self.params if by is None else by)
        unknown = [b for b in by if b not in self.params]
        if unknown:
            raise ValueError(f"by must name parameters {list(self.params)}, got {unknown}")
        table = self.to_array()
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, row in enumerate(table[list(by)] if by else [()] * len(table)):
            groups.setdefault(tuple(row.tolist()) if by else (), []).append(i)
        fields = [(b, table.dtype[b]) for b in by]
        fields += [("n", np.dtype(np.int64)), ("n_errors", np.dtype(np.int64))]
        for v in self.values:
            fields += [(f"{v}_mean", np.dtype(np.float64)), (f"{v}_sem", np.dtype(np.float64))]
        out = np.empty(len(groups), dtype=fields)
        ok = table["error_type"] == ""
        with np.errstate(invalid="ignore"):  # inf values give NaN spreads, honestly
            self._fill_summary(out, table, groups, by, ok)
        return out

    def _fill_summary(
        self,
        out: np.ndarray,
        table: np.ndarray,
        groups: dict[tuple[Any, ...], list[int]],
        by: tuple[str, ...],
        ok: np.ndarray,
    ) -> None:
        for g, (key, rows) in enumerate(groups.items()):
            rows_ok = [i for i in rows if ok[i]]
            for b, k in zip(by, key, strict=True):
                out[b][g] = k
            out["n"][g] = len(rows_ok)
            out["n_errors"][g] = len(rows) - len(rows_ok)
            for v in self.values:
                x = table[v][rows_ok]
                out[f"{v}_mean"][g] = x.mean() if x.size else math.nan
                out[f"{v}_sem"][g] = x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else math.nan

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the rows as a sweep file (JSON lines, or Parquet by suffix, needs pyarrow).

        A file written here can be passed as ``out=`` to resume or extend the sweep.
        """
        path = Path(path)
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
            path.unlink()
        store = open_store(path)
        try:
            store.append(list(self.stored))
        finally:
            store.close()

    def __repr__(self) -> str:
        return (
            f"SweepResult({len(self.records)} rows, params={list(self.params)}, "
            f"values={list(self.values)}, errors={self.n_errors})"
        )
