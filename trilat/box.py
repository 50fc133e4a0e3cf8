"""The exact Bayes-optimal outputs under the uniform box prior (truncated-normal posterior).

With ``x* ~ U[lo, hi]^D`` and isotropic noise the posterior is a product,
``x_d | X(1..t) ~ TN(mu_d(t), s(t)^2, [lo, hi])`` independently per
coordinate, and the optimal answer to question ``i`` is
``P_i = P(c_i^T x > b_i)`` under it: not the flat prior's ``Phi(k_i/s)``
near the faces of the box. This module computes ``log P_i`` and
``log(1 - P_i)`` (each directly, never one from the other, so both are
accurate in the tails), their conditional means ``E[x | event]`` (for the
Jacobian of the logits) and the truncated-normal posterior mean.

Method (per output): only the smaller of ``P`` and ``1 - P`` is integrated
(the one the flat formula calls the smaller; both where the box moves it past
1/2); the other is ``log(1 - exp(log P_small))``, as accurate since
``P_small <= 1/2``. For the event ``c^T x > thr`` (``c`` signed accordingly):

1. Coordinates with ``c_d = 0`` drop out. A coordinate whose ``mu_d`` lies
   more than ``K + 2 (Delta + 1)`` posterior stds inside both faces
   (``K = FREE_MARGIN = 9``, ``Phi(-9) = 1e-19``; ``Delta >= 0`` the flat
   event's distance in stds, the tilt the event puts on ``x``) is
   *untruncated*: its truncation changes the probability by a relative
   ``< 1e-17``, and all such coordinates combine exactly into one Gaussian
   term ``G ~ N(sum c_d mu_d, s^2 sum c_d^2)``. When every coordinate is
   untruncated the result is the flat formula itself (bit for bit). When the
   event's Gaussian mass outside the box is provably below ``1e-14`` of it (a
   Chernoff bound per face, :func:`_faces_negligible`), ``P = Phi(u) / Z``
   with ``Z`` the box's mass: closed form again.
2. The remaining truncated coordinates (standardised, ``z_j`` on
   ``[a_j, b_j]``) and ``G`` are integrated one at a time, ordered by the
   spread they add to ``c^T x`` (the smallest outermost), so that each
   inner survival varies no faster than the outer density; the innermost
   in closed form (a truncated-normal tail, ``log(Phi(q) - Phi(p))`` by
   :func:`log_ndtr_diff`, or the Gaussian tail of ``G``). Each integral is
   of a log-concave function ``exp(f(z))`` with ``f'' <= -1``; its mode and
   the window where ``f >= f_max - 32`` are located by nested grids of
   ``GRID`` points (the mass outside is ``< 2 e^-32 = 2.5e-14`` relative,
   ``f`` being concave), the window is cut into ``PANELS`` panels per side
   of the mode plus the kinks of the inner survival (the corners of the
   inner box), each integrated by Gauss-Legendre with ``NODES = 24`` nodes,
   summed in log space so that ``log P`` keeps its relative accuracy however
   small ``P`` is. Everything is vectorised over the elements (one solve per
   pattern of truncated coordinates), no loop per element.
3. Quadrature is used while at most ``MAX_QUAD_DIMS = 2`` integrals are
   needed (``k <= 3`` terms in all); beyond, a randomised quasi-Monte Carlo
   estimate: ``QMC_REPLICATES`` scrambled Sobol sequences
   (``scipy.stats.qmc``, seeded ``rng = 0``) of ``QMC_POINTS`` points over
   the truncated-normal quantiles of all but the innermost term; its
   standard error (the spread of the replicate means over ``sqrt(R)``) is
   returned beside the result. It samples the posterior, not the event, so
   it is meaningful only for events that are not rare: for rare ones both
   the estimate and its spread are unreliable (observed: ``log P`` off by
   18 at ``P ~ e^-35``, stated relative error 0.6), so an element whose
   QMC estimate of ``min(P, 1 - P)`` is below ``QMC_MIN_P = 1e-4`` raises
   ``ValueError`` rather than return it.

Bound, for ``mu`` at most ``MAX_OUTSIDE = 30`` posterior stds outside the box
(:func:`trilat.predict` refuses beyond; data from the box never get there),
where quadrature applies: ``log P`` and ``log(1 - P)`` to ``1e-12`` relative
in ``P`` and ``1 - P`` (plus a few ulp of ``log P`` itself) while the
smaller is above ``1e-300``; below (where ``P`` rounds to 0 or 1 and only
its log means anything) ``log P`` to ``1e-6`` relative. Tested in
``tests/test_box.py``: against mpmath quadrature at points on, near and far
from the faces and corners and outside the box for D = 1, 2, 3, 5, and
against 64-node quadrature on random points drawn towards faces, corners and
the limits. For QMC, the returned standard error.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import special

__all__ = [
    "FREE_MARGIN",
    "MAX_OUTSIDE",
    "MAX_QUAD_DIMS",
    "NODES",
    "BoxResult",
    "box_log_probabilities",
    "log_ndtr_diff",
    "truncated_normal_mean",
]

FREE_MARGIN = 9.0  # Phi(-9) = 1.1e-19: truncation mass below 1e-17 relative
WINDOW_DROP = (
    32.0  # integrate where f >= f_max - 32: the rest is < 2 e^-32 = 2.5e-14 relative (f concave)
)
NODES = 24  # Gauss-Legendre nodes per panel (convergence study: tests/test_box.py)
PANELS = 2  # panels per side of the mode (f drops by <= 24 across each)
GRID = 33  # points of each window-finding grid
ZOOMS = 4  # nested grids at most: each narrows the bracket to a few cells
MAX_QUAD_DIMS = 2  # nested integrals done by quadrature; more go to QMC
MAX_OUTSIDE = 30.0  # mu at most this many s outside the box (trilat.predict refuses beyond)
QMC_POINTS = 2048
QMC_REPLICATES = 8
QMC_MIN_P = 1e-4  # QMC samples the posterior, not the event: below this it misses the event
# outputs evaluated per pass: the quadrature holds ~8 KiB of work arrays per output, so
# 960k outputs at once peaked at 8 GiB; 16k keep it near 130 MiB (an element's result does
# not depend on the pass it is in, up to the rounding of size-dependent matrix kernels)
CHUNK_OUTPUTS = 16_384
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_LOG2 = math.log(2.0)


@functools.cache
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1.0) / 2.0, w / 2.0  # nodes and weights on [0, 1]


def _log_phi(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


def log_ndtr_diff(p: Any, q: Any) -> np.ndarray:
    """``log(Phi(q) - Phi(p))`` for ``p <= q``, to ``~2 eps (1 + |result|)`` absolute.

    Reflected (``Phi(q) - Phi(p) = Phi(-p) - Phi(-q)``) so that ``p + q <= 0``.
    Where ``r = Phi(p)/Phi(q) <= 1/2`` (most calls): ``log Phi(q) + log1p(-r)``
    from two ``log_ndtr`` (the rounding of ``log r``, ``eps |log Phi(p)|``, is
    damped by ``r``, and ``r |log Phi(p)| <= |log Phi(q)| + 1/e``). Elsewhere
    :func:`_log_ndtr_diff_close`, which keeps its digits when the two cancel.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = np.broadcast_arrays(p, q)
    with np.errstate(invalid="ignore"):  # -inf + inf: the whole line, not flipped
        flip = (p + q) > 0
    lo = np.where(flip, -q, p)
    hi = np.where(flip, -p, q)
    with np.errstate(all="ignore"):
        lh = special.log_ndtr(hi)
        d = special.log_ndtr(lo) - lh
        out = lh + np.log1p(-np.exp(d))
    close = ~(d < -_LOG2)
    if np.any(close):
        out = np.array(out, ndmin=1)
        close_1 = np.array(close, ndmin=1)
        out[close_1] = _log_ndtr_diff_close(
            np.array(lo, ndmin=1)[close_1], np.array(hi, ndmin=1)[close_1]
        )
        out = out.reshape(lo.shape)
    return out


