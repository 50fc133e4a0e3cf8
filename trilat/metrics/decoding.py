"""Cross-validated linear decodability of a target from a representation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import as_float_array, as_rng, describe, positive_int
from trilat.metrics._base import (
    MIN_SAMPLES,
    MetricResult,
    check_alpha,
    check_factors,
    check_latents,
    check_min_samples,
    frozen,
    require_size,
    small_fits_on_one_thread,
)
from trilat.metrics._linear import r2_columns
from trilat.metrics._linear import ridge as _ridge

__all__ = ["Decodability", "decodability", "r2_per_target", "ridge", "ridge_alpha"]


@small_fits_on_one_thread
def ridge(latents: Any, targets: Any, alpha: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The ridge decoder every metric fits: ``targets ~ latents @ weight.T + offset``.

    Minimises, per target ``j``,
    ``||y_j - H w_j - o_j 1||^2 + alpha_j (tr(H_c^T H_c) / H) ||w_j||^2`` with
    the intercept unpenalised (scikit-learn's ``Ridge(alpha_j tr(H_c^T H_c) / H)``,
    ``H_c`` the centred latents, ``H`` the number of their units that are
    not constant: dead units count for nothing), solved through an eigendecomposition of the
    Gram matrix or, when that is worse conditioned than ``1e8`` (or
    ``alpha = 0``, the minimum-norm least-squares solution), the thin SVD of
    the centred latents. ``alpha=None`` chooses ``alpha_j`` from
    ``RIDGE_ALPHAS`` by leave-one-out cross-validation on these samples
    (:func:`ridge_alpha`).

    Parameters
    ----------
    latents : array_like, shape (n, H)
    targets : array_like, shape (n, D) or (n,)
    alpha : None, float or array_like of shape (D,)
        Relative penalty ``>= 0``, one for all targets or one each (e.g. a
        result's ``fold_alphas[k]``); ``None`` (default) to cross-validate.

    Returns
    -------
    weight : ndarray, shape (D, H)
    offset : ndarray, shape (D,)

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.metrics import ridge
    >>> rng = np.random.default_rng(0)
    >>> latents, targets = rng.normal(size=(100, 10)), rng.normal(size=(100, 2))
    >>> weight, offset = ridge(latents, targets)  # targets ~ latents @ weight.T + offset
    >>> weight.shape, offset.shape
    ((2, 10), (2,))
    """
    h = check_latents(latents)
    y = check_factors(targets, h.shape[0], "targets")
    if alpha is not None and np.ndim(alpha) > 0:
        a = as_float_array(alpha, "alpha")
        if a.shape != (y.shape[1],) or np.any(a < 0):
            raise ValueError(
                f"alpha must be None, a number >= 0 or {y.shape[1]} of them (one per target "
                f"column), got {describe(a)}"
            )
    else:
        a = check_alpha(alpha)
    weight, offset, _ = _ridge(h, y, a)
    return weight, offset


@small_fits_on_one_thread
def ridge_alpha(latents: Any, targets: Any) -> np.ndarray:
    """The relative ridge penalty of each target chosen by leave-one-out cross-validation.

    ``alpha_j = argmin_{a in RIDGE_ALPHAS} (1/n) sum_i (e_ij(a) / (1 - S_ii(a)))^2``,
    ``e(a)`` the residuals and ``S(a)`` the hat matrix of ridge with the
    absolute penalty ``a tr(H_c^T H_c) / H`` and an unpenalised intercept:
    exactly the leave-one-out error (scikit-learn's ``RidgeCV`` with
    ``cv=None`` and ``alpha_per_target=True`` on the grid ``RIDGE_ALPHAS *
    tr(H_c^T H_c) / H``; the smallest penalty on a tie).

    Parameters
    ----------
    latents : array_like, shape (n, H)
    targets : array_like, shape (n, D) or (n,)

    Returns
    -------
    ndarray, shape (D,)
        Relative penalties, entries of ``RIDGE_ALPHAS``.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.metrics import RIDGE_ALPHAS, ridge_alpha
    >>> rng = np.random.default_rng(0)
    >>> latents, targets = rng.normal(size=(100, 10)), rng.normal(size=(100, 2))
    >>> alpha = ridge_alpha(latents, targets)  # one penalty per target, shape (D,)
    >>> alpha.shape, bool(np.isin(alpha, RIDGE_ALPHAS).all())
    ((2,), True)
    """
    h = check_latents(latents)
    y = check_factors(targets, h.shape[0], "targets")
    return _ridge(h, y, None)[2]


