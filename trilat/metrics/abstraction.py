"""Abstraction of binary factor dichotomies: CCGP and parallelism (Bernardi et al. 2020)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import as_rng, positive_int, positive_scalar
from trilat.metrics._base import (
    MIN_SAMPLES,
    MetricResult,
    check_alpha,
    check_center,
    check_dichotomy_inputs,
    check_min_samples,
    choose_held_out,
    frozen,
    halfspace_splits,
    orthant_codes,
    positive_sides,
    random_normals,
    require_size,
    small_fits_on_one_thread,
)
from trilat.metrics._linear import (
    CLASSIFIERS,
    balanced_accuracy,
    fit_classifier,
    ridge,
)

__all__ = ["CCGP", "CCGP_SPLITS", "Parallelism", "ccgp", "parallelism"]

CCGP_SPLITS = ("conditions", "halfspace")
# Bernardi's score compares all (2^(D-1))^2 coding vectors pairwise: a table of
# 4^(D-1) squared entries, 8 MB at D = 6.
MAX_PARALLELISM_DIM = 6


@dataclass(frozen=True)
class CCGP(MetricResult):
    """Result of :func:`ccgp`.

    Attributes
    ----------
    scores : ndarray, shape (D,)
        CCGP of each factor's sign: mean over folds of the balanced accuracy.
    mean : float
        Mean over factors.
    chance : float
        0.5 (balanced accuracy of a classifier that ignores the latents).
    fold_scores : ndarray, shape (D, folds)
    split : str
    classifier : str
    alphas : ndarray, shape (D, folds)
        Relative ridge penalty of each fold's ``"least_squares"`` classifier
        (chosen on its training conditions only, or given); NaN for
        ``"logistic"``, whose penalty is ``C``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(400, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(400, 10))  # (n, H)
    >>> result = trilat.ccgp(latents, x, rng=0)  # a CCGP
    >>> result.scores.shape, result.fold_scores.shape[0], result.chance
    ((2,), 2, 0.5)
    """

    scores: np.ndarray
    mean: float
    chance: float
    fold_scores: np.ndarray
    split: str
    classifier: str
    alphas: np.ndarray


@dataclass(frozen=True)
class Parallelism(MetricResult):
    """Result of :func:`parallelism`.

    Attributes
    ----------
    cosine : ndarray, shape (D,)
        Johnston & Fusi: mean over splits of the cosine between factor ``j``'s
        decoder weights fitted on the two halves.
    score : ndarray, shape (D,)
        Bernardi et al.'s parallelism score of factor ``j``'s sign dichotomy.
    cosines : ndarray, shape (n_splits, D)
    normals : ndarray, shape (n_splits, D)
        The unit normal of each split's hyperplane.
    exhaustive : bool
        Whether ``score`` maximised over every pairing of conditions (else over
        ``max_pairings`` of them, a lower bound).
    alphas : ndarray, shape (n_splits, 2, D)
        Relative ridge penalty of factor ``j``'s decoder on the positive
        (``[k, 0, j]``) and the negative (``[k, 1, j]``) half of split ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(400, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(400, 10))  # (n, H)
    >>> result = trilat.parallelism(latents, x, rng=0)  # a Parallelism
    >>> result.cosine.shape, result.score.shape, result.normals.shape[1]
    ((2,), (2,), 2)
    """

    cosine: np.ndarray
    score: np.ndarray
    cosines: np.ndarray
    normals: np.ndarray
    exhaustive: bool
    alphas: np.ndarray


@small_fits_on_one_thread
def ccgp(
    latents: Any,
    factors: Any,
    *,
    n_splits: int = 16,
    split: str = "conditions",
    classifier: str = "least_squares",
    alpha: float | None = None,
    C: float = 1.0,
    center: Any = 0.0,
    min_samples: int = MIN_SAMPLES,
    rng: Any = 0,
) -> CCGP:
    """Cross-condition generalisation performance of each factor's sign (Bernardi et al. 2020).

    For factor ``j`` the dichotomy is ``factors[:, j] > center[j]``. A linear
    classifier is trained on some conditions and tested on conditions it never
    saw, both sides of the dichotomy present in both sets; the score is the
    balanced accuracy ``(acc_+ + acc_-)/2`` on the test set (chance 0.5 at any
    class balance), averaged over folds. CCGP near 1 means the dichotomy is
    coded the same way across the other factors: an abstract variable.

    Splits:

    - ``"conditions"`` (Bernardi et al., Cell 2020, with the conditions the
      ``2^D`` orthants of factor space): a fold holds out one sign pattern
      ``p`` of the other ``D - 1`` factors, i.e. the two conditions
      ``(-, p)`` and ``(+, p)``, and trains on all other conditions. For
      ``D = 2`` this is the Johnston & Fusi (Nat. Commun. 2023) classification
      variant: train the ``x_1``-sign classifier on ``x_2 < 0``, test on
      ``x_2 > 0``, and the reverse. When ``2^(D-1) > n_splits``, ``n_splits``
      patterns are drawn by ``rng`` among those whose held-out conditions hold
      at least ``min_samples`` samples each.
    - ``"halfspace"`` (Johnston & Fusi 2023): ``n_splits`` times, a unit normal
      ``v`` with ``v_j = 0``, uniform on the sphere of the other factors, splits
      factor space through ``center``; train on ``(factors - center) @ v > 0``,
      test on the rest. Needs ``D >= 2``; for ``D = 2``, ``v = +-e_other``.

    Classifiers (both with an unpenalised intercept and a penalty relative to
    the scale of the training latents, so that latents ``c h + d``, any
    ``c != 0`` and constant row ``d``, score exactly as ``h`` does):

    - ``"least_squares"``: ridge regression of ``+1/-1`` labels,
      ``min ||y - H w - b 1||^2 + alpha (tr(H_c^T H_c) / H) ||w||^2`` (``H_c``
      the centred training latents, ``H`` their non-constant units), the sign of its output (scikit-learn's
      ``RidgeClassifier``). Closed form and exactly reproducible. With
      ``alpha=None`` each fold chooses ``alpha`` from the log grid
      ``RIDGE_ALPHAS`` by leave-one-out cross-validation on its training
      conditions only (scikit-learn's ``RidgeClassifierCV``).
    - ``"logistic"``: L2-penalised logistic regression on the standardised
      latents ``h' = (h - mean) / s``, ``s^2 = tr(H_c^T H_c) / (n H)``,
      ``min ||w||^2/2 + C sum log(1 + exp(-y (h' w + b)))`` by L-BFGS
      (scikit-learn's ``LogisticRegression(C=C)`` on ``h'``). Bernardi et al.
      and Johnston & Fusi used a linear SVM; any of these linear classifiers
      separates a linearly separable code, which is what CCGP asks.

    With continuous factors, samples arbitrarily close to the split are
    misclassified by any boundary estimated from finite data, so even an
    exactly linear code scores ``1 - O(n^-1/2)`` (about 0.99 at ``n = 4000``,
    with either classifier); conditions separated by a margin, like Bernardi's
    discrete conditions, reach 1. Noise in the code lowers the ceiling further:
    for ``mu = x* + s eta`` and ``x*_j ~ U[-0.5, 0.5]`` the sign of ``mu_j`` is
    wrong with probability ``int Phi(-|x|/s) dx ~ 2 s phi(0)``, so the oracle's
    distances at ``s = 0.2/sqrt(20)`` score about ``1 - 0.80 s = 0.964``.

    Parameters
    ----------
    latents : array_like, shape (n, H)
    factors : array_like, shape (n, D), D >= 2
    n_splits : int
        Cap on held-out patterns (conditions) or number of hyperplanes (halfspace).
    split : {"conditions", "halfspace"}
    classifier : {"least_squares", "logistic"}
    alpha : float or None
        Relative ridge penalty of ``"least_squares"``, ``>= 0``; ``None``
        (default) chooses it by cross-validation inside each training set.
    C : float
        Inverse penalty of ``"logistic"``, on the standardised latents.
    center : float or array_like of shape (D,)
    min_samples : int
        Fewest samples each class may hold in each training and test set.
    rng : int, Generator or None, default 0

    Returns
    -------
    CCGP
        ``scores (D,)``, ``mean``, ``chance = 0.5``, ``fold_scores (D, folds)``,
        ``alphas (D, folds)``.

    Raises
    ------
    ValueError
        Bad input as everywhere; ``D < 2`` (no other factor to generalise
        across); a class with fewer than ``min_samples`` samples in a fold; ``D``
        too large for the conditions split at this ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(2000, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(2000, 10))  # (n, H)
    >>> result = trilat.ccgp(latents, x, rng=0)
    >>> result.chance, bool(result.mean > 0.95)  # far above chance for a linear code
    (0.5, True)
    """
    if split not in CCGP_SPLITS:
        raise ValueError(f"split must be one of {CCGP_SPLITS}, got {split!r}")
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    h, f = check_dichotomy_inputs(
        latents, factors, "ccgp", "conditions of the other factors to generalise across"
    )
    dim = f.shape[1]
    n_splits = positive_int(n_splits, "n_splits")
    alpha = check_alpha(alpha)
    C = positive_scalar(C, "C")
    min_samples = check_min_samples(min_samples)
    center = check_center(center, dim)
    sides = positive_sides(f, center)
    gen = as_rng(rng)
    fold_scores, fold_alphas = [], []
    for j in range(dim):
        label = sides[:, j]
        scores, alphas = [], []
        for k, test in enumerate(
            _ccgp_folds(f, center, sides, j, split, n_splits, min_samples, gen)
        ):
            for where, mask in (("training", ~test), ("test", test)):
                for name, cls in (("positive", label), ("negative", ~label)):
                    require_size(
                        int(np.count_nonzero(mask & cls)),
                        min_samples,
                        f"ccgp factor {j} fold {k}: the {name} class of the {where} set",
                    )
            w, b, chosen = fit_classifier(h[~test], label[~test], classifier, alpha=alpha, C=C)
            scores.append(balanced_accuracy(label[test], h[test] @ w + b))
            alphas.append(chosen)
        fold_scores.append(scores)
        fold_alphas.append(alphas)
    fold_scores = np.array(fold_scores)
    per_factor = fold_scores.mean(axis=1)
    return CCGP(
        scores=frozen(per_factor),
        mean=float(per_factor.mean()),
        chance=0.5,
        fold_scores=frozen(fold_scores),
        split=split,
        classifier=classifier,
        alphas=frozen(np.array(fold_alphas)),
    )


def _ccgp_folds(
    f: np.ndarray,
    center: np.ndarray,
    sides: np.ndarray,
    j: int,
    split: str,
    n_splits: int,
    min_samples: int,
    gen: np.random.Generator,
) -> list[np.ndarray]:
    """Test masks of factor ``j``'s folds."""
    dim = f.shape[1]
    if split == "halfspace":
        normals = random_normals(dim, n_splits, gen, exclude=j)
        # train on (f - center) @ v > 0, test on the rest, as in regression_generalization
        return list(((f - center) @ normals.T <= 0).T)
    others = [k for k in range(dim) if k != j]
    pattern = orthant_codes(sides, others)
    label = sides[:, j]
    candidates = [
        p
        for p in np.unique(pattern)
        if min(np.count_nonzero((pattern == p) & label), np.count_nonzero((pattern == p) & ~label))
        >= min_samples
    ]
    held_out = choose_held_out(
        np.array(candidates, dtype=np.int64),
        2 ** (dim - 1),
        n_splits,
        gen,
        what=f"ccgp conditions split of factor {j}",
    )
    return [pattern == p for p in held_out]


@small_fits_on_one_thread
def parallelism(
    latents: Any,
    factors: Any,
    *,
    n_splits: int = 20,
    alpha: float | None = None,
    center: Any = 0.0,
    max_pairings: int = 40320,
    min_samples: int = MIN_SAMPLES,
    rng: Any = 0,
) -> Parallelism:
    """Parallelism of the factor codes: decoder cosine (Johnston & Fusi) and score (Bernardi).

    ``cosine`` (Johnston & Fusi, Nat. Commun. 2023): ``n_splits`` times, a
    unit normal ``v`` uniform on the sphere (by ``rng``) splits factor space
    through ``center``; ridge decoders of all factors (as in
    :func:`regression_generalization`) are fitted separately on the two halves,
    ``(factors - center) @ v > 0`` and the rest, and factor ``j``'s cosine is
    ``w_j^A . w_j^B / (|w_j^A| |w_j^B|)`` between the rows of the two weight
    matrices; ``cosine`` is the mean over splits. An abstract (linear) code
    gives 1. The penalty is relative,
    ``alpha_j tr(H_c^T H_c) / H`` on each half's centred latents ``H_c`` (``H``
    their non-constant units), so
    that latents ``c h + d`` (``c != 0``, ``d`` a constant row) give the same
    cosines; with ``alpha=None`` each half's decoder chooses ``alpha_j`` from
    ``RIDGE_ALPHAS`` by leave-one-out cross-validation on that half.

    ``score`` (Bernardi et al., Cell 2020, parallelism score): the conditions
    are the ``2^D`` orthants, each represented by its mean latent. For factor
    ``j``'s sign, pair each negative-side condition with a positive-side one;
    each pair gives a coding vector (positive mean minus negative mean); the
    score of a pairing is the mean cosine over all pairs of coding vectors, and
    the parallelism score is the maximum over pairings. With ``m = 2^(D-1)``
    conditions a side there are ``m!`` pairings: all are tried when
    ``m! <= max_pairings`` (``D <= 4`` by default), else the matched pairing
    (same signs of the other factors) and ``max_pairings - 1`` random ones
    (a lower bound, ``exhaustive=False``). A zero coding vector has cosine 0
    with everything.

    Parameters
    ----------
    latents : array_like, shape (n, H)
    factors : array_like, shape (n, D), D >= 2
    n_splits : int
    alpha : float or None
        Relative ridge penalty of the decoders, ``>= 0``; ``None`` (default)
        chooses it by cross-validation on each half.
    center : float or array_like of shape (D,)
    max_pairings : int
    min_samples : int
        Fewest samples a half or an orthant may hold.
    rng : int, Generator or None, default 0

    Returns
    -------
    Parallelism
        ``cosine (D,)``, ``score (D,)``, ``cosines (n_splits, D)``,
        ``normals (n_splits, D)``, ``exhaustive``, ``alphas (n_splits, 2, D)``.

    Raises
    ------
    ValueError
        Bad input as everywhere; ``D < 2``; ``D > 6`` (the pairings of
        Bernardi's score); a half or an orthant with fewer than ``min_samples``
        samples (``D`` too large for ``n``).

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-0.5, 0.5, size=(2000, 2))  # factors x*, shape (n, D)
    >>> latents = x @ rng.normal(size=(2, 10)) + 0.01 * rng.normal(size=(2000, 10))  # (n, H)
    >>> result = trilat.parallelism(latents, x, rng=0)
    >>> result.cosine.shape, bool(result.cosine.min() > 0.9)  # one cosine per factor
    ((2,), True)
    """
    h, f = check_dichotomy_inputs(
        latents, factors, "parallelism", "one coding vector per condition of the other factors"
    )
    dim = f.shape[1]
    n_splits = positive_int(n_splits, "n_splits")
    alpha = check_alpha(alpha)
    max_pairings = positive_int(max_pairings, "max_pairings")
    min_samples = check_min_samples(min_samples)
    center = check_center(center, dim)
    if dim > MAX_PARALLELISM_DIM or 2**dim * min_samples > len(f):
        raise ValueError(
            f"parallelism: D = {dim} is too large; Bernardi's score needs every one of the "
            f"2^D conditions with min_samples={min_samples} samples (n = {len(f)}) and "
            f"D <= {MAX_PARALLELISM_DIM}"
        )
    gen = as_rng(rng)

    normals, side = halfspace_splits(f, center, n_splits, min_samples, gen, "parallelism")
    cosines = np.empty((n_splits, dim))
    alphas = np.empty((n_splits, 2, dim))
    for k in range(n_splits):
        a = side[:, k]
        w_a, _, alphas[k, 0] = ridge(h[a], f[a], alpha)
        w_b, _, alphas[k, 1] = ridge(h[~a], f[~a], alpha)
        cosines[k] = _row_cosines(w_a, w_b)

    sides = positive_sides(f, center)
    codes = orthant_codes(sides)
    counts = np.bincount(codes, minlength=2**dim)
    if np.any(counts < min_samples):
        empty = int(np.argmin(counts))
        raise ValueError(
            f"parallelism: orthant {empty} of the 2^{dim} conditions holds {counts[empty]} "
            f"samples, fewer than min_samples={min_samples}; D is too large for n={len(codes)}"
        )
    means = np.zeros((2**dim, h.shape[1]))
    np.add.at(means, codes, h)
    means /= counts[:, None]
    scores = np.empty(dim)
    exhaustive = math.factorial(2 ** (dim - 1)) <= max_pairings  # 32! at most
    for j in range(dim):
        scores[j] = _parallelism_score(means, dim, j, max_pairings, exhaustive, gen)
    return Parallelism(
        cosine=frozen(cosines.mean(axis=0)),
        score=frozen(scores),
        cosines=frozen(cosines),
        normals=frozen(normals),
        exhaustive=bool(exhaustive),
        alphas=frozen(alphas),
    )


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _parallelism_score(
    means: np.ndarray,
    dim: int,
    j: int,
    max_pairings: int,
    exhaustive: bool,
    gen: np.random.Generator,
) -> float:
    """Bernardi's parallelism score of factor ``j``'s sign from the orthant means ``(2^D, H)``."""
    codes = np.arange(2**dim)
    negative = codes[((codes >> j) & 1) == 0]  # ordered by the other factors' bits
    positive = negative | (1 << j)  # the matched condition of each negative one
    m = len(negative)
    coding = means[positive][None, :, :] - means[negative][:, None, :]  # [a, b] = B_b - A_a
    coding = coding.reshape(m * m, -1)
    norms = np.linalg.norm(coding, axis=1)
    unit = np.divide(coding, norms[:, None], out=np.zeros_like(coding), where=norms[:, None] > 0)
    cos = unit @ unit.T  # cosine between coding vectors (a, b) and (a', b')
    if exhaustive:
        pairings = np.array(list(itertools.permutations(range(m))), dtype=np.int64)
    else:
        random = np.argsort(gen.random((max_pairings - 1, m)), axis=1)
        pairings = np.vstack([np.arange(m)[None, :], random])
    upper = np.triu_indices(m, k=1)
    best = -np.inf
    for start in range(0, len(pairings), 4096):
        idx = np.arange(m) * m + pairings[start : start + 4096]  # (P, m) rows of `cos`
        pair_cos = cos[idx[:, upper[0]], idx[:, upper[1]]]  # (P, m(m-1)/2)
        best = max(best, float(pair_cos.mean(axis=1).max()))
    return best
