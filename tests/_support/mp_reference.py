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
import itertools

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


# --------------------------------------------------------------------------- the box prior


def _phi_mass(p: mp.mpf, q: mp.mpf) -> mp.mpf:
    """``Phi(q) - Phi(p)`` for ``p <= q``, taken on the side where neither term is near 1."""
    if p >= 0:
        return mp.ncdf(-p) - mp.ncdf(-q)
    return mp.ncdf(q) - mp.ncdf(p)


def box_log_prob(c, b, mu, s, low=-0.5, high=0.5, dps=40, grid=0.5) -> mp.mpf:
    """``log P(c^T x > b)`` for ``x_d ~ TN(mu_d, s^2, [low, high])`` independent, by mpmath.

    Coordinates with ``c_d = 0`` drop out; the others are integrated by nested
    ``mp.quad`` (tanh-sinh) over ``[low, high]``, split at the kinks of the
    inner survival (the corners of the inner box) and on a grid of spacing
    ``grid * s`` over the box (so that an integrand concentrated anywhere, as in
    the deep tails, is resolved; ``grid=None``: no grid, for integrands smooth
    on the scale of the box), with the innermost coordinate in closed form. Every number is taken at
    the exact doubles given. Practical for up to 3 nonzero ``c_d``.
    """
    with mp.workdps(dps):
        s = mpf(s)
        lo, hi = mpf(low), mpf(high)
        coords = sorted(
            ((mpf(cd), mpf(md)) for cd, md in zip(c, mu, strict=True) if cd != 0),
            key=lambda cm: abs(cm[0]),
        )

        def mass(m):
            return _phi_mass((lo - m) / s, (hi - m) / s)

        masses = [mass(m) for _, m in coords]

        def tail(j: int, thr: mp.mpf) -> mp.mpf:
            cj, mj = coords[j]
            if j == len(coords) - 1:
                y = thr / cj
                y = min(max(y, lo), hi)
                if cj > 0:
                    return _phi_mass((y - mj) / s, (hi - mj) / s) / masses[j]
                return _phi_mass((lo - mj) / s, (y - mj) / s) / masses[j]
            inner = coords[j + 1 :]
            sums = [mp.mpf(0)]
            for ck, _ in inner:
                sums = [v + ck * lo for v in sums] + [v + ck * hi for v in sums]
            pts = {lo, hi}
            pts |= {(thr - v) / cj for v in sums}
            if grid is not None:
                n_grid = int(mp.ceil((hi - lo) / (s * grid)))
                pts |= {lo + (hi - lo) * i / n_grid for i in range(n_grid + 1)}
            pts = sorted(p for p in pts if lo <= p <= hi)

            def integrand(x):
                return mp.npdf((x - mj) / s) / s / masses[j] * tail(j + 1, thr - cj * x)

            # mp.quad's tolerance is absolute: scale the integrand to order 1 first
            probe = [integrand((x + y) / 2) for x, y in itertools.pairwise(pts)]
            scale = max(probe + [integrand(p) for p in pts])
            if scale == 0:
                return mp.mpf(0)
            return scale * mp.quad(lambda x: integrand(x) / scale, pts)

        return mp.log(tail(0, mpf(b)))


def bayes_r2_uniform(t: float, sigma: float, half: float = 0.5) -> float:
    """Bayes R^2 for ``x*`` uniform on ``[-half, half]``: the truncated-Gaussian posterior mean.

    ``1 - E_m[Var(x* | m)] / Var(x*)`` with ``m = mu(t)`` of density ``Z(m) / (2 half)``:
    ``E[Var] = (s^2 / (2 half)) int [Z + a phi(a) - b phi(b) - (phi(a) - phi(b))^2 / Z] dm``,
    by ``mp.quad`` at 30 digits (the integrand is below ``e^-72`` beyond ``12 s``).
    """
    with mp.workdps(30):
        s = mpf(sigma) / mp.sqrt(t)
        h = mpf(half)

        def integrand(m: mp.mpf) -> mp.mpf:
            al, be = (-h - m) / s, (h - m) / s
            Z = _phi_mass(al, be)
            if Z == 0:
                return mp.mpf(0)
            pa, pb = mp.npdf(al), mp.npdf(be)
            return Z + al * pa - be * pb - (pa - pb) ** 2 / Z

        risk = s**2 * mp.quad(integrand, [-h - 12 * s, -h, 0, h, h + 12 * s]) / (2 * h)
        return float(1 - risk / ((2 * h) ** 2 / 12))
