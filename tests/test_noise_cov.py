"""Anisotropic and correlated noise, ``Task(..., noise_cov=Sigma)`` (issue 16 item 5).

The flat posterior is ``N(mu(t), Sigma / t)``: output ``i`` is
``Phi(k_i / s_i(t))`` with ``s_i(t) = sqrt(c_i^T Sigma c_i / t)``, and
``C^+ (k + b)`` recovers ``mu`` exactly. Checked here against mpmath at 50
digits (the scale computed in mpmath from the exact doubles of ``Sigma``),
with rounding bounds derived below, not tuned; ``simulate``'s noise
covariance is checked by a likelihood-ratio test with a stated failure
probability; everything that assumes ``sigma^2 I`` must refuse ``Sigma``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from _support import mp_reference as ref
from _support import theorem_bounds as tb
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import trilat
import trilat.kernels
from trilat import Gaussian, Task, Uniform
from trilat import testing as tt

EPS = float(np.finfo(np.float64).eps)
C_STABLE = tb.C_STABLE
COV = np.array([[0.04, 0.018], [0.018, 0.09]])  # correlation 0.3, stds 0.2 and 0.3


def correlated_task(n_tasks: int = 6) -> Task:
    base = Task.evenly_spaced(n_tasks)
    return Task(base.C, base.b, noise_cov=COV)


# --------------------------------------------------------------------------- Task


def test_isotropic_task_is_what_it_was():
    task = Task.evenly_spaced(3, sigma=0.2)
    assert task.isotropic and task.sigma == 0.2
    assert np.array_equal(task.noise_scales, np.full(3, 0.2))
    assert np.array_equal(task.noise_cov, 0.2**2 * np.eye(2))
    assert np.array_equal(task.noise_cholesky, 0.2 * np.eye(2))
    assert "noise_cov" not in task.to_dict()  # the JSON description is unchanged
    task.require_isotropic("anything")  # no error


def test_noise_cov_task_describes_and_round_trips():
    task = correlated_task(3)
    assert not task.isotropic
    assert np.array_equal(task.noise_cov, COV) and not task.noise_cov.flags.writeable
    L = task.noise_cholesky
    assert np.allclose(L @ L.T, COV, rtol=0, atol=4 * EPS) and np.all(np.triu(L, 1) == 0)
    again = Task.from_dict(task.to_dict())
    assert again == task and again != Task(task.C, task.b, 0.2)
    assert "noise_cov=" in repr(task)
    with pytest.raises(ValueError, match=r"Task\.sigma assumes isotropic noise"):
        task.sigma  # noqa: B018


@pytest.mark.parametrize(
    "cov, message",
    [
        (np.eye(3), r"noise_cov must have shape \(2, 2\)"),
        (np.ones(2), r"noise_cov must be 2-D"),
        (np.array([[1.0, 0.5], [0.4, 1.0]]), r"noise_cov must be symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), r"noise_cov must be positive definite.*-1"),
        (np.array([[1.0, 1.0], [1.0, 1.0]]), r"noise_cov must be positive definite"),
        (np.zeros((2, 2)), r"noise_cov must be positive definite"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), r"noise_cov must be finite"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), r"noise_cov must be finite"),
        (np.array([["a", "b"], ["c", "d"]]), r"noise_cov must be an array of real numbers"),
    ],
)
def test_bad_noise_cov_is_refused_naming_it(cov, message):
    with pytest.raises(ValueError, match=message):
        Task(np.eye(2), np.zeros(2), noise_cov=cov)


def test_sigma_and_noise_cov_are_exclusive_and_one_is_required():
    with pytest.raises(ValueError, match="give sigma or noise_cov, not both"):
        Task(np.eye(2), np.zeros(2), 0.2, noise_cov=COV)
    with pytest.raises(ValueError, match=r"give sigma .* or noise_cov"):
        Task(np.eye(2), np.zeros(2))


def test_asymmetry_of_a_few_ulps_is_accepted_and_symmetrised():
    cov = COV.copy()
    cov[0, 1] = np.nextafter(cov[0, 1], 1.0)  # one ulp: a covariance assembled in floats
    task = Task(np.eye(2), np.zeros(2), noise_cov=cov)
    assert np.array_equal(task.noise_cov, task.noise_cov.T)
    assert task.noise_cov[0, 1] in (COV[0, 1], cov[0, 1])


@given(tt.noise_covariances(st.integers(1, 4), max_condition=100.0))
def test_the_strategy_draws_spd_covariances_within_the_condition_bound(cov):
    assert np.array_equal(cov, cov.T)
    lam = np.linalg.eigvalsh(cov)
    # the bound holds for the exact eigenvalues; the computed ones are within D eps lam_max
    slack = 4 * cov.shape[0] * EPS * lam[-1]
    assert lam[0] > 0 and lam[-1] - slack <= 100.0 * (lam[0] + slack)
    Task(np.eye(cov.shape[0]), np.zeros(cov.shape[0]), noise_cov=cov)  # accepted


@given(tt.noise_covariances(3, diagonal=True, max_condition=10.0))
def test_the_strategy_draws_diagonal_covariances_on_request(cov):
    assert np.array_equal(cov, np.diag(np.diag(cov)))


def _scale_rel_bound(task: Task) -> float:
    """Relative error bound of ``Task.noise_scales``, ``||fl(c^T L)||`` with ``L = chol(Sigma)``.

    Cholesky is backward stable: ``L L^T = Sigma + E``, ``|E| <= g |L||L^T|``,
    ``g = gamma_{D+1} = (D+1) eps / (1 - (D+1) eps)`` (Higham, Thm 10.3). So
    ``||L^T c||^2 = c^T Sigma c + c^T E c`` with ``|c^T E c| <= g ||L||_F^2 =
    g tr(Sigma + E)`` for a unit ``c``, relative to ``c^T Sigma c >= lam_min``:
    the scale moves by ``g tr/lam_min / 2`` relative. The product ``c^T L``
    errs by ``gamma_D |c|^T |L|`` (``<= gamma_D sqrt(tr)`` in norm, relative
    ``gamma_D sqrt(tr/lam_min)``) and the norm by ``(D + 1) eps``.
    """
    d = task.dim
    lam = np.linalg.eigvalsh(task.noise_cov)
    ratio = 1.01 * np.trace(task.noise_cov) / lam[0]  # 1.01: eigvalsh's own error
    g = (d + 1) * EPS / (1 - (d + 1) * EPS)
    return 0.5 * g * ratio * 1.01 + d * EPS * 1.01 * np.sqrt(ratio) + (d + 1) * EPS


def _mp_scaled_distances(task: Task, mu: np.ndarray, t: float) -> list[mp.mpf]:
    """``u_i = (c_i^T mu - b_i) / sqrt(c_i^T Sigma c_i / t)`` in mpmath, from the exact doubles."""
    cov = [[ref.mpf(v) for v in row] for row in task.noise_cov]
    out = []
    for c, b in zip(task.C, task.b, strict=True):
        cm = [ref.mpf(v) for v in c]
        quad = mp.fsum(cm[j] * cov[j][k] * cm[k] for j in range(task.dim) for k in range(task.dim))
        y = mp.fsum(cm[j] * ref.mpf(mu[j]) for j in range(task.dim)) - ref.mpf(b)
        out.append(y / mp.sqrt(quad / ref.mpf(t)))
    return out


@given(tt.cases(noise_cov=True, max_condition=100.0))
def test_noise_scales_match_mpmath(case):
    task, _, _ = case
    rel = _scale_rel_bound(task)
    for c, got in zip(task.C, task.noise_scales, strict=True):
        exact = mp.sqrt(mp.fsum(ref.mpf(a) * ref.mpf(s) * ref.mpf(b)
                                for a, row in zip(c, task.noise_cov, strict=True)
                                for s, b in zip(row, c, strict=True)))  # fmt: skip
        assert float(abs(ref.mpf(got) - exact) / exact) <= rel


@given(tt.cases(noise_cov=True, max_condition=100.0))
def test_predict_and_its_logits_match_mpmath_of_the_closed_form(case):
    """``predict_logits`` against ``log Phi(u) - log Phi(-u)`` at the exact ``u`` of mpmath.

    The float ``u`` differs from the exact one by ``du <= (D + 1) eps/2 a_i / s_i``
    (the dot product ``c_i^T mu - b_i``, ``a_i = |c_i|^T |mu| + |b_i|``; plus
    ``(D + 1)`` half subnormal units over ``s_i`` where its products underflow) plus
    ``|u| (rel + 2 eps)`` (the scale's error, :func:`_scale_rel_bound`, and the
    roundings of ``sqrt t``, ``/ sqrt t`` and ``/ s``); the logit then moves by
    ``L'(u) du`` and adds its own ``C_STABLE eps (|z| + |u L'(u)|)``. The same
    for the probability with ``phi(u)`` for ``L'(u)``.
    """
    task, mu, t = case
    z = trilat.predict_logits(task, mu, t)
    p = trilat.predict(task, mu, t)
    rel = _scale_rel_bound(task)
    s = task.noise_scales / np.sqrt(t)
    a = np.abs(task.C) @ np.abs(mu) + np.abs(task.b)
    for i, u in enumerate(_mp_scaled_distances(task, mu, t)):
        du = EPS * (0.5 * (task.dim + 1) * a[i] / s[i]) + float(abs(u)) * (rel + 2 * EPS)
        # products c_d mu_d that underflow lose up to half a subnormal unit each, absolute,
        # and the division by s_i scales that up (found at s_i = 1/16, u ~ 1e-320)
        du += 0.5 * (task.dim + 1) * tb.SUBNORMAL / s[i]
        du *= 1.01
        # near 0 the two logs cancel to ~ 4 phi(0) u: carry the digits that cancel
        with mp.extradps(max(0, int(-mp.log10(abs(u)))) + 5 if u != 0 else 0):
            lz = mp.log(mp.ncdf(u)) - mp.log(mp.ncdf(-u))
        slope = mp.npdf(u) / (mp.ncdf(u) * mp.ncdf(-u))
        bound = float(slope) * du + C_STABLE * EPS * float(abs(lz) + abs(u * slope))
        assert float(abs(ref.mpf(z[i]) - lz)) <= bound + tb.UNDERFLOW_UNITS * tb.SUBNORMAL, (i, u)
        prob = mp.ncdf(u)
        bound_p = float(mp.npdf(u)) * du + C_STABLE * EPS * float(prob + abs(u) * mp.npdf(u))
        assert float(abs(ref.mpf(p[i]) - prob)) <= bound_p + float(np.finfo(float).tiny), (i, u)


T_POW4 = np.array([1.0, 4.0, 16.0, 64.0])


def test_diagonal_noise_at_exact_inputs_is_the_special_function_itself():
    """Rows ``+-e_j``, ``Sigma = diag(1/4, 1/16)`` and ``t`` powers of 4: every scale is a
    power of two, so ``u`` is exact and only the special function errs (``C_STABLE`` model)."""
    task = Task(
        [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]],
        np.zeros(4),
        noise_cov=np.diag([0.25, 0.0625]),
    )
    assert np.array_equal(task.noise_scales, [0.5, 0.25, 0.5, 0.25])
    u = np.array([-40.0, -9.0, -1.0, -(2.0**-20), 0.0, 0.3, 2.0, 8.5, 38.0])
    s = task.noise_scales / np.sqrt(T_POW4)[:, None]  # (T, N), exact
    mu = np.stack([u[:, None] * s[None, :, 0], u[:, None] * s[None, :, 1]], axis=-1)
    z = trilat.predict_logits(task, mu, T_POW4)
    assert np.array_equal(z[..., 0], -z[..., 2]) and np.array_equal(z[..., 1], -z[..., 3])
    for x, got in zip(np.repeat(u, T_POW4.size), z[..., 0].ravel(), strict=True):
        value, slope = ref.logit_ndtr(x), ref.logit_ndtr_slope(x)
        assert float(abs(ref.mpf(got) - value)) <= ref.rel_bound(value, slope, C_STABLE)


def _probability_path_bound(task: Task, mu: np.ndarray, s: np.ndarray) -> float:
    """``tb.probability_path_bound`` with a scale per output ``s (N,)`` (its derivation verbatim)."""
    a, y, c_mu, _ = tb._forward_terms(task, mu, np.ones(()))
    u = y / s
    eta = EPS * (
        0.5 * (task.dim + 1) * a
        + 2.0 * C_STABLE * s * (tb.upper_mills(u) + np.abs(u))
        + np.abs(y)
        + 0.5 * np.abs(c_mu)
    )
    eta = eta + tb.UNDERFLOW_UNITS * (task.dim + 6) * tb.SUBNORMAL
    return float(tb._solve_error(task, eta, tb.norm(c_mu) + tb.norm(eta)))


@given(tt.cases(noise_cov=True, max_condition=100.0))
def test_round_trip_through_logits_is_exact_to_the_rounding_bound(case):
    """``mu -> predict_logits -> distances_from_logits -> recover``: the error budget of
    ``tb.logit_path_bound`` holds unchanged, since each output divides and multiplies by the
    same computed ``s_i(t)`` (the bound has no term in the scale itself). The drawn cases
    reach ``|u|`` of ``~1e5`` (``|mu| <= 1``, ``|b| <= 1``, ``s`` down to ``3e-5``)."""
    task, mu, t = case
    z = trilat.predict_logits(task, mu, t)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    bound = tb.logit_path_bound(task, mu, np.ones(()))
    assert np.linalg.norm(mu_hat - mu) <= bound


@given(tt.cases(noise_cov=True, max_condition=100.0, max_offset=0.0), st.floats(0.0, 8.0))
def test_round_trip_through_probabilities_is_exact_to_the_rounding_bound(case, u_max):
    """``mu -> predict -> estimate`` where no probability saturates: ``b = 0`` and ``mu``
    scaled so that ``max |u| = u_max <= 8``."""
    task, mu, t = case
    s = task.noise_scales / np.sqrt(t)
    u = (mu @ task.C.T - task.b) / s
    mu = mu * (u_max / max(np.max(np.abs(u)), 1e-300))
    yhat = trilat.predict(task, mu, t)
    mu_hat = trilat.estimate(task, yhat, t)
    assert np.linalg.norm(mu_hat - mu) <= _probability_path_bound(task, mu, s)


def test_isotropic_noise_cov_agrees_with_sigma():
    """``noise_cov = sigma^2 I`` is the isotropic task by another path: unit rows give
    ``||sigma c_i|| = sigma`` to a few ulps, so the outputs agree to rounding."""
    iso = Task.random(3, 7, sigma=0.25, rng=1, offset_scale=0.2)
    cov = Task(iso.C, iso.b, noise_cov=0.0625 * np.eye(3))
    assert np.max(np.abs(cov.noise_scales / 0.25 - 1)) <= 4 * EPS
    mu = np.random.default_rng(2).uniform(-0.5, 0.5, (5, 4, 3))
    t = np.arange(1.0, 5.0)
    np.testing.assert_allclose(
        trilat.predict_logits(cov, mu, t), trilat.predict_logits(iso, mu, t), rtol=1e-14, atol=0
    )


def test_posterior_is_the_running_mean_with_covariance_sigma_over_t():
    task = correlated_task()
    trials = trilat.simulate(task, 3, 5)
    post = trilat.posterior(task, trials.evidence)
    expected = np.cumsum(trials.evidence, axis=1) / np.arange(1.0, 6.0)[:, None]
    np.testing.assert_allclose(post.mean, expected, rtol=1e-15, atol=1e-16)
    assert post.std is None and post.cov.shape == (5, 2, 2)
    assert np.array_equal(post.cov, COV / np.arange(1.0, 6.0)[:, None, None])
    assert trilat.posterior(Task.evenly_spaced(6), trials.evidence).cov is None


# --------------------------------------------------------------------------- simulate


def test_simulate_with_diagonal_noise_scales_the_isotropic_stream():
    """Same seed, same ``eps(t)``: ``Sigma = diag(v)`` gives ``sqrt(v_d) eps_d(t)`` (the product
    ``eps L^T`` with a diagonal ``L`` adds exact zeros), and ``x*`` is unchanged."""
    iso = Task.random(3, 5, sigma=1.0, rng=3)
    sd = np.array([0.5, 0.1, 2.0])
    diag = Task(iso.C, iso.b, noise_cov=np.diag(sd**2))
    a, b = trilat.simulate(iso, 40, 6, rng=11), trilat.simulate(diag, 40, 6, rng=11)
    assert np.array_equal(a.x_star, b.x_star)
    noise_a = a.evidence - a.x_star[:, None, :]  # eps(t) to one rounding of x* + eps
    expected = noise_a * sd
    scale = 2 * EPS * (np.abs(a.evidence) + np.abs(a.x_star[:, None, :])) * sd
    scale = scale + 2 * EPS * np.abs(b.evidence)
    assert np.all(np.abs((b.evidence - b.x_star[:, None, :]) - expected) <= scale)


# Likelihood-ratio test that whitened noise w = L^-1 (X(t) - x*) has covariance I (mean
# known zero): n (tr S - log det S - D) with S = W^T W / n is asymptotically chi^2 with
# D (D + 1) / 2 degrees of freedom; with n = 24000 samples the asymptotic quantile is
# accurate to far better than the level. Threshold: the 1 - 1e-6 quantile, so a correct
# simulate fails for a given seed with probability ~1e-6. The mean: n |mean w|^2 ~ chi^2_D.
LEVEL = 1e-6


def _lr_statistic(w: np.ndarray) -> float:
    n, d = w.shape
    S = w.T @ w / n
    return float(n * (np.trace(S) - np.linalg.slogdet(S)[1] - d))


@pytest.mark.parametrize(
    "cov",
    [
        COV,
        np.array([[1.0, -0.9, 0.2], [-0.9, 1.0, -0.1], [0.2, -0.1, 0.5]]),
        np.diag([0.01, 0.25, 1.0, 4.0]),
    ],
    ids=["D2-correlated", "D3-strongly-correlated", "D4-diagonal"],
)
def test_simulated_noise_has_the_requested_covariance(cov):
    d = cov.shape[0]
    task = Task(np.eye(d), np.zeros(d), noise_cov=cov)
    trials = trilat.simulate(task, 1200, 20, rng=5)
    noise = (trials.evidence - trials.x_star[:, None, :]).reshape(-1, d)
    w = np.linalg.solve(task.noise_cholesky, noise.T).T
    n = w.shape[0]
    threshold = stats.chi2.isf(LEVEL, d * (d + 1) // 2)
    assert _lr_statistic(w) <= threshold
    assert n * float(np.sum(w.mean(axis=0) ** 2)) <= stats.chi2.isf(LEVEL, d)
    # the test can fail: whitening with the isotropic factor of the same scale is rejected
    wrong = noise / np.sqrt(np.trace(cov) / d)
    assert _lr_statistic(wrong) > threshold


# --------------------------------------------------------------------------- refusals


REFUSALS = {
    "predict box": lambda task: trilat.predict(task, [0.1, 0.0], 1, prior=Uniform()),
    "predict_logits box": lambda task: trilat.predict_logits(task, [0.1, 0.0], 1, prior=Uniform()),
    "predict Gaussian": lambda task: trilat.predict(task, [0.1, 0.0], 1, prior=Gaussian(0, 0.3)),
    "estimate_from_logits box": lambda task: trilat.estimate_from_logits(
        task, np.zeros(6), 1, prior=Uniform()
    ),
    "estimate_from_logits Gaussian": lambda task: trilat.estimate_from_logits(
        task, np.zeros(6), 1, prior=Gaussian(0, 0.3)
    ),
    "posterior Gaussian": lambda task: trilat.posterior(
        task, np.zeros((3, 2)), prior=Gaussian(0, 0.3)
    ),
    "posterior_mean box": lambda task: trilat.posterior_mean(task, [0.1, 0.0], 1, prior=Uniform()),
    "oracle_gap": lambda task: trilat.oracle_gap(task, [0.1, 0.0], 1),
    "posterior_std": lambda task: trilat.posterior_std(task, 1),
    "decodability_ceiling": lambda task: trilat.decodability_ceiling(task, 1),
    "bayes_decodability": lambda task: trilat.bayes_decodability(task, 1),
    "kernels.simulate": lambda task: trilat.kernels.simulate(task, 2, 3),
    "kernels.predict": lambda task: trilat.kernels.predict(task, np.zeros(2), 1.0),
    "kernels.invert": lambda task: trilat.kernels.invert(
        task, trilat.kernels.Outputs(np.full(6, 0.25), np.zeros(6, dtype=bool)), 1.0
    ),
    "kernels.roundtrip": lambda task: trilat.kernels.roundtrip(task, 2, 3),
    "kernels.monte_carlo": lambda task: trilat.kernels.monte_carlo(task, 2, 3),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_what_assumes_isotropic_noise_refuses_a_noise_covariance(name):
    with pytest.raises(ValueError, match=r"assumes isotropic noise sigma\^2 I.*noise_cov"):
        REFUSALS[name](correlated_task())


@pytest.mark.parametrize(
    "call",
    [
        lambda task: trilat.predict(task, [0.1, 0.0], std=0.1),
        lambda task: trilat.distances(task, np.full(6, 0.3), std=0.1),
        lambda task: trilat.distances_from_logits(task, np.zeros(6), std=0.1),
    ],
)
def test_an_isotropic_std_is_refused_for_a_noise_covariance(call):
    with pytest.raises(ValueError, match=r"std= is an isotropic posterior std"):
        call(correlated_task())


def test_the_flat_prior_and_its_estimates_follow_the_noise_covariance():
    task = correlated_task()
    mu = np.array([0.05, -0.1])
    s = np.sqrt(np.einsum("nd,de,ne->n", task.C, COV, task.C) / 4.0)
    np.testing.assert_allclose(
        trilat.predict(task, mu, 4), trilat.predict(task, mu, std=None, t=4), rtol=0
    )
    np.testing.assert_allclose(
        trilat.distances(task, trilat.predict(task, mu, 4), 4), task.C @ mu, rtol=1e-14, atol=1e-16
    )
    from scipy import special

    np.testing.assert_allclose(
        trilat.predict(task, mu, 4), special.ndtr(task.C @ mu / s), rtol=1e-14
    )
    np.testing.assert_allclose(
        trilat.estimate_from_logits(task, trilat.predict_logits(task, mu, 4), 4),
        mu,
        rtol=0,
        atol=1e-15,
    )
    assert np.array_equal(trilat.posterior_mean(task, mu, [1, 2]), np.stack([mu, mu]))
    assert np.all(trilat.oracle_gap(task, mu, 1, prior="flat") == 0)


def test_optimal_network_follows_the_noise_covariance_and_compare_refuses_it():
    task = correlated_task()
    trials = trilat.simulate(task, 4, 6)
    out = trilat.OptimalNetwork(task, latent="logits")(trials.evidence)
    post = trilat.posterior(task, trials.evidence)
    expected = trilat.predict_logits(task, post.mean, post.t)
    assert np.array_equal(out.logits, expected)
    with pytest.raises(ValueError, match=r"trilat\.compare .*assumes isotropic noise"):
        trilat.compare(trilat.OptimalNetwork(task), task, n_trials=4, n_steps=3)