def _log_ndtr_diff_close(p: Any, q: Any) -> np.ndarray:
    """``log(Phi(q) - Phi(p))`` for ``p <= q``, accurate to a few ulp of the difference.

    Reflected (``Phi(q) - Phi(p) = Phi(-p) - Phi(-q)``) so that the interval
    lies mostly below 0; then, with ``P = -q``, ``Q = -p``:

    - narrow (``(q - p)(|p| + |q| + 1) < 1``): ``int_p^q phi`` by 8-point
      Gauss-Legendre, relative to ``phi(q)`` (exact to rounding there);
    - ``p < 0 < q``: ``log((erf(q/sqrt 2) + erf(-p/sqrt 2)) / 2)``, two
      positive terms;
    - ``p < q <= 0``: ``-P^2/2 + log(erfcx(P/sqrt 2)/2) + log1p(-r)`` with
      ``r = erfcx(Q/sqrt 2)/erfcx(P/sqrt 2) exp(-(Q - P)(Q + P)/2)``, no
      cancellation because ``1 - r`` is bounded below off the narrow case.

    ``p = -inf`` and ``q = +inf`` are allowed; ``p == q`` gives ``-inf``.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = np.broadcast_arrays(p, q)
    flip = (p + q) > 0
    lo = np.where(flip, -q, p)
    hi = np.where(flip, -p, q)
    width = hi - lo
    with np.errstate(all="ignore"):
        narrow = width * (np.abs(lo) + np.abs(hi) + 1.0) < 1.0
        out = np.empty(lo.shape)
        # straddling 0
        straddle = (hi > 0) & ~narrow
        out[straddle] = np.log(
            0.5 * (special.erf(hi[straddle] * _SQRT1_2) + special.erf(-lo[straddle] * _SQRT1_2))
        )
        tail = ~straddle & ~narrow
        P, Q = -hi[tail], -lo[tail]
        ex_p = special.erfcx(P * _SQRT1_2)
        r = special.erfcx(Q * _SQRT1_2) / ex_p * np.exp(-(Q - P) * (Q + P) / 2.0)
        r = np.where(np.isinf(Q), 0.0, r)
        out[tail] = -0.5 * P * P + np.log(0.5 * ex_p) + np.log1p(-r)
        if np.any(narrow):
            a, b = lo[narrow], hi[narrow]
            x8, w8 = _legendre(8)
            nodes = a[:, None] + (b - a)[:, None] * x8
            rel = np.exp(_log_phi(nodes) - _log_phi(b)[:, None])
            out[narrow] = _log_phi(b) + np.log((b - a) * (rel @ w8))
    return out


def _phi_over_mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``phi(hi) / (Phi(hi) - Phi(lo))`` for ``lo + hi <= 0``, with ``exp(-hi^2/2)`` cancelled
    analytically (as in :func:`log_ndtr_diff`), so that it keeps its digits however far
    in the tail the interval lies."""
    width = hi - lo
    out = np.empty(lo.shape)
    with np.errstate(all="ignore"):
        narrow = width * (np.abs(lo) + np.abs(hi) + 1.0) < 1.0
        straddle = (hi > 0) & ~narrow
        tail = ~straddle & ~narrow
        h = hi[straddle]
        out[straddle] = np.exp(_log_phi(h)) / (
            0.5 * (special.erf(h * _SQRT1_2) + special.erf(-lo[straddle] * _SQRT1_2))
        )
        P, Q = -hi[tail], -lo[tail]
        ex_p = special.erfcx(P * _SQRT1_2)
        r = special.erfcx(Q * _SQRT1_2) / ex_p * np.exp(-(Q - P) * (Q + P) / 2.0)
        r = np.where(np.isinf(Q), 0.0, r)
        out[tail] = math.sqrt(2.0 / math.pi) / (ex_p * (1.0 - r))
        if np.any(narrow):
            a, b = lo[narrow], hi[narrow]
            x8, w8 = _legendre(8)
            nodes = a[:, None] + (b - a)[:, None] * x8
            out[narrow] = 1.0 / ((b - a) * (np.exp(_log_phi(nodes) - _log_phi(b)[:, None]) @ w8))
    return out


