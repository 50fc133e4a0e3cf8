"""The theorem's built-in sweeps: each ``fn(config, rng) -> {name: number}``.

Run them with :func:`trilat.sweep.sweep` or ``trilat sweep NAME``; each has a
default grid in :data:`SWEEPS` (parameters, defaults and grids are in
``trilat.sweep._registry``) and a figure in :mod:`trilat.sweep._plots`. Configuration
keys follow the paper: ``D`` latent dimension, ``N`` number of tasks,
``sigma`` evidence noise, ``t`` samples seen, ``T`` trial length. Unknown keys
raise ``ValueError`` (a typo in a grid must not silently sweep nothing).

- :func:`recovery` (part 1): identifiability and the round-trip error of
  trilateration against ``(D, N, cond(C))``.
- :func:`orthogonality` (part 3): cosines between the columns of ``C`` of
  ``Task.random`` against ``N`` and ``D``, beside :func:`orthogonality_scale`.
- :func:`linearization` (part 2): the closed-form affine decoder against the
  exact recovery, against ``t`` and ``sigma``.
- :func:`ceiling` (eq. 7): the decodability ceiling against Monte Carlo r^2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from trilat._checks import positive_int
from trilat.linearization import linear_decoder
from trilat.metrics import r2_per_target, ridge
from trilat.oracle import (
    decodability_ceiling,
    distances_from_logits,
    posterior,
    posterior_std,
    predict_logits,
    recover,
)
from trilat.orthogonality import column_cosines, orthogonality_scale
from trilat.sweep._registry import CATALOGUE, DEFAULTS, BuiltinSweep, check_params
from trilat.task import Task, simulate

__all__ = [
    "DEFAULTS",
    "SWEEPS",
    "BuiltinSweep",
    "ceiling",
    "linearization",
    "orthogonality",
    "recovery",
]

_EPS = float(np.finfo(np.float64).eps)


# --- part 1: identifiability and recovery ---------------------------------------------


def _boundaries(D: int, N: int, cond: float, rng: np.random.Generator) -> np.ndarray:
    """Unit rows with condition number ``cond`` (``inf``: rank ``D - 1``), shape ``(N, D)``.

    Alternating projections (Tropp, Dhillon, Heath & Strohmer 2005) between
    matrices with singular values geometric from ``s_1`` to ``s_1/cond`` (scaled
    so ``sum s^2 = N``) and matrices with unit rows; such a matrix exists for
    every ``N >= D`` (Schur-Horn), and in practice a handful of steps reach
    ``cond`` to 1e-3. The condition number reached is reported by the sweep.
    """
    C = rng.standard_normal((N, D))
    C /= np.linalg.norm(C, axis=1)[:, None]
    if N < D:
        return C  # rank N < D whatever cond asks: not identifiable
    s = np.geomspace(1.0, 1.0 / cond, D) if math.isfinite(cond) else np.geomspace(1.0, 1e-3, D)
    if not math.isfinite(cond):
        s[-1] = 0.0
    s *= math.sqrt(N / np.sum(s**2))
    for _ in range(200):
        u, _, vt = np.linalg.svd(C, full_matrices=False)
        C = (u * s) @ vt
        C /= np.linalg.norm(C, axis=1)[:, None]
        reached = np.linalg.svd(C, compute_uv=False)
        if math.isfinite(cond) and abs(reached[0] / reached[-1] / cond - 1.0) < 1e-3:
            break
        if not math.isfinite(cond):
            break
    return C


def recovery(config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Trilateration round trip ``mu -> z = logit Phi(u) -> k = s Phi^-1(sigmoid z) -> C^+(k + b)``.

    ``u = (C mu - b)/s(t)``; ``mu(t)`` are posterior means of simulated trials,
    ``C`` has unit rows and condition number ``cond`` (``inf`` makes it rank
    ``D - 1``; ``N < D`` is rank ``N``). The error of an exact recovery grows
    like ``cond(C) eps``.

    Parameters
    ----------
    config : mapping
        The unit's configuration, with any of the keys D, N, cond, offset (std
        of ``b``), sigma, T, n_trials; the others take their values in ``DEFAULTS``.
    rng : numpy.random.Generator
        The unit's generator (:func:`trilat.sweep.sweep` makes it from the unit's seed).

    Returns
    -------
    dict
        ``identifiable`` (0/1), ``rank``, ``cond_actual``, ``err_max``
        (``max |mu_hat - mu|``), ``err_rel`` (over ``max |mu|``) and
        ``err_over_cond_eps`` (``err_rel / (cond_actual eps)``); errors are NaN
        when not identifiable.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import recovery
    >>> out = recovery({"D": 2, "N": 6}, np.random.default_rng(0))
    >>> out["identifiable"], out["rank"], bool(out["err_max"] < 1e-14)
    (1.0, 2.0, True)
    >>> out = recovery({"D": 3, "N": 2}, np.random.default_rng(0))  # N < D: not identifiable
    >>> out["identifiable"], out["rank"], out["err_max"]
    (0.0, 2.0, nan)
    """
    p = check_params(config, "recovery")
    D, N = positive_int(p["D"], "D"), positive_int(p["N"], "N")
    cond = float(p["cond"])
    if not cond >= 1.0:
        raise ValueError(f"cond must be >= 1 (or inf), got {p['cond']!r}")
    C = _boundaries(D, N, cond, rng)
    b = float(p["offset"]) * rng.standard_normal(N)
    task = Task(C, b, p["sigma"])
    out = {
        "identifiable": float(task.identifiable),
        "rank": float(task.rank),
        "cond_actual": task.condition_number,
    }
    if not task.identifiable:
        return {**out, "err_max": math.nan, "err_rel": math.nan, "err_over_cond_eps": math.nan}
    T = positive_int(p["T"], "T")
    mu = posterior(task, simulate(task, positive_int(p["n_trials"], "n_trials"), T, rng).evidence)
    t = np.arange(1, T + 1)
    z = predict_logits(task, mu.mean, t)
    mu_hat = recover(task, distances_from_logits(task, z, t))
    err = float(np.max(np.abs(mu_hat - mu.mean)))
    rel = err / float(np.max(np.abs(mu.mean)))
    return {
        **out,
        "err_max": err,
        "err_rel": rel,
        "err_over_cond_eps": rel / (out["cond_actual"] * _EPS),
    }


