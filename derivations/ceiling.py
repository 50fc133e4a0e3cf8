"""The paper's eq. 7, ``r^2(t) = 1 - s(t)^2 / Var(x*)``: what it is the R^2 of.

Derives, checking every step (per coordinate; all coordinates alike):

1. ``R^2`` of an estimate ``x_hat`` of ``x*``: ``1 - E[(x* - x_hat)^2] / Var(x*)``;
2. flat-prior posterior mean ``mu(t) = x* + sigma mean(eps)``: its error has
   variance ``sigma^2/t = s(t)^2`` whatever the prior, so its R^2 is eq. 7;
   the uniform prior on ``[low, high]`` has ``Var = (high - low)^2/12``
   (1/12 by default), so ``r^2(t) = 1 - 12 sigma^2 / t`` on the default box;
3. the best affine function of ``mu(t)`` (what a least-squares decoder fitted
   in distribution converges to) reaches ``V / (V + s^2) >= 1 - s^2/V``:
   eq. 7 is the R^2 of ``mu(t)`` itself, not a ceiling on fitted decoders;
4. Gaussian prior ``N(m0, s0^2)`` with the conjugate mean: ``R^2 = 1 - s(t)^2/s0^2``
   with the conjugate ``s(t)^2``, which equals ``t s0^2 / (t s0^2 + sigma^2)``:
   the same form as eq. 7 but with the smaller conjugate variance; it never goes
   negative, and equals the best-affine R^2 of the flat mean;
5. for reference, the Bayes R^2 under the uniform prior (truncated-Gaussian
   posterior mean), from ``trilat.bayes_decodability`` and checked by Monte Carlo.

Run ``python derivations/ceiling.py``; import it by path for :func:`derive`.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared helper sits next to us
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import sympy as sp
from _steps import Derivation, Phi, phi

import trilat

t = sp.Symbol("t", integer=True, positive=True)
sigma = sp.Symbol("sigma", positive=True)
V = sp.Symbol("V", positive=True)  # Var(x*) per coordinate
s0 = sp.Symbol("s_0", positive=True)
low, high = sp.symbols("low high", real=True)

# Monte Carlo check in the script: n draws per prior, seeded; the estimate
# 1 - mean((x* - x_hat)^2) / V (V exact) has standard error sd((x* - x_hat)^2) / (sqrt(n) V);
# the assertion allows 4 of them (two-sided false-failure probability 6e-5).
_MC_DRAWS = 400_000
_MC_SEED = 7


@functools.cache
def derive() -> Derivation:
    """Run the derivation; every step is checked. ``results`` holds ``r2_eq7`` (in sigma, t, V),
    ``uniform_variance`` (in low, high), ``r2_uniform_default`` (in sigma, t),
    ``r2_best_affine_flat`` (in sigma, t, V), ``r2_gaussian`` (in sigma, t, s_0) and
    ``mse_gaussian``.
    """
    d = Derivation("Ceiling of decodability (eq. 7)")
    d.define(
        "R^2 of an estimate x_hat of x* (population, one coordinate)",
        "R^2",
        "1 - E[(x* - x_hat)^2] / Var(x*)",
    )
    # -- flat-prior mean -------------------------------------------------------------------
    # sum_i sum_j E[eps_i eps_j]: t diagonal terms E[eps^2] = 1, t(t-1) others E[eps]^2 = 0
    e1, e2 = sp.Integer(0), sp.Integer(1)
    mean_sq = (t * e2 + t * (t - 1) * e1**2) / t**2
    d.equal(
        "E[mean(eps)^2] = (1/t^2) (t E[eps^2] + t(t-1) E[eps]^2), eps i.i.d. N(0, 1)",
        mean_sq,
        1 / t,
        show=("E[mean(eps)^2]", 1 / t),
    )
    mse_flat = d.equal(
        "mu(t) - x* = sigma mean(eps), independent of x*: its mean square, whatever the prior",
        sigma**2 * mean_sq,
        sigma**2 / t,
        show=("E[(x* - mu(t))^2]", sigma**2 / t),
    )
    r2_eq7 = 1 - mse_flat / V
    d.result("R^2 of mu(t): the paper's eq. 7, s(t)^2 = sigma^2/t", "r^2(t)", r2_eq7, key="r2_eq7")
    x = sp.Symbol("x", real=True)
    m = (low + high) / 2
    uvar = sp.integrate((x - m) ** 2, (x, low, high)) / (high - low)
    d.equal(
        "uniform prior on [low, high]",
        uvar,
        (high - low) ** 2 / 12,
        simplifier=sp.factor,
        show=("Var(x*)", (high - low) ** 2 / 12),
    )
    d.results["uniform_variance"] = (high - low) ** 2 / 12
    default = r2_eq7.subs(V, ((high - low) ** 2 / 12).subs({low: -sp.S.Half, high: sp.S.Half}))
    d.result("default box [-1/2, 1/2]: Var = 1/12", "r^2(t)", default, key="r2_uniform_default")
    d.equal(
        "at the paper's sigma = 0.2, t = 1",
        default.subs({sigma: sp.Rational(1, 5), t: 1}),
        sp.Rational(13, 25),
    )
    d.equal(
        "at sigma = 0.2, t = 20",
        default.subs({sigma: sp.Rational(1, 5), t: 20}),
        sp.Rational(122, 125),
    )
    d.note(
        "r^2(t) < 0 when s(t)^2 > Var(x*): t < 12 sigma^2 on the default box (sigma > 0.289 "
        "at t = 1). mu(t) ignores the prior, so early on it is a worse estimate than the "
        "prior mean."
    )

    # -- best affine function of mu ----------------------------------------------------------
    beta, c = sp.symbols("beta c", real=True)
    mx = sp.Symbol("m_x", real=True)  # E[x*] (mu has the same mean)
    s2 = sigma**2 / t
    # E[(x* - beta mu - c)^2] with mu = x* + e, e independent of x*, E e = 0, Var e = s2
    risk = (1 - beta) ** 2 * V + beta**2 * s2 + ((1 - beta) * mx - c) ** 2
    sol = sp.solve([sp.diff(risk, beta), sp.diff(risk, c)], [beta, c], dict=True)[0]
    d.equal(
        "best affine decoder of x* from mu(t): slope Cov(x*, mu)/Var(mu)",
        sol[beta],
        V / (V + s2),
        show=("beta", V / (V + s2)),
    )
    r2_fit = sp.simplify(1 - risk.subs(sol) / V)
    d.equal("its R^2", r2_fit, V / (V + s2), show=("R^2_affine", V / (V + s2)))
    d.results["r2_best_affine_flat"] = V / (V + s2)
    r = sp.Symbol("r", positive=True)  # r = s(t)^2 / V
    d.equal(
        "it exceeds eq. 7 by (s^2/V)^2 / (1 + s^2/V) > 0",
        1 / (1 + r) - (1 - r),
        r**2 / (1 + r),
        show=("R^2_affine - r^2(t)", r**2 / (1 + r)),
    )
    d.note(
        "So eq. 7 is the R^2 of mu(t) used as it is. A decoder fitted by least squares in "
        "distribution shrinks mu toward the prior mean and can exceed it (0.676 vs 0.52 at "
        "sigma = 0.2, t = 1); held-out (out-of-distribution) folds are another matter."
    )

    # -- Gaussian prior, conjugate mean ------------------------------------------------------
    w = t * s0**2 / (t * s0**2 + sigma**2)  # posterior.py: mu = w mean(X) + (1 - w) m0
    d.define("conjugate mean (posterior.py)", "mu_G", "w mean(X) + (1 - w) m0")
    d.note("x* - mu_G = (1 - w)(x* - m0) - w sigma mean(eps): two independent terms.")
    mse_g = (1 - w) ** 2 * s0**2 + w**2 * sigma**2 / t
    s2_g = sigma**2 * s0**2 / (t * s0**2 + sigma**2)
    d.equal(
        "its mean square error is the conjugate posterior variance (Bayes risk)",
        mse_g,
        s2_g,
        show=("E[(x* - mu_G)^2]", s2_g),
    )
    d.results["mse_gaussian"] = s2_g
    r2_g = d.equal(
        "R^2 of the conjugate mean: 1 - s(t)^2 / s0^2 with the conjugate s(t)",
        1 - s2_g / s0**2,
        t * s0**2 / (t * s0**2 + sigma**2),
        show=("r^2_G(t)", t * s0**2 / (t * s0**2 + sigma**2)),
    )
    d.result("Gaussian prior", "r^2_G(t)", r2_g, key="r2_gaussian")
    d.equal(
        "= w, the shrinkage weight, in (0, 1) for every t: never negative",
        r2_g,
        w,
        show=("r^2_G(t)", sp.Symbol("w")),
    )
    d.equal(
        "equals the best-affine R^2 of the flat mean at V = s0^2 (the conjugate mean is that map)",
        r2_g,
        (V / (V + s2)).subs(V, s0**2),
        show=("r^2_G(t)", "R^2_affine"),
    )
    d.equal(
        "and exceeds eq. 7 at V = s0^2 by r^2/(1 + r), r = sigma^2/(t s0^2)",
        r2_g - r2_eq7.subs(V, s0**2),
        (r**2 / (1 + r)).subs(r, sigma**2 / (t * s0**2)),
        show=("r^2_G(t) - r^2(t)", r**2 / (1 + r)),
    )
    d.note(
        "How it differs: the same form 1 - s(t)^2 / Var(x*), but s(t)^2 is the conjugate "
        "variance sigma^2 s0^2 / (t s0^2 + sigma^2) < sigma^2/t, because the conjugate mean "
        "uses the prior; here the Bayes-optimal estimate is affine in the data, so no "
        "decoder can do better."
    )

    # -- Bayes R^2 under the uniform prior (reference numbers) ------------------------------
    a_, b_ = sp.symbols("alpha beta", real=True)
    y = sp.Symbol("y", real=True)
    d.equal(
        "truncated normal moment: int_alpha^beta y phi(y) dy",
        sp.integrate(y * phi(y), (y, a_, b_)),
        phi(a_) - phi(b_),
        show=(sp.Integral(y * sp.Function("phi")(y), (y, a_, b_)), "phi(alpha) - phi(beta)"),
    )
    d.equal(
        "int_alpha^beta y^2 phi(y) dy",
        sp.integrate(y**2 * phi(y), (y, a_, b_)),
        Phi(b_) - Phi(a_) + a_ * phi(a_) - b_ * phi(b_),
        show=(
            sp.Integral(y**2 * sp.Function("phi")(y), (y, a_, b_)),
            "Phi(beta) - Phi(alpha) + alpha phi(alpha) - beta phi(beta)",
        ),
    )
    d.note(
        "Uniform prior on [-1/2, 1/2], flat mean m = mu(t): x* | m is N(m, s^2) truncated to the "
        "box, so with alpha = (-1/2 - m)/s, beta = (1/2 - m)/s, Z = Phi(beta) - Phi(alpha), the "
        "Bayes risk is E_m[Var(x* | m)] = s^2 int [Z + alpha phi(alpha) - beta phi(beta) - "
        "(phi(alpha) - phi(beta))^2 / Z] dm (density of m: Z). Evaluated by trilat.bayes_decodability."
    )
    _monte_carlo(d)
    return d


def bayes_r2_uniform(t_: float, sigma_: float, half: float = 0.5) -> float:
    """Bayes R^2 for x* uniform on ``[-half, half]``: ``trilat.bayes_decodability`` (one
    implementation, in the core; tested there against mpmath quadrature)."""
    task = trilat.Task(np.eye(1), np.zeros(1), sigma_, trilat.Uniform(-half, half))
    return float(trilat.bayes_decodability(task, t_))


def r2_table(ts=(1, 2, 5, 10, 20), sigma_: float = 0.2) -> list[tuple[float, ...]]:
    """Rows ``(t, eq. 7, best affine of mu, Bayes uniform, Gaussian prior s0^2 = 1/12)``."""
    r = derive().results
    rows = []
    for t_ in ts:
        sub = {t: t_, sigma: sigma_, V: sp.Rational(1, 12)}
        rows.append(
            (
                t_,
                float(r["r2_eq7"].subs(sub)),
                float(r["r2_best_affine_flat"].subs(sub)),
                bayes_r2_uniform(t_, sigma_),
                float(r["r2_gaussian"].subs({t: t_, sigma: sigma_, s0: 1 / sp.sqrt(12)})),
            )
        )
    return rows


def _monte_carlo(d: Derivation) -> None:
    """Check eq. 7 (uniform prior) and the Gaussian-prior R^2 against simulation."""
    rng = np.random.default_rng(_MC_SEED)
    sig, t_, n = 0.2, 3, _MC_DRAWS
    var_u, s0_ = 1 / 12, 0.3
    cases = []
    x = rng.uniform(-0.5, 0.5, n)
    mu = x + sig * rng.standard_normal((n, t_)).mean(axis=1)
    cases.append(("uniform prior, mu(t) = mean(X)", x, mu, var_u, 1 - sig**2 / t_ / var_u))
    task = trilat.Task(np.eye(1), np.zeros(1), sig)
    post_mean = trilat.posterior_mean(task, mu[:, None], t_, prior=trilat.Uniform())[:, 0]
    cases.append(
        ("uniform prior, truncated-Gaussian mean", x, post_mean, var_u, bayes_r2_uniform(t_, sig))
    )
    xg = s0_ * rng.standard_normal(n)
    xbar = xg + sig * rng.standard_normal((n, t_)).mean(axis=1)
    w = t_ * s0_**2 / (t_ * s0_**2 + sig**2)
    cases.append(("Gaussian prior N(0, 0.3^2), conjugate mean", xg, w * xbar, s0_**2, w))
    for label, truth, est, var, derived in cases:
        sq = (truth - est) ** 2
        r2 = 1 - sq.mean() / var
        se = sq.std(ddof=1) / np.sqrt(n) / var
        d.holds(
            f"Monte Carlo ({label}, sigma = {sig}, t = {t_}, {n} draws)",
            f"R^2 = {r2:.5f} +- {se:.1g} (SE) vs derived {derived:.5f}: |diff| <= 4 SE",
            abs(r2 - derived) <= 4 * se,
        )


if __name__ == "__main__":
    print(derive().report())
    print()
    print("R^2 against x* per coordinate, sigma = 0.2, Var(x*) = 1/12")
    print(f"{'t':>3} {'eq. 7: mu(t)':>13} {'affine(mu)':>11} {'Bayes, box':>11} {'Gaussian':>9}")
    for row in r2_table():
        print(
            f"{row[0]:>3} "
            + " ".join(f"{v:>{w}.4f}" for v, w in zip(row[1:], (13, 11, 11, 9), strict=True))
        )
    print("(Gaussian: prior N(0, 1/12), conjugate mean; Bayes, box: truncated-Gaussian mean)")
