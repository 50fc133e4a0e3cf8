"""Representation metrics: known answers, scikit-learn references, bad input, and the oracle.

scikit-learn is the independent reference here only; trilat.metrics is numpy/scipy.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from _support.quadrant_reference import least_squares_quadrant_r2
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.linear_model import (
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
)
from sklearn.metrics import balanced_accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import KFold

import trilat
from trilat import metrics
from trilat.metrics import ridge
from trilat.metrics._linear import fit_classifier

# ---------------------------------------------------------------- synthetic codes


def uniform_factors(n: int, dim: int, seed: int) -> np.ndarray:
    """``x*`` from the paper's prior, ``U[-0.5, 0.5]^D``."""
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (n, dim))


def linear_code(x: np.ndarray, width: int, seed: int, encoding: np.ndarray | None = None):
    """``h = A x + a0``: an exactly linear code; ``A`` has orthonormal columns unless given."""
    gen = np.random.default_rng(seed)
    if encoding is None:
        encoding, _ = np.linalg.qr(gen.standard_normal((width, x.shape[1])))
    return x @ encoding.T + gen.standard_normal(encoding.shape[0]), encoding


def fourier_code(x: np.ndarray, width: int, seed: int, cycles: float = 3.0) -> np.ndarray:
    """A non-linear, entangled code: random Fourier features ``cos(w . x + phase)``.

    With ``|w| ~ 2 pi * cycles`` per unit of ``x``, every unit mixes both factors
    and oscillates a few times across the prior: the factors are decodable in
    distribution but the code extends to no unseen region.
    """
    gen = np.random.default_rng(seed)
    w = gen.standard_normal((width, x.shape[1])) * 2 * np.pi * cycles
    return np.cos(x @ w.T + gen.uniform(0, 2 * np.pi, width))


def random_rotation(width: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((width, width)))
    return q * np.sign(np.diag(r))


def penalty_unit(h: np.ndarray) -> float:
    """``tr(H_c^T H_c) / H`` of training latents, ``H`` the units that are not constant: the
    absolute penalty of a relative alpha of 1."""
    live = np.ptp(h, axis=0) > 0
    hc = h[:, live] - h[:, live].mean(axis=0)
    return float(np.sum(hc**2) / np.count_nonzero(live))


def sk_ridge(h: np.ndarray, y: np.ndarray, alpha: float | None):
    """scikit-learn's ridge at the relative penalty ``alpha`` (``None``: ``RidgeCV`` on the
    relative grid, leave-one-out, one penalty per target), fitted on ``(h, y)``."""
    if alpha is None:
        grid = metrics.RIDGE_ALPHAS * penalty_unit(h)
        return RidgeCV(alphas=grid, alpha_per_target=True).fit(h, y)
    return Ridge(alpha=alpha * penalty_unit(h)).fit(h, y)


# ---------------------------------------------------------------- scikit-learn references
#
# Tolerance 1e-8 for the ridge-based references: both sides solve the same
# regularised least-squares problem with backward-stable methods, so they
# differ by ~ cond * eps where cond is the condition number of
# X_c^T X_c + alpha I (trilat switches to the SVD above 1e8). The data below keep
# cond <= 1e7, i.e. differences <= 1e-9 relative; 1e-8 leaves a factor 10.

RIDGE_RTOL = 1e-8


def ridge_cases():
    gen = np.random.default_rng(7)
    x = gen.uniform(-0.5, 0.5, (300, 2))
    mixing = gen.standard_normal((20, 20))
    yield "well_conditioned", gen.standard_normal((300, 20)) @ mixing, x, 1e-3
    yield "large_alpha", gen.standard_normal((300, 20)), x, 10.0
    # a code on a 2-D affine subspace of R^6, like the oracle's distances k = C mu - b
    task = trilat.Task.evenly_spaced(6)
    yield "rank_deficient", x @ task.C.T - 0.1, x, 1e-3
    yield "wide", gen.standard_normal((40, 120)), x[:40], 1e-2


@pytest.mark.parametrize("name, h, y, alpha", list(ridge_cases()), ids=lambda v: str(v)[:16])
@pytest.mark.parametrize("solver", ["svd", "cholesky"])
def test_ridge_matches_sklearn(name, h, y, alpha, solver):
    weight, offset = ridge(h, y, alpha)
    ref = Ridge(alpha=alpha * penalty_unit(h), solver=solver).fit(h, y)
    scale = np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(weight, ref.coef_, rtol=0, atol=RIDGE_RTOL * scale)
    # offsets compared through the predictions, which is what the metrics use
    np.testing.assert_allclose(
        h @ weight.T + offset, ref.predict(h), rtol=0, atol=RIDGE_RTOL * np.max(np.abs(y))
    )


def test_ridge_alpha_zero_is_minimum_norm_least_squares():
    gen = np.random.default_rng(3)
    x = gen.uniform(-0.5, 0.5, (200, 2))
    h = np.hstack([x, x @ gen.standard_normal((2, 4))])  # rank 2 in R^6
    weight, offset = ridge(h, x, 0.0)
    hc = h - h.mean(axis=0)
    expected = np.linalg.pinv(hc) @ (x - x.mean(axis=0))
    np.testing.assert_allclose(weight, expected.T, atol=1e-10)
    np.testing.assert_allclose(h @ weight.T + offset, x, atol=1e-12)


@pytest.mark.parametrize("shape", [(50, 3), (50,)])
def test_r2_per_target_matches_sklearn(shape):
    gen = np.random.default_rng(5)
    scale = np.array([1.0, 10.0, 0.1])[: shape[-1]] if len(shape) == 2 else 1.0
    target = gen.normal(size=shape) * scale
    estimate = target + gen.normal(size=shape) * 0.3  # R^2 from 0.91 to -8 over columns
    got = metrics.r2_per_target(target, estimate)
    ref = r2_score(target, estimate, multioutput="raw_values")
    # both take the same two sums of n = 50 squares, in other orders: each sum's relative
    # rounding error is below n eps = 1.1e-14, so |1 - R^2| = SS_res/SS_tot is within
    # 2.2e-14 of it relatively; 1e-13 leaves a factor 4
    assert np.all(np.abs(got - ref) <= 1e-13 * np.maximum(1.0, np.abs(1 - ref))), (got, ref)


_R2_X = uniform_factors(10, 2, 0)


