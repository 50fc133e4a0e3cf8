"""The Bayes-optimal multi-task estimator in closed form: the reference.

Flat prior: after ``t`` samples, ``x* | X(1..t) ~ N(mu(t), s(t)^2 I)`` with
``mu(t)`` the running mean and ``s(t) = sigma / sqrt(t)``. The optimal answer
to question ``i`` is ``Yhat_i = Phi(k_i / s(t))``, ``k_i = c_i^T mu - b_i`` the
signed distance to boundary ``i``. Inverting, ``k = s(t) Phi^-1(Yhat)``, and
``C mu = k + b`` gives ``mu = C^+ (k + b)`` whenever ``rank C = D``
("trilateration", Theorem 3.1 part 1).

Every function is vectorised over leading batch axes. ``t`` is an int or an
array broadcastable against the time axis (``(..., T)`` against outputs
``(..., T, N)``); every function taking ``t`` accepts ``std=`` instead, the
posterior std of another prior (see :func:`posterior`).

This module is plain numpy/scipy on purpose: the numba kernels are checked
against it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from trilat._checks import as_float_array, describe, last_axis, times
from trilat._stable import logit_ndtr, probit_expit
from trilat.task import Gaussian, Task, check_task

__all__ = [
    "ACTIVATIONS",
    "Posterior",
    "decodability_ceiling",
    "distances",
    "distances_from_logits",
    "estimate",
    "logit_scale",
    "posterior",
    "posterior_precision",
    "posterior_std",
    "predict",
    "predict_logits",
    "recover",
]


ACTIVATIONS = ("sigmoid", "tanh")
# A tanh readout tanh(z) = 2 sigmoid(2z) - 1 carries the logit 2z.
_LOGIT_SCALE = {"sigmoid": 1.0, "tanh": 2.0}


def posterior_precision(task: Task, t: Any, prior: str | Gaussian = "flat") -> np.ndarray:
    """``1 / s(t)^2``: ``t / sigma^2``, plus ``1 / s0^2`` for a Gaussian prior ``N(m0, s0^2 I)``.

    The conjugate update's precision after ``t`` samples, the one formula
    behind :func:`posterior_std` and the conjugate mean of
    :func:`trilat.posterior` (``mean = (m0/s0^2 + sum X / sigma^2) / precision``).

    Parameters
    ----------
    task : Task
        Its ``sigma`` is used.
    t : float or array_like
        Samples seen, finite and ``> 0``.
    prior : "flat" or Gaussian

    Returns
    -------
    ndarray
        Shape of ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> from trilat.oracle import posterior_precision
    >>> posterior_precision(task, [1, 4])  # t / sigma^2
    array([ 25., 100.])
    >>> posterior_precision(task, [1, 4], trilat.Gaussian(0.0, 0.5))  # + 1 / s0^2
    array([ 29., 104.])
    """
    t = times(t)
    if isinstance(prior, str) and prior == "flat":
        return t / task.sigma**2
    if isinstance(prior, Gaussian):
        return t / task.sigma**2 + 1.0 / prior.variance
    raise ValueError(f"prior must be 'flat' or a trilat.Gaussian, got {prior!r}")


def posterior_std(
    task: Task, t: Any, std: Any = None, *, prior: str | Gaussian = "flat"
) -> np.ndarray:
    """``s(t) = sigma / sqrt(t)``, the flat-prior posterior std, or the given ``std`` validated.

    Exactly one of ``t`` and ``std`` must be given; every oracle function that
    takes ``t`` reads ``s(t)`` through here. With a Gaussian ``prior``, the
    conjugate ``s(t) = 1 / sqrt(t / sigma^2 + 1 / s0^2)`` (:func:`posterior_precision`).

    Parameters
    ----------
    task : Task
        Its ``sigma`` is used.
    t : float or array_like, or None
        Samples seen, finite and ``> 0`` (fractional allowed).
    std : float or array_like, optional
        The posterior std of another prior, finite and ``> 0``, returned as is.
    prior : "flat" or Gaussian
        The prior ``s(t)`` is the posterior std of (with ``t``).

    Returns
    -------
    ndarray
        Shape of ``t`` (or ``std``).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> trilat.posterior_std(task, [1, 4])  # sigma / sqrt(t)
    array([0.2, 0.1])
    >>> trilat.posterior_std(task, None, std=0.15)  # another prior's s(t), checked
    array(0.15)
    """
    if std is not None:
        if t is not None:
            raise ValueError("give either t (flat prior, s = sigma/sqrt(t)) or std, not both")
        s = as_float_array(std, "std", finite=False)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"std must be finite and > 0, got {describe(s)}")
        return s
    if t is None:
        raise ValueError("t is required (or std=, the posterior std of another prior)")
    if isinstance(prior, str) and prior == "flat":
        return task.sigma / np.sqrt(times(t))  # not 1/sqrt(precision): one rounding fewer
    return 1.0 / np.sqrt(posterior_precision(task, t, prior))


def logit_scale(activation: str) -> float:
    """The logit a readout carries per unit of ``z``: 1 for ``sigmoid(z)``, 2 for ``tanh(z)``.

    ``(1 + tanh z) / 2 = sigmoid(2z)``, so a tanh output is a sigmoid of ``2z``.
    Raises ``ValueError`` for any other activation.

    Examples
    --------
    >>> from trilat.oracle import logit_scale
    >>> logit_scale("sigmoid"), logit_scale("tanh")
    (1.0, 2.0)
    """
    if activation not in _LOGIT_SCALE:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return _LOGIT_SCALE[activation]


@dataclass(frozen=True)
class Posterior:
    """``x* | X(1..t) ~ N(mean, std^2 I)``: ``mean (..., T, D)``, ``std (T,)``, ``t (T,)``.

    Attributes
    ----------
    mean : ndarray, shape (..., T, D)
        ``mu(t)``, the posterior mean after ``t`` samples.
    std : ndarray, shape (T,)
        ``s(t)``: ``sigma / sqrt(t)`` under the flat prior.
    t : ndarray, shape (T,)
        ``1..T``, as floats.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6, sigma=0.2)
    >>> post = trilat.posterior(task, np.zeros((5, 4, 2)))  # evidence (n, T, D)
    >>> post.mean.shape, post.std.round(3), post.t
    ((5, 4, 2), array([0.2  , 0.141, 0.115, 0.1  ]), array([1., 2., 3., 4.]))
    """

    mean: np.ndarray
    std: np.ndarray
    t: np.ndarray


def posterior(task: Task, evidence: Any, prior: str | Gaussian = "flat") -> Posterior:
    """Posterior of ``x*`` after each of ``T`` samples.

    Flat prior (the theorem's): ``mean(t) = (1/t) sum_{s<=t} X(s)``,
    ``std(t) = sigma / sqrt(t)``. Gaussian prior ``N(m0, s0^2 I)``: the
    conjugate update ``std(t)^2 = 1 / (t/sigma^2 + 1/s0^2)``,
    ``mean(t) = std(t)^2 (m0/s0^2 + sum_{s<=t} X(s)/sigma^2)``.

    The paper's networks are trained on a uniform box, whose exact posterior
    is a truncated Gaussian; neither prior here is that, and the gap is for
    users to measure.

    Parameters
    ----------
    task : Task
    evidence : array_like, shape (..., T, D)
    prior : "flat" or Gaussian

    Returns
    -------
    Posterior
        ``mean`` of shape ``(..., T, D)``, ``std`` and ``t`` of shape ``(T,)``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> evidence = np.array([[0.1, 0.3], [0.3, -0.1]])  # X(1), X(2) of one trial
    >>> post = trilat.posterior(task, evidence)
    >>> post.mean  # running mean
    array([[0.1, 0.3],
           [0.2, 0.1]])
    >>> post.std.round(4), post.t
    (array([0.2   , 0.1414]), array([1., 2.]))
    """
    task = check_task(task)
    x = last_axis(evidence, "evidence", task.dim, "time, then D")
    if x.ndim < 2:
        raise ValueError(f"evidence must have shape (..., T, {task.dim}), got {describe(x)}")
    n_steps = x.shape[-2]
    t = np.arange(1, n_steps + 1, dtype=np.float64)
    total = np.cumsum(x, axis=-2)
    std = posterior_std(task, t, prior=prior)  # refuses any other prior
    if isinstance(prior, Gaussian):
        precision = posterior_precision(task, t, prior)
        mean = (prior.mean / prior.variance + total / task.sigma**2) / precision[:, None]
        return Posterior(mean=mean, std=std, t=t)
    return Posterior(mean=total / t[:, None], std=std, t=t)


def _scaled_distance(task: Task, mu: Any, t: Any, std: Any) -> np.ndarray:
    """``u = (C mu - b) / s(t)``, shape ``(..., N)``."""
    task = check_task(task)
    mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
    s = posterior_std(task, t, std)
    return (mu @ task.C.T - task.b) / s[..., None]


def predict(task: Task, mu: Any, t: Any = None, *, std: Any = None) -> np.ndarray:
    """Optimal outputs ``Yhat_i = Phi((c_i^T mu - b_i) / s(t))``.

    Parameters
    ----------
    task : Task
    mu : array_like, shape (..., D)
        Posterior means.
    t : int or array_like
        Samples seen, broadcastable against the time axis of ``mu``.
    std : array_like, optional
        Posterior std in place of ``sigma / sqrt(t)``.

    Returns
    -------
    ndarray, shape (..., N)
        Probabilities. ``Phi(u)`` rounds to 1 for ``u >~ 8.3``; use
        :func:`predict_logits` to keep every digit.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> trilat.predict(task, [0.1, 0.2], t=4).round(4)  # Phi((C mu - b) / s(4))
    array([0.969 , 0.9772, 0.5533])
    """
    return special.ndtr(_scaled_distance(task, mu, t, std))


def predict_logits(task: Task, mu: Any, t: Any = None, *, std: Any = None) -> np.ndarray:
    """Logits of the optimal outputs, ``log Phi(u) - log Phi(-u)``, ``u = (C mu - b)/s(t)``.

    Computed without ``log(1 - Yhat)``: finite and accurate for every finite
    ``u`` (see ``trilat._stable.logit_ndtr``), where :func:`predict` rounds to
    0 or 1 beyond ``|u| ~ 8.3``.

    Parameters
    ----------
    task, mu, t, std
        As in :func:`predict`: ``mu`` of shape ``(..., D)``, ``t`` broadcastable
        against its time axis, or ``std`` in place of ``sigma / sqrt(t)``.

    Returns
    -------
    ndarray, shape (..., N)
        Logits ``z`` with ``Yhat = sigmoid(z)``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> trilat.predict_logits(task, [0.1, 0.2], t=4).round(4)
    array([3.4416, 3.7602, 0.214 ])
    >>> mu = [0.0, 50.0]  # u = 500 for the second line
    >>> float(trilat.predict(task, mu, t=4)[1])  # the probability rounds to 1 ...
    1.0
    >>> round(float(trilat.predict_logits(task, mu, t=4)[1]))  # ... its logit does not
    125007
    """
    return logit_ndtr(_scaled_distance(task, mu, t, std))


def distances(task: Task, yhat: Any, t: Any = None, *, std: Any = None) -> np.ndarray:
    """Signed distances from probabilities: ``k = s(t) Phi^-1(Yhat)``.

    Parameters
    ----------
    task : Task
    yhat : array_like, shape (..., N)
        Probabilities in ``[0, 1]``. Exact 0 or 1 (saturated outputs) give
        ``-inf`` / ``+inf`` with one warning counting them.
    t, std
        As in :func:`predict`.

    Returns
    -------
    ndarray, shape (..., N)

    Raises
    ------
    ValueError
        NaN or values outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> yhat = trilat.predict(task, [0.1, 0.2], t=4)
    >>> trilat.distances(task, yhat, t=4).round(4)  # k = C mu - b
    array([0.1866, 0.2   , 0.0134])
    """
    task = check_task(task)
    p = last_axis(yhat, "yhat", task.n_tasks, "N, the number of tasks", finite=False)
    bad = np.isnan(p) | (p < 0) | (p > 1)
    if np.any(bad):
        raise ValueError(
            f"yhat must be probabilities in [0, 1]; {int(bad.sum())} of {p.size} entries are NaN "
            f"or outside (first: {p[bad][0]!r})"
        )
    saturated = int(np.count_nonzero((p == 0) | (p == 1)))
    if saturated:
        warnings.warn(
            f"{saturated} of {p.size} outputs are exactly 0 or 1 (saturated); their distances are "
            f"infinite. Pass logits to trilat.distances_from_logits to keep every digit.",
            RuntimeWarning,
            stacklevel=2,
        )
    s = posterior_std(task, t, std)
    return s[..., None] * special.ndtri(p)


def distances_from_logits(
    task: Task, z: Any, t: Any = None, activation: str = "sigmoid", *, std: Any = None
) -> np.ndarray:
    """Signed distances from logits: ``k = s(t) Phi^-1(g(z))``.

    ``g`` is the sigmoid; ``activation="tanh"`` means the output is
    ``tanh(z) = 2 Yhat - 1``, i.e. ``Yhat = sigmoid(2z)``. Exact for any finite
    logit: ``Phi^-1(sigmoid(z))`` is computed by ``ndtri_exp(log sigmoid(z))``
    and the symmetry ``Phi^-1(sigmoid(z)) = -Phi^-1(sigmoid(-z))``, with
    ``sqrt(2) erfinv(tanh(z/2))`` near 0; never ``ndtri(expit(z))``.

    Parameters
    ----------
    task : Task
    z : array_like, shape (..., N)
        Finite logits.
    t, std
        As in :func:`predict`.
    activation : {"sigmoid", "tanh"}

    Returns
    -------
    ndarray, shape (..., N)

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> z = trilat.predict_logits(task, [0.1, 0.2], t=4)
    >>> trilat.distances_from_logits(task, z, t=4).round(4)
    array([0.1866, 0.2   , 0.0134])
    """
    task = check_task(task)
    scale = logit_scale(activation)
    z = last_axis(z, "z", task.n_tasks, "N, the number of tasks")
    s = posterior_std(task, t, std)
    return s[..., None] * probit_expit(scale * z)


def recover(task: Task, k: Any) -> np.ndarray:
    """Trilateration: ``mu = C^+ (k + b)``.

    ``C^+`` comes from a QR factorisation of ``C`` made once per task (never
    ``inv(C^T C)``); for distances of a true ``mu`` the least-squares system is
    consistent and the recovery is exact up to rounding, ``~ cond(C) eps``.

    Parameters
    ----------
    task : Task
    k : array_like, shape (..., N)
        Signed distances.

    Returns
    -------
    ndarray, shape (..., D)

    Raises
    ------
    NotIdentifiableError
        ``rank(C) < D`` (including ``N < D``).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> k = task.C @ [0.1, 0.2] - task.b  # signed distances to the three lines
    >>> trilat.recover(task, k).round(12)  # mu = C^+ (k + b)
    array([0.1, 0.2])
    """
    task = check_task(task)
    k = last_axis(k, "k", task.n_tasks, "N, the number of tasks", allow_inf=True)
    pinv = task.pinv
    # saturated outputs (infinite k) were already reported by distances()
    with np.errstate(invalid="ignore"):
        return (k + task.b) @ pinv.T


def estimate(task: Task, yhat: Any, t: Any = None, *, std: Any = None) -> np.ndarray:
    """``mu`` from optimal probabilities: ``mu = C^+ (s(t) Phi^-1(Yhat) + b)``.

    ``recover(task, distances(task, yhat, t))``: saturated probabilities (exact
    0 or 1) are warned about and give non-finite estimates; use
    :func:`distances_from_logits` and :func:`recover` on logits instead.

    Parameters
    ----------
    task : Task
        Must be identifiable (``rank C = D``).
    yhat : array_like, shape (..., N)
        Probabilities in ``[0, 1]``.
    t, std
        As in :func:`predict`.

    Returns
    -------
    ndarray, shape (..., D)

    Raises
    ------
    NotIdentifiableError
        ``rank(C) < D``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> yhat = trilat.predict(task, [0.1, 0.2], t=4)
    >>> trilat.estimate(task, yhat, t=4).round(12)  # the round trip is exact
    array([0.1, 0.2])
    """
    task = check_task(task, identifiable=True)
    return recover(task, distances(task, yhat, t, std=std))


def decodability_ceiling(task: Task, t: Any = None, *, std: Any = None) -> np.ndarray:
    """The paper's eq. 7, ``r^2(t) = 1 - s(t)^2 / Var(x*)``: the R^2 of ``mu(t)`` as an estimate of ``x*``.

    ``mu(t) - x* ~ N(0, s(t)^2 I)`` whatever the prior, so the posterior mean
    itself scores ``1 - s(t)^2 / Var(x*)`` against ``x*``, with ``Var(x*)`` the
    prior's per-coordinate variance (1/12 for ``U[-0.5, 0.5]``). The paper
    calls it the ceiling of decodability; it is the ceiling for ``mu(t)`` (and
    for any code affine in it, decoded without knowledge of the prior), not
    for every decoder: a decoder fitted in distribution shrinks towards the
    prior and reaches ``Var / (Var + s^2)`` (0.676 against eq. 7's 0.52 at
    ``t = 1``, ``sigma = 0.2``), and the uniform prior's exact posterior mean
    more (``derivations/ceiling.py``). Below ``t = 12 sigma^2`` it is negative.

    Parameters
    ----------
    task : Task
        Its ``sigma`` and its prior's ``variance`` are used.
    t : int or array_like
        Samples seen, ``> 0``; ``s(t) = sigma / sqrt(t)``.
    std : array_like, optional
        Posterior std ``s(t)`` in place of ``sigma / sqrt(t)`` (e.g. the
        conjugate ``Posterior.std`` of a Gaussian prior, for which this is the
        R^2 of the conjugate mean).

    Returns
    -------
    ndarray
        Shape of ``t`` (or ``std``).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3, sigma=0.2)  # D = 2, N = 3 lines through 0
    >>> trilat.decodability_ceiling(task, [1, 4, 20])  # Var(x*) = 1/12
    array([0.52 , 0.88 , 0.976])
    """
    task = check_task(task)
    return 1.0 - posterior_std(task, t, std) ** 2 / task.prior.variance
