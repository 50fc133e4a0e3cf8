"""High-precision references (mpmath, 50 significant digits) for the oracle's special functions.

Every reference is evaluated at the *exact* double it is given, so a test
compares a function with the true value of the mathematical function at the
same input, and the error it measures is the implementation's alone (plus
the conditioning of the function, which the tests bound explicitly).

Conditioning. For a function ``f`` evaluated at ``x`` the relative condition
number is ``kappa(x) = |x f'(x) / f(x)|``. A backward-stable implementation
returns ``f(x (1 + d)) (1 + e)`` with ``|d|, |e|`` a few ``eps``, so its
relative error is at most ``c eps (1 + kappa(x))`` for a small ``c``.
Written as an absolute bound, ``c eps (|f(x)| + |x f'(x)|)``, it stays
meaningful where ``f`` crosses zero.
"""

from __future__ import annotations

import functools

import mpmath as mp
import numpy as np
from scipy import special

mp.mp.dps = 50

EPS = float(np.finfo(np.float64).eps)


def _cached(f):
    """Memoise a reference by its double argument and the working precision."""
    memo: dict[tuple[float, int], mp.mpf] = {}

    @functools.wraps(f)
    def wrapper(x: float) -> mp.mpf:
        key = (float(x), mp.mp.prec)
        if key not in memo:
            memo[key] = f(x)
        return memo[key]

    return wrapper


def mpf(x: float) -> mp.mpf:
    """The exact value of a double as an mpf (no rounding: 50 digits hold 53 bits)."""
    return mp.mpf(float(x))


@_cached
def ndtr(u: float) -> mp.mpf:
    """``Phi(u)`` at the exact double ``u``."""
    return mp.ncdf(mpf(u))


@_cached
def ndtr_slope(u: float) -> mp.mpf:
    """``u Phi'(u)``, for the condition number ``|u phi(u) / Phi(u)|``."""
    x = mpf(u)
    return x * mp.npdf(x)


@_cached
def logit_ndtr(u: float) -> mp.mpf:
    """``log Phi(u) - log Phi(-u)`` at the exact double ``u``.

    Near 0 the two logs cancel to ``~ 4 phi(0) u``; the working precision is
    raised by the digits that cancel, so the result keeps 50 digits.
    """
    x = mpf(u)
    if x == 0:
        return mp.mpf(0)
    extra = max(0, int(-mp.log10(abs(x)))) + 5
    with mp.extradps(extra):
        return +(mp.log(mp.ncdf(x)) - mp.log(mp.ncdf(-x)))


@_cached
def logit_ndtr_slope(u: float) -> mp.mpf:
    """``u d/du logit Phi(u) = u phi(u) / (Phi(u) Phi(-u))``."""
    x = mpf(u)
    return x * mp.npdf(x) / (mp.ncdf(x) * mp.ncdf(-x))


def _ndtri_log(y: mp.mpf) -> mp.mpf:
    """``Phi^-1(exp(y))`` for ``y <= log(1/2)``, by Newton on ``log Phi(x) = y``.

    Started from scipy's double ``ndtri_exp`` (correct to ~1e-15), Newton
    doubles the digits each step; a handful of steps reach all but 5 of the working digits.
    """
    tol = mp.mpf(10) ** (5 - mp.mp.dps)  # 45 digits at the default 50
    # log Phi(x) - y cancels to |y| eps_mp: carry the digits of |y| on top.
    with mp.extradps(max(0, int(mp.log10(abs(y) + 1))) + 10):
        x = mp.mpf(float(special.ndtri_exp(float(y))))
        for _ in range(60):
            cdf = mp.ncdf(x)
            step = (mp.log(cdf) - y) * cdf / mp.npdf(x)
            x -= step
            if abs(step) <= tol * max(abs(x), mp.mpf(1)):
                return +x
    raise RuntimeError(f"Newton for Phi^-1(exp({y})) did not converge")


@_cached
def ndtri(p: float) -> mp.mpf:
    """``Phi^-1(p)`` at the exact double ``p`` in (0, 1).

    ``1 - p`` is exact in mpmath, so the upper half uses the symmetry
    ``Phi^-1(p) = -Phi^-1(1 - p)`` without losing the digits of a ``p`` near 1.
    """
    x = mpf(p)
    if x == mp.mpf(0.5):
        return mp.mpf(0)
    if x < 0.5:
        return _ndtri_log(mp.log(x))
    return -_ndtri_log(mp.log(1 - x))


@_cached
def ndtri_slope(p: float) -> mp.mpf:
    """``p d/dp Phi^-1(p) = p / phi(Phi^-1(p))``."""
    return mpf(p) / mp.npdf(ndtri(p))


@_cached
def probit_expit(z: float) -> mp.mpf:
    """``Phi^-1(sigmoid(z))`` at the exact double ``z``, by ``Phi^-1(sigmoid(-|z|))`` and symmetry.

    Below ``|z| = 1e-20`` the cubic term ``O(z^3)`` is beyond 50 digits, and
    the value is the slope at 0 times ``z``, ``sqrt(2 pi)/4 z``.
    """
    x = mpf(z)
    if x == 0:
        return mp.mpf(0)
    if abs(x) < mp.mpf(10) ** -20:
        return x * mp.sqrt(2 * mp.pi) / 4
    value = -_ndtri_log(-mp.log1p(mp.exp(abs(x))))
    return value if x > 0 else -value


@_cached
def probit_expit_slope(z: float) -> mp.mpf:
    """``z d/dz Phi^-1(sigmoid(z)) = z sigmoid(z) sigmoid(-z) / phi(Phi^-1(sigmoid(z)))``."""
    x = mpf(z)
    h = probit_expit(z)
    sig_pos = 1 / (1 + mp.exp(-x))
    sig_neg = 1 / (1 + mp.exp(x))
    return x * sig_pos * sig_neg / mp.npdf(h)


def rel_bound(value: mp.mpf, slope: mp.mpf, c: float) -> float:
    """Absolute error allowed to a backward-stable double: ``c eps (|f| + |x f'|)``."""
    return float(c * EPS * (abs(value) + abs(slope)))
