"""The linear models behind the metrics, in numpy/scipy: ridge regression and two classifiers.

They solve exactly the problems scikit-learn solves (the tests hold them to
``Ridge``, ``RidgeCV``, ``RidgeClassifierCV`` and ``LogisticRegression``)
without making scikit-learn a dependency.

Every penalty here is **relative** to the scale of the training latents:
``alpha`` stands for the absolute penalty ``alpha * tr(X_c^T X_c) / H``,
``X_c`` the training latents centred and ``H`` the number of their units that
are not constant (dead units count for nothing), so that a fit on ``c X + d`` predicts
exactly what a fit on ``X`` predicts (``c != 0``, ``d`` any constant row). A
penalty fixed in absolute units is not: it vanishes against large latents and
swamps small ones.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import special

CLASSIFIERS = ("least_squares", "logistic")
# The relative ridge penalties cross-validation chooses from, half a decade apart:
# from 1e-8 (least squares, for all practical purposes) to 10 (ten times the mean
# eigenvalue of X_c^T X_c: a decoder shrunk most of the way to the mean).
RIDGE_ALPHAS = 10.0 ** np.arange(-8.0, 1.25, 0.5)
RIDGE_ALPHAS.setflags(write=False)

# Above this condition number of the regularised Gram matrix, refine the solution of
# the normal equations (which lose cond * eps relative digits, 1e-8 at most below it);
# above the second, where refinement converges slowly or not at all, solve by SVD.
_GRAM_MAX_COND = 1e8
_REFINED_MAX_COND = 1e13


def normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre ``x (n, H)`` and divide by its scale: ``(x_mean, x_s, root)``.

    ``x_s = (x - mean) / root`` with ``root^2 = tr(X_c^T X_c) / H_live`` (the
    mean eigenvalue of the centred Gram matrix over the live units), so that
    ``tr(x_s^T x_s) = H_live``; a relative penalty ``alpha`` is the absolute
    penalty ``alpha`` on ``x_s``. ``H_live`` counts the units that are not
    constant on these samples: a dead unit (constant, e.g. a ReLU that never
    fires) carries nothing, its column of ``x_s`` is exactly 0 (not the
    rounding error of its mean) and it changes neither the penalty nor the
    fit. Computed through the largest entry first, so that neither
    ``1e-200`` nor ``1e200`` latents under- or overflow. ``root = 0`` when
    every unit is constant.
    """
    x_mean = x.mean(axis=0)
    dead = np.all(x == x[:1], axis=0)
    xs = x - x_mean
    if dead.any():
        xs[:, dead] = 0.0
    top = float(np.max(np.abs(xs))) if xs.size else 0.0
    if top == 0.0:
        return x_mean, xs, 0.0
    xs /= top
    rel = float(np.sqrt(np.einsum("ij,ij->", xs, xs) / np.count_nonzero(~dead)))
    xs /= rel
    return x_mean, xs, top * rel