@pytest.mark.parametrize(
    "targets, predictions, match",
    [
        (np.ones((10, 2)), np.zeros((10, 2)), "targets column 0 is constant"),
        (_R2_X, _R2_X[:, :1], r"predictions must have the shape of targets \(10, 2\)"),
        (_R2_X[:1], _R2_X[:1], "n >= 2"),
        (_R2_X, np.where(_R2_X > 0, np.nan, _R2_X), "predictions must be finite"),
    ],
)
def test_r2_per_target_bad_input(targets, predictions, match):
    with pytest.raises(ValueError, match=match):
        metrics.r2_per_target(targets, predictions)


@pytest.mark.parametrize("cv", [2, 5, 7])
@pytest.mark.parametrize("shuffle", [True, False])
def test_decodability_matches_sklearn_kfold(cv, shuffle):
    x = uniform_factors(203, 3, seed=cv)  # 203 = not a multiple of cv: unequal folds
    h = fourier_code(x, 30, seed=1, cycles=0.7) + 0.05 * np.random.default_rng(2).standard_normal(
        (203, 30)
    )
    res = metrics.decodability(h, x, cv=cv, alpha=1e-2, shuffle=shuffle, rng=11)
    order = np.random.default_rng(11).permutation(203) if shuffle else np.arange(203)
    hs, xs = h[order], x[order]
    ref, per_target = [], []
    for train, test in KFold(n_splits=cv).split(hs):
        model = sk_ridge(hs[train], xs[train], 1e-2)
        ref.append(r2_score(xs[test], model.predict(hs[test]), multioutput="uniform_average"))
        per_target.append(r2_score(xs[test], model.predict(hs[test]), multioutput="raw_values"))
    np.testing.assert_allclose(res.scores, ref, rtol=0, atol=RIDGE_RTOL)
    assert res.score == pytest.approx(np.mean(ref), abs=RIDGE_RTOL)
    np.testing.assert_allclose(res.per_target, np.mean(per_target, axis=0), atol=RIDGE_RTOL)
    full = sk_ridge(h, x, 1e-2)
    scale = np.max(np.abs(full.coef_))
    np.testing.assert_allclose(res.weight, full.coef_, atol=RIDGE_RTOL * scale)
    # offset = mean(x) - W mean(h): each weight's error (<= RIDGE_RTOL scale) enters
    # multiplied by a mean latent, so the offsets agree to RIDGE_RTOL scale sum |mean(h)|
    offset_tol = RIDGE_RTOL * scale * np.sum(np.abs(h.mean(axis=0)))
    np.testing.assert_allclose(res.offset, full.intercept_, rtol=0, atol=offset_tol)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_quadrant_matches_sklearn(dim):
    x = uniform_factors(800, dim, seed=dim)
    h = fourier_code(x, 25, seed=dim, cycles=0.8)
    res = metrics.regression_generalization(h, x, "quadrant", alpha=1e-3, prior_variance=1 / 12)
    signs = x > 0
    ref = []
    for pattern in itertools.product([False, True], repeat=dim):
        test = np.all(signs == np.array(pattern[::-1]), axis=1)  # code bit k = factor k
        model = sk_ridge(h[~test], x[~test], 1e-3)
        mse = mean_squared_error(x[test], model.predict(h[test]))  # averaged over factors
        ref.append(1 - mse / (1 / 12))
    # orthant codes enumerate patterns with factor 0 as the lowest bit
    np.testing.assert_allclose(res.scores, ref, rtol=0, atol=RIDGE_RTOL)
    assert res.median == pytest.approx(np.median(ref), abs=RIDGE_RTOL)
    np.testing.assert_allclose(res.quartiles, np.percentile(ref, [25, 75]), atol=RIDGE_RTOL)
    assert res.scores.shape == (2**dim,)
    np.testing.assert_array_equal(np.abs(res.splits), 1)
    # the all-sample decoder, the one factor_angles reads
    full = sk_ridge(h, x, 1e-3)
    scale = np.max(np.abs(full.coef_))
    np.testing.assert_allclose(res.weight, full.coef_.reshape(dim, -1), atol=RIDGE_RTOL * scale)
    # the intercept is unpenalised: the fit passes through the means, up to the roundings
    # of one dot product of H terms and a sum (~(H + 2) eps times their magnitudes)
    magnitude = np.abs(res.weight) @ np.abs(h.mean(axis=0)) + np.abs(x.mean(axis=0))
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(
        res.weight @ h.mean(axis=0) + res.offset,
        x.mean(axis=0),
        rtol=0,
        atol=(h.shape[1] + 2) * eps * magnitude.max(),
    )


def test_halfspace_matches_sklearn():
    x = uniform_factors(600, 3, seed=5)
    h = fourier_code(x, 25, seed=5, cycles=0.8)
    res = metrics.regression_generalization(h, x, "halfspace", n_splits=7, rng=3)
    assert res.splits.shape == (7, 3)
    np.testing.assert_allclose(np.linalg.norm(res.splits, axis=1), 1.0, atol=1e-15)
    ref, chosen = [], []
    for v in res.splits:
        train = x @ v > 0
        model = sk_ridge(h[train], x[train], None)  # RidgeCV on the training half only
        ref.append(r2_score(x[~train], model.predict(h[~train]), multioutput="uniform_average"))
        chosen.append(model.alpha_ / penalty_unit(h[train]))
    np.testing.assert_allclose(res.fold_alphas, chosen, rtol=1e-12)
    np.testing.assert_allclose(res.scores, ref, rtol=0, atol=RIDGE_RTOL)


def _ccgp_reference(h, x, classify):
    """Bernardi's CCGP with the conditions split, written out with itertools."""
    dim = x.shape[1]
    signs = x > 0
    per_factor = []
    for j in range(dim):
        others = [k for k in range(dim) if k != j]
        folds = []
        for pattern in itertools.product([False, True], repeat=dim - 1):
            test = np.all(signs[:, others] == np.array(pattern), axis=1)
            decision = classify(h[~test], signs[~test, j], h[test])
            folds.append(balanced_accuracy_score(signs[test, j], decision))
        per_factor.append(np.mean(folds))
    return np.array(per_factor)


@pytest.mark.parametrize("dim", [2, 3])
def test_ccgp_least_squares_matches_ridge_classifier(dim):
    x = uniform_factors(900, dim, seed=10 + dim)
    h = fourier_code(x, 30, seed=dim, cycles=0.6)

    def classify(h_train, y_train, h_test):
        model = RidgeClassifier(alpha=1e-3 * penalty_unit(h_train))
        return model.fit(h_train, y_train).predict(h_test)

    res = metrics.ccgp(h, x, classifier="least_squares", alpha=1e-3)
    # balanced accuracies are ratios of counts: identical unless a decision value
    # lies within ~1e-12 of 0, which these continuous data make improbable
    np.testing.assert_allclose(res.scores, _ccgp_reference(h, x, classify), rtol=0, atol=1e-12)
    assert res.chance == 0.5
    assert res.fold_scores.shape == (dim, 2 ** (dim - 1))
    np.testing.assert_array_equal(res.alphas, 1e-3)


