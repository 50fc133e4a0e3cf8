"""``trilat bench``: the numba kernels against the numpy/scipy pipelines, side by side.

Two tables, every number measured in the same process and run:

1. Round trip ``simulate -> mu(t) -> outputs -> distances -> mu_hat(t)`` at
   ``N = 64``, ``T = 100`` for ``D`` in {2, 16}: trial-steps per second of

   - the *probability* pipeline as users write it with the oracle
     (``simulate, posterior, predict, distances, recover``), which saturates
     (``Phi(u)`` rounds to 1 beyond ``|u| ~ 8.3``, the distance is then infinite);
   - the *exact logit* pipeline (``predict_logits, distances_from_logits``),
     which does not saturate but runs slower;
   - the fused kernel (``trilat.kernels.roundtrip``, exact like the logits);

   with the speed-up against the probability pipeline (the faster baseline),
   the peak RSS of each run and its share of the measured memory bandwidth
   (a lower bound of its traffic, the arrays each stage reads and writes
   once, over its time, over the bandwidth of a large numpy copy).
2. Elements per second of ``Phi`` and ``Phi^-1`` on ``10^7`` doubles:
   ``scipy.special`` as users call it (one thread) against
   ``trilat.kernels.ndtr``/``ndtri`` on one and two numba threads.

Timings are the best of ``--repeats`` runs, alternated between the
contenders so that a busy machine slows all of them alike.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from trilat import oracle
from trilat._text import table
from trilat.task import Task, simulate

__all__ = ["ElementRow", "PipelineRow", "main", "run_elementwise", "run_pipelines"]


@dataclass(frozen=True)
class PipelineRow:
    """One pipeline at one D: ``rate`` in trial-steps/s, ``peak_rss`` in bytes."""

    name: str
    dim: int
    n_trials: int
    seconds: float
    rate: float
    peak_rss: int
    bandwidth_share: float


@dataclass(frozen=True)
class ElementRow:
    """Elements/s of one function on one input distribution: wall clock, and per CPU-second
    (``*_cpu``: elements over the CPU time of all threads, which a busy machine barely moves)."""

    function: str
    inputs: str
    scipy: float
    trilat: dict[int, float]
    scipy_cpu: float
    trilat_cpu: float


# ----------------------------------------------------------------- measurements


def _rss_hwm() -> int:
    """Peak resident set size of this process so far, in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return 1024 * int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    except (OSError, AttributeError):  # not Linux: the lifetime peak
        scale = 1 if sys.platform == "darwin" else 1024
        return scale * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_rss_hwm() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_bandwidth(nbytes: int = 2**28, repeats: int = 5) -> float:
    """Bytes/s of a large numpy copy, counting the bytes read and the bytes written."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * nbytes / best


def staged_probabilities(task: Task, n: int, T: int, seed: int) -> np.ndarray:
    """The oracle pipeline as users write it: it saturates (infinite distances beyond |u| ~ 8.3)."""
    trials = simulate(task, n, T, rng=seed)
    post = oracle.posterior(task, trials.evidence)
    yhat = oracle.predict(task, post.mean, post.t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the saturated outputs, reported
        k = oracle.distances(task, yhat, post.t)
    return oracle.recover(task, k)


def staged_logits(task: Task, n: int, T: int, seed: int) -> np.ndarray:
    """The exact oracle pipeline through logits."""
    trials = simulate(task, n, T, rng=seed)
    post = oracle.posterior(task, trials.evidence)
    z = oracle.predict_logits(task, post.mean, post.t)
    return oracle.recover(task, oracle.distances_from_logits(task, z, post.t))


def fused(task: Task, n: int, T: int, seed: int) -> np.ndarray:
    """The fused numba round trip (exact, no (n, T, N) array)."""
    from trilat import kernels

    return kernels.roundtrip(task, n, T, rng=seed).mu_hat


def _traffic(name: str, n: int, T: int, dim: int, n_tasks: int) -> float:
    """Bytes each stage must read and write at least once (a lower bound of the traffic)."""
    if name == "fused kernel":  # writes x*, mu, mu_hat, |error|, count, (mu - x*)^2
        return 8.0 * n * T * (3 * dim + 2)
    # evidence; mean (in, out); outputs (out, in); distances (out, in); mu_hat
    return 8.0 * n * T * (4 * dim + 4 * n_tasks)


def run_pipelines(
    dims: Sequence[int] = (2, 16),
    n_tasks: int = 64,
    n_steps: int = 100,
    n_trials: int = 20_000,
    logit_trials: int = 5_000,
    repeats: int = 2,
    seed: int = 0,
    bandwidth: float | None = None,
) -> list[PipelineRow]:
    """Time the three pipelines at each D, alternating them ``repeats`` times (best kept).

    The logit pipeline, four to six times slower than the probability one, runs on
    ``logit_trials`` trials (its time is linear in n; the rate is per trial-step).
    """
    bandwidth = memory_bandwidth() if bandwidth is None else bandwidth
    contenders: list[tuple[str, Callable[..., Any], int]] = [
        ("numpy/scipy, probabilities", staged_probabilities, n_trials),
        ("numpy/scipy, exact logits", staged_logits, logit_trials),
        ("fused kernel", fused, n_trials),
    ]
    rows = []
    for dim in dims:
        task = Task.paper(dim, n_tasks, rng=1)
        for _, run, _n in contenders:  # compile, import and warm up
            run(task, 16, n_steps, seed)
        best = {name: (float("inf"), 0) for name, _, _ in contenders}
        for _ in range(repeats):
            for name, run, n in contenders:
                _reset_rss_hwm()
                start = time.perf_counter()
                run(task, n, n_steps, seed)
                seconds = time.perf_counter() - start
                peak = _rss_hwm()
                best[name] = (min(best[name][0], seconds), max(best[name][1], peak))
        for name, _, n in contenders:
            seconds, peak = best[name]
            share = _traffic(name, n, n_steps, dim, n_tasks) / seconds / bandwidth
            rows.append(PipelineRow(name, dim, n, seconds, n * n_steps / seconds, peak, share))
    return rows


def run_elementwise(
    size: int = 10**7, threads: Sequence[int] = (1, 2), repeats: int = 5, seed: int = 0
) -> list[ElementRow]:
    """Elements/s of scipy's ndtr/ndtri and trilat's on ``size`` doubles (best of ``repeats``)."""
    import numba

    from trilat import kernels

    rng = np.random.default_rng(seed)
    cases = [
        ("ndtr", "u ~ N(0, 3^2)", special.ndtr, kernels.ndtr, 3.0 * rng.standard_normal(size)),
        ("ndtri", "p ~ U(0, 1)", special.ndtri, kernels.ndtri, rng.random(size)),
        ("ndtri", "p log-uniform on [1e-300, 1/2]", special.ndtri, kernels.ndtri,
         10.0 ** rng.uniform(-300, np.log10(0.5), size)),
    ]  # fmt: skip
    available = numba.config.NUMBA_NUM_THREADS
    threads = [t for t in threads if t <= available]
    previous = numba.get_num_threads()
    rows = []
    try:
        for function, inputs, ref, ours, x in cases:
            ours(x[:64])  # compile
            best = {"scipy": float("inf"), **{t: float("inf") for t in threads}}
            cpu = {"scipy": float("inf"), "trilat": float("inf")}
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                ref(x)
                best["scipy"] = min(best["scipy"], time.perf_counter() - start)
                cpu["scipy"] = min(cpu["scipy"], time.process_time() - start_cpu)
                for t in threads:
                    numba.set_num_threads(t)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    ours(x)
                    best[t] = min(best[t], time.perf_counter() - start)
                    cpu["trilat"] = min(cpu["trilat"], time.process_time() - start_cpu)
            rates = {t: size / best[t] for t in threads}
            rows.append(
                ElementRow(
                    function, inputs, size / best["scipy"], rates,
                    size / cpu["scipy"], size / cpu["trilat"],
                )
            )  # fmt: skip
    finally:
        numba.set_num_threads(previous)
    return rows


# ----------------------------------------------------------------- report


def format_pipelines(rows: Sequence[PipelineRow], bandwidth: float, n_steps: int = 100) -> str:
    base = {r.dim: r.rate for r in rows if r.name == "numpy/scipy, probabilities"}
    body = [
        [
            r.name,
            str(r.dim),
            f"{r.n_trials:,}",
            f"{r.seconds:.2f}",
            f"{r.rate / 1e6:.3f}",
            f"{r.rate / base[r.dim]:.1f}x",
            f"{r.peak_rss / 2**20:,.0f}",
            f"{100 * r.bandwidth_share:.2f}%",
        ]
        for r in rows
    ]
    header = ["pipeline", "D", "trials", "seconds", "M trial-steps/s", "vs probabilities",
              "peak RSS MB", "of bandwidth"]  # fmt: skip
    return (
        f"Round trip, N = 64, T = {n_steps}; memory bandwidth {bandwidth / 1e9:.1f} GB/s "
        f"(numpy copy, read + write)\n" + "\n".join(table(header, body, left=(0,)))
    )


def format_elementwise(rows: Sequence[ElementRow]) -> str:
    threads = sorted({t for r in rows for t in r.trilat})
    header = ["function", "inputs", "scipy M/s", *(f"trilat {t}T M/s" for t in threads),
              *(f"{t}T / scipy" for t in threads), "scipy M/cpu-s", "trilat M/cpu-s",
              "per CPU"]  # fmt: skip
    body = [
        [r.function, r.inputs, f"{r.scipy / 1e6:.0f}"]
        + [f"{r.trilat[t] / 1e6:.0f}" for t in threads]
        + [f"{r.trilat[t] / r.scipy:.1f}x" for t in threads]
        + [
            f"{r.scipy_cpu / 1e6:.0f}",
            f"{r.trilat_cpu / 1e6:.0f}",
            f"{r.trilat_cpu / r.scipy_cpu:.1f}x",
        ]
        for r in rows
    ]
    return (
        "Element throughput on 10^7 doubles (wall clock; then per CPU-second, all threads)\n"
        + "\n".join(table(header, body, left=(0, 1)))
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=20_000, help="trials per pipeline run")
    parser.add_argument("--logit-trials", type=int, default=5_000,
                        help="trials of the (slower) exact logit pipeline")  # fmt: skip
    parser.add_argument("--steps", type=int, default=100, help="T")
    parser.add_argument("--repeats", type=int, default=2, help="runs per pipeline (best kept)")
    parser.add_argument("--elements", type=int, default=10**7, help="doubles per ndtr/ndtri call")
    parser.add_argument("--quick", action="store_true", help="a small run to try the command")


def run(args: argparse.Namespace) -> int:
    """Measure and print both tables; exit code 0."""
    if args.quick:
        args.trials, args.logit_trials, args.steps, args.elements = 2_000, 500, 20, 10**6
    started = time.perf_counter()
    print(f"trilat bench: {os.cpu_count()} CPUs, numpy {np.__version__}", flush=True)
    bandwidth = memory_bandwidth()
    pipelines = run_pipelines(
        n_steps=args.steps,
        n_trials=args.trials,
        logit_trials=args.logit_trials,
        repeats=args.repeats,
        bandwidth=bandwidth,
    )
    print(format_pipelines(pipelines, bandwidth, args.steps), flush=True)
    print()
    print(format_elementwise(run_elementwise(size=args.elements)))
    print(
        f"\n(best of {args.repeats} alternated runs; total {time.perf_counter() - started:.0f} s)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trilat.bench``: the same as ``trilat bench``."""
    parser = argparse.ArgumentParser(prog="trilat bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
