"""``trilat sweep NAME``: run a built-in sweep serially, on a process pool or on Dask.

``--grid KEY=V1,V2,...`` replaces that key's values in the sweep's default
grid (or adds the key, e.g. ``--grid n_trials=5000``). Values parse as int,
then float (``1e6``, ``inf``), then ``true``/``false``, else string.
``--executor dask`` connects to ``--scheduler ADDRESS``, or starts a
``LocalCluster`` of ``--workers`` single-threaded worker processes.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from trilat._paths import OutputPathError, figure_file, output_file
from trilat._text import number, table
from trilat.sweep._builtin import SWEEPS
from trilat.sweep._engine import sweep
from trilat.sweep._result import SweepResult

__all__ = ["add_arguments", "parse_grid", "run"]


def _value(text: str) -> bool | int | float | str:
    text = text.strip()
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """``["D=2,4", "N=8"]`` -> ``{"D": [2, 4], "N": [8]}``; a malformed item raises ``ValueError``."""
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"--grid expects KEY=V1,V2,... (e.g. --grid N=2,4,8), got {item!r}")
        if key in grid:
            raise ValueError(f"--grid gives {key!r} twice; list all its values in one --grid")
        grid[key] = [_value(v) for v in values.split(",") if v.strip()]
    return grid


def _catalogue() -> str:
    """Each built-in sweep: its default grid (the keys --grid replaces) and its other parameters."""
    lines = ["built-in sweeps (--grid KEY=... replaces a grid key or sets another parameter):"]
    for s in SWEEPS.values():
        lines.append(f"  {s.name}: {s.description}")
        grid = "; ".join(f"{k}={','.join(_cell(v) for v in vs)}" for k, vs in s.grid.items())
        lines.append(f"    grid: {grid}")
        rest = {k: v for k, v in s.parameters.items() if k not in s.grid}
        if rest:
            lines.append("    other parameters: " + ", ".join(f"{k}={v}" for k, v in rest.items()))
        lines.append(f"    seeds: {s.seeds}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``trilat sweep``."""
    names = ", ".join(f"{s.name} ({s.description})" for s in SWEEPS.values())
    parser.description = __doc__
    parser.epilog = _catalogue()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("name", choices=sorted(SWEEPS), metavar="NAME", help=f"one of: {names}")
    parser.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2,...",
        help="values of one parameter (repeatable); replaces the default grid's values for KEY",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds per configuration (default: the sweep's)"
    )
    parser.add_argument(
        "--executor",
        choices=("serial", "processes", "dask"),
        default=None,
        help="where units run (default: serial, or dask when --scheduler is given)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://scheduler-host:8786"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes for --executor processes, or LocalCluster workers (default: up to 2)",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="results file (.jsonl, or .parquet with pyarrow); resumes"
    )
    parser.add_argument("--plot", metavar="PNG", help="save the sweep's figure (needs matplotlib)")
    parser.add_argument("--root", type=int, default=0, help="root seed (default 0)")
    parser.add_argument(
        "--chunksize",
        type=int,
        default=None,
        help="units per submitted task (default: sized from the first units' run time so that "
        "a task takes about half a second)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the summary table")


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[tuple[Any, str]]:
    kind = args.executor or ("dask" if args.scheduler else "serial")
    if args.scheduler and kind != "dask":
        raise ValueError(f"--scheduler needs --executor dask, got --executor {kind}")
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if kind == "serial":
        yield None, "serial"
    elif kind == "processes":
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool, f"process pool, {workers} workers"
    else:
        try:
            import distributed
        except ImportError as exc:  # optional dependency
            raise ImportError(
                "--executor dask needs dask.distributed: pip install 'trilat[dask]'"
            ) from exc
        if args.scheduler:
            with distributed.Client(args.scheduler) as client:
                n = len(client.scheduler_info().get("workers", {}))
                yield client, f"dask at {args.scheduler}, {n} workers"
        else:
            # single-threaded workers: units are the parallelism (and BLAS stays at one thread)
            with (
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                yield client, f"dask LocalCluster, {workers} workers"


def _cell(x: Any) -> str:
    """A grid value or a table cell: numbers to 4 significant digits, anything else as text."""
    return number(x, ".4g") if isinstance(x, (float, np.floating)) else str(x)


def _summary_table(result: SweepResult) -> str:
    summary = result.summarize()
    columns = [
        *result.params,
        "n",
        *(["n_errors"] if result.n_errors else []),
        *(f"{v}_mean" for v in result.values),
    ]
    header = [c.removesuffix("_mean") for c in columns]
    rows = [[_cell(v) for v in (row[c] for c in columns)] for row in summary]
    return "\n".join(table(header, rows))


def run(args: argparse.Namespace) -> int:
    """Run ``trilat sweep``; the exit status is 1 when a unit failed, 2 on bad options, 130 on Ctrl-C."""
    from trilat._lock import OutputLockedError

    try:
        return _run(args)
    except (ValueError, ImportError, OutputLockedError) as exc:  # bad options, a missing
        print(f"trilat sweep: error: {exc}", file=sys.stderr)  # extra, --out in use: not bugs
        return 2


def _run(args: argparse.Namespace) -> int:
    builtin = SWEEPS[args.name]
    grid = {**builtin.grid, **parse_grid(args.grid)}
    unknown = sorted(set(grid) - set(builtin.parameters))
    if unknown:
        raise ValueError(
            f"the {args.name} sweep has no parameter(s) {unknown}; its parameters (defaults) are "
            + ", ".join(f"{k}={v}" for k, v in builtin.parameters.items())
        )
    seeds = builtin.seeds if args.seeds is None else args.seeds
    # output paths (and the plot extra) before the work: a run that cannot save is lost
    figure = None if args.plot is None else figure_file(args.plot, "--plot")
    if args.out is not None:
        output_file(args.out, "--out")
    start = time.perf_counter()
    try:
        with _executor(args) as (executor, where):
            ready = time.perf_counter()
            result = sweep(
                builtin.fn,
                grid,
                seeds=seeds,
                executor=executor,
                progress=args.progress,
                out=args.out,
                root=args.root,
                chunksize=args.chunksize or "auto",
            )
    except OSError as exc:  # --out was checked, but the disk may fill or vanish meanwhile
        if exc.filename is None:
            raise
        raise OutputPathError(f"--out {args.out}: {exc}") from None
    except KeyboardInterrupt:
        saved = f"finished units are saved in {args.out}; run the same command to resume"
        print(f"trilat sweep: interrupted; {saved if args.out else 'nothing saved (no --out)'}",
              file=sys.stderr)  # fmt: skip
        return 130
    seconds, startup = time.perf_counter() - ready, ready - start
    if not args.quiet:
        print(_summary_table(result))
    print(
        f"{args.name}: {len(result)} units ({len(result.summarize())} configurations x {seeds} "
        f"seeds) in {seconds:.1f} s on {where}"
        + (f" (+ {startup:.1f} s to start it)" if startup >= 0.05 else "")
        + (f"; results in {args.out}" if args.out else "")
    )
    if figure is not None:
        from trilat._mpl import pyplot
        from trilat.sweep._plots import sweep_figure

        try:
            # pyplot keeps every figure it made alive until closed: main() may run in a loop
            pyplot().close(sweep_figure(args.name, result, figure))
        except OSError as exc:
            raise OutputPathError(f"--plot {figure}: {exc}") from None
        print(f"figure: {figure}")  # the file written (.png added to a name without suffix)
    if result.n_errors:
        first = result.errors[0]
        print(
            f"trilat sweep: {result.n_errors} of {len(result)} units failed; first: "
            f"{first['config']} seed {first['seed']}: {first['error']['type']}: "
            f"{first['error']['message']}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point, ``python -m trilat.sweep._cli NAME ...``."""
    parser = argparse.ArgumentParser(prog="trilat sweep")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
