"""Measure your network against the Bayes-optimal estimator: trilat compare MODULE:FACTORY.

The factory is a function, found as ``package.module:name`` or
``path/to/file.py:name``, called with the keyword arguments given as
``--factory-arg NAME=VALUE`` (VALUE read as a Python literal when it is one,
``n_tasks=6``, else as a string, ``checkpoint=net.pth``). It returns a
:class:`trilat.adapters.Network`, or a tuple ``(network, task)``,
``(network, task, mixing)`` or ``(network, task, mixing, protocol)`` (the
task it was trained on, the mixing ``f`` it saw, the
:class:`trilat.TrialProtocol` of its trials; a network's own ``task``,
``mixing`` and ``protocol`` attributes are used when the factory returns
none). Without a task the default is the paper's D = 2 task: N = 6 evenly
spaced boundaries, sigma = 0.2, uniform prior.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from trilat.protocol import TrialProtocol
from trilat.task import Task

DEFAULT_TASK_TEXT = "D = 2, N = 6 evenly spaced boundaries, sigma = 0.2, uniform prior"


class FactoryError(ValueError):
    """The factory cannot be imported, called, or returned something that is not a network."""


def default_task() -> Task:
    """The paper's D = 2 task: ``Task.evenly_spaced(6)`` (sigma = 0.2, ``U[-0.5, 0.5]^2``)."""
    return Task.evenly_spaced(6)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name}:{last.lineno})"


def _import(module_part: str) -> Any:
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise FactoryError(f"no such file: {module_part}")
        name = f"_trilat_factory_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise FactoryError(f"cannot load {module_part} as a Python module")
        module = importlib.util.module_from_spec(spec)
        # like `python file.py`: the file's directory is importable, for its sibling modules
        sys.path.insert(0, str(path.resolve().parent))
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the working directory is importable
    return importlib.import_module(module_part)


