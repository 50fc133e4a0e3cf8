"""Numba kernels: the oracle's pipeline per trial-step, in parallel, without ``(n, T, N)`` arrays.

The same numbers as :mod:`trilat.oracle` on the same noise, much faster:

- :func:`simulate`: ``trilat.simulate``'s exact draws (the one Philox4x64-10
  implementation of ``trilat._philox``, compiled here; normals by scipy's
  ``ndtri``, bound bit for bit), in parallel over trials;
- :func:`predict`, :func:`invert`, :func:`recover`: the outputs kept
  complement-aware (:class:`Outputs`: ``Phi(-|u|)`` and the sign, in log
  space where ``Phi(-|u|)`` would underflow), the distances back from them
  and the trilateration ``mu = C^+ (k + b)``;
- :func:`roundtrip`: all of it fused per trial-step (draw, ``mu(t)``,
  outputs, distances, ``mu_hat(t)``), never holding an ``(n, T, N)`` array;
- :func:`monte_carlo`: the round trip streamed in chunks into per-``t``
  statistics (:class:`trilat.kernels._montecarlo.MonteCarloStats`, as the numpy
  reference returns them), with a progress bar;
- :func:`ndtr`, :func:`ndtri`: element-wise ``Phi`` and ``Phi^-1`` on arrays,
  in parallel (the branch-free functions of ``trilat.kernels._special``).

Every trial's numbers depend only on the seed and the trial's index, and
every reduction runs in trial order, so results are bit-identical for any
chunk size and any number of numba threads (``numba.set_num_threads``).
``mu(t)`` is computed as the oracle computes it (cumulative sum, then divide)
and is bit-identical; the outputs and ``mu_hat`` agree to about 1e-15
relative. Kernels compile on first use (or load from numba's cache).

numba's cache checks only the source file of each cached function: the
Philox rounds and the Phi/Phi^-1 of ``trilat.kernels._special`` are inlined here, so
after editing ``_philox.py`` or ``_special.py`` touch this file (or delete
the cache, in ``NUMBA_CACHE_DIR`` or the user cache directory, see
``trilat._numba_cache``) to recompile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import scipy.special
from numba import prange
from numba.extending import register_jitable

from trilat import _philox
from trilat._checks import as_float_array, describe, last_axis, positive_int, trial_range
from trilat._numba_cache import CACHE  # a per-user cache directory, never the package
from trilat.kernels import _special
from trilat.kernels._montecarlo import (
    ChunkFolder,
    MonteCarloStats,
    MonteCarloSums,
    default_chunk_trials,
    run_monte_carlo,
)
from trilat.kernels._special import (
    fast_ndtr,
    fast_ndtri,
    llvm_options,
    ndtr_lower,
    ndtri_lower,
    select,
)
from trilat.oracle import posterior_precision, posterior_std
from trilat.task import Gaussian, Task, Trials, Uniform, check_task

__all__ = [
    "Outputs",
    "RoundTrip",
    "invert",
    "monte_carlo",
    "ndtr",
    "ndtri",
    "predict",
    "recover",
    "roundtrip",
    "simulate",
]

# The Philox source runs on numpy arrays in trilat.simulate; register the very same
# functions for numba (one implementation of the generator).
for _f in (_philox.mulhilo, _philox.philox4x64, _philox.to_unit):
    register_jitable(inline="always")(_f)

# Working memory of one chunk of the fused kernel (its per-trial arrays are small).
KERNEL_CHUNK_BYTES = 16 * 2**20

LOG_SPACE_U = 37.5  # above, Phi(-|u|) < 4.7e-308 nears the subnormals: work with its log


def _first_one() -> float:
    """The smallest double ``u`` with ``scipy.special.ndtr(u) == 1`` (bisection on doubles)."""
    lo, hi = 8.0, 9.0
    while np.nextafter(lo, hi) < hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if scipy.special.ndtr(mid) == 1.0 else (mid, hi)
    return hi


# Plain probabilities Phi(u) that round to 1 (saturated outputs): surely for u > U_ONE_HI;
# between U_ONE_LO and U_ONE_HI scipy's ndtr decides, as the oracle's predict would.
U_ONE_LO = _first_one() * (1.0 - 1e-12)
U_ONE_HI = _first_one() * (1.0 + 1e-12)
INTERLEAVE = 4

_parallel = numba.njit(cache=CACHE, error_model="numpy", parallel=True)
_serial = numba.njit(cache=CACHE, error_model="numpy")


def _compiled(kernel: Any, *args: Any) -> Any:
    """Call ``kernel``, compiling it (or loading it from numba's cache) on first use.

    The functions that need LLVM options (see :func:`trilat.kernels._special.llvm_options`)
    are compiled first, alone, with them; the kernels that call them are then
    compiled with LLVM's defaults, and reuse them.
    """
    if not kernel.signatures:
        _compile_leaves()
        kernel.compile(tuple(numba.typeof(a) for a in args))
    return kernel(*args)


def _compile_leaves() -> None:
    if _tails.signatures:
        return
    vec, flags = numba.float64[::1], numba.boolean[::1]
    with llvm_options(interleave=INTERLEAVE):
        _tails.compile((vec, vec, flags))
        _quantiles.compile((vec, flags, numba.float64, vec))
    with llvm_options(unroll_threshold=5000):
        _trial_uniforms.compile((numba.uint64, numba.uint64, numba.uint64, numba.float64[:, ::1]))


# ----------------------------------------------------------------- element-wise


BLOCK = 16384  # elements per parallel task of the element-wise kernels
TRIAL_BLOCK = 16  # trials per parallel task of the round trip


@_serial
def _ndtr_block(x, out):
    for i in range(x.size):
        out[i] = fast_ndtr(x[i])


@_serial
def _ndtri_block(p, out):
    for i in range(p.size):
        out[i] = fast_ndtri(p[i])


@_parallel
def _ndtr_array(x, out):
    for block in prange((x.size + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        hi = min(x.size, lo + BLOCK)
        _ndtr_block(x[lo:hi], out[lo:hi])


@_parallel
def _ndtri_array(p, out):
    for block in prange((p.size + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        hi = min(p.size, lo + BLOCK)
        _ndtri_block(p[lo:hi], out[lo:hi])


def _elementwise(kernel: Any, block: Any, x: Any, name: str) -> np.ndarray:
    if not block.signatures:
        vec = numba.float64[::1]
        with llvm_options(interleave=INTERLEAVE):
            block.compile((vec, vec))
    arr = as_float_array(x, name, allow_inf=True)
    if kernel is _ndtri_array and np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name} must be probabilities in [0, 1], got {describe(arr)}")
    flat = np.ascontiguousarray(arr).reshape(-1)
    out = np.empty_like(flat)
    _compiled(kernel, flat, out)
    return out.reshape(arr.shape)


def ndtr(x: Any) -> np.ndarray:
    """``Phi(x)``, element-wise and in parallel; within 2.5 ulp of the exact value.

    Branch-free and vectorised (``trilat.kernels._special.fast_ndtr``): 350 M values/s
    per thread of CPU time against scipy's 55-63 M/s (``trilat bench``).
    Same shape as ``x``; ``+-inf`` give 1 and 0; NaN raises ``ValueError``.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, shape of ``x``
        ``Phi(x)`` in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.kernels import ndtr
    >>> ndtr([0.0, -1.0, np.inf]).round(4)
    array([0.5   , 0.1587, 1.    ])
    """
    return _elementwise(_ndtr_array, _ndtr_block, x, "x")


def ndtri(p: Any) -> np.ndarray:
    """``Phi^-1(p)``, element-wise and in parallel; within 3 ulp of the exact value.

    Branch-free and vectorised (``trilat.kernels._special.fast_ndtri``): 300-340 M
    values/s per thread of CPU time against scipy's 39-67 M/s (``trilat
    bench``). ``0 -> -inf``, ``1 -> inf``, outside ``[0, 1]`` or NaN raise ``ValueError``. Same shape
    as ``p``.

    Parameters
    ----------
    p : array_like, any shape
        Probabilities in ``[0, 1]``.

    Returns
    -------
    ndarray, shape of ``p``
        ``Phi^-1(p)`` in float64.

    Examples
    --------
    >>> from trilat.kernels import ndtri
    >>> ndtri([0.5, 0.975, 1.0]).round(4)
    array([0.  , 1.96,  inf])
    """
    return _elementwise(_ndtri_array, _ndtri_block, p, "p")


# ----------------------------------------------------------------- per trial-step pieces


@_serial
def _trial_uniforms(k0, k1, trial, out):
    """Uniforms of every step of a trial: ``out[d, step]``, ``d`` = 4 block + word.

    The loop over steps is the vectorised one (the Philox rounds unrolled,
    eight counters per instruction); counters ``(trial, step, block, 0)``.
    """
    for block in range(out.shape[0] // 4):
        for step in range(out.shape[1]):
            w = _philox.philox4x64(
                np.uint64(trial), np.uint64(step), np.uint64(block), np.uint64(0), k0, k1
            )
            out[4 * block, step] = _philox.to_unit(w[0])
            out[4 * block + 1, step] = _philox.to_unit(w[1])
            out[4 * block + 2, step] = _philox.to_unit(w[2])
            out[4 * block + 3, step] = _philox.to_unit(w[3])


@_serial
def _trial(k0, k1, trial, prior_kind, prior_a, prior_b, sigma, uniforms, x_star, evidence):
    """``x*`` (step 0) and the evidence ``X(t) = x* + sigma Phi^-1(u)`` (steps 1..T) of a trial,
    with the priors' own formulas: ``x* = a + b u`` (uniform) or ``a + b Phi^-1(u)`` (Gaussian)."""
    _trial_uniforms(k0, k1, trial, uniforms)
    n_steps, dim = evidence.shape
    for d in range(dim):
        u = uniforms[d, 0]
        x_star[d] = prior_a + prior_b * (u if prior_kind == 0 else _special.ndtri(u))
    for t in range(n_steps):
        for d in range(dim):
            evidence[t, d] = x_star[d] + sigma * _special.ndtri(uniforms[d, t + 1])


