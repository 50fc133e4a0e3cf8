"""The Bayes-optimal multi-task estimator in closed form: the reference.

Flat prior: after ``t`` samples, ``x* | X(1..t) ~ N(mu(t), s(t)^2 I)`` with
``mu(t)`` the running mean and ``s(t) = sigma / sqrt(t)``. The optimal answer
to question ``i`` is ``Yhat_i = Phi(k_i / s(t))``, ``k_i = c_i^T mu - b_i`` the
signed distance to boundary ``i``. Inverting, ``k = s(t) Phi^-1(Yhat)``, and
``C mu = k + b`` gives ``mu = C^+ (k + b)`` whenever ``rank C = D``
("trilateration", Theorem 3.1 part 1).

With a noise covariance ``Sigma`` (``Task(..., noise_cov=Sigma)``) the flat
posterior is ``N(mu(t), Sigma / t)``, ``c_i^T x*`` has the std
``s_i(t) = sqrt(c_i^T Sigma c_i / t)``, and every formula above holds with
``s_i(t)`` in place of ``s(t)``: ``Yhat_i = Phi(k_i / s_i(t))``,
``k_i = s_i(t) Phi^-1(Yhat_i)``, and the recovery ``C^+ (k + b)`` is still
exact. The per-output scale is computed in one place (``_output_scale``).
The box and Gaussian priors assume isotropic noise and refuse such a task.

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

from trilat._checks import NotIdentifiableError, as_float_array, describe, last_axis, times
from trilat._stable import logit_ndtr, probit_expit
from trilat.task import Gaussian, Task, Uniform, check_task

__all__ = [
    "ACTIVATIONS",
    "Posterior",
    "bayes_decodability",
    "decodability_ceiling",
    "distances",
    "distances_from_logits",
    "estimate",
    "estimate_from_logits",
    "logit_scale",
    "oracle_gap",
    "posterior",
    "posterior_mean",
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
    task.require_isotropic("trilat.posterior_std (one std for every direction)")
    if isinstance(prior, str) and prior == "flat":
        return task.sigma / np.sqrt(times(t))  # not 1/sqrt(precision): one rounding fewer
    return 1.0 / np.sqrt(posterior_precision(task, t, prior))


def _output_scale(task: Task, t: Any, std: Any) -> np.ndarray:
    """``s_i(t)``, the posterior std of ``c_i^T x*``, broadcastable to ``(..., N)``.

    Isotropic noise: ``s(t) = sigma / sqrt(t)`` (or ``std``) for every ``i``,
    shape ``(..., 1)``. Noise covariance ``Sigma``:
    ``sqrt(c_i^T Sigma c_i / t) = Task.noise_scales / sqrt(t)``, shape
    ``(..., N)``; ``std=`` (an isotropic posterior std) is refused.
    """
    if task.isotropic:
        return posterior_std(task, t, std)[..., None]
    if std is not None:
        raise ValueError(
            "std= is an isotropic posterior std, but this task has a noise covariance "
            "(noise_cov): pass t, the scales are sqrt(c_i^T noise_cov c_i / t)"
        )
    if t is None:
        raise ValueError("t is required (the scales are sqrt(c_i^T noise_cov c_i / t))")
    return task.noise_scales / np.sqrt(times(t))[..., None]


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

    For a task with a noise covariance ``Sigma``: ``N(mean, cov)``, ``cov``
    of shape ``(T, D, D)`` (``Sigma / t``), and ``std`` is ``None`` (there
    is no single std); ``cov`` is ``None`` for isotropic noise.

    Attributes
    ----------
    mean : ndarray, shape (..., T, D)
        ``mu(t)``, the posterior mean after ``t`` samples.
    std : ndarray, shape (T,), or None
        ``s(t)``: ``sigma / sqrt(t)`` under the flat prior; ``None`` with a
        noise covariance.
    t : ndarray, shape (T,)
        ``1..T``, as floats.
    cov : ndarray, shape (T, D, D), or None
        ``Sigma / t`` with a noise covariance; ``None`` for isotropic noise.

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
    std: np.ndarray | None
    t: np.ndarray
    cov: np.ndarray | None = None


def posterior(task: Task, evidence: Any, prior: str | Gaussian = "flat") -> Posterior:
    """Posterior of ``x*`` after each of ``T`` samples.

    Flat prior (the theorem's): ``mean(t) = (1/t) sum_{s<=t} X(s)``,
    ``std(t) = sigma / sqrt(t)``. Gaussian prior ``N(m0, s0^2 I)``: the
    conjugate update ``std(t)^2 = 1 / (t/sigma^2 + 1/s0^2)``,
    ``mean(t) = std(t)^2 (m0/s0^2 + sum_{s<=t} X(s)/sigma^2)``. With a
    noise covariance ``Sigma`` (flat prior only): the same running mean and
    ``cov(t) = Sigma / t``.

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
    if not task.isotropic:
        _refuse_noise_cov(task, _check_prior(prior))
        cov = task.noise_cov / t[:, None, None]
        return Posterior(mean=total / t[:, None], std=None, t=t, cov=cov)
    std = posterior_std(task, t, prior=prior)  # refuses any other prior
    if isinstance(prior, Gaussian):
        precision = posterior_precision(task, t, prior)
        mean = (prior.mean / prior.variance + total / task.sigma**2) / precision[:, None]
        return Posterior(mean=mean, std=std, t=t)
    return Posterior(mean=total / t[:, None], std=std, t=t)


def _scaled_distance(task: Task, mu: Any, t: Any, std: Any) -> np.ndarray:
    """``u = (C mu - b) / s(t)``, shape ``(..., N)`` (``s_i(t)`` per output, :func:`_output_scale`)."""
    task = check_task(task)
    mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
    return (mu @ task.C.T - task.b) / _output_scale(task, t, std)


PriorArg = str | Uniform | Gaussian


def _check_prior(prior: Any) -> str | Uniform | Gaussian:
    """``"flat"``, a Uniform (the box) or a Gaussian; anything else is refused."""
    if isinstance(prior, str) and prior == "flat":
        return prior
    if isinstance(prior, (Uniform, Gaussian)):
        return prior
    raise ValueError(
        f"prior must be 'flat' (the theorem's), a trilat.Uniform (the exact box posterior) or "
        f"a trilat.Gaussian (the conjugate update), got {prior!r}"
    )


def _refuse_noise_cov(task: Task, prior: Any) -> None:
    """Only the flat prior follows a noise covariance; the others need ``sigma^2 I``."""
    if not (isinstance(prior, str) and prior == "flat"):
        what = (
            "prior=Uniform (the exact box posterior, a product of independent truncated "
            "normals with one std)"
            if isinstance(prior, Uniform)
            else "prior=Gaussian (the conjugate update with a scalar precision)"
        )
        task.require_isotropic(what)


def _conjugate(task: Task, mu: np.ndarray, t: Any, std: Any, prior: Gaussian):
    """Conjugate posterior ``(mean, std)`` from the flat mean ``mu`` after ``t`` samples."""
    if std is not None or t is None:
        raise ValueError("a Gaussian prior needs t (the conjugate update uses the count), not std")
    tt = np.asarray(t, dtype=np.float64)
    precision = posterior_precision(task, tt, prior)
    mean = (prior.mean / prior.variance + tt[..., None] * mu / task.sigma**2) / precision[
        ..., None
    ]
    return mean, 1.0 / np.sqrt(precision)


def _box(task: Task, mu: Any, t: Any, std: Any, prior: Uniform, jacobian: bool = False):
    from trilat.box import MAX_OUTSIDE, box_log_probabilities

    task = check_task(task)
    mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
    s = posterior_std(task, t, std)
    with np.errstate(all="ignore"):
        out = np.max(np.maximum(prior.low - mu, mu - prior.high), axis=-1) / s
    if np.any(out > MAX_OUTSIDE):
        worst = float(np.max(out))
        raise ValueError(
            f"mu lies {worst:.3g} posterior stds s(t) outside the box [{prior.low}, "
            f"{prior.high}]^D; the exact box-prior outputs are stated (1e-12) up to "
            f"{MAX_OUTSIDE:g} s outside (the flat mean of data from the box is never that far: "
            f"chance < 1e-190)"
        )
    return box_log_probabilities(task.C, task.b, mu, s, prior.low, prior.high, jacobian=jacobian)


def predict(
    task: Task, mu: Any, t: Any = None, *, std: Any = None, prior: PriorArg = "flat"
) -> np.ndarray:
    """Optimal outputs ``Yhat_i = P(c_i^T x* > b_i | X(1..t))`` under ``prior``.

    Flat prior (the theorem's, the default): ``Phi((c_i^T mu - b_i) / s(t))``.
    Gaussian ``N(m0, s0^2 I)``: the same formula at the conjugate mean and std.
    Uniform box ``[lo, hi]^D`` (the prior the paper's networks are trained
    on): the exact probability under the posterior ``prod_d TN(mu_d, s^2,
    [lo, hi])``, by :mod:`trilat.box` (closed form for one coordinate,
    log-space Gauss-Legendre for up to three near a face, quasi-Monte Carlo
    beyond; coordinates far inside the box combine exactly into one Gaussian
    term, so far from every face it is the flat formula).

    Parameters
    ----------
    task : Task
    mu : array_like, shape (..., D)
        The flat posterior mean ``mu(t)`` (the running mean of the evidence,
        the sufficient statistic whatever the prior).
    t : int or array_like
        Samples seen, broadcastable against the time axis of ``mu``.
    std : array_like, optional
        Posterior std in place of ``sigma / sqrt(t)`` (flat and box priors).
    prior : "flat", Uniform or Gaussian

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
    prior = _check_prior(prior)
    _refuse_noise_cov(check_task(task), prior)
    if isinstance(prior, Uniform):
        return _box(task, mu, t, std, prior).probabilities
    if isinstance(prior, Gaussian):
        task = check_task(task)
        mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
        mean, s = _conjugate(task, mu, t, std, prior)
        return special.ndtr(_scaled_distance(task, mean, None, s))
    return special.ndtr(_scaled_distance(task, mu, t, std))


def predict_logits(
    task: Task, mu: Any, t: Any = None, *, std: Any = None, prior: PriorArg = "flat"
) -> np.ndarray:
    """Logits of the optimal outputs, ``log P - log(1 - P)``, under ``prior``.

    Flat prior: ``log Phi(u) - log Phi(-u)``, ``u = (C mu - b)/s(t)``, computed
    without ``log(1 - Yhat)`` (``trilat._stable.logit_ndtr``): finite and
    accurate for every finite ``u``. Gaussian: the same at the conjugate mean
    and std. Uniform box: ``log P`` and ``log(1 - P)`` are each computed
    directly in log space (:mod:`trilat.box`), to ``1e-12`` relative in
    ``P`` and ``1 - P`` where quadrature applies (so the logit to
    ``1e-12 (1 + |z|)``); ``+-inf`` where the event is impossible in the box.

    Parameters
    ----------
    task, mu, t, std, prior
        As in :func:`predict`.

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
    prior = _check_prior(prior)
    _refuse_noise_cov(check_task(task), prior)
    if isinstance(prior, Uniform):
        return _box(task, mu, t, std, prior).logits
    if isinstance(prior, Gaussian):
        task = check_task(task)
        mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
        mean, s = _conjugate(task, mu, t, std, prior)
        return logit_ndtr(_scaled_distance(task, mean, None, s))
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
    return _output_scale(task, t, std) * special.ndtri(p)


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
    return _output_scale(task, t, std) * probit_expit(scale * z)


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


NEWTON_MAX_STEPS = 60
NEWTON_TOL = 1e-13  # step size (relative to 1 + |mu|) at which the solve has converged


def estimate_from_logits(
    task: Task,
    z: Any,
    t: Any = None,
    *,
    std: Any = None,
    prior: PriorArg = "flat",
    activation: str = "sigmoid",
) -> np.ndarray:
    """``mu(t)`` from the optimal logits under ``prior``: trilateration beyond the flat prior.

    Flat prior: the closed form ``mu = C^+ (s(t) Phi^-1(sigmoid(z)) + b)``
    (``recover(task, distances_from_logits(task, z, t))``). Gaussian: the
    same at the conjugate std gives the conjugate mean, which is affine in
    ``mu``. Uniform box: the outputs are no longer ``Phi`` of an affine
    function of ``mu``; they determine it locally wherever ``d z / d mu`` has
    rank ``D``, but not always globally (the map can fold for ``D >= 2``: two
    points of the box with the same exact outputs, ``tests/test_box.py``), so
    what is returned is a preimage of ``z`` (its outputs reproduce ``z``),
    ``mu`` itself where the map is one-to-one (``D = 1``; the evenly spaced
    tasks measured in docs/mathematics.md). It solves ``z_box(mu) = z`` by
    Gauss-Newton started from the flat closed form, with the Jacobian in closed form,
    ``d z_i / d mu_d = (E[x_d | c_i^T x > b_i] - E[x_d | c_i^T x < b_i]) / s^2``
    (the truncated normal is an exponential family in ``mu / s^2``), the step
    ``-J^+ r`` halved until the residual decreases, until the step is below
    ``NEWTON_TOL (1 + |mu|)``. Infinite logits (impossible events) are left
    out of the system.

    Parameters
    ----------
    task : Task
        Must be identifiable.
    z : array_like, shape (..., N)
        Logits of the optimal outputs (``activation="tanh"``: ``tanh`` outputs'
        pre-activations, ``Yhat = sigmoid(2 z)``).
    t, std
        As in :func:`predict`.
    prior : "flat", Uniform or Gaussian
    activation : {"sigmoid", "tanh"}

    Returns
    -------
    ndarray, shape (..., D)

    Raises
    ------
    NotIdentifiableError
        ``rank(C) < D``.
    RuntimeError
        The box-prior solve did not converge (the elements and their residuals
        are named).

    Examples
    --------
    Near a face the box prior's outputs differ from the flat ones, and still give ``mu``:

    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3)  # prior Uniform(-0.5, 0.5)
    >>> z = trilat.predict_logits(task, [0.45, -0.2], 4, prior=task.prior)
    >>> z.round(2)  # flat: 6.27, -3.76, -14.54
    array([  5.96,  -3.76, -14.17])
    >>> trilat.estimate_from_logits(task, z, 4, prior=task.prior).round(12)
    array([ 0.45, -0.2 ])
    """
    prior = _check_prior(prior)
    task = check_task(task, identifiable=True)
    _refuse_noise_cov(task, prior)
    if isinstance(prior, Gaussian):
        z = last_axis(z, "z", task.n_tasks, "N, the number of tasks")
        if std is not None or t is None:
            raise ValueError("a Gaussian prior needs t (the conjugate update uses the count)")
        tt = np.asarray(t, dtype=np.float64)
        precision = posterior_precision(task, tt, prior)
        mean = recover(task, distances_from_logits(task, z, activation=activation,
                                                   std=1.0 / np.sqrt(precision)))  # fmt: skip
        return (mean * precision[..., None] - prior.mean / prior.variance) * (
            task.sigma**2 / tt[..., None]
        )
    if not isinstance(prior, Uniform):
        return recover(task, distances_from_logits(task, z, t, activation, std=std))
    z = logit_scale(activation) * last_axis(z, "z", task.n_tasks, "N", finite=False)
    if np.any(np.isnan(z)):
        raise ValueError("z must not contain NaN")
    # a boundary that misses the open box gives the same (infinite) logit for every mu:
    # only the boundaries crossing the box carry information about it
    half = 0.5 * (prior.high - prior.low)
    centre = 0.5 * (prior.high + prior.low)
    crosses = np.abs(task.C @ np.full(task.dim, centre) - task.b) < half * np.abs(task.C).sum(1)
    rank = int(np.linalg.matrix_rank(task.C[crosses])) if np.any(crosses) else 0
    if rank < task.dim:
        raise NotIdentifiableError(
            f"under the box prior only the {int(crosses.sum())} of {task.n_tasks} boundaries "
            f"that cross the box [{prior.low}, {prior.high}]^D inform mu, and their rank is "
            f"{rank} < D = {task.dim}"
        )
    # the flat closed form as the start (an infinite logit replaced by +-700: only a start)
    flat = recover(
        task, distances_from_logits(task, np.where(np.isinf(z), np.sign(z) * 700.0, z), t, std=std)
    )
    s = posterior_std(task, t, std)
    batch = np.broadcast_shapes(z.shape[:-1], np.shape(s))
    zt = np.broadcast_to(z, (*batch, task.n_tasks)).reshape(-1, task.n_tasks)
    sf = np.broadcast_to(s, batch).reshape(-1)
    finite = np.isfinite(zt)
    # start: the flat closed form on the finite logits (clipped to the box's neighbourhood)
    with np.errstate(invalid="ignore"):
        start = np.broadcast_to(flat, (*batch, task.dim)).reshape(-1, task.dim)
    from trilat.box import MAX_OUTSIDE, box_log_probabilities

    # iterates stay where the box outputs are stated (MAX_OUTSIDE s from the box)
    reach = (0.99 * MAX_OUTSIDE * sf)[:, None]
    lo_lim, hi_lim = prior.low - reach, prior.high + reach
    mu = np.clip(np.nan_to_num(start), lo_lim, hi_lim)

    def residual(m: np.ndarray):
        res = box_log_probabilities(task.C, task.b, m, sf, prior.low, prior.high, jacobian=True)
        r = np.where(finite, res.logits - np.where(finite, zt, 0.0), 0.0)
        r = np.where(np.isfinite(r), r, np.sign(r) * 1e300)
        return r, np.where(finite[..., None], res.jacobian, 0.0)

    r, J = residual(mu)
    done = np.zeros(len(mu), dtype=bool)
    for _ in range(NEWTON_MAX_STEPS):
        step = -np.einsum("bdn,bn->bd", np.linalg.pinv(J), r)
        step[done] = 0.0
        norm0 = np.linalg.norm(r, axis=1)
        lam = np.ones(len(mu))
        for _ in range(30):  # halve until the residual decreases (or the step is tiny)
            trial = np.clip(mu + lam[:, None] * step, lo_lim, hi_lim)
            r_new, J_new = residual(trial)
            worse = (np.linalg.norm(r_new, axis=1) > norm0) & ~done
            small = lam * np.abs(step).max(axis=1) <= NEWTON_TOL * (1 + np.abs(mu).max(axis=1))
            if not np.any(worse & ~small):
                break
            lam = np.where(worse & ~small, lam / 2, lam)
        converged = np.abs(step).max(axis=1) <= NEWTON_TOL * (1 + np.abs(mu).max(axis=1))
        mu, r, J = trial, r_new, J_new
        done |= converged
        if np.all(done):
            break
    if not np.all(done):
        bad = np.flatnonzero(~done)
        raise RuntimeError(
            f"estimate_from_logits(prior={prior!r}): Gauss-Newton did not converge for "
            f"{bad.size} of {len(mu)} elements in {NEWTON_MAX_STEPS} steps (first: flat index "
            f"{bad[0]}, residual {np.abs(r[bad[0]]).max():.3g}); are the logits optimal outputs "
            f"of this task under this prior?"
        )
    return mu.reshape(*batch, task.dim)


def posterior_mean(
    task: Task, mu: Any, t: Any = None, *, std: Any = None, prior: PriorArg = "flat"
) -> np.ndarray:
    """The Bayes estimate ``E[x* | X(1..t)]`` from the flat mean ``mu(t)`` under ``prior``.

    Flat: ``mu`` itself. Gaussian ``N(m0, s0^2 I)``: the conjugate mean
    ``(m0/s0^2 + t mu/sigma^2) / (t/sigma^2 + 1/s0^2)``. Uniform box
    ``[lo, hi]^D``: the truncated normal's mean per coordinate,
    ``mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a))``, ``a = (lo - mu)/s``,
    ``b = (hi - mu)/s``, computed without cancellation in the tails
    (:func:`trilat.box.truncated_normal_mean`).

    Parameters
    ----------
    task, mu, t, std, prior
        As in :func:`predict`.

    Returns
    -------
    ndarray, shape (..., D)

    Examples
    --------
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(3)
    >>> trilat.posterior_mean(task, [0.45, -0.2], 4, prior=task.prior).round(4)  # s = 0.1
    array([ 0.3991, -0.1996])
    """
    prior = _check_prior(prior)
    task = check_task(task)
    _refuse_noise_cov(task, prior)
    mu = last_axis(mu, "mu", task.dim, "D, the latent dimension")
    if isinstance(prior, Gaussian):
        return _conjugate(task, mu, t, std, prior)[0]
    if not task.isotropic:  # flat: mu itself, broadcast against t
        s = _output_scale(task, t, std)[..., 0]
        return np.broadcast_to(mu, np.broadcast_shapes(mu.shape, (*s.shape, task.dim))).copy()
    s = posterior_std(task, t, std)
    if isinstance(prior, Uniform):
        from trilat.box import truncated_normal_mean

        return truncated_normal_mean(mu, np.asarray(s)[..., None], prior.low, prior.high)
    return np.broadcast_to(mu, np.broadcast_shapes(mu.shape, (*np.shape(s), task.dim))).copy()


def bayes_decodability(task: Task, t: Any = None, *, std: Any = None) -> np.ndarray:
    """R^2 of the Bayes estimate ``E[x* | X(1..t)]`` against ``x*``, under the task's prior.

    ``1 - E[Var(x* | X)] / Var(x*)``, the best R^2 any decoder of the evidence
    can reach (the Bayes risk under squared error), next to eq. 7
    (:func:`decodability_ceiling`, the R^2 of ``mu(t)`` itself).

    Uniform prior on ``[lo, hi]`` (width ``w``): with ``m = mu(t)`` of density
    ``Z(m)/w`` and ``x* | m ~ TN(m, s^2, [lo, hi])``,
    ``E[Var] = (s^2 / w) int [Z + a phi(a) - b phi(b) - (phi(a) - phi(b))^2 / Z] dm``,
    ``a = (lo - m)/s``, ``b = (hi - m)/s``, ``Z = Phi(b) - Phi(a)``; the
    integrand is analytic and negligible (``< e^-72``) beyond ``12 s`` of the
    box, and more than ``12 s`` inside both faces it is 1 to ``e^-72``, so composite
    Gauss-Legendre (panels of width ``<= s``, 16 nodes) within ``12 s`` of
    each face, and the length of the rest exactly, give it to ~1e-14 (tested
    against mpmath). Gaussian prior: ``1 - s_c^2/s0^2`` with the conjugate ``s_c``.

    Parameters
    ----------
    task : Task
    t, std
        As in :func:`decodability_ceiling`.

    Returns
    -------
    ndarray
        Shape of ``t`` (or ``std``).

    Examples
    --------
    Above eq. 7 (0.52, 0.904, 0.976) at the paper's defaults:

    >>> import trilat
    >>> trilat.bayes_decodability(trilat.Task.evenly_spaced(6), [1, 5, 20]).round(4)
    array([0.6933, 0.9195, 0.9779])
    """
    task = check_task(task)
    prior = task.prior
    if isinstance(prior, Gaussian):
        if std is not None:
            raise ValueError("a Gaussian prior needs t (the conjugate update uses the count)")
        return 1.0 - 1.0 / posterior_precision(task, t, prior) / prior.variance
    from trilat.box import _legendre, _log_phi, log_ndtr_diff

    s = np.asarray(posterior_std(task, t, std), dtype=np.float64)
    out = np.empty(s.shape)
    lo, hi = prior.low, prior.high
    x, w = _legendre(16)
    for i, si in np.ndenumerate(s):
        if hi - lo > 24 * si:
            # farther than 12 s from both faces the integrand is 1 to e^-72: exactly the
            # length there; panels only within 12 s of each face (else ~width/s panels)
            face = np.linspace(-12 * si, 12 * si, 25)
            edges = np.concatenate([lo + face, hi + face])
            width = np.diff(edges)
            width[24] = 0.0  # the middle: added below
            middle = (hi - 12 * si) - (lo + 12 * si)
        else:
            n_panels = int(np.ceil((hi - lo + 24 * si) / si))
            edges = np.linspace(lo - 12 * si, hi + 12 * si, n_panels + 1)
            width = np.diff(edges)
            middle = 0.0
        m = (edges[:-1, None] + width[:, None] * x).ravel()
        wm = (width[:, None] * w).ravel()
        a, b = (lo - m) / si, (hi - m) / si
        Z = np.exp(log_ndtr_diff(a, b))
        pa, pb = np.exp(_log_phi(a)), np.exp(_log_phi(b))
        with np.errstate(invalid="ignore", divide="ignore"):
            term = Z + a * pa - b * pb - np.where(Z > 0, (pa - pb) ** 2 / Z, 0.0)
        risk = si**2 * (np.sum(wm * term) + middle) / (hi - lo)
        out[i] = 1.0 - risk / prior.variance
    return out


def oracle_gap(
    task: Task, mu: Any, t: Any = None, *, std: Any = None, prior: Any = None
) -> np.ndarray:
    """Expected excess cross-entropy (nats) of the flat oracle over the exact one, per output.

    ``KL(P || Q) = P log(P/Q) + (1 - P) log((1 - P)/(1 - Q))`` with ``P`` the
    optimal output under ``prior`` (default the task's; the exact box
    posterior for a Uniform) and ``Q = Phi(u)`` the flat prior's (the
    theorem's): the cross-entropy the flat oracle loses, in expectation over
    labels drawn from the exact posterior. All four logs are computed
    directly (never ``log(1 - P)`` from ``P``), so it is accurate in the tails.

    Parameters
    ----------
    task, mu, t, std
        As in :func:`predict`.
    prior : Uniform or Gaussian, optional
        Default ``task.prior``.

    Returns
    -------
    ndarray, shape (..., N)
        ``>= 0``.

    Examples
    --------
    Only the output whose boundary passes near the face loses anything:

    >>> import trilat
    >>> trilat.oracle_gap(trilat.Task.evenly_spaced(3), [0.45, -0.2], 4).round(6)
    array([0.000115, 0.      , 0.      ])
    """
    task = check_task(task)
    prior = _check_prior(task.prior if prior is None else prior)
    _refuse_noise_cov(task, prior)
    u = _scaled_distance(task, mu, t, std)
    lq, l1q = special.log_ndtr(u), special.log_ndtr(-u)
    if isinstance(prior, Uniform):
        res = _box(task, mu, t, std, prior)
        lp, l1p = res.log_p, res.log_q
    elif isinstance(prior, Gaussian):
        mean, s = _conjugate(task, last_axis(mu, "mu", task.dim, "D"), t, std, prior)
        v = _scaled_distance(task, mean, None, s)
        lp, l1p = special.log_ndtr(v), special.log_ndtr(-v)
    else:
        lp, l1p = lq, l1q
    with np.errstate(invalid="ignore"):
        kl = np.exp(lp) * (lp - lq) + np.exp(l1p) * (l1p - l1q)
    return np.maximum(np.nan_to_num(kl, nan=0.0), 0.0)
