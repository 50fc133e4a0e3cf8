"""Geometry of a representation: angles between factor directions, participation ratio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import as_float_array, as_rng, describe, positive_int
from trilat.metrics._base import MetricResult, check_latents, frozen, small_fits_on_one_thread

__all__ = ["FactorAngles", "factor_angles", "participation_ratio"]


@dataclass(frozen=True)
class FactorAngles(MetricResult):
    """Result of :func:`factor_angles`.

    Attributes
    ----------
    angles : ndarray, shape (pairs,)
        Angle in degrees, in ``[0, 180]``, between the directions of factors
        ``pairs[k, 0]`` and ``pairs[k, 1]``.
    pairs : ndarray, shape (pairs, 2)
        Factor indices ``i < j``, in lexicographic order.
    null : ndarray, shape (n_null,)
        Angles between independent standard Gaussian vectors of ``R^H``.
    median : float
        Median of ``angles``.
    null_quantiles : ndarray, shape (3,)
        2.5th, 50th and 97.5th percentiles of ``null`` (NaN when ``n_null = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> weight = np.eye(3, 10)  # a decoder reading 3 factors from 3 different units, (D, H)
    >>> result = trilat.factor_angles(weight, n_null=100, rng=0)  # a FactorAngles
    >>> result.pairs  # the factor pairs i < j
    array([[0, 1],
           [0, 2],
           [1, 2]])
    >>> result.angles, float(result.median), result.null.shape
    (array([90., 90., 90.]), 90.0, (100,))
    """

    angles: np.ndarray
    pairs: np.ndarray
    null: np.ndarray
    median: float
    null_quantiles: np.ndarray


def _angles(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between the rows of ``u`` and ``v`` in degrees, ``2 atan2(|u^ - v^|, |u^ + v^|)``.

    Kahan's formula is accurate to a few ulps at every angle, where
    ``arccos`` of a cosine loses half the digits near 0 and 180 degrees.
    """
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(
        2.0 * np.arctan2(np.linalg.norm(u - v, axis=-1), np.linalg.norm(u + v, axis=-1))
    )


def factor_angles(weight: Any, *, n_null: int = 1000, rng: Any = 0) -> FactorAngles:
    """Pairwise angles, in degrees, between the factor directions of a linear decoder.

    A decoder ``x ~ W h + o`` with ``W`` of shape ``(D, H)`` (as returned by
    :func:`decodability` and :func:`regression_generalization`, scikit-learn's
    ``coef_``, or ``torch.nn.Linear(H, D).weight``) reads factor ``j`` along
    row ``W[j]``, a direction in the latent space ``R^H``. The angle between
    factors ``i`` and ``j`` is ``arccos(W[i] . W[j] / (|W[i]| |W[j]|))``: the
    angle between the readout vectors of ``x_i`` and ``x_j`` in latent space,
    which is how Vafidis, Bhargava & Rangel (ICLR 2025) measure the
    orthogonality of Theorem 3.1 part 3. A matrix stored the other way round,
    ``(H, D)`` for ``h @ W``, is passed as ``W.T``. For an exactly linear code
    ``h = A x + a0`` the least-squares decoder is ``W = A^+``, whose rows are
    orthogonal exactly when the encoding directions (the columns of ``A``; the
    columns of ``C`` for the optimal distances ``k = C mu - b``) are.

    The null distribution is the angle between two independent standard
    Gaussian vectors of ``R^H``, i.e. between uniformly random directions,
    which concentrate around 90 degrees with spread ``~ 57.3 / sqrt(H)``
    degrees: 90 degrees means something only against that spread.

    Parameters
    ----------
    weight : array_like, shape (D, H)
        ``2 <= D <= H``; no zero row.
    n_null : int
        Number of random pairs for the null (0 for none).
    rng : int, Generator or None, default 0
        Seed of the null.

    Returns
    -------
    FactorAngles
        ``angles (pairs,)``, ``pairs (pairs, 2)``, ``null (n_null,)``,
        ``median``, ``null_quantiles (3,)``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> weight = np.eye(2, 10)  # a decoder reading x_1 and x_2 from two different units
    >>> result = trilat.factor_angles(weight, rng=0)
    >>> result.angles, result.null.shape  # 90 degrees; the null: random directions in R^10
    (array([90.]), (1000,))
    """
    w = as_float_array(weight, "weight", ndim=2)
    dim, width = w.shape
    if dim < 2:
        raise ValueError(f"weight must have shape (D, H) with D >= 2 factors, got {describe(w)}")
    if dim > width:
        raise ValueError(
            f"weight must have shape (D, H) with D <= H (one row per factor), got {describe(w)}; "
            f"if your decoder is stored as (H, D), pass weight.T"
        )
    zero = np.flatnonzero(~np.any(w, axis=1))
    if zero.size:
        raise ValueError(
            f"weight row {int(zero[0])} is zero: factor {int(zero[0])} has no direction"
        )
    n_null = positive_int(n_null, "n_null", minimum=0)
    i, j = np.triu_indices(dim, k=1)
    angles = _angles(w[i], w[j])
    pairs = np.column_stack([i, j]).astype(np.int64)
    draws = as_rng(rng).standard_normal((n_null, 2, width))
    null = _angles(draws[:, 0], draws[:, 1]) if n_null else np.empty(0)
    quantiles = np.percentile(null, [2.5, 50, 97.5]) if n_null else np.full(3, np.nan)
    return FactorAngles(
        angles=frozen(angles),
        pairs=frozen(pairs, np.int64),
        null=frozen(null),
        median=float(np.median(angles)),
        null_quantiles=frozen(quantiles),
    )


@small_fits_on_one_thread
def participation_ratio(latents: Any) -> float:
    """Participation ratio ``(sum_i lambda_i)^2 / sum_i lambda_i^2`` of the latents' covariance.

    ``lambda_i`` are the eigenvalues of the sample covariance of ``latents``
    (the normalisation cancels). Computed without an eigendecomposition as
    ``tr(G)^2 / ||G||_F^2`` with ``G`` the smaller Gram matrix of the centred
    data (``X^T X`` or ``X X^T``, which share their non-zero eigenvalues). It
    ranges from 1 (one direction) to ``min(n - 1, H)`` (isotropic); Gao et al.
    (2017) and Johnston & Fusi (2023) use it as the dimensionality of a
    representation.

    Parameters
    ----------
    latents : array_like, shape (n, H)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        NaN or infinite input, fewer than 2 samples, or constant latents.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> x = np.random.default_rng(0).uniform(-0.5, 0.5, size=(2000, 2))
    >>> print(f"{trilat.participation_ratio(x @ np.eye(2, 10)):.1f}")  # two equal directions
    2.0
    """
    x = check_latents(latents)
    xc = x - x.mean(axis=0)
    # PR is scale-free: divide by the largest |entry| first, so that latents of
    # scale 1e-200 (or 1e200) neither underflow to a zero Gram matrix nor overflow
    # (constant up to the rounding of the mean, relative to the latents' own scale)
    peak = np.max(np.abs(xc))
    if peak <= 4 * x.shape[0] * np.finfo(np.float64).eps * np.max(np.abs(x)):
        raise ValueError(
            f"latents are constant (shape {x.shape}); the participation ratio is undefined"
        )
    xc = xc / peak
    gram = xc.T @ xc if x.shape[1] <= x.shape[0] else xc @ xc.T
    total = np.trace(gram)
    return float(total**2 / np.sum(gram**2))
