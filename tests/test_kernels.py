"""trilat.kernels against trilat.oracle on the same noise, and their determinism.

The kernels draw exactly ``trilat.simulate``'s numbers, so the oracle runs on
the same evidence: ``mu(t)`` must be bit-identical; the outputs and
``mu_hat`` must agree within 1e-13 relative (the kernels' specification), a tolerance far above
what the two computations can differ by (a few ulp of each ``k_i``, scaled by
the conditioning written next to each check).
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from scipy import special

import trilat
from trilat import Gaussian, Task, Uniform, kernels
from trilat.kernels._montecarlo import monte_carlo as numpy_monte_carlo

REL = 1e-13  # specification: outputs and mu_hat within 1e-13 relative of the oracle


def tasks():
    return [
        Task.evenly_spaced(6),
        Task.random(5, 9, sigma=0.3, rng=2, offset_scale=0.3, prior=Uniform(-2.0, 1.0)),
        Task.random(3, 4, sigma=0.1, rng=3, offset_scale=0.1, prior=Gaussian(0.2, 0.7)),
    ]


def oracle_round_trip(task, trials, prior="flat"):
    """``mu(t)`` and the exact (logit path) ``mu_hat(t)`` of the oracle."""
    post = trilat.posterior(task, trials.evidence, prior=prior)
    z = trilat.predict_logits(task, post.mean, std=post.std)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, std=post.std))
    return post, mu_hat


def mu_hat_tolerance(task, mu):
    """REL times the scale of mu_hat's rounding: ``|C^+| (|C| |mu| + |b|)`` (k = C mu - b is
    recovered to a few ulp of each k_i, and C^+ carries those errors to mu_hat)."""
    scale = np.linalg.norm(task.pinv, 2) * (
        np.linalg.norm(task.C, 2) * np.linalg.norm(mu, axis=-1) + np.linalg.norm(task.b)
    )
    return REL * scale


@pytest.mark.parametrize("task", tasks(), ids=["paper-D2", "D5-uniform", "D3-gaussian"])
def test_simulate_draws_exactly_trilat_simulate(task):
    ours = kernels.simulate(task, 37, 9, rng=123, first_trial=5)
    theirs = trilat.simulate(task, 37, 9, rng=123, first_trial=5)
    np.testing.assert_array_equal(ours.x_star, theirs.x_star)
    np.testing.assert_array_equal(ours.evidence, theirs.evidence)
    assert ours.first_trial == 5


@pytest.mark.parametrize("task", tasks(), ids=["paper-D2", "D5-uniform", "D3-gaussian"])
@pytest.mark.parametrize("prior", ["flat", Gaussian(0.1, 0.5)], ids=["flat", "conjugate"])
def test_roundtrip_matches_the_oracle_on_the_same_noise(task, prior):
    n, T = 60, 12
    rt = kernels.roundtrip(task, n, T, rng=7, first_trial=3, prior=prior)
    trials = trilat.simulate(task, n, T, rng=7, first_trial=3)
    post, mu_hat = oracle_round_trip(task, trials, prior)
    np.testing.assert_array_equal(rt.x_star, trials.x_star)
    np.testing.assert_array_equal(rt.mu, post.mean)  # bit for bit
    diff = np.linalg.norm(rt.mu_hat - mu_hat, axis=-1)
    assert np.all(diff <= mu_hat_tolerance(task, post.mean))
    np.testing.assert_array_equal(rt.error, np.linalg.norm(rt.mu_hat - rt.mu, axis=-1))
    np.testing.assert_array_equal(rt.sq_error, (rt.mu - trials.x_star[:, None, :]) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yhat = trilat.predict(task, post.mean, std=post.std)
    np.testing.assert_array_equal(
        rt.n_saturated, np.count_nonzero((yhat == 0) | (yhat == 1), axis=-1)
    )


@pytest.mark.parametrize("task", tasks(), ids=["paper-D2", "D5-uniform", "D3-gaussian"])
def test_predict_invert_recover_match_the_oracle(task):
    trials = trilat.simulate(task, 40, 10, rng=1)
    post = trilat.posterior(task, trials.evidence)
    out = kernels.predict(task, post.mean, post.t)
    yhat = trilat.predict(task, post.mean, post.t)
    # Phi(u) in the range where the oracle's own probabilities keep their digits (|u| <= 5):
    # relative condition number |u phi(u)/Phi(u)| <= 30 there, so both are within ~100 eps.
    u = (post.mean @ task.C.T - task.b) / post.std[:, None]
    central = np.abs(u) <= 5
    np.testing.assert_allclose(out.probabilities()[central], yhat[central], rtol=REL, atol=0)
    # the logits everywhere (the oracle's are accurate for every u): a relative error d of
    # the tail probability moves the logit by ~d, absolutely
    z = trilat.predict_logits(task, post.mean, post.t)
    logit = np.where(out.upper, 1, -1) * (np.log1p(-np.exp(out.log_tail())) - out.log_tail())
    np.testing.assert_allclose(logit, z, rtol=REL, atol=REL)
    k = kernels.invert(task, out, post.t)
    k_oracle = trilat.distances_from_logits(task, z, post.t)
    scale = np.linalg.norm(task.C, 2) * np.linalg.norm(post.mean, axis=-1) + np.linalg.norm(task.b)
    assert np.all(np.abs(k - k_oracle) <= REL * scale[..., None])
    mu_hat = kernels.recover(task, k)
    assert np.all(
        np.linalg.norm(mu_hat - trilat.recover(task, k), axis=-1)
        <= mu_hat_tolerance(task, post.mean)
    )


@pytest.mark.parametrize("distance", [30.0, 37.4, 37.6, 50.0, 1e3, 1e6, 1e100])
def test_round_trip_is_exact_far_beyond_saturation(distance):
    """|u| up to 1e100: Phi(-|u|) underflows beyond 37.5, the log path keeps every digit."""
    task = Task.evenly_spaced(4)
    mu = np.array([[0.3, -0.2], [-0.25, 0.4]])
    std = np.abs(mu @ task.C.T).max(axis=-1) / distance  # largest |u| = distance
    out = kernels.predict(task, mu, std=std)
    assert np.all(out.tail < 0.5) and np.all(np.isfinite(out.tail))
    assert np.any(out.in_log_space) == (distance > 37.5)
    mu_hat = kernels.recover(task, kernels.invert(task, out, std=std))
    # k = s Phi^-1(Phi(u)) to a few ulp of u: mu_hat to ~cond(C) ulp of mu
    np.testing.assert_allclose(mu_hat, mu, rtol=0, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = trilat.estimate(task, trilat.predict(task, mu, std=std[:, None]), std=std[:, None])
    if distance > 9:
        assert not np.all(np.isfinite(plain))  # the probability path saturates


def test_roundtrip_kernel_counts_but_survives_saturation():
    task = Task.evenly_spaced(12, sigma=0.01)  # |u| reaches ~50 * sqrt(t) * 0.5
    rt = kernels.roundtrip(task, 50, 30, rng=0)
    assert rt.n_saturated[:, -1].sum() > 0
    assert rt.error.max() <= 1e-14


# ----------------------------------------------------------------- Monte Carlo driver


@pytest.mark.slow
def test_monte_carlo_is_bit_identical_for_any_chunk_size_and_thread_count():
    task = Task.random(3, 7, sigma=0.15, rng=5, offset_scale=0.2)
    runs = []
    for threads, chunk in [(1, None), (2, 1), (2, 7), (1, 64), (2, 1000)]:
        previous = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            runs.append(
                kernels.monte_carlo(task, 301, 6, rng=9, chunk_trials=chunk, progress=False)
            )
        finally:
            numba.set_num_threads(previous)
    for other in runs[1:]:
        for field in ("max_abs_error", "mean_abs_error", "n_saturated", "r2_mu_xstar"):
            assert getattr(other, field).tobytes() == getattr(runs[0], field).tobytes(), field


def test_roundtrip_is_bit_identical_across_thread_counts():
    task = Task.evenly_spaced(24, sigma=0.05)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            results.append(kernels.roundtrip(task, 101, 15, rng=4))
    finally:
        numba.set_num_threads(previous)
    for field in ("mu", "mu_hat", "error", "n_saturated"):
        assert getattr(results[0], field).tobytes() == getattr(results[1], field).tobytes()


@pytest.mark.parametrize("task", tasks()[:2], ids=["paper-D2", "D5-uniform"])
def test_monte_carlo_agrees_with_the_numpy_reference(task):
    ours = kernels.monte_carlo(task, 200, 8, rng=4, progress=False)
    theirs = numpy_monte_carlo(task, 200, 8, rng=4, progress=False)
    np.testing.assert_array_equal(ours.n_saturated, theirs.n_saturated)
    np.testing.assert_array_equal(ours.t, theirs.t)
    assert (ours.n_outputs, ours.n_trials) == (theirs.n_outputs, theirs.n_trials)
    # the same R^2 (Welford in trial order against Chan's merge: rounding only)
    np.testing.assert_allclose(ours.r2_mu_xstar, theirs.r2_mu_xstar, rtol=1e-12)
    # two exact recoveries: both errors at the rounding level of mu
    bound = 64 * np.finfo(float).eps * np.linalg.cond(task.C)
    assert ours.max_abs_error.max() <= bound and theirs.max_abs_error.max() <= bound


def test_monte_carlo_errors_and_progress(capsys):
    with pytest.raises(trilat.NotIdentifiableError):
        kernels.monte_carlo(Task.evenly_spaced(1), 10, 2, rng=0)
    with pytest.raises(ValueError, match="n_trials"):
        kernels.monte_carlo(Task.evenly_spaced(3), 1, 2, rng=0)
    with pytest.raises(ValueError, match="chunk_trials"):
        kernels.monte_carlo(Task.evenly_spaced(3), 10, 2, rng=0, chunk_trials=0)
    with pytest.raises(ValueError, match="rng"):
        kernels.monte_carlo(Task.evenly_spaced(3), 10, 2, rng="x")
    with pytest.raises(ValueError, match="prior"):
        kernels.monte_carlo(Task.evenly_spaced(3), 10, 2, rng=0, prior="uniform")
    kernels.monte_carlo(Task.evenly_spaced(3), 50, 2, rng=0, progress=True)
    assert "trilat monte carlo" in capsys.readouterr().err


def test_elementwise_functions_keep_shapes_and_special_values():
    x = np.array([[-np.inf, -1.0], [0.0, np.inf]])
    y = kernels.ndtr(x)
    assert y.shape == (2, 2)
    np.testing.assert_array_equal(y[[0, 1, 1], [0, 0, 1]], [0.0, 0.5, 1.0])
    # scipy's ndtr is within a few ulp at -1 (condition number 0.3): 2 + 2 ulp apart at most
    np.testing.assert_allclose(y[0, 1], special.ndtr(-1.0), rtol=4 * np.finfo(float).eps)
    out = kernels.ndtri(np.array([0.0, 0.5, 1.0]))
    assert out[0] == -np.inf and out[1] == 0.0 and out[2] == np.inf
    for bad in (2.0, -0.5, np.nan):  # no NaN out of the public API (issue 12 item 4)
        with pytest.raises(ValueError, match=r"\bp\b"):
            kernels.ndtri(np.array([0.5, bad]))
    assert kernels.ndtri(np.float32(0.25)).dtype == np.float64