def r2_per_target(targets: Any, predictions: Any) -> np.ndarray:
    """Coefficient of determination of each target: ``R^2_j = 1 - SS_res,j / SS_tot,j``.

    ``SS_res,j = sum_i (y_ij - yhat_ij)^2`` and ``SS_tot,j = sum_i (y_ij - ybar_j)^2``
    about the target's own sample mean ``ybar_j``: scikit-learn's
    ``r2_score(targets, predictions, multioutput="raw_values")``. Its mean over
    ``j`` (``multioutput="uniform_average"``) is the score the metrics report.
    1 for a perfect prediction, 0 for predicting the mean, unbounded below.

    Parameters
    ----------
    targets : array_like, shape (n, D) or (n,)
        True values, ``n >= 2``, no column constant.
    predictions : array_like, the shape of ``targets``

    Returns
    -------
    ndarray, shape (D,)
        ``R^2`` of each column (one entry for 1-D input).

    Raises
    ------
    ValueError
        NaN or infinite input, shapes that differ, fewer than 2 samples or a
        constant target column (``SS_tot = 0``: ``R^2`` is undefined).

    Examples
    --------
    >>> from trilat.metrics import r2_per_target
    >>> r2_per_target([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])  # 1 - 1 / 2
    array([0.5])
    """
    y = as_float_array(targets, "targets")
    pred = as_float_array(predictions, "predictions")
    if y.ndim not in (1, 2) or y.shape[0] < 2:
        raise ValueError(f"targets must have shape (n, D) or (n,) with n >= 2, got {describe(y)}")
    if pred.shape != y.shape:
        raise ValueError(
            f"predictions must have the shape of targets {y.shape}, got {describe(pred)}"
        )
    y = check_factors(y, y.shape[0], "targets", other="predictions")
    return r2_columns(y, pred.reshape(y.shape))


@dataclass(frozen=True)
class Decodability(MetricResult):
    """Result of :func:`decodability`.

    Attributes
    ----------
    score : float
        Mean over folds of the fold's R^2 (uniform average over targets).
    scores : ndarray, shape (cv,)
        R^2 of each fold.
    weight : ndarray, shape (D, H)
        Ridge decoder refitted on all samples: ``target ~ weight @ h + offset``.
    offset : ndarray, shape (D,)
    per_target : ndarray, shape (D,)
        Mean over folds of each target's R^2.
    alpha : ndarray, shape (D,)
        Relative ridge penalty of each target in ``weight`` (chosen or given).
    fold_alphas : ndarray, shape (cv, D)
        Relative ridge penalty of each target in each fold's decoder, chosen
        on that fold's training samples only.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(400, 2))  # targets, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10))  # (n, H)
    >>> result = trilat.decodability(latents, x, cv=5, rng=0)  # a Decodability
    >>> result.scores.shape, result.weight.shape, result.fold_alphas.shape
    ((5,), (2, 10), (5, 2))
    """

    score: float
    scores: np.ndarray
    weight: np.ndarray
    offset: np.ndarray
    per_target: np.ndarray
    alpha: np.ndarray
    fold_alphas: np.ndarray


