"""``trilat verify`` on the command line: its options and its run (see :mod:`trilat.verify`)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from trilat.verify._engine import run_verify
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
                        help=f"latent dimension D (default {d.dim}; D > 2 uses random tasks)")  # fmt: skip
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


def run(args: argparse.Namespace) -> int:
    """Run ``trilat verify``: print the report; exit 0 when every check holds, else 1."""
    from trilat.verify._report import format_report

    config = VerifyConfig(
        dim=args.dim,
        n_tasks=tuple(dict.fromkeys(args.n_tasks)),  # in the given order, without repeats
        sigma=args.sigma,
        steps=args.steps,
        trials=args.trials,
        seed=args.seed,
    )
    report = run_verify(config, progress=args.progress)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    if args.plot is not None:
        from trilat.verify._plots import verify_figures

        written = verify_figures(report, args.plot)
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0 if report.passed else 1
