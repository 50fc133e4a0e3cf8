"""Files that hold a sweep's finished work: JSON lines (default) or Parquet (pyarrow).

A stored record is one finished unit of work (one configuration and one seed)::

    {"fn": "trilat.sweep:orthogonality", "root": 0, "config": {"D": 2, "N": 8},
     "seed": 3, "values": {"cos_max": 0.12, ...}, "error": null, "seconds": 0.001}

``error`` is ``{"type", "message", "traceback"}`` for a unit whose function
raised, and then ``values`` is ``null``. JSON lines are appended and flushed
one record at a time, so a sweep stopped at any moment keeps everything it
finished; a final line cut short by the stop is dropped when the file is read
and trimmed before the next append. Parquet files cannot be appended to, so
they are rewritten whole (atomically) every ``checkpoint`` seconds and on
close: prefer JSON lines for long runs on machines that may die.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trilat._json import dumps, loads

__all__ = ["JsonLinesStore", "ParquetStore", "column_names", "open_store", "read_records"]

_PARQUET_SUFFIXES = (".parquet", ".pq")


def column_names(stored: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Parameter and value names of stored records, each in order of first appearance."""
    params: dict[str, None] = {}
    values: dict[str, None] = {}
    for r in stored:
        params.update(dict.fromkeys(r["config"]))
        values.update(dict.fromkeys(r.get("values") or {}))
    return tuple(params), tuple(values)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in _PARQUET_SUFFIXES


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "writing or reading a sweep as Parquet needs pyarrow (pip install pyarrow); "
            "use a .jsonl file instead, which needs nothing"
        ) from exc
    return pyarrow


def _check_record(record: Any, where: str) -> dict[str, Any]:
    keys = {"config", "seed", "values", "error"}
    if not isinstance(record, dict) or not keys <= record.keys():
        raise ValueError(
            f"{where} is not a trilat sweep record: expected an object with keys "
            f"{sorted(keys)}, got {str(record)[:120]!r}"
        )
    return record


class JsonLinesStore:
    """Append-only JSON lines file, one finished unit a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        complete = lines[:-1]  # a last piece without its newline was cut short
        if lines[-1].strip():
            warnings.warn(
                f"{self.path}: dropping an incomplete last line (the sweep writing it was "
                f"stopped mid-write); that unit will be run again",
                RuntimeWarning,
                stacklevel=3,
            )
        records = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                record = loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{self.path}, line {number}: not valid JSON ({exc.msg}); the file is not a "
                    f"trilat sweep or was edited"
                ) from exc
            records.append(_check_record(record, f"{self.path}, line {number}"))
        return records

    def _open(self) -> Any:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a+b")  # noqa: SIM115 (closed by close())
            size = self._file.seek(0, os.SEEK_END)
            if size:
                # trim a last line cut short by an interrupted write, so the next record
                # starts on a line of its own
                self._file.seek(max(0, size - 65536))
                tail = self._file.read()
                if not tail.endswith(b"\n"):
                    cut = tail.rfind(b"\n")
                    self._file.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)
            self._file.seek(0, os.SEEK_END)
        return self._file

    def append(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        f = self._open()
        payload = "".join(dumps(r, separators=(",", ":")) + "\n" for r in records)
        f.write(payload.encode("utf-8"))
        f.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


class ParquetStore:
    """A Parquet file rewritten whole: a flat tidy table plus the exact configuration as JSON.

    Columns: one per parameter and per value (float64), ``seed``,
    ``error_type``, ``error_message``, ``seconds``, and ``config_json`` (the
    configuration as written, so integer/float types survive the round trip).
    The function's name and the root seed are in the schema metadata.
    """

    def __init__(self, path: Path, checkpoint: float = 30.0) -> None:
        self.path = path
        self.checkpoint = checkpoint
        self._records: list[dict[str, Any]] | None = None
        self._dirty = False
        self._last_write = time.monotonic()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        pa = _pyarrow()
        table = pa.parquet.read_table(self.path)
        meta = json.loads((table.schema.metadata or {}).get(b"trilat.sweep", b"{}"))
        if "values" not in meta:
            raise ValueError(f"{self.path} is a Parquet file but not a trilat sweep")
        records = []
        for row in table.to_pylist():
            failed = row["error_type"] is not None
            records.append(
                {
                    "fn": meta.get("fn"),
                    "root": meta.get("root"),
                    "config": loads(row["config_json"]),
                    "seed": row["seed"],
                    "values": None
                    if failed
                    else {v: row[v] for v in meta["values"] if row[v] is not None},
                    "error": {
                        "type": row["error_type"],
                        "message": row["error_message"],
                        "traceback": row.get("error_traceback") or "",
                    }
                    if failed
                    else None,
                    "seconds": row["seconds"],
                }
            )
        return records

    def append(self, records: list[dict[str, Any]]) -> None:
        if self._records is None:
            self._records = self.read()
        self._records.extend(records)
        self._dirty = True
        if time.monotonic() - self._last_write >= self.checkpoint:
            self._write()

    def _write(self) -> None:
        pa = _pyarrow()
        records = self._records or []
        params, values = column_names(records)
        columns: dict[str, list[Any]] = {}
        for p in params:
            column = [r["config"].get(p) for r in records]
            if any(isinstance(v, str) for v in column):
                column = [None if v is None else str(v) for v in column]
            elif not all(isinstance(v, (bool, type(None))) for v in column):
                column = [None if v is None else float(v) for v in column]
            columns[p] = column
        columns["seed"] = [r["seed"] for r in records]
        for v in values:
            columns[v] = [None if r["values"] is None else r["values"].get(v) for r in records]
        error = [r["error"] or {} for r in records]
        columns["error_type"] = [e.get("type") for e in error]
        columns["error_message"] = [e.get("message") for e in error]
        columns["error_traceback"] = [e.get("traceback") for e in error]
        columns["seconds"] = [r.get("seconds") for r in records]
        columns["config_json"] = [
            dumps(r["config"], sort_keys=True, separators=(",", ":")) for r in records
        ]
        first = records[0] if records else {}
        meta = {"fn": first.get("fn"), "root": first.get("root"), "values": list(values)}
        schema_meta = {b"trilat.sweep": json.dumps(meta).encode()}
        value_type = {v: pa.float64() for v in values}
        table = pa.table(
            {k: pa.array(col, type=value_type.get(k)) for k, col in columns.items()},
            metadata=schema_meta,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        pa.parquet.write_table(table, tmp)
        os.replace(tmp, self.path)  # atomic: a stop mid-write leaves the previous file
        self._dirty = False
        self._last_write = time.monotonic()

    def close(self) -> None:
        if self._dirty:
            self._write()


def open_store(path: str | os.PathLike[str]) -> JsonLinesStore | ParquetStore:
    """The store for ``path``: Parquet for ``.parquet``/``.pq`` (needs pyarrow), else JSON lines."""
    path = Path(path)
    if _is_parquet(path):
        _pyarrow()  # fail before any work is done
        return ParquetStore(path)
    return JsonLinesStore(path)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every stored record of a sweep file, in file order."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no sweep results at {path}")
    return open_store(path).read()
