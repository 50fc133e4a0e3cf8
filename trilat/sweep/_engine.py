"""Parameter sweeps on any ``concurrent.futures.Executor``, from a laptop to a Dask cluster.

A sweep runs ``fn(config, rng) -> {name: number}`` once per configuration
and seed. Each (configuration, seed) pair is one unit of work whose random
stream is a pure function of the pair, never of where or when it runs::

    entropy = blake2b-128(canonical JSON of config)  (4 words) + root seed words
    rng     = Generator(PCG64(SeedSequence(entropy, spawn_key=(seed,))))

so a sweep gives bit-identical numbers serially, on a process pool or on a
Dask cluster, in any order, and a configuration keeps its numbers when the
grid around it grows. The canonical JSON sorts keys, so ``{"D": 2, "N": 8}``
and ``{"N": 8, "D": 2}`` are the same configuration, but ``2`` and ``2.0``
are not. Python's ``hash()`` is never used: it is salted per process.

trilat builds no scheduler: ``executor`` is any ``concurrent.futures.Executor``
(``ProcessPoolExecutor``; ``distributed.Client(...).get_executor()``), or a
``distributed.Client``, whose executor is taken. See :data:`trilat.sweep.SWEEPS`
for the theorem's built-in sweeps.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import math
import numbers
import os
import queue
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trilat._checks import positive_int
from trilat._lock import lock_output
from trilat._progress import progress_bar
from trilat._threads import limit_threads
from trilat.sweep._grid import (
    Config,
    SweepFunction,
    canonical_json,
    expand_grid,
    unit_seed,
)
from trilat.sweep._result import RESERVED_COLUMNS, SweepResult
from trilat.sweep._store import open_store

__all__ = ["SweepResult", "canonical_json", "expand_grid", "read_sweep", "sweep", "unit_seed"]


# Module paths of sweep functions recorded by earlier versions, by their current path:
# files written before the built-ins moved into trilat.sweep name them trilat.sweeps:NAME.
_FORMER_MODULES = {"trilat.sweeps": "trilat.sweep"}


def _current_fn_name(recorded: Any) -> Any:
    """A recorded ``fn`` name with a former module path replaced by the current one."""
    if not isinstance(recorded, str):
        return recorded
    inner = recorded[len("partial(") : -1] if recorded.startswith("partial(") else recorded
    module, sep, qualname = inner.partition(":")
    if not sep or module not in _FORMER_MODULES:
        return recorded
    current = f"{_FORMER_MODULES[module]}:{qualname}"
    return current if inner is recorded else f"partial({current})"


def _fn_name(fn: Any) -> str:
    inner = getattr(fn, "func", fn)  # functools.partial
    name = f"{getattr(inner, '__module__', '?')}:{getattr(inner, '__qualname__', type(inner).__name__)}"
    return name if inner is fn else f"partial({name})"


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__
        if cls.__module__ == "builtins"
        else f"{cls.__module__}.{cls.__qualname__}"
    )


def _values(out: Any, config: Config) -> dict[str, float]:
    if not isinstance(out, Mapping):
        raise TypeError(
            f"a sweep function must return a dict of numbers, got {type(out).__name__}"
        )
    values = {}
    for key, value in out.items():
        if not isinstance(key, str) or key in RESERVED_COLUMNS or key in config:
            raise ValueError(
                f"a sweep function returned the value name {key!r}, which is not a string, is "
                f"reserved ({list(RESERVED_COLUMNS)}) or is a parameter of the configuration"
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Real, np.number)):
            raise TypeError(f"a sweep function returned {key!r} = {value!r}; expected a number")
        values[key] = float(value)
    return values


def _run_units(
    fn: SweepFunction,
    fn_name: str,
    root: int,
    units: list[tuple[Config, int]],
    blas_threads: int | None = 1,
) -> list[dict[str, Any]]:
    """Run units of work (in whatever process the executor chose); one stored record each."""
    with limit_threads(blas_threads):
        return [_run_unit(fn, fn_name, root, config, seed) for config, seed in units]


def _run_unit(fn: SweepFunction, fn_name: str, root: int, config: Config, seed: int) -> dict:
    rng = np.random.default_rng(unit_seed(config, seed, root))
    start = time.perf_counter()
    values, error = None, None
    try:
        values = _values(fn(dict(config), rng), config)
    except Exception as exc:  # recorded, not raised: one bad configuration must not end a sweep
        error = {
            "type": _error_type(exc),
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
    return {
        "fn": fn_name,
        "root": root,
        "config": config,
        "seed": seed,
        "values": values,
        "error": error,
        "seconds": time.perf_counter() - start,
    }


def _as_executor(executor: Any) -> cf.Executor | None:
    if executor is None or isinstance(executor, cf.Executor):
        return executor
    if hasattr(executor, "get_executor"):  # a distributed.Client
        return executor.get_executor(pure=False)  # unique units: skip hashing their arguments
    raise ValueError(
        f"executor must be None (serial), a concurrent.futures.Executor or a "
        f"distributed.Client, got {type(executor).__name__}"
    )


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(
                f"seeds must be >= 1 (a count) or a list of seed indices, got {seeds}"
            )
        return list(range(int(seeds)))
    out = [positive_int(s, "each of seeds", minimum=0) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be a non-empty list of distinct indices >= 0, got {out}")
    return out


def sweep(
    fn: SweepFunction,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    seeds: int | Iterable[int] = 1,
    executor: Any = None,
    progress: bool | None = None,
    out: str | os.PathLike[str] | None = None,
    root: int = 0,
    chunksize: int | str = "auto",
    max_pending: int = 1024,
    retry_errors: bool = False,
    blas_threads: int | None = 1,
) -> SweepResult:
    """Run ``fn(config, rng)`` for every configuration of ``grid`` and every seed.

    Unit ``(config, k)`` draws from ``rng = default_rng(unit_seed(config, k, root))``,
    so its numbers do not depend on the executor, the order or the other units.
    A unit whose ``fn`` raises an ``Exception`` is recorded with the error's
    type, message and traceback and the sweep goes on; ``KeyboardInterrupt``
    and failures of the executor itself stop the sweep (after saving every
    finished unit).

    Parameters
    ----------
    fn : callable ``(config: dict, rng: numpy.random.Generator) -> dict[str, number]``
        Must be picklable for process pools (a module-level function);
        Dask pickles closures too.
    grid : mapping ``{name: values}`` (cartesian product) or list of configurations
        Parameter values: bool, int, float or str.
    seeds : int or iterable of int
        ``K`` runs seeds ``0..K-1``; a list runs those seed indices.
    executor : None, concurrent.futures.Executor or distributed.Client
        ``None`` runs in this process, in order.
    progress : bool or None
        tqdm progress bar (:func:`trilat._progress.progress_bar`): ``None`` shows
        one when stderr is a terminal and tqdm is installed, ``True`` always
        (``ImportError`` without tqdm, the ``progress`` extra), ``False`` never.
    out : path, optional
        Sweep file (JSON lines; Parquet for ``.parquet``, needs pyarrow). Units
        already in it are skipped, new ones appended as they finish: an
        interrupted sweep resumes where it stopped. It must hold results of the
        same ``fn`` (by name) and ``root``; the file cannot tell that the code
        of ``fn`` or trilat changed since, so resume with the same versions.
        Locked for the run (``<out>.lock``, advisory): while another process
        sweeps into ``out``, this one raises
        :class:`trilat._lock.OutputLockedError` naming its pid, at once.
    root : int
        Root seed ``>= 0``.
    chunksize : int or "auto"
        Units per submitted task. Scheduling a task costs about a millisecond
        on a process pool and several on Dask, as much as a small unit; larger
        tasks amortise it, but an interruption loses the unfinished part of
        every task in flight. ``"auto"`` times the first few units, run one per
        task, then sizes tasks to take about half a second (never more than
        1/64 of the sweep), so long units go one per task.
    max_pending : int
        Tasks in flight at once; bounds memory on huge sweeps.
    retry_errors : bool
        Run again units stored with an error (default: keep the error).
    blas_threads : int or None
        BLAS/OpenMP threads inside each unit (``trilat._threads.limit_threads``;
        ``None`` leaves them alone). One thread per unit, as Dask
        workers do, keeps parallelism at the level of units (small matrices
        on many BLAS threads are many times slower on a busy machine) and the
        numbers independent of the executor: a multithreaded BLAS may round
        differently with a different number of threads.

    Returns
    -------
    SweepResult
        One row per (configuration, seed), in grid order with seeds fastest,
        including rows read from ``out``.

    Examples
    --------
    >>> from trilat.sweep import orthogonality, sweep
    >>> result = sweep(orthogonality, {"D": [2, 4], "N": [8, 64]}, seeds=3, progress=False)
    >>> len(result.records), result.params, result.values[:2]
    (12, ('D', 'N'), ('cos_max', 'cos_mean'))
    >>> [(r["D"], r["N"], r["seed"]) for r in result.records[:4]]  # seeds fastest
    [(2, 8, 0), (2, 8, 1), (2, 8, 2), (2, 64, 0)]

    A unit that raises is recorded, and the sweep goes on:

    >>> def halve(config, rng):
    ...     if config["x"] == 0:
    ...         raise ZeroDivisionError("x = 0")
    ...     return {"half": config["x"] / 2}
    >>> result = sweep(halve, {"x": [0, 1]}, progress=False)
    >>> result.n_errors, result.errors[0]["error"]["type"], result.records[1]["half"]
    (1, 'ZeroDivisionError', 0.5)
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable as fn(config, rng), got {fn!r}")
    configs = expand_grid(grid)
    seed_list = _seed_list(seeds)
    root = positive_int(root, "root", minimum=0)
    if chunksize != "auto":
        chunksize = positive_int(chunksize, "chunksize (an integer >= 1 or 'auto')")
    max_pending = positive_int(max_pending, "max_pending")
    pool = _as_executor(executor)
    name = _fn_name(fn)
    keys = [canonical_json(c) for c in configs]
    units = {(k, s): (c, s) for k, c in zip(keys, configs, strict=True) for s in seed_list}

    # one run at a time on `out`: a second would find the same units missing and run them
    # all again (taken before reading `out`, so the second refuses before any work)
    with lock_output(out) if out is not None else contextlib.nullcontext():
        store = open_store(out) if out is not None else None
        done: dict[tuple[str, int], dict[str, Any]] = {}
        if store is not None:
            for record in store.read():
                if _current_fn_name(record.get("fn")) != name or record.get("root") != root:
                    raise ValueError(
                        f"{out} holds results of fn={record.get('fn')!r}, root={record.get('root')!r}, "
                        f"not of this sweep (fn={name!r}, root={root}); pass another out file"
                    )
                done[(canonical_json(record["config"]), record["seed"])] = record  # last one wins
            if retry_errors:
                done = {k: r for k, r in done.items() if not r.get("error")}
        todo = [u for key, u in units.items() if key not in done]
        bar = progress_bar(
            len(units),
            name.rsplit(":", 1)[-1],
            progress,
            unit="run",
            initial=len(units) - len(todo),
        )

        def finish(records: list[dict[str, Any]]) -> None:
            if store is not None:
                store.append(records)
            for r in records:
                done[(canonical_json(r["config"]), r["seed"])] = r
            if bar is not None:
                bar.update(len(records))

        try:
            if pool is None:
                with limit_threads(blas_threads):
                    for unit in todo:
                        finish(_run_units(fn, name, root, [unit], None))
            else:
                work = functools.partial(_run_units, fn, name, root, blas_threads=blas_threads)
                _run_on(pool, work, todo, chunksize, max_pending, finish)
        finally:
            if bar is not None:
                bar.close()
            if store is not None:
                store.close()
        return SweepResult(tuple(done[key] for key in units))


