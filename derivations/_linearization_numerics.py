"""Numerics for ``derivations/linearization.py``: ``h(z) = Phi^-1(sigmoid(z))`` in mpmath,
the least-squares slope, the largest linearisation error ``E(a)`` and the decoder
error bounds the property tests call.

Kept apart from the symbolic derivation so that each file has one job;
``linearization.py`` re-exports every public name here, and is where to import
them from.
"""

from __future__ import annotations

import functools
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import special

ACTIVATIONS = ("sigmoid", "tanh")
# A tanh readout (1 + tanh z)/2 = sigmoid(2z) carries the logit 2z.
_SCALE = {"sigmoid": 1, "tanh": 2}

CONSTANTS: dict[tuple[str, str], sp.Expr] = {
    ("sigmoid", "moment"): sp.sqrt(3) / sp.pi,
    ("tanh", "moment"): 2 * sp.sqrt(3) / sp.pi,
    ("sigmoid", "taylor"): sp.sqrt(2 * sp.pi) / 4,
    ("tanh", "taylor"): sp.sqrt(2 * sp.pi) / 2,
}
"""The closed-form constants; :func:`derive` checks each against its derivation."""


# --------------------------------------------------------------------------------------------
# numerics (mpmath): h, its derivative, the least-squares slope and the largest error
# --------------------------------------------------------------------------------------------


def _h(x: Any) -> mp.mpf:
    """``Phi^-1(sigmoid(x))`` in mpmath at the working precision, for any real ``x``.

    ``|x| < 2``: ``sqrt(2) erfinv(tanh(x/2))`` (``2 sigmoid(x) - 1 = tanh(x/2)``,
    no digit cancels). Beyond: Newton's method on ``log Phi(-u) = log sigmoid(-|x|)``
    for ``u = |h(x)|`` (concave in ``u``, well behaved in the far tail; no
    ``1 - p`` is ever formed), started from float64 ``-ndtri(expit(-|x|))`` or
    ``sqrt(2|x|)`` beyond float range; convergence is checked at the working precision.
    """
    x = mp.mpf(x)
    ax = abs(x)
    if ax < 2:
        return mp.sqrt(2) * mp.erfinv(mp.tanh(x / 2))
    log_q = -ax - mp.log1p(mp.exp(-ax))  # log sigmoid(-|x|)
    far = ax >= 700  # expit(-|x|) underflows in float64
    u = mp.sqrt(2 * ax) if far else mp.mpf(-float(special.ndtri(special.expit(-float(ax)))))
    for _ in range(50):
        tail = mp.ncdf(-u)
        step = (mp.log(tail) - log_q) * tail / mp.npdf(u)  # d/du log Phi(-u) = -phi/Phi(-u)
        u += step
        if abs(step) <= u * mp.eps * 16:  # u > 1.1 here
            break
    else:
        raise AssertionError(f"Newton for Phi^-1(sigmoid({x})) did not converge")
    return u if x > 0 else -u


def _h_prime(x: Any) -> mp.mpf:
    """``h'(x) = sigmoid'(x) / phi(h(x))`` (inverse-function rule).

    ``sigmoid' = e^-|x| / (1 + e^-|x|)^2``, even and free of cancellation.
    """
    x = mp.mpf(x)
    e = mp.exp(-abs(x))
    return e / (1 + e) ** 2 / mp.npdf(_h(x))


def _check_activation(activation: str) -> int:
    if activation not in _SCALE:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return _SCALE[activation]


@functools.cache
def lsq_constant(half_width: float, activation: str = "sigmoid", dps: int = 30) -> mp.mpf:
    """``alpha(a) = 3/a^3 int_0^a z Phi^-1(g(z)) dz`` by mpmath quadrature at ``dps`` digits."""
    scale = _check_activation(activation)
    a_ = mp.mpf(half_width)
    if not a_ > 0:
        raise ValueError(f"half_width must be > 0, got {half_width!r}")
    with mp.workdps(dps):
        integral = mp.quad(lambda x: x * _h(scale * x), [0, a_ / 2, a_])
        return 3 * integral / a_**3


def slope(activation: str, method: str, half_width: float | None = None) -> mp.mpf:
    """The slope alpha of a (activation, method) pair, as an mpmath number (30 digits)."""
    _check_activation(activation)
    if method == "lsq":
        if half_width is None:
            raise ValueError("method='lsq' needs half_width")
        return lsq_constant(half_width, activation)
    if (activation, method) not in CONSTANTS:
        raise ValueError(f"method must be 'moment', 'taylor' or 'lsq', got {method!r}")
    with mp.workdps(30):
        return mp.mpf(str(CONSTANTS[activation, method].evalf(40)))


@functools.cache
def _max_error(half_width: float, scale: int, alpha_value: str, grid: int) -> mp.mpf:
    """``max_{0 <= z <= a} |h(scale z) - alpha z|`` (the error is odd, so this covers |z| <= a)."""
    with mp.workdps(30):
        a_, al = mp.mpf(half_width), mp.mpf(alpha_value)
        err = lambda x: _h(scale * x) - al * x  # noqa: E731
        derr = lambda x: scale * _h_prime(scale * x) - al  # noqa: E731
        candidates = [a_]
        zs = [a_ * j / grid for j in range(grid + 1)]
        ds = [derr(x) for x in zs]
        for j in range(grid):
            if ds[j] == 0:
                candidates.append(zs[j])
            elif ds[j] * ds[j + 1] < 0:  # an interior extremum of the error in this cell
                candidates.append(mp.findroot(derr, (zs[j], zs[j + 1]), solver="anderson"))
        return max(abs(err(x)) for x in candidates)