def _tn_mean_std(p: np.ndarray, q: np.ndarray, logz: Any = None) -> np.ndarray:
    """``E[z]`` for ``z ~ N(0, 1)`` truncated to ``[p, q]``: ``(phi(p) - phi(q)) / (Phi(q) - Phi(p))``.

    Reflected to ``p + q <= 0``; there ``phi(p) - phi(q) = phi(q) expm1((q - p)(q + p)/2)``,
    so the ratio is ``-(phi(q)/Z) (-expm1(...))`` with ``phi(q)/Z`` from
    :func:`_phi_over_mass`: no cancellation and no overflow in the tails. Clipped to ``[p, q]``.
    """
    p, q = np.broadcast_arrays(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64))
    flip = (p + q) > 0
    lo = np.where(flip, -q, p)
    hi = np.where(flip, -p, q)
    with np.errstate(all="ignore"):
        x = (hi - lo) * (hi + lo) / 2.0  # <= 0
        m = -_phi_over_mass(lo, hi) * (-np.expm1(x))
        m = np.where(np.isinf(lo), -_phi_over_mass(lo, hi), m)
        m = np.where(np.isinf(hi), 0.0, m)  # the whole line
        m = np.where(lo == hi, lo, m)
        m = np.clip(m, lo, hi)
    return np.where(flip, -m, m)


