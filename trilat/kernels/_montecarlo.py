"""Monte Carlo statistics of Theorem 3.1 part 1 and of the decodability ceiling, in plain numpy.

:func:`monte_carlo` streams trials in chunks through the oracle: simulate,
the running mean ``mu(t)``, the optimal logits, the distances from them and
the trilateration back to ``mu_hat(t)``. It keeps only per-``t`` sums, so its
memory does not grow with the number of trials. ``trilat.kernels`` provides
a numba function of the same signature returning the same
:class:`MonteCarloStats`; both run on :func:`run_monte_carlo` (validation,
chunking, progress bar, the final statistics) and differ only in the function
that folds one chunk into :class:`MonteCarloSums`. ``trilat verify`` uses
whichever it imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import positive_int, seed
from trilat._philox import key_from_rng
from trilat._progress import progress_bar
from trilat.oracle import distances_from_logits, posterior, predict, predict_logits, recover
from trilat.task import Task, check_task, simulate

__all__ = [
    "MonteCarloStats",
    "MonteCarloSums",
    "RunningMoments",
    "default_chunk_trials",
    "monte_carlo",
    "run_monte_carlo",
]

# Working memory of one chunk, in bytes. Measured (tracemalloc) peak of a chunk:
# about 10 doubles per output (outputs, logits, distances and the temporaries of
# the stable special functions) and 8 per latent coordinate, per trial-step;
# 12 and 8 leave room, so a chunk stays within about 64 MB.
CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class MonteCarloStats:
    """Per-``t`` summaries of ``n_trials`` simulated trials of a task.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Samples seen, ``1..T``.
    max_abs_error, mean_abs_error : ndarray, shape (T,)
        Largest and mean Euclidean ``|mu_hat(t) - mu(t)|`` over trials, where
        ``mu_hat`` is recovered from the optimal logits.
    n_saturated : ndarray of int, shape (T,)
        Outputs whose probability ``Phi(u)`` is exactly 0 or 1 in double
        precision (those a probability path would lose; the logit path keeps them).
    n_outputs : int
        Outputs per ``t``: ``n_trials * N``.
    r2_mu_xstar : ndarray, shape (T,)
        ``R^2`` of ``mu(t)`` against ``x*``: ``1 - SS_res/SS_tot`` per coordinate
        (``SS_tot`` about the sample mean of ``x*``), averaged over the D coordinates.
    n_trials : int
    """

    t: np.ndarray
    max_abs_error: np.ndarray
    mean_abs_error: np.ndarray
    n_saturated: np.ndarray
    n_outputs: int
    r2_mu_xstar: np.ndarray
    n_trials: int


class RunningMoments:
    """Count, mean and centred second moments of vectors, merged chunk by chunk.

    Chan, Golub & LeVeque's pairwise update: merging keeps the co-moment
    matrix accurate where accumulating raw sums of squares would cancel.
    Rows are samples; the leading axes of the shape are kept apart (one set of
    moments per ``t``).
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.comoment: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        """Add samples ``x`` of shape ``(n, ..., K)``: moments of shape ``(..., K)`` / ``(..., K, K)``."""
        n = x.shape[0]
        if n == 0:
            return
        mean = x.mean(axis=0)
        centred = x - mean
        comoment = np.einsum("n...i,n...j->...ij", centred, centred)
        if self.mean is None:
            self.count, self.mean, self.comoment = n, mean, comoment
            return
        total = self.count + n
        delta = mean - self.mean
        self.comoment = (
            self.comoment
            + comoment
            + delta[..., :, None] * delta[..., None, :] * (self.count * n / total)
        )
        self.mean = self.mean + delta * (n / total)
        self.count = total

    @property
    def variance_sums(self) -> np.ndarray:
        """``sum (x - mean)^2`` per component, shape ``(..., K)``."""
        return np.diagonal(self.comoment, axis1=-2, axis2=-1)