# --- part 3: orthogonality -------------------------------------------------------------


def orthogonality(config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Cosines between the columns of ``C`` of ``Task.random(D, N)``, the factor directions.

    :func:`column_cosines`, over the ``D(D-1)/2`` pairs ``j < k``; expected ``O(1/sqrt(N))`` with RMS
    :func:`orthogonality_scale` ``= sqrt(D / ((D+2) N))``.

    Parameters
    ----------
    config : mapping
        The unit's configuration, with any of the keys D (>= 2), N; the others
        take their values in ``DEFAULTS``.
    rng : numpy.random.Generator
        The unit's generator (:func:`trilat.sweep.sweep` makes it from the unit's seed).

    Returns
    -------
    dict
        ``cos_max`` (largest ``|cos|``), ``cos_mean`` (mean ``|cos|``),
        ``cos_ms`` (mean ``cos^2``; average it over seeds and take the root
        to estimate the RMS), ``scale`` and ``cos_ms_over_scale2``
        (``cos_ms / scale^2``, whose mean over seeds tends to 1; a ratio of
        roots would be biased low by Jensen's inequality, to ``sqrt(2/pi)`` for a
        single pair at ``D = 2``).

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import orthogonality
    >>> out = orthogonality({"D": 4, "N": 64}, np.random.default_rng(0))
    >>> round(out["scale"], 4)  # sqrt(D / ((D + 2) N))
    0.1021
    >>> bool(out["cos_max"] < 1)
    True
    """
    p = check_params(config, "orthogonality")
    D, N = positive_int(p["D"], "D", minimum=2), positive_int(p["N"], "N")
    cos = column_cosines(Task.random(D, N, rng=rng).C)
    scale = float(orthogonality_scale(D, N))
    ms = float(np.mean(cos**2))
    return {
        "cos_max": float(np.max(np.abs(cos))),
        "cos_mean": float(np.mean(np.abs(cos))),
        "cos_ms": ms,
        "scale": scale,
        "cos_ms_over_scale2": ms / scale**2,
    }


# --- part 2: linearisation -------------------------------------------------------------


def _r2(estimate: np.ndarray, target: np.ndarray) -> float:
    """``R^2`` averaged over coordinates (scikit-learn's ``uniform_average``), shapes ``(n, D)``."""
    return float(np.mean(r2_per_target(target, estimate)))


def _best_affine_r2(x: np.ndarray, target: np.ndarray) -> float:
    """``R^2`` of the least-squares affine map ``target ~ x W^T + o``, fitted in-sample."""
    weight, offset = ridge(x, target, alpha=0.0)
    return _r2(x @ weight.T + offset, target)


def linearization(config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """The closed-form affine decoder ``s(t) alpha C^+ z + C^+ b`` against the exact recovery.

    ``z`` are the optimal logits at step ``t`` of simulated trials; the exact
    ``mu = C^+ (s(t) Phi^-1(sigmoid z) + b)`` comes from :func:`trilat.recover`.
    ``alpha = sqrt(3)/pi`` (moment matching). ``D = 2`` uses the paper's evenly
    spaced lines, larger ``D`` random unit normals.

    Parameters
    ----------
    config : mapping
        The unit's configuration, with any of the keys t, sigma, D, N, n_trials; the others
        take their values in ``DEFAULTS``.
    rng : numpy.random.Generator
        The unit's generator (:func:`trilat.sweep.sweep` makes it from the unit's seed).

    Returns
    -------
    dict
        ``r2_closed_form`` and ``rmse_closed_form`` of the closed form;
        ``r2_best_affine``, the least-squares affine map fitted to the same
        logits (in-sample; ``N + 1`` coefficients per coordinate against
        ``n_trials`` samples); ``frac_linear``, the fraction of ``|u| < 2``
        where the approximation holds.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import linearization
    >>> early = linearization({"t": 1, "n_trials": 200}, np.random.default_rng(0))
    >>> late = linearization({"t": 20, "n_trials": 200}, np.random.default_rng(0))
    >>> sorted(early)
    ['frac_linear', 'r2_best_affine', 'r2_closed_form', 'rmse_closed_form']
    >>> bool(early["r2_closed_form"] > late["r2_closed_form"])  # accurate early only
    True
    """
    p = check_params(config, "linearization")
    t = positive_int(p["t"], "t")
    task = Task.paper(positive_int(p["D"], "D"), positive_int(p["N"], "N"), p["sigma"], rng)
    trials = simulate(task, positive_int(p["n_trials"], "n_trials"), t, rng)
    mu = posterior(task, trials.evidence).mean[:, -1, :]
    z = predict_logits(task, mu, t)
    exact = recover(task, distances_from_logits(task, z, t))
    closed = linear_decoder(task, t)(z)
    u = (mu @ task.C.T - task.b) / posterior_std(task, t)
    return {
        "r2_closed_form": _r2(closed, exact),
        "rmse_closed_form": float(np.sqrt(np.mean(np.sum((closed - exact) ** 2, axis=-1)))),
        "r2_best_affine": _best_affine_r2(z, exact),
        "frac_linear": float(np.mean(np.abs(u) < 2.0)),
    }


# --- eq. 7: the ceiling of decodability ------------------------------------------------


def _truncated_normal_mean(mu: np.ndarray, s: float, low: float, high: float) -> np.ndarray:
    """``E[x | x ~ N(mu, s^2) on [low, high]] = mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a))``.

    ``a, b = (low - mu)/s, (high - mu)/s``. When the interval lies in the
    upper tail (``a > 0``) the ratio is computed as
    ``-expm1((a^2 - b^2)/2) / (sqrt(pi/2) (erfcx(a/sqrt2) - e^((a^2 - b^2)/2) erfcx(b/sqrt2)))``,
    which neither underflows nor cancels; the lower tail by the symmetry
    ``x -> -x``.
    """
    a, b = (low - mu) / s, (high - mu) / s
    upper, lower = a > 0, b < 0
    # reflect the lower tail onto the upper one: offset(a, b) = -offset(-b, -a)
    lo, hi = np.where(lower, -b, a), np.where(lower, -a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # unused branches
        r = np.exp(0.5 * (lo - hi) * (lo + hi))
        tail = -np.expm1(0.5 * (lo - hi) * (lo + hi)) / (
            math.sqrt(0.5 * math.pi)
            * (special.erfcx(lo / math.sqrt(2.0)) - r * special.erfcx(hi / math.sqrt(2.0)))
        )
        central = (np.exp(-0.5 * a**2) - np.exp(-0.5 * b**2)) / (
            math.sqrt(2.0 * math.pi) * (special.ndtr(b) - special.ndtr(a))
        )
    offset = np.where(upper, tail, np.where(lower, -tail, central))
    return mu + s * offset


def ceiling(config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Eq. 7 ``r^2(t) = 1 - s(t)^2/Var(x*)`` against Monte Carlo r^2 of decoding ``x*``.

    ``x* ~ U[-1/2, 1/2]^D`` (``Var = 1/12``). Three Monte Carlo r^2 values
    (``1 - sum (xhat - x*)^2 / sum (x* - mean x*)^2`` per coordinate, averaged),
    on the same trials:

    - ``r2_mu``: ``xhat = mu(t)``, from the oracle's Monte Carlo (see
      :func:`trilat.kernels.monte_carlo`); its expectation is eq. 7 (``mu - x*`` is the
      mean noise, variance ``s^2``);
    - ``r2_linear``: the best affine map of ``mu(t)`` (in-sample), which
      shrinks towards the prior mean: ``Var/(Var + s^2)`` in expectation;
    - ``r2_bayes``: the uniform prior's posterior mean, a truncated Gaussian's,
      ``E[x* | mu] = mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a))``,
      ``a, b = (-1/2 - mu)/s, (1/2 - mu)/s``: the true ceiling.

    (What eq. 7 bounds and what it does not: :func:`trilat.decodability_ceiling`.)

    Parameters
    ----------
    config : mapping
        The unit's configuration, with any of the keys t, sigma, D, N, n_trials; the others
        take their values in ``DEFAULTS``.
    rng : numpy.random.Generator
        The unit's generator (:func:`trilat.sweep.sweep` makes it from the unit's seed).

    Returns
    -------
    dict
        ``r2_eq7``, ``r2_mu``, ``r2_linear``, ``r2_bayes``, ``r2_mu_minus_eq7``,
        and ``recovery_max_err``, the largest ``|mu_hat - mu|`` of the
        trilateration through the optimal outputs at step ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.sweep import ceiling
    >>> out = ceiling({"t": 1, "sigma": 0.2, "n_trials": 200}, np.random.default_rng(0))
    >>> round(out["r2_eq7"], 2)  # 1 - s(1)^2 / Var(x*) = 1 - 0.04 * 12
    0.52
    >>> bool(out["r2_bayes"] > out["r2_eq7"]), bool(out["recovery_max_err"] < 1e-14)
    (True, True)
    """
    p = check_params(config, "ceiling")
    t, n_trials = positive_int(p["t"], "t"), positive_int(p["n_trials"], "n_trials")
    task = Task.paper(positive_int(p["D"], "D"), positive_int(p["N"], "N"), p["sigma"], rng)
    seed = int(rng.integers(2**63))
    from trilat.kernels import monte_carlo  # numba: imported where used

    stats = monte_carlo(task, n_trials, t, rng=seed, progress=False)
    # the same trials again (simulate is counter-based: a pure function of seed and trial index)
    trials = simulate(task, n_trials, t, rng=seed)
    x_star, mu = trials.x_star, posterior(task, trials.evidence).mean[:, -1, :]
    s = float(posterior_std(task, t))
    bayes = _truncated_normal_mean(mu, s, task.prior.low, task.prior.high)
    eq7 = float(decodability_ceiling(task, t))
    r2_mu = float(stats.r2_mu_xstar[-1])
    return {
        "r2_eq7": eq7,
        "r2_mu": r2_mu,
        "r2_linear": _best_affine_r2(mu, x_star),
        "r2_bayes": _r2(bayes, x_star),
        "r2_mu_minus_eq7": r2_mu - eq7,
        "recovery_max_err": float(stats.max_abs_error[-1]),
    }


# --- registry: each function with its default grid and seeds (trilat.sweep._registry) ---


# A sweep file records the function it ran as MODULE:NAME, and a resumed file must name
# the same one: the built-ins are recorded under their public home, trilat.sweep (which
# re-exports them, so that pickling them for a process pool finds them there), whatever
# file of the package holds them.
for _fn in (recovery, orthogonality, linearization, ceiling):
    _fn.__module__ = "trilat.sweep"

SWEEPS: dict[str, BuiltinSweep] = {
    fn.__name__: BuiltinSweep(fn.__name__, fn, **CATALOGUE[fn.__name__])
    for fn in (recovery, orthogonality, linearization, ceiling)
}
