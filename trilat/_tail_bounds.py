"""Finite-sample tail bounds for the statistical checks of ``trilat verify``.

Every bound here holds at every sample size ``n >= 2`` (no central limit
theorem, no delta method): exact chi-square quantiles, Bernstein's inequality
for bounded variables, and a volume bound on the lower tail of the sample
variance of uniform draws. Each function takes the failure probability it may
spend and returns a deterministic bound (a function of ``n`` and the
probability only, never of the data), so a check built from them fails with at
most the stated probability when the implementation is right.
"""

from __future__ import annotations

import math

__all__ = [
    "UNIT_ROUNDOFF",
    "bernstein_deviation",
    "chi2_interval",
    "gaussian_max_bound",
    "uniform_sum_of_squares_interval",
]

UNIT_ROUNDOFF = 2.0**-53  # u: |fl(x op y) - x op y| <= u |x op y| in float64


def chi2_interval(dof: float, alpha_low: float, alpha_high: float) -> tuple[float, float]:
    """``(lo, hi)`` with ``P(X < lo) <= alpha_low`` and ``P(X > hi) <= alpha_high``, ``X ~ chi^2_dof``.

    Exact quantiles: ``lo = 2 P^-1(dof/2, alpha_low)`` (regularised lower
    incomplete gamma inverse) and ``hi`` its upper-tail counterpart.
    """
    from scipy import special

    lo = 2.0 * float(special.gammaincinv(dof / 2.0, alpha_low))
    hi = 2.0 * float(special.gammainccinv(dof / 2.0, alpha_high))
    # the inverses are accurate to a few ulps of the quantile; widen by that much
    return lo * (1.0 - 64 * UNIT_ROUNDOFF), hi * (1.0 + 64 * UNIT_ROUNDOFF)


def bernstein_deviation(n: int, variance: float, bound: float, alpha: float) -> float:
    """``tau`` with ``P(sum_i (Y_i - E Y) >= tau) <= alpha`` for ``n`` i.i.d. ``Y``.

    Bernstein's inequality for ``Y - E Y <= bound`` and ``Var Y = variance``:
    ``P(S >= tau) <= exp(-tau^2 / (2 (n variance + bound tau / 3)))``; solved for
    ``tau`` at ``L = log(1/alpha)``: ``tau = bound L/3 + sqrt((bound L/3)^2 + 2 n variance L)``.
    """
    level = math.log(1.0 / alpha)
    a = bound * level / 3.0
    return a + math.sqrt(a * a + 2.0 * n * variance * level)


def uniform_sum_of_squares_interval(
    n: int, alpha_low: float, alpha_high: float
) -> tuple[float, float]:
    """Bounds on ``SS = sum_i (x_i - xbar)^2 / (n Var x)`` for ``n`` draws of a uniform ``x``.

    Scale-free, so computed for ``x ~ U[-1/2, 1/2]`` (``Var x = 1/12``) with
    ``Y = x^2 in [0, 1/4]``, ``E Y = 1/12``, ``Var Y = 1/180``:

    - upper (``P(SS > hi) <= alpha_high``): ``sum (x - xbar)^2 <= sum x^2 <= n/4``
      and Bernstein on ``sum x^2`` (``Y - 1/12 <= 1/6``);
    - lower (``P(SS < lo) <= alpha_low``): the larger of two valid bounds,
      (a) ``sum (x - xbar)^2 = sum x^2 - (sum x)^2 / n`` with Bernstein on the lower
      tail of ``sum x^2`` (``1/12 - Y <= 1/12``) and on ``|sum x|`` (``|x| <= 1/2``),
      ``alpha_low / 2`` each (``alpha_low / 4`` per tail of ``sum x``);
      (b) the volume bound, sharp at small ``n``: the set ``sum (x - xbar)^2 <= e``
      inside the unit cube lies in a cylinder of length ``sqrt n`` along ``1``
      over an ``(n-1)``-ball of radius ``sqrt e``, so
      ``P <= sqrt(n) pi^((n-1)/2) / Gamma((n+1)/2) e^((n-1)/2)``.
    """
    mean = n / 12.0
    hi_sum = mean + bernstein_deviation(n, 1.0 / 180.0, 1.0 / 6.0, alpha_high)
    hi = min(n / 4.0, hi_sum) / mean
    sum_sq_lo = mean - bernstein_deviation(n, 1.0 / 180.0, 1.0 / 12.0, alpha_low / 2.0)
    abs_sum_hi = bernstein_deviation(n, 1.0 / 12.0, 0.5, alpha_low / 4.0)
    lo_bernstein = (sum_sq_lo - abs_sum_hi**2 / n) / mean
    k = n - 1
    log_e = (2.0 / k) * (
        math.log(alpha_low)
        + math.lgamma((n + 1) / 2.0)
        - 0.5 * math.log(n)
        - (k / 2.0) * math.log(math.pi)
    )
    lo_volume = math.exp(log_e) / mean
    return max(0.0, lo_bernstein, lo_volume), hi


def gaussian_max_bound(count: float, alpha: float) -> float:
    """``z`` with ``P(max of count |N(0, 1)| draws > z) <= alpha`` (union bound, Mills ratio).

    ``P(|e| > z) <= 2 phi(z) / z <= exp(-z^2/2)`` for ``z >= 1``; so
    ``z = max(1, sqrt(2 log(count / alpha)))``.
    """
    return max(1.0, math.sqrt(2.0 * math.log(count / alpha)))
