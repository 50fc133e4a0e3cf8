"""The ``trilat`` command: one subcommand per job (``trilat verify``, ...).

Adding a subcommand takes one small function and one line: write
``_name(subparsers)``, which adds the subcommand's parser, its options and
``set_defaults(run=...)`` (a function of the parsed arguments returning the
exit code), and list it in ``SUBCOMMANDS``. Import the subcommand's module
inside that function, so that ``trilat --help`` stays light.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["SUBCOMMANDS", "build_parser", "main"]


def _verify(subparsers: Any) -> None:
    from trilat import verify
    from trilat.verify import _cli as verify_cli

    parser = subparsers.add_parser(
        "verify",
        help="check Theorem 3.1 end to end by Monte Carlo (the paper's defaults)",
        description=verify.__doc__.split("\n\n")[0],
    )
    verify_cli.add_arguments(parser)
    parser.set_defaults(run=verify_cli.run)


def _sweep(subparsers: Any) -> None:
    from trilat.sweep import _cli as sweep_cli

    parser = subparsers.add_parser(
        "sweep",
        help="run a built-in parameter sweep serially, on a process pool or on a Dask cluster",
    )
    sweep_cli.add_arguments(parser)
    parser.set_defaults(run=sweep_cli.run)


def _compare(subparsers: Any) -> None:
    from trilat.compare import _cli as compare_cli

    parser = subparsers.add_parser(
        "compare",
        help="measure your network (MODULE:FACTORY) against the Bayes-optimal estimator",
        description=compare_cli.__doc__.split("\n\n")[0],
    )
    compare_cli.add_arguments(parser)
    parser.set_defaults(run=compare_cli.run)


def _bench(subparsers: Any) -> None:
    from trilat import bench

    parser = subparsers.add_parser(
        "bench",
        help="time the numba kernels against the numpy/scipy pipelines (two tables)",
        description=bench.__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # its options state no default
    )
    bench.add_arguments(parser)
    parser.set_defaults(run=bench.run)


SUBCOMMANDS: list[Callable[[Any], None]] = [_verify, _sweep, _compare, _bench]

# reStructuredText roles and literals in docstrings, shown as plain text in a terminal
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``(.+?)``", re.S)


def plain_text(text: str | None) -> str | None:
    """``text`` without reStructuredText markup: ````x```` and ``:func:`x``` become ``x``."""
    if not text:
        return text
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Strip reStructuredText from a parser's texts (descriptions come from docstrings)."""
    parser.description = plain_text(parser.description)
    parser.epilog = plain_text(parser.epilog)
    for action in parser._actions:
        if action.help not in (None, argparse.SUPPRESS):
            action.help = plain_text(action.help)


def build_parser() -> argparse.ArgumentParser:
    """The ``trilat`` parser with every subcommand of ``SUBCOMMANDS``."""
    from trilat._version import __version__

    parser = argparse.ArgumentParser(
        prog="trilat",
        description="Check Theorem 3.1 of Vafidis, Bhargava & Rangel (ICLR 2025): "
        "the Bayes-optimal multi-task estimator and what it implies.",
    )
    parser.add_argument("--version", action="version", version=f"trilat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    for subparser in subparsers.choices.values():
        _plain_help(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trilat`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