def max_linearization_error(
    half_width: float,
    activation: str = "sigmoid",
    method: str = "moment",
    *,
    fit_half_width: float | None = None,
    grid: int = 64,
) -> float:
    """``E(a) = max_{|z| <= a} |Phi^-1(g(z)) - alpha z|``, by mpmath (to ~1e-15 relative).

    Parameters
    ----------
    half_width : float
        ``a > 0``: the range of logits ``|z| <= a`` the error is taken over.
    activation : {"sigmoid", "tanh"}
    method : {"moment", "taylor", "lsq"}
        Which ``alpha``; for ``"lsq"`` it is fitted on ``[-fit_half_width, fit_half_width]``
        (default: ``half_width``).
    grid : int
        Cells scanned for sign changes of the error's derivative; every interior
        extremum is then located by root finding (``h`` is concave on ``z > 0``,
        so there is at most one).

    Returns
    -------
    float
    """
    scale = _check_activation(activation)
    if not half_width > 0:
        raise ValueError(f"half_width must be > 0, got {half_width!r}")
    if method == "lsq" and fit_half_width is None:
        fit_half_width = half_width
    al = slope(activation, method, fit_half_width if method == "lsq" else None)
    return float(_max_error(float(half_width), scale, mp.nstr(al, 35), grid))


# --------------------------------------------------------------------------------------------
# the bounds the property tests call
# --------------------------------------------------------------------------------------------


def _pinv_norm(task: Any) -> float:
    """``||C^+||_2 = 1 / sigma_min(C)`` for a full-column-rank ``C``."""
    task.require_identifiable()
    return float(1.0 / np.linalg.svd(np.asarray(task.C), compute_uv=False)[-1])


def decoder_error_bound(
    task: Any,
    z: Any,
    t: Any = None,
    activation: str = "sigmoid",
    method: str = "moment",
    *,
    half_width: float | None = None,
    std: Any = None,
) -> np.ndarray:
    """Bound on ``||mu_lin - mu||`` at given logits: ``s(t) ||C^+||_2 ||h(z) - alpha z||_2``.

    ``mu = C^+ (s(t) h(z) + b)`` is the exact recovery from the logits ``z`` of
    the optimal outputs (``h(z) = Phi^-1(g(z))``, one entry per task) and
    ``mu_lin = s(t) alpha C^+ z + C^+ b`` is ``trilat.linear_decoder``. Their
    difference is exactly ``s(t) C^+ (h(z) - alpha z)``, so this bound holds
    with equality when ``h(z) - alpha z`` lies along the top right-singular
    direction of ``C^+``; it implies the cruder
    ``s(t) ||C^+||_2 sqrt(N) max_i |h(z_i) - alpha z_i|``
    (see :func:`uniform_decoder_error_bound`).

    It is a bound in exact arithmetic. A test comparing it with floating-point
    ``mu_lin - mu`` should allow for rounding in both: of order
    ``eps * cond(C) * (||mu|| + ||C^+|| (s ||h(z)|| + ||b||))`` with ``eps = 2.2e-16``.

    Parameters
    ----------
    task : trilat.Task
        Identifiable (``rank C = D``); gives ``C``, ``b``, ``sigma``.
    z : array_like, shape (..., N)
        Logits of the outputs (for ``tanh``, ``z`` with ``output = tanh(z)``).
    t : int or array_like
        Samples seen, broadcastable against the batch axes of ``z`` (as in
        ``trilat.distances_from_logits``); or ``std=`` the posterior std.
    activation : {"sigmoid", "tanh"}
    method : {"moment", "taylor", "lsq"}
    half_width : float, optional
        The fitted range of ``method="lsq"``.
    std : float or array_like, optional
        ``s(t)`` of another prior, in place of ``sigma / sqrt(t)``.

    Returns
    -------
    ndarray, shape (...)
        One bound per logit vector.
    """
    import trilat  # the derivations use the package; the package never imports them

    alpha_value = trilat.linearization_constant(activation, method, half_width=half_width)
    exact = trilat.distances_from_logits(task, z, t, activation, std=std)  # s(t) h(z)
    s = trilat.posterior_std(task, t, std)
    linear = s[..., None] * alpha_value * np.asarray(z, dtype=np.float64)
    return _pinv_norm(task) * np.linalg.norm(exact - linear, axis=-1)


def uniform_decoder_error_bound(
    task: Any,
    logit_bound: float,
    t: Any = None,
    activation: str = "sigmoid",
    method: str = "moment",
    *,
    half_width: float | None = None,
    std: Any = None,
) -> np.ndarray:
    """``s(t) ||C^+||_2 sqrt(N) E(a)``: bounds ``||mu_lin - mu||`` whenever every ``|z_i| <= a``.

    ``E(a)`` is :func:`max_linearization_error` (mpmath). For the paper's
    evenly spaced lines ``||C^+||_2 sqrt(N) = sqrt(2)``.

    Parameters
    ----------
    task : trilat.Task
    logit_bound : float
        ``a``, a bound on every ``|z_i|``.
    t, activation, method, half_width, std
        As in :func:`decoder_error_bound` (``half_width`` is the fitted range
        of ``"lsq"``, which need not be ``a``).

    Returns
    -------
    ndarray
        Shape of ``s(t)``.
    """
    import trilat

    s = trilat.posterior_std(task, t, std)
    fit = half_width if method == "lsq" else None
    if method == "lsq" and fit is None:
        raise ValueError("method='lsq' needs half_width, the fitted range")
    err = max_linearization_error(logit_bound, activation, method, fit_half_width=fit)
    return s * _pinv_norm(task) * np.sqrt(task.n_tasks) * err
