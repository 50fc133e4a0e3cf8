"""The Gaussian posterior of x* and the optimal outputs ``Yhat_i = Phi(k_i / s(t))``.

Derives, checking every step with sympy:

1. flat prior: ``x* | X(1..t) ~ N(mu(t), s(t)^2 I)``, ``mu(t)`` the running
   mean, ``s(t)^2 = sigma^2 / t``;
2. Gaussian prior ``N(m0, s0^2 I)``: the conjugate update
   ``s(t)^2 = 1 / (t/sigma^2 + 1/s0^2)``, ``mu(t)`` the mean shrunk towards m0;
3. the posterior mass beyond boundary i, ``Yhat_i = Phi(k_i / s(t))``, with
   ``k_i = c_i^T mu(t) - b_i`` (unit ``c_i``), via the 1-D projection
   ``c_i^T x*``;
4. the inversion ``k_i = s(t) Phi^-1(Yhat_i)``.

Run ``python derivations/posterior.py``; import it (by path) for
:func:`derive`, whose ``results`` the tests compare with ``trilat``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared helper sits next to us
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import sympy as sp
from _steps import Derivation, Phi, Phi_inv, PhiInvOf, PhiOf, phi

# Symbols of the results (the tests substitute numbers into them).
t = sp.Symbol("t", integer=True, positive=True)  # samples seen
sigma = sp.Symbol("sigma", positive=True)  # evidence noise std
s0 = sp.Symbol("s_0", positive=True)  # Gaussian prior std
m0 = sp.Symbol("m_0", real=True)  # Gaussian prior mean (per coordinate)
S = sp.Symbol("S", real=True)  # sum of the t samples of one coordinate
s = sp.Symbol("s", positive=True)  # posterior std s(t), whatever the prior
k = sp.Symbol("k", real=True)  # signed distance to a boundary
Y = sp.Symbol("Yhat", positive=True)  # an output probability


@functools.cache
def derive() -> Derivation:
    """Run the derivation; every step is checked. ``results`` holds:

    ``flat_mean`` (S/t), ``flat_var`` (sigma^2/t), ``gaussian_mean``,
    ``gaussian_var``, ``gaussian_weight`` (w in ``w X̄ + (1-w) m0``),
    ``yhat`` (in k, s) and ``distance`` (in Yhat, s).
    """
    d = Derivation("Posterior of x* and the optimal outputs")
    x = sp.Symbol("x", real=True)
    i = sp.Symbol("i", integer=True, positive=True)
    X = sp.IndexedBase("X", real=True)

    d.note(
        "Likelihood and both priors factorise over the D coordinates and treat them alike, "
        "so the posterior is a product of identical 1-D posteriors: work with one coordinate."
    )
    # -- flat prior -----------------------------------------------------------------------
    S1 = sp.Sum(X[i], (i, 1, t))
    S2 = sp.Sum(X[i] ** 2, (i, 1, t))
    squares = sp.Sum((X[i] - x) ** 2, (i, 1, t))
    d.equal(
        "sum of squares, expanded (S = sum_i X_i)",
        sp.expand(squares).doit(),
        t * x**2 - 2 * x * S1 + S2,
        show=(squares, t * x**2 - 2 * x * S1 + S2),
    )
    loglik = -(t * x**2 - 2 * x * S + sp.Symbol("Q")) / (2 * sigma**2)  # Q = sum X_i^2
    d.define(
        "log-likelihood up to a constant (flat prior: log-posterior)", sp.Symbol("ell"), loglik
    )
    flat_mean, flat_var = S / t, sigma**2 / t
    square = -((x - flat_mean) ** 2) / (2 * flat_var)
    d.equal(
        "complete the square: ell - (-(x - S/t)^2 / (2 sigma^2/t)) does not depend on x",
        sp.diff(loglik - square, x),
        0,
        show=(sp.Derivative(sp.Symbol("ell") - square, x), 0),
    )
    density = sp.exp(square)
    d.equal(
        "normalising constant of the posterior",
        sp.integrate(density, (x, -sp.oo, sp.oo)),
        sp.sqrt(2 * sp.pi * flat_var),
        show=(sp.Integral(density, (x, -sp.oo, sp.oo)), sp.sqrt(2 * sp.pi * flat_var)),
    )
    mu_t, s2_t = "mu(t)", "s(t)^2"
    d.result("posterior mean, flat prior (the running mean)", mu_t, flat_mean, key="flat_mean")
    d.result("posterior variance, flat prior", s2_t, flat_var, key="flat_var")

    # -- Gaussian prior -------------------------------------------------------------------
    logpost = loglik - (x - m0) ** 2 / (2 * s0**2)
    precision = t / sigma**2 + 1 / s0**2
    gauss_mean = (S / sigma**2 + m0 / s0**2) / precision
    mu_g = sp.Symbol("m")
    d.equal(
        "conjugate update: with precision P = t/sigma^2 + 1/s0^2 and "
        "m = (S/sigma^2 + m0/s0^2)/P, log-posterior + P (x - m)^2 / 2 does not depend on x",
        sp.diff(logpost + precision * (x - gauss_mean) ** 2 / 2, x),
        0,
        show=(
            sp.Derivative(
                sp.Symbol("ell")
                - (x - m0) ** 2 / (2 * s0**2)
                + sp.Symbol("P") * (x - mu_g) ** 2 / 2,
                x,
            ),
            0,
        ),
    )
    gauss_var = 1 / precision
    d.equal(
        "posterior variance 1/precision, as a single fraction",
        gauss_var,
        sigma**2 * s0**2 / (t * s0**2 + sigma**2),
    )
    w = t * s0**2 / (t * s0**2 + sigma**2)
    d.equal("shrinkage: mu(t) = w * mean(X) + (1 - w) m0", gauss_mean, w * S / t + (1 - w) * m0)
    d.equal(
        "and s(t)^2 = w sigma^2 / t, below the flat prior's",
        gauss_var,
        w * flat_var,
        show=("s(t)^2", sp.Symbol("w") * flat_var),
    )
    d.equal(
        "s0 -> oo recovers the flat-prior mean",
        sp.limit(gauss_mean, s0, sp.oo),
        flat_mean,
        show=(sp.Limit(sp.Symbol("m"), s0, sp.oo), flat_mean),
    )
    d.equal(
        "s0 -> oo recovers the flat-prior variance",
        sp.limit(gauss_var, s0, sp.oo),
        flat_var,
        show=(sp.Limit(1 / sp.Symbol("P"), s0, sp.oo), flat_var),
    )
    d.result("posterior mean, Gaussian prior", mu_t, gauss_mean, key="gaussian_mean")
    d.result("posterior variance, Gaussian prior", s2_t, gauss_var, key="gaussian_var")
    d.result("shrinkage weight of the sample mean", sp.Symbol("w"), w, key="gaussian_weight")

    # -- the 1-D projection c^T x* -------------------------------------------------------
    d.note(
        "Either prior: x* | data ~ N(mu, s^2 I) with independent coordinates. The projection "
        "c^T x* = sum_j c_j x_j is a sum of independent normals; its cumulant generating "
        "function (CGF) is the sum of theirs, and a CGF determines the distribution."
    )
    j, D = sp.symbols("j D", integer=True, positive=True)
    c, mu = sp.IndexedBase("c", real=True), sp.IndexedBase("mu", real=True)
    wv, y, m, cj, muj, b = sp.symbols("w y m c_j mu_j b", real=True)
    normal = sp.exp(-((y - muj) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
    cgf_one = sp.log(sp.integrate(sp.exp(wv * cj * y) * normal, (y, -sp.oo, sp.oo), conds="none"))
    d.equal(
        "CGF of c_j x_j, x_j ~ N(mu_j, s^2)",
        cgf_one,
        wv * cj * muj + s**2 * cj**2 * wv**2 / 2,
        simplifier=lambda e: sp.simplify(sp.expand_log(e, force=True)),
        show=(
            sp.log(sp.Integral(sp.exp(wv * cj * y) * normal, (y, -sp.oo, sp.oo))),
            wv * cj * muj + s**2 * cj**2 * wv**2 / 2,
        ),
    )
    cgf_sum = sp.Sum(wv * c[j] * mu[j] + s**2 * c[j] ** 2 * wv**2 / 2, (j, 1, D))
    split = wv * sp.Sum(c[j] * mu[j], (j, 1, D)) + s**2 * wv**2 / 2 * sp.Sum(c[j] ** 2, (j, 1, D))
    d.equal("CGF of c^T x*, for any D", sp.expand(cgf_sum), split, show=(cgf_sum, split))
    unit = split.subs(sp.Sum(c[j] ** 2, (j, 1, D)), 1).subs(sp.Sum(c[j] * mu[j], (j, 1, D)), m)
    target = sp.exp(wv * y) * normal.subs(muj, m)
    d.equal(
        "with ||c|| = 1 and m = c^T mu this is the CGF of N(m, s^2)",
        unit,
        sp.log(sp.integrate(target, (y, -sp.oo, sp.oo), conds="none")),
        simplifier=lambda e: sp.simplify(sp.expand_log(e, force=True)),
        show=(unit, sp.log(sp.Integral(target, (y, -sp.oo, sp.oo)))),
    )
    d.note(
        "So c_i^T x* | data ~ N(c_i^T mu, s^2): the posterior variance along any unit normal "
        "is s^2, whatever D. (Rows of C are stored with ||c_i|| = 1; a general row gives "
        "(c_i^T mu - b_i) / (s ||c_i||), the same number after normalising the row.)"
    )
    mass = sp.Integral(normal.subs(muj, m), (y, b, sp.oo))
    d.equal(
        "posterior mass beyond boundary i: P(c_i^T x* > b_i)",
        mass.doit(),
        Phi((m - b) / s),
        show=(mass, PhiOf((m - b) / s)),
    )
    yhat = Phi(k / s)
    d.result(
        "optimal output, k_i = c_i^T mu - b_i (signed distance of mu to boundary i)",
        sp.Symbol("Yhat_i"),
        yhat,
        key="yhat",
        show=PhiOf(k / s),
    )

    # -- inversion ------------------------------------------------------------------------
    u = sp.Symbol("u", real=True)
    d.equal("Phi' = phi", sp.diff(Phi(u), u), phi(u), show=(sp.Derivative(PhiOf(u), u), phi(u)))
    d.holds(
        "phi(u) > 0 for real u, so Phi is strictly increasing and invertible",
        "phi(u) > 0",
        phi(u).is_positive,
        r"\phi(u) > 0",
    )
    d.equal(
        "Phi^-1(p) = sqrt(2) erfinv(2p - 1) inverts Phi",
        Phi_inv(Phi(u)),
        u,
        show=(PhiInvOf(PhiOf(u)), u),
    )
    p = sp.Symbol("p", positive=True)
    d.equal("and Phi(Phi^-1(p)) = p", Phi(Phi_inv(p)), p, show=(PhiOf(PhiInvOf(p)), p))
    distance = s * Phi_inv(Y)
    d.equal(
        "k_i = s Phi^-1(Yhat_i) inverts Yhat_i = Phi(k_i/s)",
        distance.subs(Y, yhat),
        k,
        show=(s * PhiInvOf(PhiOf(k / s)), k),
    )
    d.result(
        "signed distance from an output",
        sp.Symbol("k_i"),
        distance,
        key="distance",
        show=s * PhiInvOf(sp.Symbol("Yhat_i")),
    )

    poster = Phi(k * sp.sqrt(t / sigma))
    d.holds(
        "the poster's Phi(k sqrt(t/sigma)) is a typo for Phi(k sqrt(t)/sigma) (equal only at sigma = 1)",
        "Phi(k sqrt(t/sigma)) - Phi(k sqrt(t)/sigma) != 0 for sigma != 1, and = 0 at sigma = 1",
        sp.simplify(poster - yhat.subs(s, sp.sqrt(flat_var))) != 0
        and sp.simplify((poster - yhat.subs(s, sp.sqrt(flat_var))).subs(sigma, 1)) == 0,
    )
    d.note(
        "Gaussian prior: the same Yhat and inversion hold with its (mu(t), s(t)); "
        "only s(t) and mu(t) change."
    )
    return d


def flat_posterior() -> tuple[sp.Expr, sp.Expr]:
    """``(mean, variance)`` of one coordinate under the flat prior, in ``S``, ``t``, ``sigma``."""
    r = derive().results
    return r["flat_mean"], r["flat_var"]


def gaussian_posterior() -> tuple[sp.Expr, sp.Expr]:
    """``(mean, variance)`` under the ``N(m0, s0^2)`` prior, in ``S, t, sigma, m_0, s_0``."""
    r = derive().results
    return r["gaussian_mean"], r["gaussian_var"]


if __name__ == "__main__":
    print(derive().report())
