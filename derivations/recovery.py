"""Trilateration ``mu = C^+ (k + b)`` and the geometry of ``C^T C``.

Derives, checking every step:

1. the least-squares recovery ``mu = C^+ (k + b)``, ``C^+ = (C^T C)^-1 C^T``,
   and that it is exact when ``rank C = D`` (and impossible when not);
2. ``C^T C = (N/2) I`` for the paper's D = 2 lines at angles
   ``theta_k = (k + 1/2) pi / N``, for every ``N >= 2``: a proof for symbolic
   ``N`` through the sums of ``exp(2 i theta_k)``, a geometric series in the
   N-th roots of unity (plus a floating-point check of ``N = 2..50``);
3. for rows uniform on the sphere ``S^{D-1}``: ``E[C^T C] = (N/D) I``, the
   exact variance ``N / (D (D+2))`` of the off-diagonal entries, and the
   cosine between two factor directions (columns of C):
   ``E[cos^2] = D/((D+2) N) + 2 D (5D - 4) / ((D+2)^2 (D+4) N^2) + O(N^-3)``,
   so its typical size is ``sqrt(D / ((D+2) N))`` (checked by Monte Carlo).

Run ``python derivations/recovery.py`` (add ``--mc`` for a larger Monte Carlo
table of the cosine at small N); import it by path for :func:`derive`.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared helper sits next to us
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import sympy as sp
from _steps import Derivation

N = sp.Symbol("N", integer=True, positive=True)  # number of tasks (rows of C)
D = sp.Symbol("D", integer=True, positive=True)  # latent dimension (columns of C)

# Monte Carlo check of the cosine constant, run by every invocation. Per-matrix
# statistic: the mean of cos^2 over the D(D-1)/2 column pairs (independent across
# matrices). The assertion allows 4 standard errors (two-sided false-failure
# probability 6e-5 for a normal mean; the draws are seeded, so the run is
# deterministic) plus the derived O(N^-2) term, negligible at N = 400.
_MC_CHECKS = ((3, 400, 4000), (10, 400, 1500))  # (D, N, matrices)
_MC_SEED = 20250426


def _least_squares(d: Derivation) -> None:
    C = sp.Matrix(3, 2, sp.symbols("c1:7", real=True))
    m = sp.Matrix(sp.symbols("m1:3", real=True))
    y = sp.Matrix(sp.symbols("y1:4", real=True))
    d.note(
        "Least squares on a generic 3 x 2 C (every entry a symbol), then for any N x D C "
        "with sympy's matrix algebra."
    )
    Cs, ms, ys = sp.MatrixSymbol("C", 3, 2), sp.MatrixSymbol("m", 2, 1), sp.MatrixSymbol("y", 3, 1)
    J = ((C * m - y).T * (C * m - y))[0]
    grad = sp.Matrix([sp.diff(J, v) for v in m])
    d.equal(
        "gradient of J(m) = ||C m - y||^2",
        grad,
        2 * C.T * (C * m - y),
        show=("grad_m J", 2 * Cs.T * (Cs * ms - ys)),
    )
    hess = sp.hessian(J, list(m))
    d.equal(
        "Hessian (positive semi-definite: J is convex)",
        hess,
        2 * C.T * C,
        show=("hess_m J", 2 * Cs.T * Cs),
    )
    minors = [C[i, 0] * C[j, 1] - C[i, 1] * C[j, 0] for i in range(3) for j in range(i + 1, 3)]
    d.equal(
        "Cauchy-Binet: det(C^T C) = sum of squared 2 x 2 minors, > 0 iff rank C = 2",
        (C.T * C).det(),
        sum(v**2 for v in minors),
        simplifier=sp.expand,
        show=(sp.Determinant(Cs.T * Cs), sum(v**2 for v in minors)),
    )
    pinv = (C.T * C).inv() * C.T
    Ps = sp.MatrixSymbol("C^+", 2, 3)
    d.define("pseudo-inverse, rank C = D", Ps, (Cs.T * Cs).I * Cs.T)
    d.equal(
        "it solves the normal equations (gradient = 0)",
        C.T * C * pinv * y,
        C.T * y,
        show=(Cs.T * Cs * Ps * ys, Cs.T * ys),
    )
    d.equal("left inverse", pinv * C, sp.eye(2), show=(Ps * Cs, sp.Identity(2)))
    d.equal("Penrose 1", C * pinv * C, C, show=(Cs * Ps * Cs, Cs))
    d.equal("Penrose 2", pinv * C * pinv, pinv, show=(Ps * Cs * Ps, Ps))
    d.equal("Penrose 3", (C * pinv).T, C * pinv, show=((Cs * Ps).T, Cs * Ps))
    d.equal("Penrose 4", (pinv * C).T, pinv * C, show=((Ps * Cs).T, Ps * Cs))

    n, dim = sp.symbols("n d", integer=True, positive=True)
    Cg = sp.MatrixSymbol("C", n, dim)
    mu = sp.MatrixSymbol("mu", dim, 1)
    b = sp.MatrixSymbol("b", n, 1)
    pinv_g = (Cg.T * Cg).I * Cg.T
    k = Cg * mu - b  # signed distances of the true mu (unit rows)
    d.equal(
        "any N x D C of rank D: C^+ (k + b) = mu for k = C mu - b",
        (pinv_g * (k + b)).expand(),
        mu,
        simplifier=lambda e: sp.simplify(e.doit()),
        show=("C^+ (k + b)", mu),
    )
    d.note(
        "trilat computes C^+ = R^-1 Q^T from the reduced QR of C (C = QR, Q^T Q = I, R invertible "
        "when rank C = D): (R^T R)^-1 R^T Q^T = R^-1 Q^T, the same matrix without forming C^T C."
    )
    Cr = sp.Matrix([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    v = Cr.nullspace()[0]
    mu3, lam = sp.Matrix(sp.symbols("mu1:4", real=True)), sp.Symbol("lambda", real=True)
    d.equal(
        "rank C < D: a null vector v (here C = [[1,0,0],[0,1,0],[1,1,0]], v = e_3) "
        "moves mu without changing any distance",
        Cr * (mu3 + lam * v),
        Cr * mu3,
        show=("C (mu + lambda v)", "C mu"),
    )
    d.note("So no estimator can recover mu when rank C < D: trilat raises NotIdentifiableError.")


def _evenly_spaced(d: Derivation) -> None:
    k = sp.Symbol("k", integer=True, nonnegative=True)
    x = sp.Symbol("theta", real=True)
    theta = (2 * k + 1) * sp.pi / (2 * N)
    d.define("angles of the paper's D = 2 lines", sp.Symbol("theta_k"), theta)
    outer = sp.Matrix(
        [[sp.cos(x) ** 2, sp.cos(x) * sp.sin(x)], [sp.cos(x) * sp.sin(x), sp.sin(x) ** 2]]
    )
    rot = sp.Matrix([[sp.cos(2 * x), sp.sin(2 * x)], [sp.sin(2 * x), -sp.cos(2 * x)]])
    d.equal(
        "one row c = (cos theta, sin theta)",
        outer,
        sp.eye(2) / 2 + rot / 2,
        show=(
            outer,
            sp.MatAdd(
                sp.Identity(2) / 2,
                sp.MatMul(sp.Rational(1, 2), sp.ImmutableMatrix(rot), evaluate=False),
                evaluate=False,
            ),
        ),
    )
    d.note(
        "So C^T C = (N/2) I + (1/2) [[P, Q], [Q, -P]] with P + i Q = sum_k exp(2 i theta_k): "
        "it suffices that this sum vanishes."
    )
    omega = sp.exp(2 * sp.pi * sp.I / N)
    d.equal(
        "exp(2 i theta_k) = exp(i pi/N) omega^k, omega = exp(2 pi i / N)",
        sp.exp(2 * sp.I * theta),
        sp.exp(sp.I * sp.pi / N) * omega**k,
    )
    w = sp.Symbol("omega")
    geometric = sp.Sum(w**k, (k, 0, N - 1)).doit()
    closed = (1 - w**N) / (1 - w)
    d.equal(
        "geometric series, omega != 1",
        geometric.args[1][0],
        closed,
        show=(sp.Sum(w**k, (k, 0, N - 1)), closed),
    )
    d.equal(
        "N an integer: omega^N = exp(2 pi i) = 1", omega**N, 1, show=(sp.Symbol("omega") ** N, 1)
    )
    M = sp.Symbol("M", integer=True, nonnegative=True)
    step = (2 * sp.pi / N).subs(N, M + 2)
    d.holds(
        "N >= 2 (N = M + 2): 0 < 2 pi/N <= pi, where cos < 1, so omega != 1",
        "0 < 2 pi/(M + 2) <= pi for every integer M >= 0",
        bool(step.is_positive) and bool(sp.simplify(sp.pi - step).is_nonnegative),
        r"0 < \frac{2\pi}{N} \le \pi",
    )
    total = sp.exp(sp.I * sp.pi / N) * closed.subs(w, omega)
    d.equal(
        "sum_k exp(2 i theta_k) = exp(i pi/N) (1 - omega^N)/(1 - omega) = 0",
        total,
        0,
        show=(sp.Sum(sp.exp(2 * sp.I * theta), (k, 0, N - 1)), 0),
    )
    d.note(
        "Real and imaginary parts: sum_k cos(2 theta_k) = 0 = sum_k sin(2 theta_k), for every N >= 2."
    )
    gram = N / 2 * sp.eye(2)
    d.result(
        "Gram matrix of the evenly spaced lines, N >= 2",
        "C^T C",
        gram,
        key="evenly_spaced_gram",
    )
    one = sp.Matrix([[sp.cos(sp.pi / 2), sp.sin(sp.pi / 2)]])
    d.equal(
        "N = 1 is the exception: one line (theta = pi/2), C^T C = diag(0, 1), rank 1 < D",
        one.T * one,
        sp.diag(0, 1),
        show=("C^T C", sp.diag(0, 1)),
    )
    u = np.finfo(np.float64).eps / 2
    worst = 0.0
    for n_lines in range(2, 51):
        angles = (np.arange(n_lines) + 0.5) * np.pi / n_lines
        C = np.column_stack([np.cos(angles), np.sin(angles)])
        err = np.abs(C.T @ C - n_lines / 2 * np.eye(2)).max()
        # angle rounding <= 3u*pi, cos/sin <= (3 pi + 1) u, products <= 2(3 pi + 1) u + u < 22 u
        # per term; the dot product of N terms adds <= N u sum|terms| <= N^2 u.
        tol = (22 * n_lines + n_lines**2) * u
        worst = max(worst, err / tol)
        if err > tol:
            raise AssertionError(
                f"float check of C^T C = (N/2) I fails at N = {n_lines}: {err:.3g}"
            )
    d.holds(
        "floating point, N = 2..50: max |C^T C - (N/2) I| within the rounding bound (22N + N^2) u",
        f"largest error / bound = {worst:.3g} <= 1",
        worst <= 1,
    )


def _sphere(d: Derivation) -> None:
    d.note(
        "Rows uniform on S^{D-1}: c = g/||g||, g ~ N(0, I_D); ||g|| and g/||g|| are independent "
        "(rotation invariance), so E[g^a] = E[||g||^|a|] E[c^a] for every monomial g^a."
    )
    g = sp.Symbol("g", real=True)
    density = sp.exp(-(g**2) / 2) / sp.sqrt(2 * sp.pi)
    gauss = {p: sp.integrate(g**p * density, (g, -sp.oo, sp.oo)) for p in (2, 4, 6)}
    for p, val in ((2, 1), (4, 3), (6, 15)):
        d.equal(f"E[g^{p}], g ~ N(0, 1)", gauss[p], val, show=(f"E[g^{p}]", val))
    q = sp.Symbol("q", positive=True)
    m = sp.Symbol("m", integer=True, nonnegative=True)
    chi2 = q ** (D / 2 - 1) * sp.exp(-q / 2)
    moment = sp.gammasimp(
        sp.integrate(q**m * chi2, (q, 0, sp.oo)) / sp.integrate(chi2, (q, 0, sp.oo))
    )
    d.equal(
        "E[||g||^(2m)] (chi-square with D degrees of freedom)",
        moment,
        2**m * sp.gamma(D / 2 + m) / sp.gamma(D / 2),
        show=("E[||g||^(2m)]", 2**m * sp.gamma(D / 2 + m) / sp.gamma(D / 2)),
    )
    r2, r4, r6 = (sp.factor(sp.gammasimp(moment.subs(m, j))) for j in (1, 2, 3))
    d.equal("m = 1", r2, D, show=("E[||g||^2]", D))
    d.equal("m = 2", r4, D * (D + 2), show=("E[||g||^4]", D * (D + 2)))
    d.equal("m = 3", r6, D * (D + 2) * (D + 4), show=("E[||g||^6]", D * (D + 2) * (D + 4)))
    c2 = d.equal("E[g^2] / E[||g||^2]", gauss[2] / r2, 1 / D, show=("E[c_j^2]", 1 / D))
    c4 = d.equal(
        "E[g^4] / E[||g||^4]",
        gauss[4] / r4,
        3 / (D * (D + 2)),
        show=("E[c_j^4]", 3 / (D * (D + 2))),
    )
    c22 = d.equal(
        "E[g^2]^2 / E[||g||^4], j != k",
        gauss[2] ** 2 / r4,
        1 / (D * (D + 2)),
        show=("E[c_j^2 c_k^2]", 1 / (D * (D + 2))),
    )
    c42 = d.equal(
        "E[g^4] E[g^2] / E[||g||^6], j != k",
        gauss[4] * gauss[2] / r6,
        3 / (D * (D + 2) * (D + 4)),
        show=("E[c_j^4 c_k^2]", 3 / (D * (D + 2) * (D + 4))),
    )
    d.equal(
        "consistency: E[(sum_j c_j^2)^2] = 1",
        D * c4 + D * (D - 1) * c22,
        1,
        show=("D E[c_j^4] + D (D-1) E[c_j^2 c_k^2]", 1),
    )
    d.note("Odd moments vanish (g -> -g), so E[c_j c_k] = 0 for j != k and E[c c^T] = I/D.")
    d.result(
        "expected Gram matrix, N rows uniform on the sphere",
        "E[C^T C]",
        N / D,
        key="expected_gram_diagonal",
        show=(N / D) * sp.Identity(D),
    )
    d.note("Off-diagonal A = (C^T C)_jk = sum_i c_ij c_ik: N independent terms of mean 0.")
    var_off = d.result(
        "off-diagonal entries, j != k (exact)", "Var[(C^T C)_jk]", N * c22, key="offdiag_variance"
    )
    d.results["diag_variance"] = d.equal(
        "diagonal entries, N (E[c_j^4] - E[c_j^2]^2) (exact)",
        N * (c4 - c2**2),
        2 * N * (D - 1) / (D**2 * (D + 2)),
        show=("Var[(C^T C)_jj]", 2 * N * (D - 1) / (D**2 * (D + 2))),
    )
    d.equal(
        "std of the off-diagonal of (D/N) C^T C, normalised by the expected column norm^2 (exact)",
        sp.sqrt((D / N) ** 2 * var_off),
        sp.sqrt(D / ((D + 2) * N)),
        show=("std[(D/N) (C^T C)_jk]", sp.sqrt(D / ((D + 2) * N))),
    )

    d.note(
        "Cosine between columns j, k: cos = A / sqrt(B_j B_k), B_j = N/D + delta_j. "
        "Expand 1/((1+x_j)(1+x_k)), x = delta/(N/D), to second order; with per-row "
        "a = c_j c_k, u = c_j^2 - 1/D, v = c_k^2 - 1/D (E a = E u = E[a u] = 0), "
        "E[A^2] = N E a^2, E[A^2 delta_j] = N E[a^2 u], "
        "E[A^2 delta_j^2] = N^2 E a^2 E u^2 + O(N), E[A^2 delta_j delta_k] = N^2 E a^2 E[u v] + O(N); "
        "higher orders are O(N^-3)."
    )
    x1, x2 = sp.symbols("x_j x_k", real=True)
    series = sp.expand(
        sp.series(sp.series(1 / ((1 + x1) * (1 + x2)), x1, 0, 3).removeO(), x2, 0, 3).removeO()
    )
    second = sum(
        term for term in series.as_ordered_terms() if sp.Poly(term, x1, x2).total_degree() <= 2
    )
    d.equal(
        "second-order expansion",
        second,
        1 - x1 - x2 + x1**2 + x1 * x2 + x2**2,
        show=("1/((1+x_j)(1+x_k)) + O(x^3)", 1 - x1 - x2 + x1**2 + x1 * x2 + x2**2),
    )
    Eaa = c22
    Eaau = c42 - c22 / D
    Euu = c4 - c2**2
    Euv = c22 - c2**2
    scale = D / N  # 1 / (N/D)
    ms = scale**2 * (N * Eaa - scale * 2 * N * Eaau + scale**2 * N**2 * Eaa * (2 * Euu + Euv))
    two_term = D / ((D + 2) * N) + 2 * D * (5 * D - 4) / ((D + 2) ** 2 * (D + 4) * N**2)
    d.equal("E[cos^2] to O(N^-2)", ms, two_term, show=("E[cos^2]", two_term))
    d.note(
        "Independent check at D = 2: rows (cos f_i, sin f_i), f_i uniform, give C^T C = (N/2) I + "
        "(1/2) [[P, Q], [Q, -P]] with P = sum cos 2f_i, Q = sum sin 2f_i, so exactly "
        "cos^2 = Q^2 / (N^2 - P^2) = (Q^2/N^2) (1 + P^2/N^2 + ...)."
    )
    f = sp.Symbol("f", real=True)
    uniform = lambda e: sp.integrate(e, (f, 0, 2 * sp.pi)) / (2 * sp.pi)  # noqa: E731
    EQ2 = N * uniform(sp.sin(2 * f) ** 2)
    EQ2P2 = N * uniform(sp.sin(2 * f) ** 2 * sp.cos(2 * f) ** 2) + N * (N - 1) * (
        uniform(sp.sin(2 * f) ** 2) * uniform(sp.cos(2 * f) ** 2)
        + 2 * uniform(sp.sin(2 * f) * sp.cos(2 * f)) ** 2
    )
    d2 = sp.expand(EQ2 / N**2 + EQ2P2 / N**4)
    d2_two = sum(term for term in d2.as_ordered_terms() if sp.degree(term, 1 / N) <= 2)
    d.equal(
        "D = 2: E[Q^2]/N^2 + E[Q^2 P^2]/N^4 to O(N^-2) equals the general formula at D = 2",
        d2_two,
        two_term.subs(D, 2),
        show=("E[cos^2] (D = 2)", 1 / (2 * N) + 1 / (4 * N**2)),
    )
    d.results["cosine_ms_two_term"] = two_term
    leading = sp.sqrt(D / ((D + 2) * N))
    d.result(
        "typical cosine between factor directions (RMS, leading order; E[cos] = 0 by symmetry)",
        "sqrt(E[cos^2])",
        leading,
        key="cosine_rms_leading",
    )
    d.note(
        "The constant sqrt(D/(D+2)) is below 1: the naive 1/sqrt(N) overstates the cosine by "
        "sqrt((D+2)/D) (by sqrt(2) at D = 2)."
    )

    rng = np.random.default_rng(_MC_SEED)
    for dim, n_rows, n_mat in _MC_CHECKS:
        stat = _mc_cosine_sq(dim, n_rows, n_mat, rng)
        mean, se = stat.mean(), stat.std(ddof=1) / math.sqrt(n_mat)
        exact2 = float(two_term.subs({D: dim, N: n_rows}))
        lead2 = float(leading.subs({D: dim, N: n_rows})) ** 2
        tol = 4 * se + (exact2 - lead2)
        d.holds(
            f"Monte Carlo, D = {dim}, N = {n_rows}, {n_mat} matrices: E[cos^2] vs D/((D+2)N)",
            f"MC {mean:.6g} +- {se:.2g} (SE), derived {lead2:.6g}; |diff| = {abs(mean - lead2):.2g} "
            f"<= 4 SE + O(N^-2) term = {tol:.2g}; naive 1/N = {1 / n_rows:.6g} is "
            f"{abs(mean - 1 / n_rows) / se:.0f} SE away",
            abs(mean - lead2) <= tol,
        )


def _mc_cosine_sq(dim: int, n_rows: int, n_mat: int, rng: np.random.Generator) -> np.ndarray:
    """Mean over column pairs of cos^2 between the columns of C, for ``n_mat`` random C."""
    out = np.empty(n_mat)
    pairs = np.triu_indices(dim, 1)
    chunk = max(1, 4_000_000 // (n_rows * dim))
    for start in range(0, n_mat, chunk):
        m = min(chunk, n_mat - start)
        g = rng.standard_normal((m, n_rows, dim))
        c = g / np.linalg.norm(g, axis=2, keepdims=True)
        gram = np.einsum("mij,mik->mjk", c, c)
        diag = np.sqrt(np.einsum("mjj->mj", gram))
        cos = gram / diag[:, :, None] / diag[:, None, :]
        out[start : start + m] = (cos[:, pairs[0], pairs[1]] ** 2).mean(axis=1)
    return out


@functools.cache
def derive() -> Derivation:
    """Run the derivation; every step is checked. ``results`` holds
    ``evenly_spaced_gram`` ((N/2) I), ``expected_gram_diagonal`` (N/D),
    ``offdiag_variance`` (N/(D(D+2))), ``diag_variance``,
    ``cosine_ms_two_term`` and ``cosine_rms_leading`` (sqrt(D/((D+2)N))), in ``N``, ``D``.
    """
    d = Derivation("Trilateration and the geometry of C^T C")
    _least_squares(d)
    _evenly_spaced(d)
    _sphere(d)
    return d


def monte_carlo_table(
    sizes=((2, 5), (2, 20), (3, 10), (3, 40), (10, 20), (10, 80)), n_mat=40000, seed=1
):
    """Rows ``(D, N, MC E[cos^2], SE, leading, two-term)`` for small N, where the terms differ."""
    d = derive()
    two_term, rng = d.results["cosine_ms_two_term"], np.random.default_rng(seed)
    rows = []
    for dim, n_rows in sizes:
        stat = _mc_cosine_sq(dim, n_rows, n_mat, rng)
        rows.append(
            (
                dim,
                n_rows,
                stat.mean(),
                stat.std(ddof=1) / math.sqrt(n_mat),
                dim / ((dim + 2) * n_rows),
                float(two_term.subs({D: dim, N: n_rows})),
            )
        )
    return rows


if __name__ == "__main__":
    print(derive().report())
    if "--mc" in sys.argv[1:]:
        print("\nE[cos^2] between columns of C, rows uniform on the sphere (40000 matrices each)")
        print(
            f"{'D':>3} {'N':>4} {'Monte Carlo':>12} {'SE':>9} {'D/((D+2)N)':>11} {'two-term':>10}"
        )
        for dim, n_rows, mean, se, lead, two in monte_carlo_table():
            print(f"{dim:>3} {n_rows:>4} {mean:>12.6f} {se:>9.2g} {lead:>11.6f} {two:>10.6f}")
