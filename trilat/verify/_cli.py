"""``trilat verify`` on the command line: its options and its run (see :mod:`trilat.verify`)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from trilat._json import dumps
from trilat._paths import OutputPathError, figure_file, output_dir
from trilat._resources import MemoryNeedError, available_memory, check_memory, largest_fitting
from trilat.verify._engine import _part2_n, run_verify
from trilat.verify._result import VerifyConfig


def _positive_int(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``trilat verify``; defaults are the paper's."""
    d = VerifyConfig()
    parser.add_argument("--dim", type=_positive_int(1), default=d.dim,
                        help=f"latent dimension D (default {d.dim}); D = 2 verifies the paper's evenly spaced "
                        "tasks, every other D (D = 1 too) random tasks: unit rows uniform on the "
                        "sphere, b = 0, drawn from --seed")  # fmt: skip
    parser.add_argument("--n-tasks", type=_positive_int(1), nargs="+", default=list(d.n_tasks),
                        metavar="N", help="numbers of tasks N (default: 1 2 3 6 12 24)")  # fmt: skip
    parser.add_argument("--sigma", type=_positive_float, default=d.sigma,
                        help=f"noise std per evidence sample (default {d.sigma})")  # fmt: skip
    parser.add_argument("--steps", type=_positive_int(1), default=d.steps,
                        help=f"evidence samples per trial T (default {d.steps})")  # fmt: skip
    parser.add_argument("--trials", type=_positive_int(2), default=d.trials,
                        help=f"Monte Carlo trials (default {d.trials:,})")  # fmt: skip
    parser.add_argument("--seed", type=_positive_int(0), default=d.seed,
                        help=f"seed of every draw (default {d.seed})")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON instead of tables")  # fmt: skip
    parser.add_argument("--plot", metavar="DIR", type=Path, default=None,
                        help="also write the figures (PNG) to DIR (needs the plot extra)")  # fmt: skip
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: when stderr is a terminal)")  # fmt: skip


# Peak memory of a run (measured at N = 800, T = 20: 625 MiB, estimate 793 MiB): part 2's streamed moments of
# (z, mu), shape (T, N + D, N + D), live in MOMENT_COPIES copies while a chunk is merged;
# parts 1 and 3 and the chunks stay near BASE_BYTES whatever N (191 MiB at N = 20000).
MOMENT_COPIES = 4
BASE_BYTES = 400 * 2**20


def peak_bytes(config: VerifyConfig) -> tuple[float, int | None]:
    """Estimated peak memory of ``run_verify(config)``, and the N of part 2 (None: no part 2).

    ``BASE_BYTES + MOMENT_COPIES * 8 T (N2 + D)^2`` with ``N2`` the N part 2 runs at.
    """
    identifiable = [n for n in config.n_tasks if config.task(n).identifiable]
    n2 = _part2_n(config, sorted(identifiable))
    moments = 0 if n2 is None else _moment_bytes(config.steps, n2 + config.dim)
    return BASE_BYTES + moments, n2


def _moment_bytes(steps: int, k: int) -> float:
    return MOMENT_COPIES * 8.0 * steps * k * k


def check_verify_memory(config: VerifyConfig, available: int | None = None) -> None:
    """Refuse (:class:`trilat._resources.MemoryNeedError`) a run that would not fit in memory,
    naming the largest N of part 2 that fits."""
    needed, n2 = peak_bytes(config)
    budget = available_memory() if available is None else available
    if n2 is None or budget is None or needed <= budget:
        return
    k_max = largest_fitting(
        lambda k: BASE_BYTES + _moment_bytes(config.steps, k), budget, 1, n2 + config.dim
    )
    n_max = None if k_max is None else k_max - config.dim
    if n_max is None or n_max < config.dim:
        smaller = "use fewer --steps"
    else:
        example = " ".join(map(str, dict.fromkeys((min(6, n_max), *config.n_tasks))))
        smaller = (
            f"part 2 must run at N <= {n_max}: it takes N = 6 when given, else the N closest "
            f"to 6 (e.g. --n-tasks {example})"
        )
    check_memory(
        needed,
        f"part 2 at N = {n2} (its moments: {MOMENT_COPIES} arrays of {config.steps} x "
        f"{n2 + config.dim} x {n2 + config.dim})",
        smaller,
        available=budget,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``trilat verify``: print the report; exit 0 when every check holds, 1 when one
    fails, 2 (one line on stderr) when ``--plot`` cannot be written."""
    try:
        if args.plot is not None:  # before the run: a run that cannot save its figures is lost
            output_dir(args.plot, "--plot")
            figure_file(args.plot / "verify_ceiling.png", "--plot")  # and the plot extra
        check_verify_memory(_config(args))
        return _run(args)
    except (OutputPathError, ImportError, MemoryNeedError) as exc:
        print(f"trilat verify: error: {exc}", file=sys.stderr)
        return 2


def _config(args: argparse.Namespace) -> VerifyConfig:
    return VerifyConfig(
        dim=args.dim,
        n_tasks=tuple(dict.fromkeys(args.n_tasks)),  # in the given order, without repeats
        sigma=args.sigma,
        steps=args.steps,
        trials=args.trials,
        seed=args.seed,
    )


def _run(args: argparse.Namespace) -> int:
    from trilat.verify._report import format_report

    config = _config(args)
    report = run_verify(config, progress=args.progress)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    if args.plot is not None:
        from trilat.verify._plots import verify_figures

        try:
            written = verify_figures(report, args.plot)
        except OSError as exc:  # checked above, but the disk may fill or vanish meanwhile
            raise OutputPathError(f"--plot {args.plot}: {exc}") from None
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0 if report.passed else 1