def default_chunk_trials(
    task: Task,
    n_steps: int,
    *,
    doubles_per_step: int | None = None,
    doubles_per_trial: int = 0,
    budget_bytes: int = CHUNK_BYTES,
) -> int:
    """Trials per chunk so that one chunk's arrays stay within ``budget_bytes``.

    ``budget_bytes // (8 (T doubles_per_step + doubles_per_trial))``, at least 1.
    ``doubles_per_step`` defaults to the numpy oracle's ``8 D + 12 N`` (see
    ``CHUNK_BYTES``); the numba kernels pass their own, smaller, working set.
    """
    if doubles_per_step is None:
        doubles_per_step = 8 * task.dim + 12 * task.n_tasks
    per_trial = 8 * (n_steps * doubles_per_step + doubles_per_trial)
    return max(1, budget_bytes // per_trial)


def chunks(n_trials: int, chunk_trials: int) -> Iterator[tuple[int, int]]:
    """``(first, count)`` of consecutive chunks covering ``0..n_trials - 1``."""
    for first in range(0, n_trials, chunk_trials):
        yield first, min(chunk_trials, n_trials - first)


def reusable_seed(rng: Any) -> Callable[[], Any]:
    """A function returning, at every call, a seed that makes :func:`simulate` draw the
    trials ``simulate(..., rng=rng)`` would draw in one call.

    Ints and SeedSequences are reused as they are; ``None`` becomes one fresh
    SeedSequence. A Generator gives its key by two draws, so each chunk gets a
    copy of its current state, and the Generator itself is advanced once, as a
    single call would advance it.
    """
    if isinstance(rng, np.random.Generator):
        state = rng.bit_generator.state
        bit_type = type(rng.bit_generator)
        key_from_rng(rng)  # advance it exactly as one call to simulate would

        def copy() -> np.random.Generator:
            bits = bit_type()
            bits.state = state
            return np.random.Generator(bits)

        return copy
    rng = seed(rng)
    if rng is None:
        rng = np.random.SeedSequence()
    return lambda: rng


@dataclass
class MonteCarloSums:
    """Per-``t`` running sums that a chunk function folds its trials into.

    Attributes
    ----------
    max_abs_error, sum_abs_error : ndarray, shape (T,)
        Largest and summed ``|mu_hat(t) - mu(t)|`` over the trials folded so far.
    n_saturated : ndarray of int, shape (T,)
        Outputs with ``Phi(u)`` exactly 0 or 1.
    sse : ndarray, shape (T, D)
        ``sum (mu(t) - x*)^2`` per coordinate.
    x_variance_sums : ndarray, shape (D,), or None
        ``sum (x* - mean x*)^2`` per coordinate over the trials so far; each
        chunk function keeps its own moments of ``x*`` and sets this.
    """

    max_abs_error: np.ndarray
    sum_abs_error: np.ndarray
    n_saturated: np.ndarray
    sse: np.ndarray
    x_variance_sums: np.ndarray | None = None

    @classmethod
    def zeros(cls, n_steps: int, dim: int) -> MonteCarloSums:
        return cls(
            max_abs_error=np.zeros(n_steps),
            sum_abs_error=np.zeros(n_steps),
            n_saturated=np.zeros(n_steps, dtype=np.int64),
            sse=np.zeros((n_steps, dim)),
        )


ChunkFolder = Callable[[int, int], None]


def run_monte_carlo(
    task: Task,
    n_trials: int,
    n_steps: int,
    chunk_trials: int | None,
    start: Callable[[MonteCarloSums], ChunkFolder],
    *,
    default_chunk: Callable[[Task, int], int],
    progress: bool | None,
) -> MonteCarloStats:
    """The chunked Monte Carlo driver shared by the numpy and the numba implementations.

    Validates ``n_trials >= 2``, ``n_steps`` and ``chunk_trials`` (default
    ``default_chunk(task, n_steps)``), calls ``start(sums)`` once to get the
    chunk function ``fold(first, count)``, which simulates trials
    ``first..first + count - 1`` and folds them into ``sums``; then runs the
    chunks in trial order under a progress bar and turns the sums into
    :class:`MonteCarloStats` (``R^2 = 1 - SS_res/SS_tot`` per coordinate,
    averaged over the D coordinates).

    ``task`` must already be checked (identifiable) by the caller.
    """
    n_trials = positive_int(n_trials, "n_trials", minimum=2)
    n_steps = positive_int(n_steps, "n_steps")
    if chunk_trials is None:
        chunk_trials = default_chunk(task, n_steps)
    chunk_trials = positive_int(chunk_trials, "chunk_trials")
    sums = MonteCarloSums.zeros(n_steps, task.dim)
    fold = start(sums)
    bar = progress_bar(n_trials, f"trilat monte carlo (N = {task.n_tasks})", progress)
    try:
        for first, count in chunks(n_trials, chunk_trials):
            fold(first, count)
            if bar is not None:
                bar.update(count)
    finally:
        if bar is not None:
            bar.close()
    r2 = np.mean(1.0 - sums.sse / sums.x_variance_sums, axis=-1)
    return MonteCarloStats(
        t=np.arange(1.0, n_steps + 1.0),
        max_abs_error=sums.max_abs_error,
        mean_abs_error=sums.sum_abs_error / n_trials,
        n_saturated=sums.n_saturated,
        n_outputs=n_trials * task.n_tasks,
        r2_mu_xstar=r2,
        n_trials=n_trials,
    )


def monte_carlo(
    task: Task,
    n_trials: int,
    n_steps: int,
    rng: Any = 0,
    chunk_trials: int | None = None,
    *,
    progress: bool | None = None,
) -> MonteCarloStats:
    """Simulate ``n_trials`` trials and summarise the exact recovery ``mu -> logits -> mu_hat``.

    For each trial and ``t = 1..T``: ``mu(t)`` the running mean of the
    evidence (flat prior), ``z = predict_logits(task, mu, t)``,
    ``mu_hat = recover(task, distances_from_logits(task, z, t))``; the
    statistics of ``|mu_hat - mu|``, of saturation and of ``mu`` against
    ``x*`` are accumulated chunk by chunk (numbers identical for any chunk
    size, since every trial's noise depends only on the seed and its index).

    Parameters
    ----------
    task : Task
        Must be identifiable (``rank C = D``).
    n_trials, n_steps : int
        ``n`` and ``T``.
    rng : int, SeedSequence, Generator or None, default 0
        Seed of :func:`trilat.simulate`.
    chunk_trials : int, optional
        Trials per chunk; by default as many as fit in about 64 MB.
    progress : bool, optional
        tqdm progress bar; ``None`` shows one when stderr is a terminal.

    Returns
    -------
    MonteCarloStats
        Arrays of shape ``(T,)``.

    Raises
    ------
    NotIdentifiableError
        ``rank(C) < D``.
    """
    task = check_task(task, identifiable=True)

    def start(sums: MonteCarloSums) -> ChunkFolder:
        seed = reusable_seed(rng)
        t = np.arange(1.0, sums.sse.shape[0] + 1.0)
        x_moments = RunningMoments()

        def fold(first: int, count: int) -> None:
            trials = simulate(task, count, t.size, rng=seed(), first_trial=first)
            mu = posterior(task, trials.evidence).mean
            z = predict_logits(task, mu, t)
            mu_hat = recover(task, distances_from_logits(task, z, t))
            err = np.linalg.norm(mu_hat - mu, axis=-1)
            np.maximum(sums.max_abs_error, err.max(axis=0), out=sums.max_abs_error)
            sums.sum_abs_error += err.sum(axis=0)
            yhat = predict(task, mu, t)
            sums.n_saturated += np.count_nonzero((yhat == 0.0) | (yhat == 1.0), axis=(0, 2))
            sums.sse += np.sum((mu - trials.x_star[:, None, :]) ** 2, axis=0)
            x_moments.add(trials.x_star)
            sums.x_variance_sums = x_moments.variance_sums

        return fold

    return run_monte_carlo(
        task, n_trials, n_steps, chunk_trials, start,
        default_chunk=default_chunk_trials, progress=progress,
    )  # fmt: skip