# chunksize="auto": units per task so that a task takes about this long, once the first
# PROBE_TASKS single units have been timed; at most 1/MIN_TASKS of the units in one task
TASK_SECONDS = 0.5
PROBE_TASKS = 8
MIN_TASKS = 64


def _run_on(
    pool: cf.Executor,
    work: Callable[[list[tuple[Config, int]]], list[dict[str, Any]]],
    todo: list[tuple[Config, int]],
    chunksize: int | str,
    max_pending: int,
    finish: Callable[[list[dict[str, Any]]], None],
) -> None:
    auto = chunksize == "auto"
    size = 1 if auto else int(chunksize)
    cap = max(1, math.ceil(len(todo) / MIN_TASKS))
    timed: list[float] = []
    start = 0
    pending: set[cf.Future] = set()
    completed: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()
    try:
        while True:
            limit = PROBE_TASKS if auto and not timed else max_pending
            while start < len(todo) and len(pending) < limit:
                future = pool.submit(work, todo[start : start + size])
                start += size
                pending.add(future)
                # a callback per future, not cf.wait over all pending: O(1) per completion
                future.add_done_callback(completed.put)
            if not pending:
                return
            future = completed.get()
            pending.discard(future)
            records = future.result()
            finish(records)
            if auto:
                timed.extend(r["seconds"] for r in records)
                per_unit = max(sum(timed) / len(timed), 1e-6)
                size = max(1, min(cap, int(TASK_SECONDS / per_unit)))
    finally:
        # on an interruption keep every unit that finished, cancel what has not started
        for future in pending:
            if future.done() and not future.cancelled() and future.exception() is None:
                finish(future.result())
            else:
                future.cancel()


def read_sweep(path: str | os.PathLike[str]) -> SweepResult:
    """Read a sweep file (JSON lines, or Parquet with pyarrow) into a :class:`SweepResult`.

    Rows come in file order (the order units finished). ``math.nan`` values
    are written as JSON ``NaN``, which Python's ``json`` reads back.

    Parameters
    ----------
    path : str or path-like
        A sweep file, as ``sweep(..., out=path)`` or :meth:`SweepResult.save` wrote it.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> import os, tempfile
    >>> from trilat.sweep import orthogonality, read_sweep, sweep
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "orthogonality.jsonl")
    >>> result = sweep(orthogonality, {"D": [2, 4], "N": [8]}, seeds=2, progress=False, out=path)
    >>> again = read_sweep(path)
    >>> len(again.records), again.params
    (4, ('D', 'N'))
    >>> tmp.cleanup()
    """
    return SweepResult.load(path)