def _eigen(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Eigendecomposition of the smaller Gram matrix of ``xs``: ``(lam, vectors, primal)``."""
    n, h = xs.shape
    primal = h <= n
    lam, vec = np.linalg.eigh(xs.T @ xs if primal else xs @ xs.T)
    return lam, vec, primal


def loo_errors(
    xs: np.ndarray, yc: np.ndarray, alphas: np.ndarray, eigen: Any = None
) -> np.ndarray:
    """Mean squared leave-one-out residual of ridge at each penalty, shape ``(G, D)``.

    For ridge with an unpenalised intercept on centred ``xs (n, H)``, ``yc (n, D)``,
    the hat matrix is ``S = 1 1^T / n + Z diag(1 / (lam + alpha)) Z^T`` with
    ``xs^T xs = V diag(lam) V^T``, ``Z = xs V`` (or, when ``H > n``, ``Z = U
    diag(sqrt(lam))`` from ``xs xs^T = U diag(lam) U^T``), and the residual of
    sample ``i`` left out of the fit is exactly ``(y_i - yhat_i) / (1 - S_ii)``
    (the identity behind scikit-learn's ``RidgeCV`` with ``cv=None``; Golub,
    Heath & Wahba 1979). One eigendecomposition serves the whole grid.
    """
    n = xs.shape[0]
    lam, vec, primal = _eigen(xs) if eigen is None else eigen
    lam = np.maximum(lam, 0.0)
    z = xs @ vec if primal else vec * np.sqrt(lam)
    zy = z.T @ yc
    shrink = 1.0 / (lam[:, None] + np.asarray(alphas, dtype=np.float64)[None, :])  # (r, G)
    keep = 1.0 - (1.0 / n + (z * z) @ shrink)  # 1 - S_ii, (n, G)
    out = np.empty((len(alphas), yc.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(yc.shape[1]):
            loo = (yc[:, j : j + 1] - z @ (zy[:, j : j + 1] * shrink)) / keep  # (n, G)
            out[:, j] = np.mean(loo * loo, axis=0)
    return np.where(np.isnan(out), np.inf, out)


def choose_alpha(xs: np.ndarray, yc: np.ndarray, alphas: Any, eigen: Any = None) -> np.ndarray:
    """The relative penalty of each target column with the least leave-one-out error, ``(D,)``.

    ``argmin_g mean_i e_ig^2`` per column over the grid ``alphas`` (the first,
    i.e. smallest, on a tie: scikit-learn's ``RidgeCV(alpha_per_target=True)``);
    ``xs`` normalised and ``yc`` centred on the training data only.
    """
    grid = np.asarray(alphas, dtype=np.float64)
    return grid[np.argmin(loo_errors(xs, yc, grid, eigen), axis=0)]


def _solve(xs: np.ndarray, yc: np.ndarray, alpha: np.ndarray, eigen: Any = None) -> np.ndarray:
    """``W^T (H, D)`` of ridge on centred ``xs``, ``yc`` with absolute penalty ``alpha[j]`` on
    column ``j`` (the columns are independent problems).

    Through the eigendecomposition of the Gram matrix, which loses ``cond * eps``
    relative digits; above a condition number of ``1e8`` (a rank-deficient code
    at a small penalty) each solution is refined against the data themselves,
    ``w += (G + alpha I)^-1 (xs^T (y - xs w) - alpha w)``, twice, which brings
    the error to ``(cond * eps)^2`` per step while ``cond * eps < 1`` (Björck's
    corrected semi-normal equations), at the cost of two products with
    ``xs`` instead of an SVD. Above ``1e13``, and for ``alpha = 0``, the thin SVD.
    """
    n, h = xs.shape
    w = np.empty((h, yc.shape[1]))
    svd = None
    for a in np.unique(alpha):
        cols = alpha == a
        y = yc[:, cols]
        done = False
        if a > 0:
            if eigen is None:
                eigen = _eigen(xs)
            lam, v, primal = eigen
            cond = (lam[-1] + a) / (max(lam[0], 0.0) + a)
            if cond <= _REFINED_MAX_COND:
                vd = v / (lam + a)  # (G + a I)^-1 = vd v^T
                if primal:
                    sol = vd @ (v.T @ (xs.T @ y))
                    for _ in range(2 if cond > _GRAM_MAX_COND else 0):
                        sol = sol + vd @ (v.T @ (xs.T @ (y - xs @ sol) - a * sol))
                    w[:, cols] = sol
                else:
                    dual = vd @ (v.T @ y)  # (xs xs^T + a I)^-1 y
                    for _ in range(2 if cond > _GRAM_MAX_COND else 0):
                        resid = y - xs @ (xs.T @ dual) - a * dual
                        dual = dual + vd @ (v.T @ resid)
                    w[:, cols] = xs.T @ dual
                done = True
        if not done:
            if svd is None:
                svd = np.linalg.svd(xs, full_matrices=False)
            u, s, vt = svd
            if a > 0:
                gain = s / (s**2 + a)
            else:
                keep = s > max(n, h) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
                gain = np.divide(1.0, s, out=np.zeros_like(s), where=keep)
            w[:, cols] = (vt.T * gain) @ (u.T @ y)
    return w


def ridge(
    x: np.ndarray, y: np.ndarray, alpha: Any = None, alphas: Any = RIDGE_ALPHAS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalised intercept and a relative penalty.

    Minimises, per target column ``j``,
    ``||y_j - x w_j - o_j 1||^2 + alpha_j (tr(X_c^T X_c) / H) ||w_j||^2``
    (scikit-learn's ``Ridge(alpha_j * tr(X_c^T X_c) / H)``, ``X_c`` the
    centred ``x``, ``H`` the number of its columns that are not constant). ``alpha=None`` chooses each ``alpha_j`` from ``alphas`` by
    leave-one-out cross-validation on ``(x, y)`` (:func:`choose_alpha`);
    otherwise ``alpha`` (a number or one per column) is used as given. The
    solution is computed on ``x_s = X_c / root`` (:func:`normalise`), where
    the penalty is ``alpha`` itself: ``W^T = (x_s^T x_s + alpha I)^-1 x_s^T y_c / root``
    (or its dual ``x_s^T (x_s x_s^T + alpha I)^-1 y_c / root`` when ``H > n``)
    by an eigendecomposition of the Gram matrix, refined against the data when
    the regularised Gram matrix is worse conditioned than ``1e8`` (see
    ``_solve``), and ``o = mean(y) - W mean(x)``. When it is worse conditioned
    than ``1e13`` (or ``alpha = 0``), the solution comes instead from the thin SVD
    ``x_s = U diag(s) V^T`` as ``V diag(s / (s^2 + alpha)) U^T y_c``, which
    keeps rank-deficient latents (a code on a low-dimensional affine subspace,
    dead units) exact; with ``alpha = 0`` that is the minimum-norm
    least-squares solution, singular values below ``max(n, H) eps s_1``
    dropped. Constant latents give ``W = 0``, ``o = mean(y)``.

    Parameters
    ----------
    x : ndarray, shape (n, H)
    y : ndarray, shape (n, D)
    alpha : None, float or ndarray of shape (D,)
        Relative penalty ``>= 0``; ``None`` to cross-validate.
    alphas : ndarray, shape (G,)
        The relative grid ``alpha=None`` chooses from.

    Returns
    -------
    weight : ndarray, shape (D, H)
    offset : ndarray, shape (D,)
    alpha : ndarray, shape (D,)
        The relative penalty of each column (chosen or given).
    """
    x_mean, xs, root = normalise(x)
    y_mean = y.mean(axis=0)
    dim = y.shape[1]
    if alpha is None:
        chosen = None
    else:
        chosen = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (dim,)).copy()
    if root == 0.0:  # constant latents: every penalty fits the mean
        if chosen is None:
            chosen = np.full(dim, float(np.asarray(alphas)[0]))
        return np.zeros((dim, x.shape[1])), y_mean, chosen
    yc = y - y_mean
    eigen = None
    if chosen is None:
        eigen = _eigen(xs)
        chosen = choose_alpha(xs, yc, alphas, eigen)
    w = _solve(xs, yc, chosen, eigen) / root
    return w.T, y_mean - x_mean @ w, chosen


def r2_columns(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``1 - SS_res / SS_tot`` per column, ``SS_tot`` about the column's own mean, shape ``(D,)``.

    scikit-learn's ``r2_score(..., multioutput="raw_values")``. The caller
    guarantees no column is constant.
    """
    ss_res = np.sum((y - pred) ** 2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return 1.0 - ss_res / ss_tot


def fit_classifier(
    x: np.ndarray, positive: np.ndarray, kind: str, *, alpha: Any, C: float
) -> tuple[np.ndarray, float, float]:
    """A linear classifier of ``positive`` (bool ``(n,)``): returns ``(w (H,), b, alpha)``.

    The decision is ``x @ w + b > 0``. Both are invariant to ``x -> c x + d``
    (``c != 0``): the decision values are the same.

    - ``"least_squares"``: ridge regression of ``y = +1/-1`` on ``x`` with the
      relative penalty ``alpha`` of :func:`ridge` (``None``: chosen by
      leave-one-out on ``(x, y)``, scikit-learn's ``RidgeClassifierCV``);
      returns the penalty used.
    - ``"logistic"``: minimises ``||w'||^2 / 2 + C sum_i log(1 + exp(-y_i (x'_i w' + b')))``,
      intercept unpenalised (scikit-learn's ``LogisticRegression(C=C)``), on
      the standardised latents ``x' = X_c / s``, ``s^2 = tr(X_c^T X_c) / (n H)``, ``H`` the non-constant units
      (the mean variance of a unit), by L-BFGS with the analytic gradient,
      from zero; mapped back as ``w = w' / s``, ``b = b' - mean(x) w``. The
      returned ``alpha`` is NaN (``C`` is the penalty).
    """
    y = np.where(positive, 1.0, -1.0)
    if kind == "least_squares":
        weight, offset, chosen = ridge(x, y[:, None], alpha)
        return weight[0], float(offset[0]), float(chosen[0])
    x_mean, xs, root = normalise(x)
    scale = root / np.sqrt(x.shape[0])
    w, b = _logistic(xs * np.sqrt(x.shape[0]), y, C)
    if scale > 0:
        w = w / scale
    b = b - float(x_mean @ w)
    return w, b, float("nan")


def _logistic(x: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    h = x.shape[1]

    def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = p[:h], p[h]
        margin = -y * (x @ w + b)
        loss = 0.5 * (w @ w) + C * np.sum(np.logaddexp(0.0, margin))
        dz = -C * y * special.expit(margin)
        return float(loss), np.concatenate([w + x.T @ dz, [dz.sum()]])

    from scipy import optimize  # here only: scipy.optimize takes a while to import

    res = optimize.minimize(
        objective,
        np.zeros(h + 1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 15000, "maxcor": 20, "gtol": 1e-10, "ftol": 1e-15},
    )
    if not res.success and np.max(np.abs(res.jac)) > 1e-6 * max(1.0, abs(res.fun)):
        warnings.warn(
            f"logistic classifier did not converge ({res.message}); max |gradient| "
            f"{np.max(np.abs(res.jac)):.3g}. Lower C",
            RuntimeWarning,
            stacklevel=3,
        )
    return res.x[:h], float(res.x[h])


def balanced_accuracy(positive: np.ndarray, decision: np.ndarray) -> float:
    """Mean of the accuracies on the two classes; ``decision > 0`` predicts positive. Chance 0.5."""
    predicted = decision > 0
    return 0.5 * (float(np.mean(predicted[positive])) + float(np.mean(~predicted[~positive])))
