"""Stable compositions of ``Phi``, ``Phi^-1`` and the logistic function (numpy/scipy).

These are the numpy reference versions used by the oracle; the numba kernels
reproduce them in :mod:`trilat.kernels`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

# Below this |u|, log Phi(u) - log Phi(-u) cancels; use log1p(erf / Phi(-u)) instead.
_LOGIT_SERIES_U = 1.0
# Below this |z|, sigmoid(z) loses the digits of sigmoid(z) - 1/2; use erfinv(tanh(z/2)).
_PROBIT_SERIES_Z = 2.0
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def logit_ndtr(u: np.ndarray) -> np.ndarray:
    """The logit of ``Phi(u)``: ``log Phi(u) - log Phi(-u)``, accurate for every finite ``u``.

    For ``|u| < 1`` it is ``sign(u) log1p(erf(|u|/sqrt 2) / Phi(-|u|))`` (the
    difference of logs would cancel); beyond, the difference of ``log_ndtr``,
    which stays finite where ``Phi(u)`` rounds to 0 or 1. Odd in ``u``.
    """
    u = np.asarray(u, dtype=np.float64)
    a = np.abs(u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        near = np.log1p(special.erf(a / np.sqrt(2.0)) / special.ndtr(-a))
        far = special.log_ndtr(a) - special.log_ndtr(-a)
    return np.copysign(np.where(a < _LOGIT_SERIES_U, near, far), u)


def probit_expit(z: np.ndarray) -> np.ndarray:
    """``Phi^-1(sigmoid(z))``, accurate for every finite logit ``z`` (|z| to 700 and beyond).

    Never ``ndtri(expit(z))``, which is ``inf`` for ``z >~ 37`` and loses digits
    long before. For ``|z| < 2``: ``sqrt(2) erfinv(tanh(z/2))``, since
    ``2 sigmoid(z) - 1 = tanh(z/2)`` keeps the digits of ``sigmoid(z) - 1/2``;
    beyond, ``-ndtri_exp(log sigmoid(-|z|))`` with the sign of ``z`` (the
    symmetry ``Phi^-1(sigmoid(z)) = -Phi^-1(sigmoid(-z))``).
    """
    z = np.asarray(z, dtype=np.float64)
    a = np.abs(z)
    near = np.sqrt(2.0) * special.erfinv(np.tanh(a / 2.0))
    far = -_ndtri_exp_refined(special.log_expit(-a))
    return np.copysign(np.where(a < _PROBIT_SERIES_Z, near, far), z)


def _ndtri_exp_refined(y: np.ndarray) -> np.ndarray:
    """``Phi^-1(exp(y))`` for ``y < 0``: scipy's ``ndtri_exp`` and one Newton step on
    ``log Phi(x) = y``.

    scipy's ``ndtri_exp`` drifts to ~3000 ulp for ``y`` between ``-5e3`` and
    ``-1e8`` (logits ``|z| >~ 5000``). The inverse is well conditioned
    (``kappa ~ 1/2``) and ``log_ndtr`` is accurate, so one Newton step with the
    slope ``phi(x)/Phi(x)`` brings every ``y`` back to ~1 ulp. Where the slope
    overflows (``|x| >~ 1e154``) the unrefined value is kept.
    """
    x = special.ndtri_exp(y)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_cdf = special.log_ndtr(x)
        slope = np.exp(-0.5 * x * x - _LOG_SQRT_2PI - log_cdf)
        refined = x - (log_cdf - y) / slope
    return np.where(np.isfinite(refined), refined, x)