def test_ccgp_halfspace_matches_ridge_classifier():
    """Johnston & Fusi's split: for factor j, normals v uniform on the sphere of the other
    factors (v_j = 0), drawn in order from rng; train on x @ v > 0, test on the rest."""
    dim, n_splits = 3, 4
    x = uniform_factors(900, dim, seed=17)
    h = fourier_code(x, 30, seed=5, cycles=0.6)
    res = metrics.ccgp(h, x, split="halfspace", n_splits=n_splits, rng=9)
    gen = np.random.default_rng(9)
    for j in range(dim):
        others = [k for k in range(dim) if k != j]
        for k in range(n_splits):
            v = np.zeros(dim)
            v[others] = gen.standard_normal(dim - 1)
            train = x @ (v / np.linalg.norm(v)) > 0
            # the penalty chosen by leave-one-out on the training half only
            grid = metrics.RIDGE_ALPHAS * penalty_unit(h[train])
            model = RidgeClassifierCV(alphas=grid).fit(h[train], x[train, j] > 0)
            assert res.alphas[j, k] == pytest.approx(model.alpha_ / penalty_unit(h[train]))
            expected = balanced_accuracy_score(x[~train, j] > 0, model.predict(h[~train]))
            # counts of correct decisions: equal unless a decision value is within rounding of 0
            assert res.fold_scores[j, k] == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow
def test_ccgp_logistic_matches_logistic_regression():
    x = uniform_factors(900, 2, seed=21)
    h = fourier_code(x, 12, seed=4, cycles=0.6)

    def classify(h_train, y_train, h_test):
        # on the training latents standardised by their mean and root-mean-square variance
        mean, rms = h_train.mean(axis=0), math.sqrt(penalty_unit(h_train) / len(h_train))
        model = LogisticRegression(C=1.0, tol=1e-12, max_iter=100_000)
        return model.fit((h_train - mean) / rms, y_train).predict((h_test - mean) / rms)

    res = metrics.ccgp(h, x, classifier="logistic", C=1.0)
    np.testing.assert_allclose(res.scores, _ccgp_reference(h, x, classify), rtol=0, atol=1e-12)
    assert np.all(np.isnan(res.alphas))


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_logistic_fit_matches_sklearn(C):
    gen = np.random.default_rng(1)
    h = gen.standard_normal((500, 6)) * 3.0 + 2.0
    y = h @ gen.standard_normal(6) + 0.5 * gen.standard_normal(500) > 0
    w, b, alpha = fit_classifier(h, y, "logistic", alpha=0.0, C=C)
    assert math.isnan(alpha)
    # scikit-learn on the standardised latents h' = (h - mean) / s, s^2 = tr(H_c^T H_c) / (n H)
    mean, s = h.mean(axis=0), math.sqrt(penalty_unit(h) / len(h))
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit((h - mean) / s, y)
    # Both stop at a gradient norm g <~ 1e-10 * |objective|; the objective's
    # Hessian is >= I in w' (the penalty) and >= C sum p(1-p) ~ 10 C in b', so each
    # solution is within g / lambda_min <~ 1e-8 of the optimum: w = w' / s.
    np.testing.assert_allclose(w * s, ref.coef_[0], rtol=0, atol=1e-7)
    assert b + mean @ w == pytest.approx(ref.intercept_[0], abs=1e-7)


@pytest.mark.parametrize("n, width", [(500, 8), (30, 80)])
def test_participation_ratio_matches_pca(n, width):
    gen = np.random.default_rng(n)
    h = gen.standard_normal((n, width)) * np.linspace(0.1, 2.0, width)
    lam = PCA().fit(h).explained_variance_
    assert metrics.participation_ratio(h) == pytest.approx(
        lam.sum() ** 2 / np.sum(lam**2), rel=1e-10
    )


def test_participation_ratio_known_spectrum():
    # columns with exactly orthogonal centred directions of variances 4, 1, 1:
    # PR = 6^2 / 18 = 2
    h = np.zeros((4, 3))
    h[:, 0] = [2, -2, 2, -2]
    h[:, 1] = [1, 1, -1, -1]
    h[:, 2] = [1, -1, -1, 1]
    assert metrics.participation_ratio(h) == pytest.approx(2.0, rel=1e-15)
    assert metrics.participation_ratio(h[:, :1]) == pytest.approx(1.0, rel=1e-15)


def test_parallelism_cosine_matches_sklearn():
    x = uniform_factors(700, 3, seed=8)
    h = fourier_code(x, 20, seed=8, cycles=0.7)
    res = metrics.parallelism(h, x, n_splits=5, rng=1)
    ref, chosen = [], []
    for v in res.normals:
        a = x @ v > 0
        model_a, model_b = sk_ridge(h[a], x[a], None), sk_ridge(h[~a], x[~a], None)
        wa, wb = model_a.coef_, model_b.coef_
        ref.append(np.sum(wa * wb, 1) / np.linalg.norm(wa, axis=1) / np.linalg.norm(wb, axis=1))
        chosen.append([model_a.alpha_ / penalty_unit(h[a]), model_b.alpha_ / penalty_unit(h[~a])])
    np.testing.assert_allclose(res.alphas, chosen, rtol=1e-12)
    np.testing.assert_allclose(res.cosines, ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.cosine, np.mean(ref, axis=0), atol=1e-8)


def _parallelism_score_reference(h, x, j):
    """Bernardi's PS by brute force: every bijection, every pair of coding vectors."""
    dim = x.shape[1]
    signs = x > 0
    conditions = list(itertools.product([False, True], repeat=dim))
    mean = {c: h[np.all(signs == np.array(c), axis=1)].mean(axis=0) for c in conditions}
    negative = [c for c in conditions if not c[j]]
    positive = [c for c in conditions if c[j]]
    best = -np.inf
    for perm in itertools.permutations(positive):
        vectors = [mean[p] - mean[q] for q, p in zip(negative, perm, strict=True)]
        cosines = [
            u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
            for u, v in itertools.combinations(vectors, 2)
        ]
        best = max(best, float(np.mean(cosines)))
    return best


