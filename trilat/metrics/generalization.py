"""Out-of-distribution regression generalisation of a linear decoder of the factors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import as_float_array, describe, positive_int
from trilat.metrics._base import (
    MIN_SAMPLES,
    MetricResult,
    check_alpha,
    check_center,
    check_factors,
    check_latents,
    check_min_samples,
    choose_held_out,
    code_signs,
    frozen,
    halfspace_splits,
    orthant_codes,
    positive_sides,
    small_fits_on_one_thread,
)
from trilat.metrics._linear import r2_columns, ridge

__all__ = ["SCHEMES", "Generalization", "regression_generalization"]

SCHEMES = ("quadrant", "halfspace")


@dataclass(frozen=True)
class Generalization(MetricResult):
    """Result of :func:`regression_generalization`.

    Attributes
    ----------
    scores : ndarray, shape (folds,)
        ``r^2`` of each held-out fold.
    median : float
    quartiles : ndarray, shape (2,)
        25th and 75th percentiles of ``scores`` (``numpy.percentile``, linear).
    weight : ndarray, shape (D, H)
        The ridge decoder ``factors ~ weight @ h + offset`` fitted on all samples
        (for :func:`~trilat.metrics.factor_angles`).
    offset : ndarray, shape (D,)
    scheme : str
    splits : ndarray, shape (folds, D)
        ``"quadrant"``: the held-out orthant of each fold, as signs ``+1/-1``
        of ``factors - center``. ``"halfspace"``: the unit normal ``v`` of each
        split; the decoder is fitted on ``(factors - center) @ v > 0`` and
        scored on the rest.
    alpha : ndarray, shape (D,)
        Relative ridge penalty of each factor in ``weight`` (chosen or given).
    fold_alphas : ndarray, shape (folds, D)
        Relative ridge penalty of each factor in each fold's decoder, chosen
        on that fold's training samples only.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(400, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10))  # (n, H)
    >>> result = trilat.regression_generalization(latents, x, "quadrant", rng=0)
    >>> result.scores.shape, result.splits.shape, result.weight.shape  # 4 held-out quadrants
    ((4,), (4, 2), (2, 10))
    """

    scores: np.ndarray
    median: float
    quartiles: np.ndarray
    weight: np.ndarray
    offset: np.ndarray
    scheme: str
    splits: np.ndarray
    alpha: np.ndarray
    fold_alphas: np.ndarray


@small_fits_on_one_thread
def regression_generalization(
    latents: Any,
    factors: Any,
    scheme: str = "quadrant",
    *,
    prior_variance: Any = 1.0 / 12.0,
    alpha: float | None = None,
    n_splits: int = 20,
    max_folds: int = 16,
    center: Any = 0.0,
    min_samples: int = MIN_SAMPLES,
    rng: Any = 0,
) -> Generalization:
    """Out-of-distribution ``r^2`` of a linear decoder of the factors, on held-out regions.

    ``scheme="quadrant"`` (Vafidis, Bhargava & Rangel, ICLR 2025, appendix A.2):
    ``r^2 = 1 - (1/D) sum_j MSE_j / Var_j``, the squared error on a held-out
    orthant divided by the **prior's** variance (1/12 for ``U[-0.5, 0.5]``),
    not the test fold's. For ``D = 2`` each of the four quadrants of factor
    space (split at ``center``) is held out in turn, the decoder fitted on the
    other three; this is the paper's 4-fold out-of-distribution protocol, whose
    score for an optimal code (affine in ``mu(t)``) the paper compares with
    eq. 7, ``1 - s(t)^2 / Var(x*)``, the r^2 of ``mu(t)`` itself (see
    :func:`trilat.decodability_ceiling`). For
    ``D > 2`` the folds are the ``2^D`` orthants; when ``2^D > max_folds``,
    ``max_folds`` orthants are drawn by ``rng`` uniformly without replacement
    among those holding at least ``min_samples`` samples (the same orthants for
    the same seed). A least-squares decoder shrinks toward its training mean
    by ``Sigma (Sigma + s^2 I)^-1``, so even an exactly linear noisy code scores
    slightly under eq. 7 (by ``~ 1e-3`` at the paper's defaults, t = 20).

    ``scheme="halfspace"`` (Johnston & Fusi, Nat. Commun. 2023, regression
    generalisation): ``n_splits`` times, draw a unit normal ``v`` uniform on the
    sphere (by ``rng``), fit the decoder on ``(factors - center) @ v > 0`` and
    score scikit-learn's ``R^2`` (each factor about its own mean in the test
    half, uniform average over factors) on the other half. ``prior_variance``
    is not used. A half has less variance than the prior, so a noisy code
    scores lower here than under eq. 7 (the oracle's distances at t = 20:
    ~0.93 against 0.976).

    The decoder is ridge regression of each factor on the latents,
    ``min ||f_j - H w_j - o_j 1||^2 + alpha_j (tr(H_c^T H_c) / H) ||w_j||^2``,
    intercept unpenalised (scikit-learn's ``Ridge``); the paper trains the
    same linear map to convergence by gradient descent on the MSE. The
    penalty is relative to the scale of the training latents (``H_c`` the
    centred training latents; ``tr(H_c^T H_c) / H`` the mean eigenvalue of
    their Gram matrix over their ``H`` non-constant units), so that latents ``c h + d`` (``c != 0``, ``d`` a
    constant row) score exactly as ``h`` does. With ``alpha=None`` each
    fold's decoder chooses ``alpha_j`` from the log grid ``RIDGE_ALPHAS``
    (``1e-8`` to ``10``) by leave-one-out cross-validation on its training
    regions only (:func:`~trilat.metrics.ridge_alpha`): the held-out region
    never takes part in the choice, which is therefore made in distribution.

    Parameters
    ----------
    latents : array_like, shape (n, H)
    factors : array_like, shape (n, D) or (n,)
        The ground truth ``x*`` (not ``mu(t)``: eq. 7 is about ``x*``).
    scheme : {"quadrant", "halfspace"}
    prior_variance : float or array_like of shape (D,) or None
        ``Var(x*_j)`` of the prior (quadrant only). ``None`` uses the sample
        variance of each factor over all ``n`` samples.
    alpha : float or None
        Relative ridge penalty, ``>= 0``; ``None`` (default) chooses it by
        cross-validation inside each training set.
    n_splits : int
        Random hyperplanes (halfspace).
    max_folds : int
        Cap on held-out orthants (quadrant).
    center : float or array_like of shape (D,)
        Where each factor is split (0 for the paper's prior).
    min_samples : int
        Fewest samples a training or test set may hold.
    rng : int, Generator or None, default 0
        Seed of the hyperplanes (halfspace) or of the orthants drawn under the cap.

    Returns
    -------
    Generalization
        ``scores (folds,)``, ``median``, ``quartiles (2,)``, the all-sample
        decoder ``weight (D, H)`` and ``offset (D,)``, ``scheme``, ``splits (folds, D)``,
        the penalties ``alpha (D,)`` and ``fold_alphas (folds, D)``.

    Raises
    ------
    ValueError
        NaN or infinite input, mismatched ``n``, a constant factor, an unknown
        scheme, a fold with fewer than ``min_samples`` samples, or ``D`` too
        large for the quadrant scheme at this ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(2000, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(2000, 10))  # (n, H)
    >>> result = trilat.regression_generalization(latents, x, "quadrant", rng=0)
    >>> result.scores.shape  # one fold per held-out quadrant
    (4,)
    >>> print(f"{result.median:.2f}")  # a linear code extends to the unseen quadrant
    1.00
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    h = check_latents(latents)
    f = check_factors(factors, h.shape[0])
    dim = f.shape[1]
    alpha = check_alpha(alpha)
    min_samples = check_min_samples(min_samples)
    center = check_center(center, dim)
    if scheme == "quadrant":
        variance = _prior_variance(prior_variance, f)
        max_folds = positive_int(max_folds, "max_folds")
        scores, splits, fold_alphas = _quadrant(
            h, f, variance, alpha, max_folds, center, min_samples, rng
        )
    else:
        n_splits = positive_int(n_splits, "n_splits")
        scores, splits, fold_alphas = _halfspace(h, f, alpha, n_splits, center, min_samples, rng)
    weight, offset, chosen = ridge(h, f, alpha)
    q25, q50, q75 = np.percentile(scores, [25, 50, 75])
    return Generalization(
        scores=frozen(scores),
        median=float(q50),
        quartiles=frozen([q25, q75]),
        weight=frozen(weight),
        offset=frozen(offset),
        scheme=scheme,
        splits=frozen(splits, splits.dtype),
        alpha=frozen(chosen),
        fold_alphas=frozen(fold_alphas),
    )


def _prior_variance(prior_variance: Any, f: np.ndarray) -> np.ndarray:
    dim = f.shape[1]
    if prior_variance is None:
        return f.var(axis=0)
    v = as_float_array(prior_variance, "prior_variance")
    if v.ndim == 0:
        v = np.full(dim, float(v))
    if v.shape != (dim,) or np.any(v <= 0):
        raise ValueError(
            f"prior_variance must be a number > 0 or {dim} of them (one per factor), "
            f"got {describe(v)} {v.tolist() if v.size <= 8 else ''}".rstrip()
        )
    return v


def _quadrant(
    h: np.ndarray,
    f: np.ndarray,
    variance: np.ndarray,
    alpha: float | None,
    max_folds: int,
    center: np.ndarray,
    min_samples: int,
    rng: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dim = f.shape[1]
    codes = orthant_codes(positive_sides(f, center))
    n = len(codes)
    occupied, counts = np.unique(codes, return_counts=True)
    fit_enough = (counts >= min_samples) & (n - counts >= min_samples)
    held_out = choose_held_out(
        occupied[fit_enough], 2**dim, max_folds, rng, what="quadrant scheme"
    )
    scores = np.empty(len(held_out))
    alphas = np.empty((len(held_out), dim))
    for k, code in enumerate(held_out):
        test = codes == code
        weight, offset, alphas[k] = ridge(h[~test], f[~test], alpha)
        mse = np.mean((h[test] @ weight.T + offset - f[test]) ** 2, axis=0)
        scores[k] = 1.0 - float(np.mean(mse / variance))
    return scores, code_signs(held_out, dim), alphas


def _halfspace(
    h: np.ndarray,
    f: np.ndarray,
    alpha: float | None,
    n_splits: int,
    center: np.ndarray,
    min_samples: int,
    rng: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # fit on the positive half of each split, score on the other
    normals, side = halfspace_splits(f, center, n_splits, min_samples, rng, "halfspace scheme")
    scores = np.empty(n_splits)
    alphas = np.empty((n_splits, f.shape[1]))
    for k in range(n_splits):
        train = side[:, k]
        weight, offset, alphas[k] = ridge(h[train], f[train], alpha)
        f_test = f[~train]
        if np.any(np.all(f_test == f_test[0], axis=0)):
            raise ValueError(
                f"a factor is constant on the test half of split {k}; R^2 is undefined there"
            )
        scores[k] = float(np.mean(r2_columns(f_test, h[~train] @ weight.T + offset)))
    return scores, normals, alphas
