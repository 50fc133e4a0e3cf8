"""Measure your network against the Bayes-optimal estimator: trilat compare MODULE:FACTORY.

The factory is a function of no arguments, found as ``package.module:name`` or
``path/to/file.py:name``. It returns a :class:`trilat.adapters.Network`, or a
tuple ``(network, task)`` or ``(network, task, mixing)`` (the task it was
trained on and the mixing ``f`` it saw; a network's own ``task`` and
``mixing`` attributes are used when the factory returns neither). Without a
task the default is the paper's D = 2 task: N = 6 evenly spaced boundaries,
sigma = 0.2, uniform prior.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any

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


def load_factory(spec: str) -> tuple[Any, Task | None, Any]:
    """Import and call ``MODULE:FACTORY``; returns ``(network, task or None, mixing or None)``.

    Raises
    ------
    FactoryError
        A malformed spec, a failed import or call, or a result that is not a
        network, ``(network, task)`` or ``(network, task, mixing)``.
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
    try:
        result = factory()
    except Exception as exc:
        raise FactoryError(f"{attr}() failed: {type(exc).__name__}: {exc}{_where(exc)}") from None
    return _unpack(result, f"{module_part}:{attr}")


def _unpack(result: Any, name: str) -> tuple[Any, Task | None, Any]:
    expected = "a trilat network, (network, task) or (network, task, mixing)"
    parts = result if isinstance(result, tuple) else (result,)
    if not 1 <= len(parts) <= 3:
        raise FactoryError(f"{name}() must return {expected}; got a tuple of {len(parts)}")
    network, task, mixing = (*parts, None, None)[:3]
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
    return network, task, mixing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``trilat compare``."""
    parser.add_argument(
        "factory",
        metavar="MODULE:FACTORY",
        help="a function returning a network, (network, task) or (network, task, mixing): "
        "package.module:name or path/to/file.py:name",
    )
    parser.add_argument("--n-trials", type=int, default=2000, help="trials (default 2000)")
    parser.add_argument("--n-steps", type=int, default=20, help="evidence steps T (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of trials and splits (0)")
    parser.add_argument(
        "--latent-step", type=int, default=None, help="step t of the latent-code metrics (T)"
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
        "--out", type=Path, default=None, help="directory for comparison.json and the figures"
    )
    parser.add_argument("--no-figures", action="store_true", help="write the JSON only")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def run(args: argparse.Namespace) -> int:
    """Run ``trilat compare``; errors are one line on stderr and exit code 2."""
    from trilat.compare._engine import compare

    try:
        network, task, mixing = load_factory(args.factory)
        task = task if task is not None else getattr(network, "task", None)
        if not isinstance(task, Task):
            print(
                f"trilat compare: the factory gave no task; using the default ({DEFAULT_TASK_TEXT})",
                file=sys.stderr,
            )
            task = default_task()
        result = compare(
            network,
            task,
            n_trials=args.n_trials,
            n_steps=args.n_steps,
            mixing=mixing,
            latent_step=args.latent_step,
            alpha=args.alpha,
            rng=args.seed,
        )
        print(result.to_markdown())
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / "comparison.json"
            path.write_text(result.to_json())
            written = [path]
            if not args.no_figures:
                written += result.plot(args.out)
            print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    except (ValueError, ImportError) as exc:
        if args.debug:
            raise
        print(f"trilat compare: error: {exc}", file=sys.stderr)
        return 2
    return 0