@pytest.mark.parametrize("dim", [2, 3])
def test_parallelism_score_matches_brute_force(dim):
    x = uniform_factors(800, dim, seed=30 + dim)
    h = fourier_code(x, 15, seed=dim, cycles=1.0)
    res = metrics.parallelism(h, x, n_splits=2, rng=0)
    assert res.exhaustive
    for j in range(dim):
        assert res.score[j] == pytest.approx(_parallelism_score_reference(h, x, j), abs=1e-12)


def test_parallelism_score_sampled_pairings_are_a_lower_bound():
    x = uniform_factors(1500, 3, seed=40)
    h = fourier_code(x, 15, seed=3, cycles=1.0)
    full = metrics.parallelism(h, x, n_splits=1, rng=0)
    sampled = metrics.parallelism(h, x, n_splits=1, max_pairings=5, rng=0)
    assert full.exhaustive and not sampled.exhaustive
    assert np.all(sampled.score <= full.score + 1e-15)


def test_factor_angles_match_arccos():
    gen = np.random.default_rng(4)
    w = gen.standard_normal((4, 9))
    res = metrics.factor_angles(w, n_null=0)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    expected = [
        np.degrees(np.arccos(unit[i] @ unit[j])) for i, j in itertools.combinations(range(4), 2)
    ]
    # arccos loses ~eps / sin(theta) relative; these angles are far from 0 and 180
    np.testing.assert_allclose(res.angles, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.pairs, list(itertools.combinations(range(4), 2)))
    assert res.median == pytest.approx(np.median(expected), abs=1e-9)
    assert res.null.shape == (0,) and np.all(np.isnan(res.null_quantiles))


def test_factor_angles_are_accurate_near_parallel():
    w = np.array([[1.0, 0.0, 0.0], [1.0, 1e-9, 0.0]])
    # arccos(cos) would return 0 here (cos rounds to 1); Kahan's formula keeps it
    assert metrics.factor_angles(w, n_null=0).angles[0] == pytest.approx(
        np.degrees(1e-9), rel=1e-12
    )


@pytest.mark.parametrize("width", [3, 20])
def test_factor_angles_null_is_random_directions(width):
    n_null = 20_000
    res = metrics.factor_angles(np.eye(2, width), n_null=n_null, rng=5)
    # cos^2 of the angle between random directions of R^H is Beta(1/2, (H-1)/2):
    # mean 1/H, variance 2(H-1) / (H^2 (H+2)). Tolerance 4.5 standard errors of the
    # mean: false-failure probability 7e-6.
    cos2 = np.cos(np.radians(res.null)) ** 2
    mean, var = stats.beta.stats(0.5, (width - 1) / 2, moments="mv")
    assert abs(cos2.mean() - mean) <= 4.5 * math.sqrt(var / n_null)
    np.testing.assert_allclose(res.angles, 90.0, atol=1e-12)


# ---------------------------------------------------------------- known answers


def factorial(dim: int, levels: int) -> np.ndarray:
    """Every combination of ``levels`` evenly spaced values per factor, in ``(-0.5, 0.5)``."""
    values = (np.arange(levels) + 0.5) / levels - 0.5
    return np.array(list(itertools.product(values, repeat=dim)))


def gapped(x: np.ndarray, gap: float = 0.1) -> np.ndarray:
    """Move every factor away from its split at 0: ``|x|`` from ``[0, 0.5]`` to ``[gap, 0.5]``."""
    return np.sign(x) * (gap + (0.5 - gap) * np.abs(x) / 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("dim, width", [(2, 8), (3, 12)])
def test_linear_disentangled_code_scores_at_the_ceiling(dim, width):
    n = 4000
    x = uniform_factors(n, dim, seed=dim)
    h, encoding = linear_code(x, width, seed=dim)
    # With h = A x + a0 exact, the ridge decoder shrinks by alpha / (n_train lambda),
    # lambda the smallest variance of x* in the training set: >= 1/48 (a half of
    # the square cut along a diagonal), so <= 1e-3 / (2000 / 48) = 2.4e-5. Errors
    # are ~ 2.4e-5 * 0.5, squared ~ 1.4e-10, divided by a test variance >= 1/48:
    # every r^2 is above 1 - 1e-8; 1e-7 leaves a factor 10.
    ceiling = 1 - 1e-7
    assert metrics.decodability(h, x, rng=0).score >= ceiling
    quad = metrics.regression_generalization(h, x, "quadrant")
    assert quad.scores.min() >= ceiling
    assert metrics.regression_generalization(h, x, "halfspace", rng=0).scores.min() >= ceiling
    par = metrics.parallelism(h, x, rng=0)
    assert par.cosines.min() >= 1 - 1e-12
    # Bernardi's coding vectors differ by the sampling error of the other factors'
    # condition means (~0.006 against a coding length of 0.5), so a random sample
    # scores 1 - O(1/n); a factorial design, where every condition holds the same
    # values of the other factors, makes them exactly parallel.
    xf = factorial(dim, 12)
    hf, _ = linear_code(xf, width, seed=dim, encoding=encoding)
    assert metrics.parallelism(hf, xf, rng=0).score.min() >= 1 - 1e-12
    # Orthonormal encoding columns: W = S (S + alpha)^-1 A^T with S = F_c^T F_c, so
    # W W^T = (S (S + alpha)^-1)^2, whose off-diagonal is ~2 alpha S_12 / (n/12)^2
    # ~ 1e-10 rad: the angles are 90 degrees to far better than 1e-6.
    np.testing.assert_allclose(metrics.factor_angles(quad.weight).angles, 90.0, atol=1e-6)
    # Orthonormal A maps the factors' covariance isometrically: same PR.
    assert metrics.participation_ratio(h) == pytest.approx(
        metrics.participation_ratio(x), rel=1e-10
    )
    # CCGP: a boundary estimated from n samples is off by O(n^-1/2) (~0.01 here)
    # in offset and tilt, so continuous factors lose the test samples that close
    # to the split (CCGP ~0.99, not 1, for any classifier). Conditions separated
    # by a margin of 0.1 = 10 such errors, like Bernardi's discrete conditions,
    # are classified without error: exactly 1.
    xg = gapped(x)
    hg, _ = linear_code(xg, width, seed=dim, encoding=encoding)
    for classifier in ["least_squares", "logistic"]:
        for split in ["conditions", "halfspace"]:
            cc = metrics.ccgp(
                hg, xg, split=split, classifier=classifier, C=100.0, n_splits=4, rng=0
            )
            np.testing.assert_array_equal(cc.fold_scores, 1.0)
    assert 0.97 < metrics.ccgp(h, x).mean < 1.0


@pytest.mark.parametrize("angle", [30.0, 60.0, 120.0])
def test_sheared_linear_code_keeps_abstraction_but_not_orthogonality(angle):
    """Non-orthogonal encoding directions: everything linear stays at the ceiling; angles notice."""
    n = 3000
    x = uniform_factors(n, 2, seed=1)
    phi = np.radians(angle)
    frame, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((6, 2)))
    encoding = frame @ np.array([[1.0, np.cos(phi)], [0.0, np.sin(phi)]])  # columns at `angle`
    h, _ = linear_code(x, 6, seed=3, encoding=encoding)
    # r^2 = 1 - O(1e-8) from the ridge shrinkage, as in the test above
    assert metrics.decodability(h, x, rng=0).score >= 1 - 1e-7
    quad = metrics.regression_generalization(h, x)
    assert quad.scores.min() >= 1 - 1e-7
    xf = factorial(2, 20)
    hf, _ = linear_code(xf, 6, seed=3, encoding=encoding)
    assert metrics.parallelism(hf, xf, rng=0).score.min() >= 1 - 1e-12
    xg = gapped(x)
    hg, _ = linear_code(xg, 6, seed=3, encoding=encoding)
    assert metrics.ccgp(hg, xg).mean == 1.0
    # Without the ridge penalty (whose shrinkage is anisotropic for a sheared code,
    # ~ alpha / (n Var sigma_min(A)^2) ~ 3e-5 rad here) the decoder is exactly
    # W = A^+, whose rows are the dual basis of the columns of A: at 180 - angle
    # degrees, to rounding (cond(A) eps ~ 1e-15 rad).
    exact = metrics.regression_generalization(h, x, alpha=0.0)
    assert exact.scores.min() >= 1 - 1e-12
    assert metrics.factor_angles(exact.weight).angles[0] == pytest.approx(180 - angle, abs=1e-9)