@_serial
def _scaled_distances(ct, b, mu, s, u):
    """``u = (C mu - b) / s`` with ``C^T`` of shape (D, N): vectorised over the N outputs."""
    n_out = b.size
    for j in range(n_out):
        u[j] = ct[0, j] * mu[0]
    for d in range(1, mu.size):
        for j in range(n_out):
            u[j] += ct[d, j] * mu[d]
    for j in range(n_out):
        u[j] = (u[j] - b[j]) / s


@_serial
def _tails(u, tail, upper):
    """``tail = Phi(-|u|)``, ``upper = u > 0``; returns how many ``|u|`` exceed
    ``LOG_SPACE_U`` (their ``tail`` is to be redone in log space), how many plain
    probabilities ``Phi(u)`` surely round to 1, and how many are too close to call."""
    far = 0
    ones = 0
    close = 0
    for j in range(u.size):
        a = abs(u[j])
        tail[j] = ndtr_lower(-a)
        upper[j] = u[j] > 0.0
        far += a > LOG_SPACE_U
        ones += u[j] > U_ONE_HI
        close += (u[j] > U_ONE_LO) & (u[j] <= U_ONE_HI)
    return far, ones, close


@_serial
def _quantiles(tail, upper, s, k):
    """``k = s Phi^-1(Yhat)`` from ``tail = Phi(-|u|) > 0`` and the sign ``upper``; returns how
    many ``tail`` are not positive (logs of tails, to be redone by the caller)."""
    logs = 0
    for j in range(tail.size):
        x = ndtri_lower(tail[j])
        k[j] = s * select(upper[j], -x, x)
        logs += tail[j] <= 0.0
    return logs