@small_fits_on_one_thread
def decodability(
    latents: Any,
    targets: Any,
    *,
    cv: int = 5,
    alpha: float | None = None,
    shuffle: bool = True,
    min_samples: int = MIN_SAMPLES,
    rng: Any = 0,
) -> Decodability:
    """Cross-validated ``R^2`` of a ridge decoder of ``targets`` from ``latents``.

    ``R^2 = mean_k (1/D) sum_j [1 - SS_res,kj / SS_tot,kj]`` over ``cv`` folds
    ``k`` and target columns ``j``, each column scored about its own mean in
    the test fold (scikit-learn's ``r2_score(multioutput="uniform_average")``,
    averaged over folds like ``cross_val_score``). The decoder is
    ``target ~ W h + o``, fitted by ridge regression, per target ``j``
    ``min ||y_j - H w_j - o_j 1||^2 + alpha_j (tr(H_c^T H_c) / H) ||w_j||^2``
    with an unpenalised intercept (scikit-learn's ``Ridge``).

    The penalty is relative to the scale of the training latents:
    ``tr(H_c^T H_c) / H`` is the mean eigenvalue of the Gram matrix of the
    centred training latents ``H_c`` over their ``H`` non-constant units
    (dead units count for nothing), so that latents ``c h + d`` (any
    ``c != 0``, any constant row ``d``) score exactly as ``h`` does. With
    ``alpha=None`` each fold's decoder chooses ``alpha_j`` from the log grid
    ``RIDGE_ALPHAS`` (``1e-8`` to ``10``, half a decade apart) by
    leave-one-out cross-validation on that fold's training samples only
    (:func:`ridge_alpha`, scikit-learn's ``RidgeCV``); the test fold never
    takes part in the choice.

    Protocol: the samples are permuted by ``rng`` (``shuffle=True``) or kept in
    order, then cut into ``cv`` contiguous folds whose sizes differ by at most
    one, the first ``n % cv`` folds one larger (scikit-learn's ``KFold``). Each
    fold is scored by a decoder fitted on the other ``cv - 1``. In-distribution
    decodability is what Theorem 3.1 part 2 asserts for ``mu(t)`` (Vafidis,
    Bhargava & Rangel, ICLR 2025); for out-of-distribution generalisation see
    :func:`regression_generalization`.

    Parameters
    ----------
    latents : array_like, shape (n, H)
        One time step of the representation.
    targets : array_like, shape (n, D) or (n,)
        What to decode (``x*``, ``mu(t)``, ...).
    cv : int
        Number of folds, ``>= 2``.
    alpha : float or None
        Relative ridge penalty, ``>= 0``; ``None`` (default) chooses it by
        cross-validation inside each training set.
    shuffle : bool
        Permute the samples by ``rng`` before cutting folds.
    min_samples : int
        Fewest samples a test fold may hold.
    rng : int, Generator or None, default 0
        Seed of the permutation (an int gives the same folds every call).

    Returns
    -------
    Decodability
        ``score``, ``scores (cv,)``, ``weight (D, H)`` and ``offset (D,)``
        refitted on all samples, ``per_target (D,)``, the penalties ``alpha
        (D,)`` and ``fold_alphas (cv, D)``.

    Raises
    ------
    ValueError
        NaN or infinite input, mismatched ``n``, a constant target, ``cv < 2``,
        a fold with fewer than ``min_samples`` samples or a target constant
        within a test fold.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(2000, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(2000, 10))  # (n, H)
    >>> result = trilat.decodability(latents, x, rng=0)
    >>> print(f"{result.score:.2f}")  # a linear code of x*, hence decodable
    1.00
    """
    h = check_latents(latents)
    y = check_factors(targets, h.shape[0], "targets")
    cv = positive_int(cv, "cv", minimum=2)
    alpha = check_alpha(alpha)
    min_samples = check_min_samples(min_samples)
    n = h.shape[0]
    order = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    folds = np.array_split(order, cv)
    require_size(len(folds[-1]), min_samples, f"the smallest of cv={cv} folds of n={n}")
    per_fold = np.empty((cv, y.shape[1]))
    fold_alphas = np.empty((cv, y.shape[1]))
    for k, test in enumerate(folds):
        train = np.ones(n, dtype=bool)
        train[test] = False
        weight, offset, fold_alphas[k] = _ridge(h[train], y[train], alpha)
        y_test = y[test]
        flat = np.flatnonzero(np.all(y_test == y_test[0], axis=0))
        if flat.size:
            raise ValueError(
                f"targets column {int(flat[0])} is constant within test fold {k} "
                f"({len(test)} samples); R^2 is undefined there (use fewer folds or shuffle)"
            )
        per_fold[k] = r2_columns(y_test, h[test] @ weight.T + offset)
    weight, offset, chosen = _ridge(h, y, alpha)
    scores = per_fold.mean(axis=1)
    return Decodability(
        score=float(scores.mean()),
        scores=frozen(scores),
        weight=frozen(weight),
        offset=frozen(offset),
        per_target=frozen(per_fold.mean(axis=0)),
        alpha=frozen(chosen),
        fold_alphas=frozen(fold_alphas),
    )
