"""Anisotropic and correlated noise: ``Yhat_i = Phi(k_i / sqrt(c_i^T Sigma c_i / t))``.

With ``X(t) = x* + eps(t)``, ``eps(t) ~ N(0, Sigma)`` i.i.d. (``Sigma``
symmetric positive definite) instead of ``sigma^2 I``, derives, checking every
step with sympy (for ``D = 2`` and ``D = 3`` with fully symbolic ``Sigma``):

1. flat prior: ``x* | X(1..t) ~ N(mu(t), Sigma / t)``, ``mu(t)`` the running mean;
2. ``c_i^T x* | X(1..t) ~ N(c_i^T mu, s_i^2)`` with
   ``s_i(t)^2 = c_i^T Sigma c_i / t``, so the optimal output is
   ``Yhat_i = Phi(k_i / s_i(t))``, ``k_i = c_i^T mu - b_i``;
3. the inversion ``k_i = s_i(t) Phi^-1(Yhat_i)`` row by row, after which
   ``C^+ (k + b) = mu`` exactly: ``Sigma`` enters only through the per-row
   scales, which the inversion divides out before ``C^+`` is applied;
4. ``Sigma = sigma^2 I`` with unit rows gives back ``s(t) = sigma / sqrt(t)``;
5. the vector form ``k = diag(sqrt(C Sigma C^T / t)) Phi^-1(Yhat)`` takes the
   square roots of the *diagonal entries*, not the diagonal of the matrix
   square root (they differ).

Run ``python derivations/noise.py``; import it (by path) for :func:`derive`,
whose ``results`` the tests compare with ``trilat``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared helper sits next to us
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import sympy as sp
from _steps import Derivation, Phi, Phi_inv, PhiInvOf, PhiOf

t = sp.Symbol("t", positive=True)  # samples seen
k = sp.Symbol("k", real=True)  # signed distance to a boundary
s = sp.Symbol("s", positive=True)  # the scale s_i(t) of one output
Y = sp.Symbol("Yhat", positive=True)  # an output probability


def symmetric(name: str, dim: int) -> sp.Matrix:
    """A fully symbolic symmetric ``dim x dim`` matrix ``name_jk = name_kj``."""
    return sp.Matrix(dim, dim, lambda j, l: sp.Symbol(f"{name}_{min(j, l) + 1}{max(j, l) + 1}"))


def cholesky_factor(dim: int) -> sp.Matrix:
    """A symbolic lower-triangular ``L`` with a positive diagonal: ``L L^T`` is SPD."""
    return sp.Matrix(
        dim,
        dim,
        lambda j, l: (
            sp.Symbol(f"L_{j + 1}{l + 1}", positive=(j == l), real=True) if j >= l else sp.S.Zero
        ),
    )


def vector(name: str, dim: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{j + 1}", real=True) for j in range(dim)])


@functools.cache
def derive() -> Derivation:
    """Run the derivation; every step is checked. ``results`` holds:

    ``posterior_mean`` (``S / t``, D = 2), ``posterior_cov`` (``Sigma / t``,
    D = 2, entries ``Sigma_jk``), ``scale`` (``sqrt(c^T Sigma c / t)``, D = 2,
    in ``c_1, c_2, Sigma_11, Sigma_12, Sigma_22, t``), ``yhat`` (in ``k, s``)
    and ``distance`` (in ``Yhat, s``).
    """
    d = Derivation("Anisotropic and correlated noise: the outputs and their inversion")
    d.note(
        "Evidence X(s) = x* + eps(s), eps(s) ~ N(0, Sigma) i.i.d., Sigma symmetric positive "
        "definite, A = Sigma^-1 (also symmetric). Each identity below is checked for D = 2 and "
        "D = 3 with every entry of Sigma (or of its Cholesky factor) a free symbol."
    )
    for dim in (2, 3):
        A = symmetric("A", dim)  # the precision Sigma^-1, generic symmetric
        x, X, S = vector("x", dim), vector("X", dim), vector("S", dim)
        Q = sp.Symbol("Q", real=True)  # sum_s X(s)^T A X(s)
        one = ((X - x).T * A * (X - x))[0]
        d.equal(
            f"D = {dim}: one sample's quadratic form, expanded (A symmetric)",
            one,
            (X.T * A * X)[0] - 2 * (x.T * A * X)[0] + (x.T * A * x)[0],
            simplifier=sp.expand,
        )
        # summing the expansion over s = 1..t: sum X^T A X = Q, sum X = S, t copies of x^T A x
        loglik = -(Q - 2 * (x.T * A * S)[0] + t * (x.T * A * x)[0]) / 2
        centred = x - S / t
        square = -t * (centred.T * A * centred)[0] / 2
        d.equal(
            f"D = {dim}: complete the square, ell + t (x - S/t)^T A (x - S/t) / 2 does not "
            "depend on x (its gradient vanishes)",
            sp.Matrix([sp.diff(loglik - square, xj) for xj in x]),
            sp.zeros(dim, 1),
            simplifier=sp.expand,
            show=(sp.Symbol("grad_x(ell - square)"), 0),
        )
    d.note(
        "So the flat-prior posterior has mean S/t = mu(t) (the running mean, as for sigma^2 I) "
        "and precision t A, i.e. covariance (t Sigma^-1)^-1 = Sigma / t."
    )
    Sigma2 = symmetric("Sigma", 2)
    d.equal(
        "(t Sigma^-1)^-1 = Sigma / t (D = 2, symbolic Sigma)",
        (t * Sigma2.inv()).inv(),
        Sigma2 / t,
        simplifier=lambda e: (
            sp.simplify(e) if not isinstance(e, sp.MatrixBase) else e.applyfunc(sp.simplify)
        ),
        show=(sp.Symbol("(t Sigma^-1)^-1"), Sigma2 / t),
    )
    d.result("posterior mean", "mu(t)", vector("S", 2) / t, key="posterior_mean")
    d.result("posterior covariance", "V(t)", Sigma2 / t, key="posterior_cov")

    # -- the projection c^T x* ------------------------------------------------------------
    d.note(
        "Write the posterior as x* = mu + (L / sqrt t) z, L L^T = Sigma (Cholesky), z ~ N(0, I): "
        "then c^T x* = c^T mu + sum_j a_j z_j with a = L^T c / sqrt t, a sum of independent "
        "normals, whose cumulant generating function (CGF) is the sum of theirs."
    )
    w, y, a = sp.symbols("w y a", real=True)
    normal = sp.exp(-(y**2) / 2) / sp.sqrt(2 * sp.pi)
    cgf_one = sp.log(sp.integrate(sp.exp(w * a * y) * normal, (y, -sp.oo, sp.oo), conds="none"))
    d.equal(
        "CGF of a z_j, z_j ~ N(0, 1)",
        cgf_one,
        a**2 * w**2 / 2,
        simplifier=lambda e: sp.simplify(sp.expand_log(e, force=True)),
        show=(
            sp.log(sp.Integral(sp.exp(w * a * y) * normal, (y, -sp.oo, sp.oo))),
            a**2 * w**2 / 2,
        ),
    )
    for dim in (2, 3):
        L = cholesky_factor(dim)
        c = vector("c", dim)
        coeffs = L.T * c / sp.sqrt(t)
        d.equal(
            f"D = {dim}: sum_j a_j^2 = c^T L L^T c / t = c^T Sigma c / t (L lower triangular)",
            sum(ai**2 for ai in coeffs),
            (c.T * (L * L.T) * c)[0] / t,
            simplifier=lambda e: sp.expand(e),
        )
    d.note(
        "So c_i^T x* | data ~ N(c_i^T mu, s_i^2), s_i(t)^2 = c_i^T Sigma c_i / t: the CGF "
        "w c^T mu + s_i^2 w^2 / 2 is the normal's, and a CGF determines the distribution."
    )
    c2, Sigma_sym = vector("c", 2), symmetric("Sigma", 2)
    scale = sp.sqrt((c2.T * Sigma_sym * c2)[0] / t)
    d.result("scale of output i", "s_i(t)", scale, key="scale")
    m, b = sp.symbols("m b", real=True)
    density = sp.exp(-((y - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
    mass = sp.Integral(density, (y, b, sp.oo))
    d.equal(
        "posterior mass beyond boundary i, P(c_i^T x* > b_i), with m = c_i^T mu",
        mass.doit(),
        Phi((m - b) / s),
        show=(mass, PhiOf((m - b) / s)),
    )
    yhat = Phi(k / s)
    d.result(
        "optimal output, k_i = c_i^T mu - b_i, s = s_i(t) = sqrt(c_i^T Sigma c_i / t)",
        sp.Symbol("Yhat_i"),
        yhat,
        key="yhat",
        show=PhiOf(k / s),
    )

    # -- inversion and recovery -----------------------------------------------------------
    distance = s * Phi_inv(Y)
    d.equal(
        "k_i = s_i Phi^-1(Yhat_i) inverts Yhat_i = Phi(k_i / s_i), row by row",
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
    C = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"C_{i + 1}{j + 1}", real=True))
    mu, bv = vector("mu", 2), vector("b", 3)
    pinv = (C.T * C).inv() * C.T
    d.equal(
        "N = 3, D = 2, rank C = 2: C^+ = (C^T C)^-1 C^T satisfies C^+ C = I",
        (pinv * C).applyfunc(sp.simplify),
        sp.eye(2),
        simplifier=lambda e: (
            e.applyfunc(sp.simplify) if isinstance(e, sp.MatrixBase) else sp.simplify(e)
        ),
        show=(sp.Symbol("C^+ C"), sp.eye(2)),
    )
    kv = C * mu - bv  # the distances the inversion returns, whatever the scales were
    d.equal(
        "C^+ (k + b) = mu for k = C mu - b: the recovery is exact and never sees Sigma",
        (pinv * (kv + bv)).applyfunc(sp.simplify),
        mu,
        simplifier=lambda e: (
            e.applyfunc(sp.simplify) if isinstance(e, sp.MatrixBase) else sp.simplify(e)
        ),
        show=(sp.Symbol("C^+ (C mu - b + b)"), mu),
    )

    # -- the isotropic case and the vector form -------------------------------------------
    sigma = sp.Symbol("sigma", positive=True)
    c1 = sp.Symbol("c_1", real=True)
    iso = scale.subs({Sigma_sym[0, 0]: sigma**2, Sigma_sym[1, 1]: sigma**2, Sigma_sym[0, 1]: 0})
    d.equal(
        "Sigma = sigma^2 I and ||c|| = 1 (c_2^2 = 1 - c_1^2): s_i(t) = sigma / sqrt(t)",
        (iso**2).subs(sp.Symbol("c_2", real=True) ** 2, 1 - c1**2),
        sigma**2 / t,
        show=(sp.Symbol("s_i(t)") ** 2, sigma**2 / t),
    )
    M = sp.Matrix([[1, 1], [1, 1]])
    root = M / sp.sqrt(2)
    d.equal(
        "M = [[1, 1], [1, 1]] has the square root M / sqrt 2",
        root * root,
        M,
        show=(sp.Symbol("(M / sqrt 2)^2"), sp.Symbol("M")),
    )
    d.holds(
        "diag(sqrt(C Sigma C^T / t)) means sqrt of each diagonal entry: for M above, the "
        "diagonal of the matrix square root is 1/sqrt 2, the root of the diagonal 1",
        "diag(M^(1/2)) = (1/sqrt 2, 1/sqrt 2) != (1, 1) = sqrt(diag M)",
        root[0, 0] != sp.sqrt(M[0, 0]) and sp.simplify(root[0, 0] - 1 / sp.sqrt(2)) == 0,
    )
    d.note(
        "The exact uniform-box posterior is N(mu, Sigma/t) truncated to the box; for a "
        "non-diagonal Sigma its coordinates are not independent, so it is no longer a product "
        "of one-dimensional truncated normals (trilat's box prior refuses such a task)."
    )
    return d


if __name__ == "__main__":
    print(derive().report())