@_serial
def _log_quantile(y):
    """``Phi^-1(exp(y))`` for ``y < log Phi(-37.5)``: scipy's ``ndtri_exp`` (which loses up to
    6e-13 near ``y = -5e5``) and one Newton step on ``log Phi(x) = y``, whose slope
    ``phi/Phi(x) = a + 1/a + O(a^-3)`` (``a = -x > 37``) is good to 1e-6."""
    x = _special.ndtri_exp(y)
    a = -x
    return x - (_special.log_ndtr(x) - y) / (a + 1.0 / a)


@_serial
def _fix_far_and_close(u, s, upper, k):
    """The rare outputs of a round trip: ``|u| > LOG_SPACE_U`` through ``log Phi(-|u|)`` and
    ``ndtri_exp``; returns how many of them, or of the plain probabilities too close to the
    rounding threshold to call, are exactly 0 or 1 (as scipy's ``ndtr`` gives them)."""
    saturated = 0
    for j in range(u.size):
        a = abs(u[j])
        if a > LOG_SPACE_U:
            x = _log_quantile(_special.log_ndtr(-a))
            k[j] = s * select(upper[j], -x, x)
            saturated += (u[j] < 0.0) & (_special.ndtr(u[j]) == 0.0)
        elif u[j] > U_ONE_LO and u[j] <= U_ONE_HI:
            saturated += _special.ndtr(u[j]) == 1.0
    return saturated


@numba.njit(cache=CACHE, error_model="numpy", fastmath={"reassoc", "contract"})
def _dot(a, b):
    """``sum a_j b_j``, reassociated so that it vectorises. The order depends only on the
    length (not on threads or chunks), so the bits are reproducible."""
    total = 0.0
    for j in range(a.size):
        total += a[j] * b[j]
    return total


@_serial
def _trilaterate(pinv, k, b, kb, out):
    """``out = C^+ (k + b)``, ``C^+`` of shape (D, N); ``kb`` is scratch of length N."""
    for j in range(k.size):
        kb[j] = k[j] + b[j]
    for d in range(pinv.shape[0]):
        out[d] = _dot(pinv[d], kb)