def test_random_rotation_of_the_latent_space_changes_no_metric():
    """No metric here is axis-aligned in latent space; all are rotation invariant."""
    x = uniform_factors(1500, 2, seed=6)
    h = fourier_code(x, 16, seed=6, cycles=1.0)
    rotated = h @ random_rotation(16, seed=7).T
    # Each metric is a backward-stable function of rotation-invariant quantities;
    # the two evaluations differ by rounding, ~1e-13. Accuracies are counts and
    # agree exactly unless a decision value sits within rounding of 0.
    tol = 1e-9
    for fn, kwargs in [
        (metrics.decodability, {"rng": 0}),
        (metrics.regression_generalization, {}),
        (metrics.regression_generalization, {"scheme": "halfspace", "rng": 0}),
    ]:
        a, b = fn(h, x, **kwargs), fn(rotated, x, **kwargs)
        np.testing.assert_allclose(a.scores, b.scores, atol=tol)
    for classifier in ["least_squares", "logistic"]:
        a = metrics.ccgp(h, x, classifier=classifier)
        b = metrics.ccgp(rotated, x, classifier=classifier)
        np.testing.assert_allclose(a.fold_scores, b.fold_scores, atol=tol)
    a, b = metrics.parallelism(h, x, rng=0), metrics.parallelism(rotated, x, rng=0)
    np.testing.assert_allclose(a.cosines, b.cosines, atol=tol)
    np.testing.assert_allclose(a.score, b.score, atol=tol)
    wa = metrics.regression_generalization(h, x).weight
    wb = metrics.regression_generalization(rotated, x).weight
    np.testing.assert_allclose(
        metrics.factor_angles(wa).angles, metrics.factor_angles(wb).angles, atol=1e-7
    )
    assert metrics.participation_ratio(h) == pytest.approx(
        metrics.participation_ratio(rotated), rel=1e-10
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nonlinear_entangled_code_fails_generalisation(seed):
    """Random Fourier features: decodable in distribution, abstract nowhere.

    The thresholds are qualitative (a linear code scores 1 on every one). Over
    seeds 0..7 of this construction: decodability >= 0.9999; halfspace median
    r^2 in [-4.6, -0.24], worse than predicting the test half's mean; CCGP in
    [0.47, 0.63]; parallelism score <= 0.51 and decoder cosine <= 0.60. The
    quadrant scheme is the least sensitive (the held-out quadrant borders the
    training set on two sides, where smooth features still interpolate): its
    median ranged over [-1.3, 0.93].
    """
    x = uniform_factors(3000, 2, seed=100 + seed)
    h = fourier_code(x, 150, seed=seed, cycles=3.0)
    assert metrics.decodability(h, x, rng=0).score > 0.999
    assert metrics.regression_generalization(h, x, "halfspace", n_splits=5, rng=0).median < 0.0
    assert metrics.regression_generalization(h, x, "quadrant").median < 0.95
    assert metrics.ccgp(h, x).mean < 0.7
    par = metrics.parallelism(h, x, n_splits=5, rng=0)
    assert par.score.max() < 0.6 and par.cosine.max() < 0.7


# ---------------------------------------------------------------- the oracle (done-when)

N_TRIALS, SIGMA, T = 10_000, 0.2, 20


def oracle_latents(seed: int = 0):
    """Optimal distances k = C mu - b and optimal logits at t = T, with x*."""
    task = trilat.Task.evenly_spaced(6, sigma=SIGMA)
    trials = trilat.simulate(task, N_TRIALS, T, rng=seed)
    mu = trilat.posterior(task, trials.evidence).mean[:, -1]
    logits = trilat.predict_logits(task, mu, T)
    return trilat.distances_from_logits(task, logits, T), logits, trials.x_star


def test_oracle_distances_reach_the_eq7_ceiling_and_are_orthogonal():
    k, _, x = oracle_latents()
    s2 = SIGMA**2 / T
    ceiling = 1 - s2 / (1 / 12)  # eq. 7: 0.976
    expected = least_squares_quadrant_r2(s2)  # 0.97506
    res = metrics.regression_generalization(k, x, "quadrant")
    # Monte Carlo error of one fold: r^2 = 1 - 12 MSE over n_Q ~ n/4 test trials and
    # D = 2 coordinates of nearly Gaussian errors of variance v = 12^-1 (1 - expected),
    # so sd = 12 v / sqrt(n_Q) ~ 5.0e-4 (measured over 60 seeds: 5.3e-4, the
    # excess from fitting the decoder). The median lies within the largest fold
    # deviation; z = 5 per fold bounds the false-failure probability by
    # 4 * P(|Z| > 5) = 2.3e-6.
    v = (1 - expected) / 12
    fold_sd = 12 * v / math.sqrt(N_TRIALS / 4)
    assert abs(res.median - expected) <= 5 * fold_sd
    assert abs(res.median - ceiling) <= abs(ceiling - expected) + 5 * fold_sd
    # Angle between the all-data decoder's rows: W = B_hat C^+, C^+ = (2/N) C^T for
    # evenly spaced lines, so the angle is that between the rows of the 2x2 OLS
    # matrix B_hat; cos ~ (B_12 + B_21) / B_11 with each off-diagonal of sd
    # s B / sqrt(n Var), giving sd(angle) = sqrt(2/n) s / sqrt(Var) rad = 0.126
    # degrees (measured over 60 seeds: 0.128). z = 5: false failure 6e-7.
    angle_sd = math.degrees(math.sqrt(2 / N_TRIALS) * math.sqrt(s2) / math.sqrt(1 / 12))
    angles = metrics.factor_angles(res.weight, rng=0)
    assert abs(angles.angles[0] - 90.0) <= 5 * angle_sd


def test_oracle_logits_fall_below_the_ceiling():
    k, logits, x = oracle_latents()
    s2 = SIGMA**2 / T
    ceiling = 1 - s2 / (1 / 12)
    distances = metrics.regression_generalization(k, x, "quadrant")
    res = metrics.regression_generalization(logits, x, "quadrant")
    fold_sd = 12 * ((1 - least_squares_quadrant_r2(s2)) / 12) / math.sqrt(N_TRIALS / 4)
    # The logit of Phi(u) grows like u^2/2 for |u| >~ 2, and at t = 20 most |u| =
    # |k| / s reach 5..15: no affine map of the logits recovers x*. Every fold
    # falls below the ceiling, and below the distances' score, by far more than
    # the Monte Carlo error (measured gap ~0.06 = 100 fold sd).
    assert res.scores.max() < ceiling - 10 * fold_sd
    assert res.median < distances.median - 10 * fold_sd


# ---------------------------------------------------------------- determinism and records


def test_same_seed_same_numbers_and_generators_accepted():
    x = uniform_factors(800, 3, seed=1)
    h = fourier_code(x, 20, seed=1, cycles=1.0)
    for fn, kwargs in [
        (metrics.decodability, {}),
        (metrics.regression_generalization, {"scheme": "halfspace"}),
        (metrics.ccgp, {"split": "halfspace"}),
        (metrics.parallelism, {}),
    ]:
        a = fn(h, x, rng=5, **kwargs).to_dict()
        b = fn(h, x, rng=np.random.default_rng(5), **kwargs).to_dict()
        assert a == b
        assert fn(h, x, rng=6, **kwargs).to_dict() != a
    # orthants drawn under the cap are a function of the seed
    x5 = uniform_factors(4000, 5, seed=2)
    h5 = fourier_code(x5, 20, seed=2, cycles=0.5)
    one = metrics.regression_generalization(h5, x5, max_folds=6, rng=1)
    assert one.scores.shape == (6,)
    np.testing.assert_array_equal(
        one.splits, metrics.regression_generalization(h5, x5, max_folds=6, rng=1).splits
    )


def test_results_are_frozen_and_json_ready():
    x = uniform_factors(500, 2, seed=3)
    h, _ = linear_code(x, 5, seed=3)
    results = [
        metrics.decodability(h, x, rng=0),
        metrics.regression_generalization(h, x),
        metrics.ccgp(h, x),
        metrics.parallelism(h, x, rng=0),
        metrics.factor_angles(np.eye(2, 5), n_null=10, rng=0),
    ]
    for res in results:
        d = json.loads(json.dumps(res.to_dict()))
        assert set(d) == {f for f in res.__dataclass_fields__}
        with pytest.raises(AttributeError):
            res.scores = None  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        results[1].scores[0] = 0.0
    assert results[1].to_dict()["scheme"] == "quadrant"


def test_ccgp_halfspace_split_is_orthogonal_to_the_factor():
    x = gapped(uniform_factors(1000, 2, seed=9))
    h, _ = linear_code(x, 4, seed=9)
    res = metrics.ccgp(h, x, split="halfspace", n_splits=4, rng=0)
    assert res.fold_scores.shape == (2, 4)
    np.testing.assert_array_equal(res.fold_scores, 1.0)


# ---------------------------------------------------------------- scale-free penalties


def relu_code(n: int, seed: int, dead: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A noisy ReLU layer on ``x*`` (D = 2) with ``dead`` all-zero units and many units that fire
    on few samples: a rank-deficient, nonlinear code like a trained ReLU network's."""
    gen = np.random.default_rng(seed)
    x = gen.uniform(-0.5, 0.5, (n, 2))
    pre = x @ gen.standard_normal((2, 40)) + gen.uniform(-1.0, 0.3, 40)
    h = np.maximum(pre + 0.05 * gen.standard_normal((n, 40)), 0.0)
    return np.hstack([h, np.zeros((n, dead))]), x


def rank_deficient_code(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's kind of code: a noisy 2-D affine code in R^6 (rank 2), plus a dead unit."""
    x = uniform_factors(n, 2, seed)
    task = trilat.Task.evenly_spaced(6)
    mu = x + 0.04 * np.random.default_rng(seed + 1).standard_normal(x.shape)
    return np.hstack([mu @ task.C.T - 0.1, np.zeros((n, 1))]), x


CODES = {"relu_dead_units": relu_code(1200, 0), "rank_deficient": rank_deficient_code(1200, 1)}
TRANSFORMS = {"x1e-4": (1e-4, 0.0), "x1e4": (1e4, 0.0), "+7": (1.0, 7.0)}


def _scores(name, h, x):
    """Every score of one metric (and the penalties it chose), as a dict of arrays."""
    if name == "decodability":
        r = metrics.decodability(h, x, rng=0)
        return {"scores": r.scores, "per_target": r.per_target, "alphas": r.fold_alphas}
    if name.startswith("generalization"):
        scheme = name.split("_")[1]
        r = metrics.regression_generalization(h, x, scheme, n_splits=6, rng=0)
        angles = metrics.factor_angles(r.weight, n_null=0).angles
        return {"scores": r.scores, "alphas": r.fold_alphas, "angles": angles}
    if name.startswith("ccgp"):
        _, split, classifier = name.split("_", 2)
        r = metrics.ccgp(h, x, split=split, classifier=classifier, n_splits=4, rng=0)
        return {"scores": r.fold_scores, "alphas": np.nan_to_num(r.alphas)}
    if name == "parallelism":
        r = metrics.parallelism(h, x, n_splits=6, rng=0)
        return {"cosines": r.cosines, "score": r.score, "alphas": r.alphas}
    return {"pr": np.array([metrics.participation_ratio(h)])}


METRICS = [
    "decodability",
    "generalization_quadrant",
    "generalization_halfspace",
    "ccgp_conditions_least_squares",
    "ccgp_halfspace_least_squares",
    "ccgp_conditions_logistic",
    "parallelism",
    "participation_ratio",
]


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("code", list(CODES))
@pytest.mark.parametrize("name", METRICS)
def test_metrics_do_not_depend_on_the_scale_or_offset_of_the_latents(name, code, transform):
    """Latents c h + d score as h: the penalty is relative to the training latents' scale.

    In exact arithmetic every score is the same; in floating point c h + d
    perturbs each latent by a rounding (~eps |d| / |h_c| relative, ~1e-15
    here), which backward-stable fits pass on amplified by their condition
    number (<= 1e9 at the smallest penalty of the grid). The chosen penalties
    are grid values and come out identical. Before the penalty was relative,
    the same comparison failed by up to 1 (decodability 1.00 against 0.04).
    """
    h, x = CODES[code]
    c, d = TRANSFORMS[transform]
    base, moved = _scores(name, h, x), _scores(name, c * h + d, x)
    for key in base:
        if key == "alphas":
            np.testing.assert_array_equal(moved[key], base[key])
        else:
            np.testing.assert_allclose(moved[key], base[key], rtol=1e-9, atol=0, err_msg=key)


@pytest.mark.parametrize("code", list(CODES))
def test_dead_units_change_nothing(code):
    """Appending all-zero (or constant) units changes neither the penalty nor any prediction."""
    h, x = CODES[code]
    padded = np.hstack([h, np.zeros((len(h), 7)), np.full((len(h), 2), 3.5)])
    a, b = metrics.decodability(h, x, rng=0), metrics.decodability(padded, x, rng=0)
    np.testing.assert_array_equal(b.fold_alphas, a.fold_alphas)
    np.testing.assert_allclose(b.scores, a.scores, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(b.weight[:, h.shape[1] :], 0.0)


def test_constant_latents_decode_the_mean():
    x = uniform_factors(100, 2, seed=3)
    weight, offset = ridge(np.full((100, 4), 2.0), x)
    np.testing.assert_array_equal(weight, 0.0)
    np.testing.assert_allclose(offset, x.mean(axis=0), rtol=1e-15)
    assert metrics.decodability(np.zeros((100, 3)), x, rng=0).score < 0.0


def ridge_cv_cases():
    # the noise-free rank-deficient case of ridge_cases is left out: its leave-one-out
    # errors are all rounding errors (~1e-30), so which penalty "wins" is noise
    for name, h, y, _ in ridge_cases():
        if name != "rank_deficient":
            yield name, h, y
    for name, (h, x) in CODES.items():
        yield name, h, x


@pytest.mark.parametrize("name, h, y", list(ridge_cv_cases()), ids=lambda v: str(v)[:16])
def test_ridge_alpha_matches_ridge_cv(name, h, y):
    """The leave-one-out choice on the relative grid is scikit-learn's RidgeCV on the same grid
    in absolute units (efficient leave-one-out, one penalty per target)."""
    chosen = metrics.ridge_alpha(h, y)
    ref = sk_ridge(h, y, None)
    np.testing.assert_allclose(chosen * penalty_unit(h), ref.alpha_, rtol=1e-12)
    weight, _ = ridge(h, y)
    scale = np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(weight, ref.coef_, rtol=0, atol=RIDGE_RTOL * scale)


def test_ridge_alpha_is_not_at_the_grid_edge_for_noisy_codes():
    """The grid brackets the choice on a code that needs a penalty (a non-trivial test of CV)."""
    h, x = relu_code(600, 4)
    chosen = metrics.ridge_alpha(h + 0.3 * np.random.default_rng(0).standard_normal(h.shape), x)
    assert np.all(chosen > metrics.RIDGE_ALPHAS[0]) and np.all(chosen < metrics.RIDGE_ALPHAS[-1])


@pytest.mark.slow
@pytest.mark.parametrize("shuffle", [True, False])
def test_decodability_default_penalty_is_ridge_cv_on_the_training_folds(shuffle):
    h, x = relu_code(500, 2)
    res = metrics.decodability(h, x, cv=5, shuffle=shuffle, rng=4)
    order = np.random.default_rng(4).permutation(500) if shuffle else np.arange(500)
    hs, xs = h[order], x[order]
    scores, chosen = [], []
    for train, test in KFold(n_splits=5).split(hs):
        model = sk_ridge(hs[train], xs[train], None)  # RidgeCV sees the training folds only
        scores.append(r2_score(xs[test], model.predict(hs[test])))
        chosen.append(model.alpha_ / penalty_unit(hs[train]))
    np.testing.assert_allclose(res.fold_alphas, chosen, rtol=1e-12)
    np.testing.assert_allclose(res.scores, scores, rtol=0, atol=RIDGE_RTOL)
    full = sk_ridge(h, x, None)
    np.testing.assert_allclose(res.alpha, full.alpha_ / penalty_unit(h), rtol=1e-12)


@pytest.mark.slow
def test_quadrant_default_penalty_is_ridge_cv_on_the_training_quadrants():
    h, x = relu_code(800, 5)
    res = metrics.regression_generalization(h, x, "quadrant")
    for k, signs in enumerate(res.splits):
        test = np.all(np.where(x > 0, 1, -1) == signs, axis=1)
        model = sk_ridge(h[~test], x[~test], None)
        np.testing.assert_allclose(res.fold_alphas[k], model.alpha_ / penalty_unit(h[~test]))
        mse = mean_squared_error(x[test], model.predict(h[test]))
        assert res.scores[k] == pytest.approx(1 - 12 * mse, abs=RIDGE_RTOL)


def test_the_held_out_data_never_choose_the_penalty():
    """Replacing a test fold's latents and targets by anything changes that fold's score, never
    the penalty chosen for it; the other folds, which train on it, may choose differently."""
    h, x = relu_code(500, 6)
    res = metrics.decodability(h, x, cv=5, shuffle=False)
    gen = np.random.default_rng(1)
    for k in range(5):
        fold = slice(100 * k, 100 * (k + 1))
        h2, x2 = h.copy(), x.copy()
        h2[fold] = 10.0 * gen.standard_normal((100, h.shape[1]))
        x2[fold] = gen.uniform(-0.5, 0.5, (100, 2))
        other = metrics.decodability(h2, x2, cv=5, shuffle=False)
        np.testing.assert_array_equal(other.fold_alphas[k], res.fold_alphas[k])
        assert other.scores[k] != res.scores[k]
    # quadrants: the held-out quadrant's latents are free to change
    quad = metrics.regression_generalization(h, x)
    for k, signs in enumerate(quad.splits):
        test = np.all(np.where(x > 0, 1, -1) == signs, axis=1)
        h2 = h.copy()
        h2[test] = 5.0 * gen.standard_normal((int(test.sum()), h.shape[1]))
        other = metrics.regression_generalization(h2, x)
        np.testing.assert_array_equal(other.fold_alphas[k], quad.fold_alphas[k])


@pytest.mark.parametrize("alpha", [0.0, 1e-5, 0.3])
def test_a_fixed_penalty_is_used_as_given(alpha):
    h, x = relu_code(400, 7)
    dec = metrics.decodability(h, x, alpha=alpha, rng=0)
    np.testing.assert_array_equal(dec.fold_alphas, alpha)
    np.testing.assert_array_equal(dec.alpha, alpha)
    gen = metrics.regression_generalization(h, x, alpha=alpha)
    np.testing.assert_array_equal(gen.fold_alphas, alpha)
    np.testing.assert_array_equal(metrics.ccgp(h, x, alpha=alpha).alphas, alpha)
    np.testing.assert_array_equal(metrics.parallelism(h, x, alpha=alpha, rng=0).alphas, alpha)
    # and it is scikit-learn's Ridge at alpha tr(H_c^T H_c) / H
    weight, _ = ridge(h, x, alpha)
    ref = Ridge(alpha=alpha * penalty_unit(h), solver="svd").fit(h, x)
    np.testing.assert_allclose(weight, ref.coef_, rtol=0, atol=1e-8 * np.max(np.abs(ref.coef_)))


def test_ridge_takes_one_penalty_per_target():
    h, x = relu_code(300, 8)
    weight, _ = ridge(h, x, [1e-4, 0.1])
    # the same solve, column by column: equal to rounding, relative to the largest weight
    for j, alpha in enumerate([1e-4, 0.1]):
        alone = ridge(h, x[:, j], alpha)[0][0]
        np.testing.assert_allclose(weight[j], alone, rtol=0, atol=1e-12 * np.max(np.abs(alone)))
    with pytest.raises(ValueError, match="alpha must be None, a number >= 0 or 2 of them"):
        ridge(h, x, [1e-4, 0.1, 1.0])


# ---------------------------------------------------------------- bad input

_X = uniform_factors(60, 2, seed=0)
_H = fourier_code(_X, 5, seed=0, cycles=0.5)
_NAN = _H.copy()
_NAN[3, 1] = np.nan
_CONST = _X.copy()
_CONST[:, 1] = 0.25


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: metrics.decodability(_H[:50], _X), "targets has 60 samples"),
        (lambda: metrics.decodability(_NAN, _X), "latents must be finite"),
        (lambda: metrics.decodability(_H, _CONST), "column 1 is constant"),
        (lambda: metrics.decodability(_H[:, None], _X), "Take one time step"),
        (lambda: metrics.decodability(_H, _X, cv=1), "cv must be an integer >= 2"),
        (lambda: metrics.decodability(_H, _X, cv=10), "too few samples per fold"),
        (lambda: metrics.decodability(_H, _X, alpha=-1), "alpha must be"),
        (lambda: metrics.decodability(_H, _X, rng="seed"), "rng must be"),
        (lambda: metrics.regression_generalization(_H, _X, "octant"), "scheme must be one of"),
        (lambda: metrics.regression_generalization(_H, _X[:, :1].ravel()[:59]), "factors has 59"),
        (lambda: metrics.regression_generalization(_H, _CONST), "column 1 is constant"),
        (
            lambda: metrics.regression_generalization(_H, _X, prior_variance=-1.0),
            "prior_variance must be",
        ),
        (
            lambda: metrics.regression_generalization(_H, uniform_factors(60, 3, 1)),
            "D is too large",
        ),
        (
            lambda: metrics.regression_generalization(_H, uniform_factors(60, 8, 1), max_folds=16),
            "D is too large",
        ),
        (
            lambda: metrics.regression_generalization(_H, _X, "halfspace", min_samples=40),
            "too few samples per fold",
        ),
        (lambda: metrics.ccgp(_H, _X[:, 0]), "D >= 2"),
        (lambda: metrics.ccgp(_H, uniform_factors(60, 4, 1)), "too large|too few"),
        (lambda: metrics.ccgp(_H, _X, classifier="svm"), "classifier must be one of"),
        (lambda: metrics.ccgp(_NAN, _X), "latents must be finite"),
        (lambda: metrics.parallelism(_H, _X[:, 0]), "D >= 2"),
        (lambda: metrics.parallelism(_H, uniform_factors(60, 4, 1)), "too large"),
        (
            lambda: metrics.parallelism(
                np.ones((2000, 1)) + uniform_factors(2000, 1, 2), uniform_factors(2000, 7, 1)
            ),
            r"D = 7 is too large.*D <= 6",
        ),
        (lambda: metrics.factor_angles(np.ones((5, 2))), r"pass weight\.T"),
        (lambda: metrics.factor_angles(np.ones((1, 4))), "D >= 2"),
        (lambda: metrics.factor_angles(np.array([[1.0, 0, 0], [0, 0, 0]])), "row 1 is zero"),
        (
            lambda: metrics.factor_angles(np.array([[1.0, np.nan], [0, 1]])),
            "weight must be finite",
        ),
        (lambda: metrics.participation_ratio(np.ones((10, 3))), "constant"),
        (lambda: metrics.participation_ratio(np.ones((1, 3))), "n >= 2"),
    ],
)
def test_bad_input_fails_loudly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_narrow_latents_are_fitted_on_one_blas_thread(monkeypatch):
    """Metrics on latents up to ONE_THREAD_MAX_WIDTH wide cap BLAS at one thread (many small
    fits); wider latents keep the machine's threads."""
    from trilat.metrics import _base

    caps = []
    real = _base.limit_threads
    monkeypatch.setattr(_base, "limit_threads", lambda n: caps.append(n) or real(n))
    gen = np.random.default_rng(0)
    metrics.participation_ratio(gen.standard_normal((20, 3)))
    metrics.participation_ratio(gen.standard_normal((4, _base.ONE_THREAD_MAX_WIDTH + 1)))
    assert caps == [1, None]