def truncated_normal_mean(mu: Any, s: Any, low: float = -0.5, high: float = 0.5) -> np.ndarray:
    """Mean of ``N(mu, s^2)`` truncated to ``[low, high]``: ``mu + s (phi(a) - phi(b)) / Z``.

    ``a = (low - mu)/s``, ``b = (high - mu)/s``, ``Z = Phi(b) - Phi(a)``;
    computed without cancellation or overflow for every ``mu`` (inside, on or
    far outside the box), and always inside ``[low, high]``.

    Parameters
    ----------
    mu, s : array_like
        Broadcast together; ``s > 0``.
    low, high : float

    Returns
    -------
    ndarray
        The broadcast shape.
    """
    mu = np.asarray(mu, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    a = (low - mu) / s
    b = (high - mu) / s
    a, b = np.broadcast_arrays(a, b)
    return np.clip(mu + s * _tn_mean_std(a, b), low, high)


# --------------------------------------------------------------------------- the recursion


def _rep(x: np.ndarray | None, m: int) -> np.ndarray | None:
    return None if x is None else np.repeat(x, m, axis=0)


def _solve(
    gam: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    logz: np.ndarray,
    tau: np.ndarray,
    g: np.ndarray | None,
    nodes: int,
    means: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``log P(sum_j gam_j z_j + g xi > tau)`` and the conditional means of ``z`` and ``xi``.

    ``z_j ~ N(0, 1)`` truncated to ``[a_j, b_j]`` (``logz_j`` its log mass),
    ``xi ~ N(0, 1)``, all independent; ``g`` is None without the Gaussian term.
    Shapes: ``gam, a, b, logz (M, k)``, ``tau, g (M,)``. Returns ``logp (M,)``,
    ``E[z | event] (M, k)`` and ``E[xi | event] (M,)`` (None without the Gaussian
    term, both None unless ``means``: they cost as much again, and only the
    Jacobian needs them).
    """
    M, k = gam.shape
    if k == 0:
        x = tau / g
        logp = special.log_ndtr(-x)
        if not means:
            return logp, None, None
        with np.errstate(all="ignore"):
            hazard = np.exp(_log_phi(x) - logp)
        return logp, np.empty((M, 0)), np.where(np.isfinite(hazard), hazard, x)
    if k == 1 and g is None:
        y = tau / gam[:, 0]
        up = gam[:, 0] > 0
        yc = np.clip(y, a[:, 0], b[:, 0])
        p = np.where(up, yc, a[:, 0])
        q = np.where(up, b[:, 0], yc)
        logd = log_ndtr_diff(p, q)
        if not means:
            return logd - logz[:, 0], None, None
        return logd - logz[:, 0], _tn_mean_std(p, q, None)[:, None], None

    # integrate over z_1 of phi(z_1)/Z_1 * P(rest > tau - gam_1 z_1)
    g1 = gam[:, 0]
    A, B = a[:, 0].copy(), b[:, 0].copy()
    rest = (gam[:, 1:], a[:, 1:], b[:, 1:], logz[:, 1:])
    bps = np.empty((M, 0))
    if g is None:
        # corners of the inner box: kinks of the inner survival, and its support
        corners = np.zeros((M, 1))
        for j in range(1, k):
            lo_j, hi_j = gam[:, j] * a[:, j], gam[:, j] * b[:, j]
            corners = np.concatenate([corners + lo_j[:, None], corners + hi_j[:, None]], axis=1)
        rmax = corners.max(axis=1)
        with np.errstate(all="ignore"):
            edge = (tau - rmax) / g1  # inner > 0 iff gam_1 z_1 > tau - rmax
            bps = (tau[:, None] - corners) / g1[:, None]
        A = np.where(g1 > 0, np.maximum(A, edge), A)
        B = np.where(g1 < 0, np.minimum(B, edge), B)
    empty = ~(A < B)
    A = np.where(empty, a[:, 0], A)
    B = np.where(empty, np.maximum(a[:, 0], np.minimum(b[:, 0], a[:, 0] + 1.0)), B)
    A_f = np.where(np.isinf(A), -40.0, A)  # the box in z units is finite unless s -> 0
    B_f = np.where(np.isinf(B), 40.0, B)

    def f(z: np.ndarray, want: bool = False) -> tuple[np.ndarray, Any, Any]:
        m = z.shape[1]
        lp, mz, mx = _solve(
            *(_rep(r, m) for r in rest),
            np.repeat(tau, m) - np.repeat(g1, m) * z.ravel(),
            _rep(g, m),
            nodes,
            want,
        )
        base = _log_phi(z.ravel()) - np.repeat(logz[:, 0], m)
        return (
            (base + lp).reshape(M, m),
            None if mz is None else mz.reshape(M, m, k - 1),
            None if mx is None else mx.reshape(M, m),
        )

    # Locate the window where f >= max f - WINDOW_DROP by nested grids (each one
    # vectorised call): f is concave, so the mode lies within one cell of the best
    # grid point and the window within the cells above the threshold. Zoom in until
    # the window spans several cells (a narrow peak, e.g. mu far outside the box).
    lo_, hi_ = A_f.copy(), B_f.copy()
    grid = np.linspace(0.0, 1.0, GRID)
    for _ in range(ZOOMS):
        zg = lo_[:, None] + (hi_ - lo_)[:, None] * grid
        fg = f(zg)[0]
        best = np.argmax(fg, axis=1)
        fmax = fg[np.arange(M), best]
        above = fg >= (fmax - WINDOW_DROP)[:, None]
        first = np.argmax(above, axis=1)
        last = GRID - 1 - np.argmax(above[:, ::-1], axis=1)
        new_lo = zg[np.arange(M), np.maximum(first - 1, 0)]
        new_hi = zg[np.arange(M), np.minimum(last + 1, GRID - 1)]
        mode = zg[np.arange(M), best]
        wide = (last - first) >= GRID // 4
        lo_ = np.where(wide, lo_, new_lo)
        hi_ = np.where(wide, hi_, new_hi)
        if np.all(wide):
            break
    L = np.where(wide, new_lo, lo_)
    R = np.where(wide, new_hi, hi_)
    mode = np.clip(mode, L, R)
    frac = np.arange(PANELS + 1) / PANELS
    edges = np.concatenate(
        [
            L[:, None] + (mode - L)[:, None] * frac,
            mode[:, None] + (R - mode)[:, None] * frac[1:],
            np.clip(bps, L[:, None], R[:, None]),
        ],
        axis=1,
    )
    edges.sort(axis=1)
    x, w = _legendre(nodes)
    width = np.diff(edges, axis=1)  # (M, P)
    z = (edges[:, :-1, None] + width[:, :, None] * x).reshape(M, -1)
    wz = (width[:, :, None] * w).reshape(M, -1)
    fz, mz, mx = f(z, means)
    with np.errstate(all="ignore"):
        top = np.max(fz, axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        e = wz * np.exp(fz - top)
        tot = e.sum(axis=1)
        logp = np.log(tot) + top[:, 0]
    logp = np.where(empty, -np.inf, logp)
    if not means:
        return logp, None, None
    with np.errstate(all="ignore"):
        wn = e / tot[:, None]
        mean_z = np.concatenate(
            [np.sum(wn * z, axis=1)[:, None], np.einsum("mp,mpj->mj", wn, mz)], 1
        )
        mean_x = None if mx is None else np.sum(wn * mx, axis=1)
    mean_z = np.where(np.isfinite(mean_z), mean_z, 0.0)
    if mean_x is not None:
        mean_x = np.where(np.isfinite(mean_x), mean_x, 0.0)
    return logp, mean_z, mean_x


def _tn_quantile(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Quantile ``u`` of ``N(0, 1)`` truncated to ``[a, b]``, in log space (reflected to the lower half)."""
    flip = (a + b) > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    uu = np.where(flip, 1.0 - u, u)
    with np.errstate(all="ignore"):
        lb = special.log_ndtr(hi)
        r = np.exp(special.log_ndtr(lo) - lb)
        z = special.ndtri_exp(lb + np.log(r + uu * (1.0 - r)))
    z = np.clip(z, lo, hi)
    return np.where(flip, -z, z)


def _qmc(
    gam: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    logz: np.ndarray,
    tau: np.ndarray,
    g: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Randomised QMC for many truncated coordinates: as :func:`_solve`, plus the
    standard error of ``P`` relative to ``P`` (spread of ``QMC_REPLICATES``
    scrambled Sobol replicates)."""
    from scipy.stats import qmc  # lazily: scipy.stats is heavy

    M, k = gam.shape
    outer = k if g is not None else k - 1
    seeds = np.random.SeedSequence(0).spawn(QMC_REPLICATES)
    est = np.empty((M, QMC_REPLICATES))
    mz_r = np.empty((M, QMC_REPLICATES, k))
    mx_r = np.empty((M, QMC_REPLICATES))
    n = QMC_POINTS
    for r, seq in enumerate(seeds):
        u = qmc.Sobol(outer, scramble=True, seed=np.random.default_rng(seq)).random(n)
        z = _tn_quantile(u[None, :, :], a[:, None, :outer], b[:, None, :outer])  # (M, n, outer)
        t_in = tau[:, None] - np.einsum("mnj,mj->mn", z, gam[:, :outer])
        inner = slice(outer, k)
        lp, mz_in, mx = _solve(
            np.repeat(gam[:, inner], n, 0),
            np.repeat(a[:, inner], n, 0),
            np.repeat(b[:, inner], n, 0),
            np.repeat(logz[:, inner], n, 0),
            t_in.ravel(),
            _rep(g, n),
            NODES,
        )
        lp = lp.reshape(M, n)
        top = np.max(lp, axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        e = np.exp(lp - top)
        tot = e.sum(axis=1)
        with np.errstate(all="ignore"):
            est[:, r] = np.log(tot / n) + top[:, 0]
            wn = e / tot[:, None]
        mz_r[:, r, :outer] = np.einsum("mn,mnj->mj", wn, z)
        if k > outer:
            mz_r[:, r, outer:] = np.einsum("mn,mnj->mj", wn, mz_in.reshape(M, n, k - outer))
        if mx is not None:
            mx_r[:, r] = np.sum(wn * mx.reshape(M, n), axis=1)
    top = np.max(est, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    p_r = np.exp(est - top)  # replicate estimates relative to exp(top)
    p = p_r.mean(axis=1)
    with np.errstate(all="ignore"):
        logp = np.log(p) + top[:, 0]
        rel_se = p_r.std(axis=1, ddof=1) / np.sqrt(QMC_REPLICATES) / p
        w = p_r / p_r.sum(axis=1, keepdims=True)
    mz = np.nan_to_num(np.einsum("mr,mrj->mj", w, mz_r))
    mx_out = None if g is None else np.nan_to_num(np.sum(w * mx_r, axis=1))
    return logp, mz, mx_out, np.where(np.isfinite(rel_se), rel_se, 0.0)


class BoxResult:
    """``log P``, ``log(1 - P)`` (shape ``(..., N)``), optionally ``d logit / d mu``
    (``(..., N, D)``), and the QMC relative standard error of the smaller of
    ``P``, ``1 - P`` (0 where quadrature or the closed form was used)."""

    __slots__ = ("flat", "jacobian", "log_p", "log_q", "p_flat", "qmc_rel_se", "z_flat")

    def __init__(self, log_p, log_q, jacobian, qmc_rel_se, flat, z_flat, p_flat):
        self.log_p = log_p
        self.log_q = log_q
        self.jacobian = jacobian
        self.qmc_rel_se = qmc_rel_se
        self.flat = flat  # where every coordinate was untruncated: the flat formula
        self.z_flat = z_flat
        self.p_flat = p_flat

    @property
    def logits(self) -> np.ndarray:
        """``log P - log(1 - P)``; the flat ``logit_ndtr(u)`` where :attr:`flat`."""
        return np.where(self.flat, self.z_flat, self.log_p - self.log_q)

    @property
    def probabilities(self) -> np.ndarray:
        """``P``, taken as ``1 - (1 - P)`` where ``1 - P`` is the smaller, to keep its digits."""
        p = np.where(self.log_p < self.log_q, np.exp(self.log_p), -np.expm1(self.log_q))
        return np.where(self.flat, self.p_flat, p)


def _one_side(
    cc: np.ndarray,
    uu: np.ndarray,
    sm: np.ndarray,
    mu_m: np.ndarray,
    active: np.ndarray,
    low: float,
    high: float,
    nodes: int,
    means: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None]:
    """``log P(cc^T x > thr)`` per row, ``uu = (cc^T mu - thr)/s`` its flat scaled distance.

    Shapes: ``cc, mu_m, active (M, D)``, ``uu, sm (M,)``. Returns ``log P``,
    ``E[x | event]`` (``(M, D)``, or None unless ``means``), whether every
    coordinate was untruncated (the flat formula), the QMC relative standard
    error (0 elsewhere) and ``E[x]`` under the same model (truncated-normal mean
    for the truncated coordinates, ``mu`` for the untruncated; None unless ``means``).
    """
    M, dim = cc.shape
    delta = np.maximum(0.0, -uu)
    margin = FREE_MARGIN + 2.0 * (delta + 1.0)
    with np.errstate(all="ignore"):
        dl = (mu_m - low) / sm[:, None]
        dh = (high - mu_m) / sm[:, None]
    free = active & (dl > margin[:, None]) & (dh > margin[:, None])
    trunc = active & ~free
    k = trunc.sum(axis=1)
    logp = np.empty(M)
    rel_se = np.zeros(M)
    cond = np.empty((M, dim)) if means else None
    mean_all = None
    if means:
        mean_all = np.where(free, mu_m, truncated_normal_mean(mu_m, sm[:, None], low, high))
    all_free = k == 0
    # every coordinate untruncated: the flat formula itself
    logp[all_free] = special.log_ndtr(uu[all_free])
    # the event's Gaussian mass far from every face (see _faces_negligible): P = Phi(u) / Z
    closed = ~all_free & _faces_negligible(cc, uu, dl, dh, active)
    if np.any(closed):
        logz = np.where(active[closed], log_ndtr_diff(-dl[closed], dh[closed]), 0.0)
        logp[closed] = special.log_ndtr(uu[closed]) - logz.sum(axis=1)
    gauss = all_free | closed
    if means and np.any(gauss):
        idx = np.flatnonzero(gauss)
        ci, si = cc[idx], sm[idx]
        use = np.where(all_free[idx, None], free[idx], active[idx])
        g = si * np.sqrt(np.sum(np.where(use, ci * ci, 0.0), axis=1))
        _, _, mx = _solve(np.empty((len(idx), 0)), *(np.empty((len(idx), 0)),) * 3,
                          -uu[idx] * si, g, nodes)  # fmt: skip
        cond[idx] = np.where(use, mu_m[idx] + ci * si[:, None] ** 2 * (mx / g)[:, None],
                             mean_all[idx])  # fmt: skip
    rows = np.flatnonzero(~gauss)
    if rows.size == 0:
        return logp, cond, all_free, rel_se, mean_all
    # Integration order: the term contributing least spread to c^T x outermost, the most
    # (the closed-form innermost) last, so that the inner survival varies on a scale no
    # finer than the outer density's (else it is a near-step that Gauss-Legendre panels
    # do not resolve). Spread of a truncated coordinate ~ |c_d| sd(TN_d); of the Gaussian
    # term of the untruncated ones |c_F|; index ``dim`` stands for the Gaussian term.
    r_ = rows
    with np.errstate(all="ignore"):
        a_all, b_all = -dl[r_], dh[r_]
        far = np.maximum(0.0, np.maximum(a_all, -b_all))
        sd = np.minimum(1.0 / np.sqrt(1.0 + far * far), (b_all - a_all) / 3.0)
    spread = np.where(trunc[r_], np.abs(cc[r_]) * sd, np.inf)
    g_spread = np.sqrt(np.sum(np.where(free[r_], cc[r_] ** 2, 0.0), axis=1))
    has_g = np.any(free[r_], axis=1)
    spread = np.concatenate([spread, np.where(has_g, g_spread, np.inf)[:, None]], axis=1)
    n_terms = k[r_] + has_g
    order = np.argsort(spread, axis=1, kind="stable")
    keys = np.where(np.arange(dim + 1) < n_terms[:, None], order, -1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for gi, key in enumerate(uniq):
        idx = rows[inv == gi]
        terms = key[key >= 0]
        ci, si, mi = cc[idx], sm[idx], mu_m[idx]
        fr = free[idx]
        tau = -uu[idx] * si  # thr - c^T mu
        has = dim in terms
        g = si * np.sqrt(np.sum(np.where(fr, ci * ci, 0.0), axis=1)) if has else None
        cols = terms[terms < dim]
        muT = mi[:, cols]
        a = (low - muT) / si[:, None]
        bb = (high - muT) / si[:, None]
        logz = log_ndtr_diff(a, bb)
        gam = ci[:, cols] * si[:, None]
        n_int = len(terms) - 1
        g_pos = None
        if n_int > MAX_QUAD_DIMS:
            lp, mz, mx, se = _qmc(gam, a, bb, logz, tau, g)
            rare = ~(lp >= math.log(QMC_MIN_P))
            if rare.any():
                # a number off by e^18 with a stated error of 0.6 was observed here: refuse
                raise ValueError(
                    f"the exact box-prior output of {int(rare.sum())} element(s) needs "
                    f"{n_int} nested integrals (coordinates near a face of the box: more than "
                    f"MAX_QUAD_DIMS = {MAX_QUAD_DIMS}, beyond quadrature) and is a rare "
                    f"event (min(P, 1 - P) = {math.exp(float(np.min(lp))):.3g} < QMC_MIN_P = "
                    f"{QMC_MIN_P:g}), where the quasi-Monte Carlo estimate is unreliable; "
                    "use prior='flat', or fewer coordinates near a face"
                )
            rel_se[idx] = se
        else:
            if has and terms[-1] != dim:
                # the Gaussian term outer: a coordinate on [-X, X], X beyond any mass that counts
                g_pos = int(np.flatnonzero(terms == dim)[0])
                reach = np.sum(np.abs(gam) * np.maximum(np.abs(a), np.abs(bb)), axis=1)
                X = (np.abs(tau) + reach) / g + 40.0
                a = np.insert(a, g_pos, -X, axis=1)
                bb = np.insert(bb, g_pos, X, axis=1)
                logz = np.insert(logz, g_pos, log_ndtr_diff(-X, X), axis=1)
                gam = np.insert(gam, g_pos, g, axis=1)
                lp, mz, _ = _solve(gam, a, bb, logz, tau, None, nodes, means)
                if means:
                    mx = mz[:, g_pos]
                    mz = np.delete(mz, g_pos, axis=1)
            else:
                lp, mz, mx = _solve(gam, a, bb, logz, tau, g, nodes, means)
        logp[idx] = lp
        if means:
            ci_cond = mean_all[idx].copy()  # coordinates the event does not involve
            ci_cond[:, cols] = muT + si[:, None] * mz
            if g is not None:
                shift = mi + ci * si[:, None] ** 2 * (mx / g)[:, None]
                ci_cond = np.where(fr, shift, ci_cond)
            cond[idx] = ci_cond
    return logp, cond, all_free, rel_se, mean_all


NEGLIGIBLE = 1e-14  # relative mass of the event outside the box below which it is ignored


def _faces_negligible(
    cc: np.ndarray, uu: np.ndarray, dl: np.ndarray, dh: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """Rows whose event ``w = c^T z > tau`` (``z ~ N(0, I)`` untruncated, ``tau = -uu``)
    has a relative mass below :data:`NEGLIGIBLE` outside the box ``-dl <= z <= dh``.

    Then ``P(event | box) = Phi(uu) (1 - delta) / Z``, ``delta < NEGLIGIBLE``, ``Z``
    the box's mass: a closed form, no quadrature. The bound is Chernoff's, per
    face: with ``rho = c_d`` the correlation of ``w`` and ``z_d``,
    ``P(w > tau, z_d > h) <= e^{-lam h} E[e^{lam z_d}; w > tau]
    = e^{lam^2/2 - lam h} Phi(lam rho - tau)``, at ``lam = h`` (``h > 0``),
    relative to ``P(w > tau) = Phi(-tau)``, summed over the ``2 D`` faces.
    """
    dim = cc.shape[1]
    with np.errstate(all="ignore"):
        lpt = special.log_ndtr(uu)[:, None]
        b_hi = -0.5 * dh * dh + special.log_ndtr(dh * cc + uu[:, None]) - lpt
        b_lo = -0.5 * dl * dl + special.log_ndtr(-dl * cc + uu[:, None]) - lpt
    b_hi = np.where(dh > 0, b_hi, np.inf)
    b_lo = np.where(dl > 0, b_lo, np.inf)
    worst = np.max(np.where(active, np.maximum(b_hi, b_lo), -np.inf), axis=1)
    return worst < math.log(NEGLIGIBLE / (2 * dim))


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate for every ``x`` (Maechler's switch)."""
    with np.errstate(all="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def box_log_probabilities(
    C: np.ndarray,
    b: np.ndarray,
    mu: np.ndarray,
    s: np.ndarray,
    low: float = -0.5,
    high: float = 0.5,
    *,
    jacobian: bool = False,
    nodes: int = NODES,
) -> BoxResult:
    """``log P(c_i^T x > b_i)`` and ``log P(c_i^T x < b_i)``, ``x_d ~ TN(mu_d, s^2, [low, high])``.

    The method is in the module docstring. Only the smaller of ``P`` and
    ``1 - P`` is integrated (the one the flat formula calls the smaller; the
    other one as well where the box moves it past 1/2); the larger follows as
    ``log(1 - exp(log P_small))``, which keeps the relative accuracy because
    ``P_small <= 1/2``. Validation is the caller's (:func:`trilat.predict` and friends).

    Parameters
    ----------
    C : ndarray, shape (N, D)
        Unit rows.
    b : ndarray, shape (N,)
    mu : ndarray, shape (..., D)
        Posterior location (the flat posterior mean, any real values).
    s : ndarray
        Posterior std, ``> 0``, broadcastable against ``mu.shape[:-1]``.
    low, high : float
        The box.
    jacobian : bool
        Also ``d z_i / d mu_d = (E[x_d | event] - E[x_d | complement]) / s^2``
        (the truncated normal is an exponential family in ``mu / s^2``).
    nodes : int
        Gauss-Legendre nodes per panel.

    Returns
    -------
    BoxResult
    """
    from trilat._stable import logit_ndtr

    n_tasks, dim = C.shape
    batch = np.broadcast_shapes(mu.shape[:-1], np.shape(s))
    mu_f = np.broadcast_to(mu, (*batch, dim)).reshape(-1, dim)
    s_f = np.broadcast_to(s, batch).reshape(-1)
    rows = max(1, CHUNK_OUTPUTS // n_tasks)
    parts = [
        _box_rows(C, b, mu_f[i : i + rows], s_f[i : i + rows], low, high, jacobian, nodes)
        for i in range(0, mu_f.shape[0], rows)
    ] or [_box_rows(C, b, mu_f, s_f, low, high, jacobian, nodes)]
    log_p, log_q, jac, rel_se, flat, u = (
        None if part[0] is None else np.concatenate(part) for part in zip(*parts, strict=True)
    )
    return BoxResult(
        log_p.reshape(*batch, n_tasks),
        log_q.reshape(*batch, n_tasks),
        None if jac is None else jac.reshape(*batch, n_tasks, dim),
        rel_se.reshape(*batch, n_tasks),
        flat.reshape(*batch, n_tasks),
        logit_ndtr(u).reshape(*batch, n_tasks),
        special.ndtr(u).reshape(*batch, n_tasks),
    )


def _box_rows(
    C: np.ndarray,
    b: np.ndarray,
    mu_f: np.ndarray,
    s_f: np.ndarray,
    low: float,
    high: float,
    jacobian: bool,
    nodes: int,
) -> tuple[np.ndarray, ...]:
    """:func:`box_log_probabilities` of ``B`` rows ``mu_f (B, D)``, ``s_f (B,)``, flat:
    ``log P``, ``log(1 - P)``, the Jacobian ``(B N, D)`` or ``None``, the QMC relative
    error, the closed-form flags and ``u``, each of ``B N`` outputs."""
    n_tasks = C.shape[0]
    nb = mu_f.shape[0]
    u = ((mu_f @ C.T - b) / s_f[:, None]).reshape(-1)  # (B N,), as the flat oracle computes it
    sm = np.repeat(s_f, n_tasks)
    mu_m = np.repeat(mu_f, n_tasks, axis=0)  # (M, D)
    cm = np.tile(C, (nb, 1))  # (M, D)
    active = cm != 0
    # the side integrated: the smaller under the flat formula (sign -1: the complement)
    sign = np.where(u <= 0, 1.0, -1.0)
    lp, cond, flat, rel_se, mean_all = _one_side(
        sign[:, None] * cm, sign * u, sm, mu_m, active, low, high, nodes, jacobian
    )
    # where the box moved it past 1/2, integrate the other side too and keep that
    redo = np.flatnonzero(lp > -math.log(2.0))
    if redo.size:
        lp2, cond2, flat2, se2, mean2 = _one_side(
            -sign[redo, None] * cm[redo], -sign[redo] * u[redo], sm[redo], mu_m[redo],
            active[redo], low, high, nodes, jacobian,
        )  # fmt: skip
        sign[redo] = -sign[redo]
        lp[redo], flat[redo], rel_se[redo] = lp2, flat2, se2
        if jacobian:
            cond[redo], mean_all[redo] = cond2, mean2
    lother = _log1mexp(lp)
    lother = np.where(flat, special.log_ndtr(-sign * u), lother)  # the flat formula, exactly
    up = sign > 0
    log_p = np.where(up, lp, lother)
    log_q = np.where(up, lother, lp)
    jac = None
    if jacobian:
        # E[x | side] - E[x | other side] = (E[x | side] - E[x]) / (1 - P_side)
        with np.errstate(all="ignore"):
            diff = (cond - mean_all) / (-np.expm1(lp))[:, None]
        jac = sign[:, None] * diff / (sm**2)[:, None]
    return log_p, log_q, jac, rel_se, flat, u