@_parallel
def _roundtrip_chunk(
    k0, k1, first, prior_kind, prior_a, prior_b, sigma, post_a, post_var, post_prec, std,
    ct, b, pinv, x_star, err, sat, sse, mu_out, mu_hat_out, keep,
):  # fmt: skip
    """Trials ``first .. first + n - 1`` of the fused round trip, in parallel; trial
    ``first + i`` fills row ``i`` (of ``mu_out`` and ``mu_hat_out`` only when ``keep``).

    Per ``t``: ``mu`` as the oracle computes it (flat, ``post_prec`` empty:
    ``total / t``; Gaussian: ``(post_a + total / post_var) / post_prec[t]``),
    ``u = (C mu - b)/s``, ``Phi(-|u|)`` and the sign, ``k = s Phi^-1(Yhat)``,
    ``mu_hat = C^+ (k + b)``. (One level of calls: numba re-optimises every
    callee inside each caller, so depth costs compile time.)
    """
    n = x_star.shape[0]
    dim, n_out = pinv.shape
    n_steps = std.size
    flat = post_prec.size == 0
    for block in prange((n + TRIAL_BLOCK - 1) // TRIAL_BLOCK):  # scratch once per block
        uniforms = np.empty((4 * ((dim + 3) // 4), n_steps + 1))
        x = np.empty((n_steps, dim))
        total = np.empty(dim)
        mu = np.empty(dim)
        mu_hat = np.empty(dim)
        u = np.empty(n_out)
        tail = np.empty(n_out)
        upper = np.empty(n_out, dtype=np.bool_)
        k = np.empty(n_out)
        lo = np.int64(block) * TRIAL_BLOCK  # the prange index is unsigned: no uint/int mixing
        for i in range(lo, min(n, lo + TRIAL_BLOCK)):
            _trial(
                k0,
                k1,
                first + np.uint64(i),
                prior_kind,
                prior_a,
                prior_b,
                sigma,
                uniforms,
                x_star[i],
                x,
            )
            for t in range(1, n_steps + 1):
                for d in range(dim):
                    total[d] = x[0, d] if t == 1 else total[d] + x[t - 1, d]  # as numpy's cumsum
                    if flat:
                        mu[d] = total[d] / t
                    else:
                        mu[d] = (post_a + total[d] / post_var) / post_prec[t - 1]
                s = std[t - 1]
                _scaled_distances(ct, b, mu, s, u)
                far, saturated, close = _tails(u, tail, upper)
                _quantiles(tail, upper, s, k)
                if far or close:
                    saturated += _fix_far_and_close(u, s, upper, k)
                sat[i, t - 1] = saturated
                _trilaterate(pinv, k, b, u, mu_hat)  # u is free again: scratch for k + b
                e = 0.0
                for d in range(dim):
                    e += (mu_hat[d] - mu[d]) ** 2
                    sse[i, t - 1, d] = (mu[d] - x_star[i, d]) ** 2
                    if keep:
                        mu_out[i, t - 1, d] = mu[d]
                        mu_hat_out[i, t - 1, d] = mu_hat[d]
                err[i, t - 1] = math.sqrt(e)


@_serial
def _accumulate(err, sat, sse, x_star, max_err, sum_err, n_sat, sse_sum, moments):
    """Fold one chunk into the running statistics, trial by trial in index order (so the sums
    are the same whatever the chunking). ``moments`` rows: count, mean[D], M2[D] (Welford)."""
    n, n_steps = err.shape
    dim = x_star.shape[1]
    for i in range(n):
        for t in range(n_steps):
            max_err[t] = max(max_err[t], err[i, t])
            sum_err[t] += err[i, t]
            n_sat[t] += sat[i, t]
            for d in range(dim):
                sse_sum[t, d] += sse[i, t, d]
        moments[0, 0] += 1.0
        count = moments[0, 0]
        for d in range(dim):
            delta = x_star[i, d] - moments[1, d]
            moments[1, d] += delta / count
            moments[2, d] += delta * (x_star[i, d] - moments[1, d])


@_parallel
def _simulate_kernel(k0, k1, first, prior_kind, prior_a, prior_b, sigma, x_star, evidence):
    for i in prange(evidence.shape[0]):
        _simulate_trial(
            k0, k1, first + i, prior_kind, prior_a, prior_b, sigma, x_star[i], evidence[i]
        )


@_serial
def _simulate_trial(k0, k1, trial, prior_kind, prior_a, prior_b, sigma, x_star, evidence):
    n_steps, dim = evidence.shape
    uniforms = np.empty((4 * ((dim + 3) // 4), n_steps + 1))
    _trial(k0, k1, trial, prior_kind, prior_a, prior_b, sigma, uniforms, x_star, evidence)


ROW_BLOCK = 64  # rows per parallel task of predict, invert and recover


@_serial
def _predict_rows(ct, b, mu, std, tail, upper):
    u = np.empty(b.size)
    for i in range(tail.shape[0]):
        _scaled_distances(ct, b, mu[i], std[i], u)
        far, _, _ = _tails(u, tail[i], upper[i])
        if far:
            for j in range(u.size):
                if abs(u[j]) > LOG_SPACE_U:
                    tail[i, j] = _special.log_ndtr(-abs(u[j]))


@_parallel
def _predict_kernel(ct, b, mu, std, tail, upper):
    n = tail.shape[0]
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        lo = block * ROW_BLOCK
        hi = min(n, lo + ROW_BLOCK)
        _predict_rows(ct, b, mu[lo:hi], std[lo:hi], tail[lo:hi], upper[lo:hi])


@_serial
def _invert_rows(tail, upper, std, k):
    for i in range(tail.shape[0]):
        if _quantiles(tail[i], upper[i], std[i], k[i]):
            for j in range(tail.shape[1]):
                if tail[i, j] <= 0.0:
                    x = _log_quantile(tail[i, j])
                    k[i, j] = std[i] * select(upper[i, j], -x, x)


@_parallel
def _invert_kernel(tail, upper, std, k):
    n = tail.shape[0]
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        lo = block * ROW_BLOCK
        hi = min(n, lo + ROW_BLOCK)
        _invert_rows(tail[lo:hi], upper[lo:hi], std[lo:hi], k[lo:hi])


@_serial
def _recover_rows(pinv, k, b, out):
    kb = np.empty(k.shape[1])
    for i in range(k.shape[0]):
        _trilaterate(pinv, k[i], b, kb, out[i])


@_parallel
def _recover_kernel(pinv, k, b, out):
    n = k.shape[0]
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        lo = block * ROW_BLOCK
        hi = min(n, lo + ROW_BLOCK)
        _recover_rows(pinv, k[lo:hi], b, out[lo:hi])


# ----------------------------------------------------------------- public API


def _prior_code(prior: Uniform | Gaussian) -> tuple[int, float, float]:
    """``x* = a + b f(u)``: f the identity (uniform, as ``Uniform.quantile``) or Phi^-1."""
    if isinstance(prior, Uniform):
        return 0, prior.low, prior.high - prior.low
    return 1, prior.mean, prior.std


def _isotropic(task: Task, name: str) -> Task:
    """``task``, if its noise is ``sigma^2 I``; the kernels refuse a noise covariance.

    They take one scalar ``sigma`` (the draw) and one ``s(t)`` per row (the
    outputs and their inversion). Following ``Sigma`` would mean a Cholesky
    product in the draw and a scale per output in every kernel, for a case
    the closed-form oracle (and the numpy Monte Carlo driver built on it)
    already covers exactly.
    """
    task.require_isotropic(f"trilat.kernels.{name} (one scalar sigma and s(t) per row)")
    return task


def _key(rng: Any) -> tuple[np.uint64, np.uint64]:
    k0, k1 = _philox.key_from_rng(rng)
    return np.uint64(k0), np.uint64(k1)


def simulate(
    task: Task, n_trials: int, n_steps: int, rng: Any = 0, *, first_trial: int = 0
) -> Trials:
    """:func:`trilat.simulate` in parallel: ``x* ~ prior``, ``X(t) = x* + sigma eps(t)``.

    Bit-identical to ``trilat.simulate`` for the same arguments (the same
    Philox4x64-10 stream, the same ``Phi^-1``). Shapes: ``x_star`` (n, D),
    ``evidence`` (n, T, D). Isotropic noise only (a task with ``noise_cov``
    raises ``ValueError``).

    Parameters
    ----------
    task : Task
    n_trials, n_steps : int
        ``n >= 0`` and ``T >= 1``.
    rng : int, SeedSequence, Generator or None, default 0
        The seed, as for :func:`trilat.simulate`.
    first_trial : int
        Index of the first trial (trials are a pure function of seed and index).

    Returns
    -------
    Trials

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trials = kernels.simulate(task, n_trials=3, n_steps=20, rng=0)
    >>> trials.x_star.shape, trials.evidence.shape  # (n, D), (n, T, D)
    ((3, 2), (3, 20, 2))
    >>> bool(np.array_equal(trials.evidence, trilat.simulate(task, 3, 20, rng=0).evidence))
    True
    """
    task = _isotropic(check_task(task), "simulate")
    n_trials = positive_int(n_trials, "n_trials", minimum=0)
    n_steps = positive_int(n_steps, "n_steps")
    first_trial = trial_range(first_trial, n_trials)
    k0, k1 = _key(rng)
    kind, a, b = _prior_code(task.prior)
    x_star = np.empty((n_trials, task.dim))
    evidence = np.empty((n_trials, n_steps, task.dim))
    _compiled(
        _simulate_kernel, k0, k1, np.uint64(first_trial), kind, a, b, task.sigma, x_star, evidence
    )
    return Trials(x_star=x_star, evidence=evidence, first_trial=first_trial)


@dataclass(frozen=True)
class Outputs:
    """Optimal outputs ``Yhat = Phi(u)``, ``u = (C mu - b)/s(t)``, kept complement-aware.

    Attributes
    ----------
    tail : ndarray, shape (..., N)
        ``Phi(-|u|)`` in ``(0, 1/2]`` where ``|u| <= 37.5``; beyond, where that
        probability would underflow, ``log Phi(-|u|)`` (a negative number,
        below -707). Nothing rounds to 0 or 1.
    upper : ndarray of bool, shape (..., N)
        ``u > 0``: then ``Yhat = 1 - tail``, else ``Yhat = tail``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(2)  # D = 2, N = 2
    >>> near = kernels.predict(task, np.array([0.1, 0.0]), t=4)  # |u| small: plain tails
    >>> near.tail.round(4), near.upper
    (array([0.2398, 0.2398]), array([ True, False]))
    >>> far = kernels.predict(task, np.array([50.0, 0.0]), t=20)  # |u| > 37.5: logs of the tails
    >>> far.in_log_space, far.probabilities()  # rounds to 0 and 1 only here
    (array([ True,  True]), array([1., 0.]))
    """

    tail: np.ndarray
    upper: np.ndarray

    @property
    def in_log_space(self) -> np.ndarray:
        """Where ``tail`` holds ``log Phi(-|u|)``."""
        return self.tail <= 0.0

    def log_tail(self) -> np.ndarray:
        """``log Phi(-|u|)`` everywhere."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.in_log_space, self.tail, np.log(self.tail))

    def probabilities(self) -> np.ndarray:
        """The plain ``Yhat`` (what :func:`trilat.predict` returns; rounds to 0 or 1 for ``|u| >~ 8.3``)."""
        p = np.where(self.in_log_space, np.exp(np.minimum(self.tail, 0.0)), self.tail)
        return np.where(self.upper, 1.0 - p, p)


def _std_rows(task: Task, shape: tuple[int, ...], t: Any, std: Any) -> np.ndarray:
    s = posterior_std(task, t, std)
    try:
        return np.ascontiguousarray(np.broadcast_to(s, shape), dtype=np.float64).reshape(-1)
    except ValueError:
        raise ValueError(
            f"t/std of shape {np.shape(s)} does not broadcast against the leading axes {shape}"
        ) from None


def predict(task: Task, mu: Any, t: Any = None, *, std: Any = None) -> Outputs:
    """Optimal outputs ``Phi((C mu - b)/s(t))``, complement-aware (:class:`Outputs`).

    The kernel version of :func:`trilat.predict`: ``mu`` of shape (..., D),
    ``t`` (or ``std``) broadcastable against ``mu.shape[:-1]``; outputs (..., N).

    Isotropic noise only (a task with ``noise_cov`` raises ``ValueError``).

    Parameters
    ----------
    task : Task
    mu : array_like, shape (..., D)
        Posterior means ``mu(t)``.
    t : int or array_like, optional
        Samples seen, ``>= 1``, broadcastable against ``mu.shape[:-1]``.
    std : float or array_like, optional
        ``s(t)`` itself, in place of ``t`` (another prior's posterior std).

    Returns
    -------
    Outputs
        ``tail`` and ``upper`` of shape (..., N).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(6)
    >>> mu = np.zeros((5, 20, 2))  # (n, T, D)
    >>> out = kernels.predict(task, mu, t=np.arange(1, 21))  # t (T,) along the T axis
    >>> out.tail.shape, out.probabilities()[0, 0]  # on every boundary: 1/2
    ((5, 20, 6), array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]))
    """
    task = _isotropic(check_task(task), "predict")
    mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
    lead = mu.shape[:-1]
    rows = np.ascontiguousarray(mu).reshape(-1, task.dim)
    std_rows = _std_rows(task, lead, t, std)
    tail = np.empty((rows.shape[0], task.n_tasks))
    upper = np.empty((rows.shape[0], task.n_tasks), dtype=np.bool_)
    ct = np.ascontiguousarray(task.C.T)
    _compiled(_predict_kernel, ct, task.b, rows, std_rows, tail, upper)
    return Outputs(tail.reshape(*lead, task.n_tasks), upper.reshape(*lead, task.n_tasks))


def invert(task: Task, outputs: Outputs, t: Any = None, *, std: Any = None) -> np.ndarray:
    """Signed distances ``k = s(t) Phi^-1(Yhat)`` from complement-aware outputs, shape (..., N).

    Exact for every ``u``: ``Phi^-1`` of the tail probability, or
    ``ndtri_exp`` of its log, with the sign of ``u``; nothing saturates.

    Isotropic noise only (a task with ``noise_cov`` raises ``ValueError``).

    Parameters
    ----------
    task : Task
    outputs : Outputs
        ``tail`` and ``upper`` of shape (..., N), as :func:`predict` returns.
    t : int or array_like, optional
        Samples seen, broadcastable against ``outputs.tail.shape[:-1]``.
    std : float or array_like, optional
        ``s(t)`` itself, in place of ``t``.

    Returns
    -------
    ndarray, shape (..., N)
        ``k = C mu - b``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(6)
    >>> mu = np.array([[0.1, -0.2], [40.0, 0.3]])  # the second one far beyond saturation
    >>> k = kernels.invert(task, kernels.predict(task, mu, t=20), t=20)
    >>> bool(np.allclose(k, mu @ task.C.T - task.b, rtol=1e-13, atol=1e-15))
    True
    """
    task = _isotropic(check_task(task), "invert")
    if not isinstance(outputs, Outputs):
        raise ValueError(f"outputs must be trilat.kernels.Outputs, got {type(outputs).__name__}")
    tail = last_axis(outputs.tail, "outputs.tail", task.n_tasks, "N, the number of tasks")
    if np.shape(outputs.upper) != tail.shape:
        raise ValueError(
            f"outputs.upper must have the shape of outputs.tail {tail.shape}, got {np.shape(outputs.upper)}"
        )
    if np.any(tail > 0.5):
        raise ValueError("outputs.tail must be Phi(-|u|) <= 1/2 or its log (<= 0)")
    lead = tail.shape[:-1]
    rows = np.ascontiguousarray(tail).reshape(-1, task.n_tasks)
    up = np.ascontiguousarray(outputs.upper, dtype=np.bool_).reshape(rows.shape)
    k = np.empty_like(rows)
    _compiled(_invert_kernel, rows, up, _std_rows(task, lead, t, std), k)
    return k.reshape(tail.shape)


def recover(task: Task, k: Any) -> np.ndarray:
    """Trilateration ``mu = C^+ (k + b)`` in parallel; ``k`` (..., N) -> (..., D).

    ``C^+`` is the task's (QR, once per task). Raises
    :class:`trilat.NotIdentifiableError` when ``rank C < D``.

    Parameters
    ----------
    task : Task
    k : array_like, shape (..., N)
        Signed distances ``k = C mu - b``.

    Returns
    -------
    ndarray, shape (..., D)
        ``mu``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(6)
    >>> mu = np.array([[0.1, -0.2], [0.0, 0.3]])  # (n, D)
    >>> k = mu @ task.C.T - task.b  # (n, N)
    >>> bool(np.allclose(kernels.recover(task, k), mu, rtol=0, atol=1e-15))
    True
    """
    task = check_task(task)
    k = last_axis(k, "k", task.n_tasks, "N, the number of tasks")
    pinv = np.ascontiguousarray(task.pinv)
    rows = np.ascontiguousarray(k).reshape(-1, task.n_tasks)
    out = np.empty((rows.shape[0], task.dim))
    _compiled(_recover_kernel, pinv, rows, task.b, out)
    return out.reshape(*k.shape[:-1], task.dim)


def _posterior_code(
    task: Task, n_steps: int, prior: Any
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """``(post_a, post_var, post_prec, std)`` for the kernel's ``mu(t)``, from the oracle's formulas.

    The kernel computes ``mu(t)`` as :func:`trilat.posterior` does: flat,
    ``total / t`` (``post_prec`` empty); Gaussian, ``(m0/s0^2 + total / sigma^2)
    / precision(t)`` with ``post_a = m0/s0^2``, ``post_var = sigma^2`` and the
    precision of :func:`trilat.oracle.posterior_precision`. ``std`` is
    :func:`trilat.posterior_std`, which refuses any other prior.
    """
    t = np.arange(1, n_steps + 1, dtype=np.float64)
    std = posterior_std(task, t, prior=prior)
    if isinstance(prior, Gaussian):
        precision = posterior_precision(task, t, prior)
        return prior.mean / prior.variance, task.sigma**2, precision, std
    return 0.0, 1.0, np.empty(0), std


@dataclass(frozen=True)
class RoundTrip:
    """Per trial-step results of the fused round trip.

    Attributes
    ----------
    x_star : ndarray, shape (n, D)
    error : ndarray, shape (n, T)
        ``|mu_hat(t) - mu(t)|`` (Euclidean).
    n_saturated : ndarray of int, shape (n, T)
        Outputs whose plain probability ``Phi(u)`` is exactly 0 or 1 (lost by
        a probability path; the round trip here keeps them).
    sq_error : ndarray, shape (n, T, D)
        ``(mu(t) - x*)^2`` per coordinate.
    mu, mu_hat : ndarray, shape (n, T, D), or None
        The posterior mean and its recovery from the outputs, when asked for.

    Examples
    --------
    >>> import trilat
    >>> from trilat import kernels
    >>> rt = kernels.roundtrip(trilat.Task.evenly_spaced(6), n_trials=100, n_steps=20, rng=0)
    >>> rt.x_star.shape, rt.error.shape, rt.sq_error.shape, rt.mu_hat.shape
    ((100, 2), (100, 20), (100, 20, 2), (100, 20, 2))
    """

    x_star: np.ndarray
    error: np.ndarray
    n_saturated: np.ndarray
    sq_error: np.ndarray
    mu: np.ndarray | None
    mu_hat: np.ndarray | None


def _run_chunk(task, key, first, count, n_steps, post, keep):
    kind, a, b = _prior_code(task.prior)
    post_a, post_var, post_prec, std = post
    dim = task.dim
    x_star = np.empty((count, dim))
    err = np.empty((count, n_steps))
    sat = np.empty((count, n_steps), dtype=np.int64)
    sse = np.empty((count, n_steps, dim))
    rows = count if keep else 1  # one dummy row, never written
    mu = np.empty((rows, n_steps, dim))
    mu_hat = np.empty((rows, n_steps, dim))
    _compiled(
        _roundtrip_chunk, key[0], key[1], np.uint64(first), kind, a, b, task.sigma, post_a, post_var,
        post_prec, std, np.ascontiguousarray(task.C.T), task.b, np.ascontiguousarray(task.pinv),
        x_star, err, sat, sse, mu, mu_hat, keep,
    )  # fmt: skip
    return RoundTrip(x_star, err, sat, sse, mu if keep else None, mu_hat if keep else None)


def roundtrip(
    task: Task,
    n_trials: int,
    n_steps: int,
    rng: Any = 0,
    *,
    first_trial: int = 0,
    prior: str | Gaussian = "flat",
    keep_estimates: bool = True,
) -> RoundTrip:
    """The fused round trip ``X -> mu(t) -> Yhat -> k -> mu_hat(t)`` per trial-step, in parallel.

    For each trial and ``t``: the evidence of :func:`trilat.simulate`, the
    posterior mean ``mu(t)`` as :func:`trilat.posterior` computes it (bit for
    bit), ``u = (C mu - b)/s(t)``, the outputs ``Phi(-|u|)`` with their sign
    (``log Phi(-|u|)`` beyond ``|u| = 37.5``), ``k = s(t) Phi^-1(Yhat)`` and
    ``mu_hat = C^+ (k + b)`` — without ever holding an ``(n, T, N)`` array.

    Parameters
    ----------
    task : Task
        Identifiable (``rank C = D``).
    n_trials, n_steps : int
        ``n`` and ``T``.
    rng : int, SeedSequence, Generator or None, default 0
        The seed, as for :func:`trilat.simulate`.
    first_trial : int
        Index of the first trial (trials are a pure function of seed and index).
    prior : "flat" or Gaussian
        Posterior used for ``mu(t)`` and ``s(t)``, as in :func:`trilat.posterior`.
    keep_estimates : bool
        Return ``mu`` and ``mu_hat`` of shape (n, T, D) (else None).

    Returns
    -------
    RoundTrip

    Examples
    --------
    Exact to rounding at every step, saturated outputs included:

    >>> import trilat
    >>> from trilat import kernels
    >>> rt = kernels.roundtrip(trilat.Task.evenly_spaced(6), n_trials=100, n_steps=20, rng=0)
    >>> bool(rt.error.max() < 1e-13), bool(rt.n_saturated.sum() > 0)
    (True, True)
    """
    task = _isotropic(check_task(task), "roundtrip")
    task.require_identifiable()
    n_trials = positive_int(n_trials, "n_trials", minimum=0)
    n_steps = positive_int(n_steps, "n_steps")
    first_trial = trial_range(first_trial, n_trials)
    post = _posterior_code(task, n_steps, prior)
    return _run_chunk(task, _key(rng), first_trial, n_trials, n_steps, post, keep_estimates)


def _kernel_chunk_trials(task: Task, n_steps: int) -> int:
    """Trials per chunk: the fused kernel holds ``(T, D + 2)`` numbers and ``x*`` per trial."""
    return default_chunk_trials(
        task, n_steps, doubles_per_step=task.dim + 2, doubles_per_trial=task.dim,
        budget_bytes=KERNEL_CHUNK_BYTES,
    )  # fmt: skip


def monte_carlo(
    task: Task,
    n_trials: int,
    n_steps: int,
    rng: Any = 0,
    chunk_trials: int | None = None,
    *,
    progress: bool | None = None,
    prior: str | Gaussian = "flat",
) -> MonteCarloStats:
    """Per-``t`` statistics of the exact round trip over ``n_trials`` trials, streamed in chunks.

    The numba counterpart of ``trilat.kernels._montecarlo.monte_carlo`` (same
    arguments, same :class:`~trilat.kernels._montecarlo.MonteCarloStats`): for each
    ``t = 1..T``, the largest and the mean ``|mu_hat(t) - mu(t)|`` (Euclidean)
    over trials, the number of outputs whose plain probability ``Phi(u)`` is
    exactly 0 or 1 (those a probability path would lose), and the ``R^2`` of
    ``mu(t)`` against ``x*`` (``1 - SS_res/SS_tot`` per coordinate, ``SS_tot``
    about the sample mean, averaged over the D coordinates). Chunks run the
    fused :func:`roundtrip` kernel; statistics are folded in trial order, so
    they are bit-identical for any ``chunk_trials`` and any number of threads.

    Parameters
    ----------
    task : Task
        Identifiable (``rank C = D``).
    n_trials, n_steps : int
        ``n >= 2`` and ``T``.
    rng : int, SeedSequence, Generator or None, default 0
        Seed of :func:`trilat.simulate` (a Generator is advanced by two draws).
    chunk_trials : int, optional
        Trials per chunk; by default about 16 MB of per-trial arrays.
    progress : bool, optional
        tqdm bar on stderr (:func:`trilat._progress.progress_bar`): ``None``
        shows it when stderr is a terminal and tqdm is installed; ``True``
        without tqdm raises an ImportError naming the ``progress`` extra.
    prior : "flat" or Gaussian
        Posterior of ``mu(t)``, as in :func:`trilat.posterior`.

    Returns
    -------
    MonteCarloStats
        Arrays of shape ``(T,)``.

    Examples
    --------
    >>> import trilat
    >>> from trilat import kernels
    >>> task = trilat.Task.evenly_spaced(6)
    >>> stats = kernels.monte_carlo(task, n_trials=1000, n_steps=20, rng=0, progress=False)
    >>> stats.t.shape, stats.n_outputs, bool(stats.max_abs_error.max() < 1e-13)
    ((20,), 6000, True)
    >>> stats.r2_mu_xstar[[0, -1]].round(2)  # eq. 7: 1 - s(t)^2 / Var(x*) = 0.52, 0.98
    array([0.5 , 0.98])
    """
    task = _isotropic(check_task(task), "monte_carlo")
    task.require_identifiable()

    def start(sums: MonteCarloSums) -> ChunkFolder:
        n_steps = sums.sse.shape[0]
        key = _key(rng)
        post = _posterior_code(task, n_steps, prior)
        moments = np.zeros((3, task.dim))  # count, mean, M2 of x* (Welford, in _accumulate)
        sums.x_variance_sums = moments[2]

        def fold(first: int, count: int) -> None:
            rt = _run_chunk(task, key, first, count, n_steps, post, keep=False)
            _compiled(
                _accumulate, rt.error, rt.n_saturated, rt.sq_error, rt.x_star, sums.max_abs_error,
                sums.sum_abs_error, sums.n_saturated, sums.sse, moments,
            )  # fmt: skip

        return fold

    return run_monte_carlo(
        task, n_trials, n_steps, chunk_trials, start,
        default_chunk=_kernel_chunk_trials, progress=progress,
    )  # fmt: skip