def factory_kwargs(items: list[str] | None) -> dict[str, Any]:
    """``["checkpoint=net.pth", "n_tasks=6"]`` -> ``{"checkpoint": "net.pth", "n_tasks": 6}``.

    A value is a Python literal (``ast.literal_eval``: numbers, strings in
    quotes, ``None``, ``True``, lists...) when it parses as one, else the
    string as written.
    """
    kwargs: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise FactoryError(
                f"--factory-arg must be NAME=VALUE with NAME an identifier, got {item!r}"
            )
        if name in kwargs:
            raise FactoryError(f"--factory-arg {name} given twice")
        try:
            kwargs[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[name] = text
    return kwargs


def load_factory(
    spec: str, kwargs: dict[str, Any] | None = None
) -> tuple[Any, Task | None, Any, TrialProtocol | None]:
    """Import and call ``MODULE:FACTORY(**kwargs)``; returns ``(network, task, mixing, protocol)``.

    ``task``, ``mixing`` and ``protocol`` are ``None`` when the factory did not return them.

    Raises
    ------
    FactoryError
        A malformed spec, a failed import or call, or a result that is not a
        network, ``(network, task)``, ``(network, task, mixing)`` or
        ``(network, task, mixing, protocol)``.
    """
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr.isidentifier():
        raise FactoryError(
            f"expected MODULE:FACTORY (e.g. mypackage.nets:factory) or path/to/file.py:FACTORY, "
            f"got {spec!r}"
        )
    try:
        module = _import(module_part)
    except FactoryError:
        raise
    except Exception as exc:  # the user's code: report it in one line
        raise FactoryError(
            f"importing {module_part} failed: {type(exc).__name__}: {exc}{_where(exc)}"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise FactoryError(
            f"{module_part} has no function {attr!r}; its public callables are {found}"
        )
    kwargs = dict(kwargs or {})
    try:
        result = factory(**kwargs)
    except Exception as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise FactoryError(
            f"{attr}({shown}) failed: {type(exc).__name__}: {exc}{_where(exc)}"
        ) from None
    return _unpack(result, f"{module_part}:{attr}")


def _unpack(result: Any, name: str) -> tuple[Any, Task | None, Any, TrialProtocol | None]:
    expected = (
        "a trilat network, (network, task), (network, task, mixing) or "
        "(network, task, mixing, protocol)"
    )
    parts = result if isinstance(result, tuple) else (result,)
    if not 1 <= len(parts) <= 4:
        raise FactoryError(f"{name}() must return {expected}; got a tuple of {len(parts)}")
    network, task, mixing, protocol = (*parts, None, None, None)[:4]
    if hasattr(network, "named_modules") and hasattr(network, "state_dict"):
        names = [n for n, _ in network.named_modules() if n]
        raise FactoryError(
            f"{name}() returned a bare torch module ({type(network).__name__}); wrap it with "
            f"trilat.from_torch(module, latent=NAME), NAME one of its submodules {names}"
        )
    if not callable(network):
        raise FactoryError(f"{name}() must return {expected}; got {type(network).__name__}")
    if task is not None and not isinstance(task, Task):
        raise FactoryError(
            f"{name}() returned {type(task).__name__} where a trilat.Task belongs: {expected}"
        )
    if mixing is not None and not callable(mixing):
        raise FactoryError(f"{name}() returned a mixing that is not callable: {mixing!r}")
    if protocol is not None and not isinstance(protocol, TrialProtocol):
        raise FactoryError(
            f"{name}() returned {type(protocol).__name__} where a trilat.TrialProtocol belongs: "
            f"{expected}"
        )
    return network, task, mixing, protocol


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``trilat compare``."""
    parser.add_argument(
        "factory",
        metavar="MODULE:FACTORY",
        help="a function returning a network, (network, task), (network, task, mixing) or "
        "(network, task, mixing, protocol): package.module:name or path/to/file.py:name",
    )
    parser.add_argument(
        "--factory-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="keyword argument of the factory (repeatable); VALUE is a Python literal or a string",
    )
    parser.add_argument("--n-trials", type=int, default=2000, help="trials (default 2000)")
    parser.add_argument(
        "--n-steps",
        type=int,
        default=None,
        help="evidence steps T (default: the protocol's, 20 without one)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of trials and splits (0)")
    parser.add_argument(
        "--latent-step",
        type=int,
        default=None,
        help="step of the latent-code metrics (default: the last scored step)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="relative ridge penalty of every latent-code decoder, in units of "
        "tr(H_c^T H_c)/H of its centred training latents, H their non-constant units (default: chosen by leave-one-out "
        "cross-validation inside each training set)",
    )
    parser.add_argument(
        "--prior",
        choices=("task", "flat"),
        default="task",
        help="oracles scored against: 'task' (default): the flat prior's (the theorem's) and, "
        "for a uniform task prior and D <= 2, the exact box-prior oracle beside it (excess CE over both, "
        "and the two oracles' own KL); 'flat': the flat prior's only",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="directory for comparison.json and the figures"
    )
    parser.add_argument("--no-figures", action="store_true", help="write the JSON only")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def lower_bound_bytes(task: Task, mixing: Any, n_trials: int, n_steps: int) -> float:
    """Memory ``compare`` surely holds at once: a lower bound, ``8 n T (2D + obs + 2N + 1)``.

    Every trial is kept: the evidence and ``mu(t)`` (D each), the network's
    inputs (the mixing's output dimension, or D), its outputs and the optimal
    ones (N each) and its latent state (H >= 1; unknown before it runs).
    """
    obs = getattr(mixing, "out_dim", task.dim) if mixing is not None else task.dim
    per_step = 2 * task.dim + int(obs) + 2 * task.n_tasks + 1
    return 8.0 * max(n_trials, 0) * max(n_steps, 0) * per_step


def check_compare_memory(task: Task, mixing: Any, n_trials: int, n_steps: int) -> None:
    """Refuse (:class:`trilat._resources.MemoryNeedError`) ``--n-trials`` that cannot fit."""
    from trilat._resources import available_memory, check_memory, largest_fitting

    budget = available_memory()
    needed = lower_bound_bytes(task, mixing, n_trials, n_steps)
    if budget is None or needed <= budget:
        return
    fits = largest_fitting(
        lambda n: lower_bound_bytes(task, mixing, n, n_steps), budget, 8, max(n_trials, 8)
    )
    check_memory(
        needed,
        f"--n-trials {n_trials} x --n-steps {n_steps} (before the network's own latent state)",
        f"use --n-trials {fits} or fewer" if fits else "use fewer --n-steps",
        available=budget,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``trilat compare``; errors are one line on stderr and exit code 2."""
    from trilat._paths import OutputPathError, figure_file, output_dir
    from trilat.compare._engine import compare

    try:
        if args.out is not None:  # before the work: a run that cannot save its results is lost
            output_dir(args.out, "--out")
            if not args.no_figures:
                figure_file(args.out / "outputs.png", "--out")  # and the plot extra
        network, task, mixing, protocol = load_factory(
            args.factory, factory_kwargs(args.factory_arg)
        )
        task = task if task is not None else getattr(network, "task", None)
        if not isinstance(task, Task):
            print(
                f"trilat compare: the factory gave no task; using the default ({DEFAULT_TASK_TEXT})",
                file=sys.stderr,
            )
            task = default_task()
        steps = getattr(protocol or getattr(network, "protocol", None), "n_steps", None)
        mixed_by = mixing if mixing is not None else getattr(network, "mixing", None)
        check_compare_memory(task, mixed_by, args.n_trials, steps or args.n_steps or 20)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = compare(
                network,
                task,
                n_trials=args.n_trials,
                n_steps=args.n_steps,
                mixing=mixing,
                protocol=protocol,
                latent_step=args.latent_step,
                alpha=args.alpha,
                rng=args.seed,
                prior=None if getattr(args, "prior", "task") == "task" else "flat",
            )
        for w in caught:  # one line each on stderr, before the report
            print(f"trilat compare: warning: {w.message}", file=sys.stderr)
        print(result.to_markdown())
        if args.out is not None:
            try:
                args.out.mkdir(parents=True, exist_ok=True)
                path = args.out / "comparison.json"
                path.write_text(result.to_json())
                written = [path]
                if not args.no_figures:
                    written += result.plot(args.out)
            except OSError as exc:  # checked above, but the disk may fill or vanish meanwhile
                raise OutputPathError(f"--out {args.out}: {exc}") from None
            print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    except (ValueError, ImportError) as exc:
        if args.debug:
            raise
        print(f"trilat compare: error: {exc}", file=sys.stderr)  # MemoryNeedError too
        return 2
    return 0
