"""The linear models behind the metrics, in numpy/scipy: ridge regression and two classifiers.

They solve exactly the problems scikit-learn solves (the tests hold them to
``Ridge``, ``RidgeClassifier`` and ``LogisticRegression``) without making
scikit-learn a dependency.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

CLASSIFIERS = ("least_squares", "logistic")
# The ridge penalty every metric uses by default, in units of the latents' sum of squares.
RIDGE_ALPHA = 1e-3


# Above this condition number of the regularised Gram matrix, solve by SVD instead:
# the normal equations lose cond * eps relative digits, 1e-8 at most below it.
_GRAM_MAX_COND = 1e8


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalised intercept: ``y ~ x @ weight.T + offset``.

    Minimises ``||y - x W^T - 1 o^T||_F^2 + alpha ||W||_F^2`` (scikit-learn's
    ``Ridge(alpha, fit_intercept=True)``): centre ``x`` and ``y``, solve
    ``W^T = (x_c^T x_c + alpha I)^-1 x_c^T y_c`` (or its dual
    ``x_c^T (x_c x_c^T + alpha I)^-1 y_c`` when ``H > n``) by an eigendecomposition
    of the Gram matrix, and set ``o = mean(y) - W mean(x)``. When the
    regularised Gram matrix is worse conditioned than ``1e8`` (or
    ``alpha = 0``), the solution comes instead from the thin SVD
    ``x_c = U diag(s) V^T`` as ``W^T = V diag(s / (s^2 + alpha)) U^T y_c``,
    which keeps rank-deficient latents (a code on a low-dimensional affine
    subspace) exact; with ``alpha = 0`` that is the minimum-norm least-squares
    solution, singular values below ``max(n, H) eps s_1`` dropped.

    Parameters
    ----------
    x : ndarray, shape (n, H)
    y : ndarray, shape (n, D)
    alpha : float

    Returns
    -------
    weight : ndarray, shape (D, H)
    offset : ndarray, shape (D,)
    """
    x_mean = x.mean(axis=0)
    y_mean = y.mean(axis=0)
    xc = x - x_mean
    yc = y - y_mean
    n, h = xc.shape
    w = None
    if alpha > 0:
        primal = h <= n
        lam, v = np.linalg.eigh(xc.T @ xc if primal else xc @ xc.T)
        if lam[-1] + alpha <= _GRAM_MAX_COND * (max(lam[0], 0.0) + alpha):
            if primal:
                w = (v / (lam + alpha)) @ (v.T @ (xc.T @ yc))
            else:
                w = xc.T @ ((v / (lam + alpha)) @ (v.T @ yc))
    if w is None:
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        if alpha > 0:
            gain = s / (s**2 + alpha)
        else:
            keep = s > max(n, h) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
            gain = np.divide(1.0, s, out=np.zeros_like(s), where=keep)
        w = (vt.T * gain) @ (u.T @ yc)
    return w.T, y_mean - x_mean @ w


def r2_columns(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``1 - SS_res / SS_tot`` per column, ``SS_tot`` about the column's own mean, shape ``(D,)``.

    scikit-learn's ``r2_score(..., multioutput="raw_values")``. The caller
    guarantees no column is constant.
    """
    ss_res = np.sum((y - pred) ** 2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return 1.0 - ss_res / ss_tot


def fit_classifier(
    x: np.ndarray, positive: np.ndarray, kind: str, *, alpha: float, C: float
) -> tuple[np.ndarray, float]:
    """A linear classifier of ``positive`` (bool ``(n,)``): returns ``(w (H,), b)``.

    The decision is ``x @ w + b > 0``.

    - ``"least_squares"``: ridge regression of ``y = +1/-1`` on ``x`` with
      penalty ``alpha`` (scikit-learn's ``RidgeClassifier(alpha)``).
    - ``"logistic"``: minimises ``||w||^2 / 2 + C sum_i log(1 + exp(-y_i (x_i w + b)))``,
      intercept unpenalised (scikit-learn's ``LogisticRegression(C=C)``), by
      L-BFGS with the analytic gradient, from zero.
    """
    y = np.where(positive, 1.0, -1.0)
    if kind == "least_squares":
        weight, offset = ridge(x, y[:, None], alpha)
        return weight[0], float(offset[0])
    return _logistic(x, y, C)


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
            f"{np.max(np.abs(res.jac)):.3g}. Scale the latents or lower C",
            RuntimeWarning,
            stacklevel=3,
        )
    return res.x[:h], float(res.x[h])


def balanced_accuracy(positive: np.ndarray, decision: np.ndarray) -> float:
    """Mean of the accuracies on the two classes; ``decision > 0`` predicts positive. Chance 0.5."""
    predicted = decision > 0
    return 0.5 * (float(np.mean(predicted[positive])) + float(np.mean(~predicted[~positive])))
