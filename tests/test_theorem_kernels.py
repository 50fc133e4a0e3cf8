"""The numba kernels give the oracle's numbers on generated cases (Theorem 3.1 at scale).

``trilat.kernels`` reimplements the oracle's pipeline per trial-step; these
properties hold it to ``trilat.oracle`` on the cases of :mod:`trilat.testing`:
the same draws and posterior means bit for bit, and outputs, distances and
recovered latents within the rounding bounds of ``tests/_support/theorem_bounds.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _support.theorem_bounds import (
    C_STABLE,
    EPS,
    LOGIT_ROUND_TRIP_ULPS,
    SUBNORMAL,
    complement_aware_bound,
    logit_path_bound,
    upper_mills,
)
from hypothesis import example, given
from hypothesis import strategies as st

import trilat
from trilat import testing as tt

kernels = pytest.importorskip("trilat.kernels")

PRIORS = st.sampled_from([trilat.Uniform(), trilat.Uniform(-2.0, 1.0), trilat.Gaussian(0.2, 0.7)])
TASKS = tt.tasks(max_condition=1000.0, prior=PRIORS)
SEEDS = st.integers(0, 2**63 - 1)
TINY = float(np.finfo(np.float64).tiny)


@st.composite
def cases(draw, max_t=1000):
    task = draw(TASKS)
    return task, draw(tt.latents(task, shape=st.integers(1, 4))), draw(tt.times(max_value=max_t))


@pytest.mark.slow
@given(TASKS, st.integers(0, 6), st.integers(1, 5), SEEDS, st.integers(0, 2**40))
def test_kernel_simulate_is_trilat_simulate(task, n_trials, n_steps, seed, first_trial):
    """For every task (either prior), seed and range of trials: ``kernels.simulate`` draws
    exactly ``trilat.simulate``'s ``x*`` and evidence, bit for bit."""
    ours = kernels.simulate(task, n_trials, n_steps, rng=seed, first_trial=first_trial)
    ref = trilat.simulate(task, n_trials, n_steps, rng=seed, first_trial=first_trial)
    np.testing.assert_array_equal(ours.x_star, ref.x_star)
    np.testing.assert_array_equal(ours.evidence, ref.evidence)


@pytest.mark.slow
@given(cases())
@example((trilat.Task([[1.0]], [0.0], 1e-3), np.array([[1.0]]), 1))  # u = 1000: log space
@example((trilat.Task([[1.0]], [0.0], 0.1), np.array([[0.83]]), 1))  # u = 8.3: Phi rounds to 1
# found by hypothesis: u = -38.3, Phi(u) = 6.3e-321, which scipy's ndtr flushes to 0
@example((trilat.Task([[1.0]], [0.19140625], 0.01), np.array([[0.0]]), 4))
def test_kernel_outputs_and_distances_match_the_oracle(case):
    """For every full-rank task, mu and t: the kernels' complement-aware outputs are the
    oracle's probabilities, and the distances the kernels invert from them are the
    distances the oracle inverts from its logits.

    Outputs: each side is ``Phi`` at ``u`` up to ``C eps (Phi + |u| phi)`` (backward-stable
    model), and the two ``u`` differ by the forward rounding, ``(D + 1) eps a_i / s``
    (``a_i = ||mu|| + |b_i|``) times ``phi``. Distances: the kernels' per output error is
    ``2 C eps s (Phi(-|u|)/phi(u) + |u|) + 20 eps s |u|`` (see
    ``complement_aware_bound``), the oracle's ``20 eps s |u|``, plus the forward
    rounding of both."""
    task, mu, t = case
    s = task.sigma / np.sqrt(t)
    y = mu @ task.C.T - task.b
    u = y / s
    a = np.linalg.norm(mu, axis=-1, keepdims=True) + np.abs(task.b)
    forward_u = (task.dim + 1) * EPS * a / s
    phi = np.exp(-0.5 * u**2) / np.sqrt(2 * np.pi)

    outputs = kernels.predict(task, mu, t)
    p = trilat.predict(task, mu, t)
    # scipy's ndtr flushes Phi(u) to 0 a little before it leaves the subnormal range
    # (u ~ -37.7), where the kernels' exp(log Phi) still holds it: an absolute TINY there.
    tol_p = 2 * C_STABLE * EPS * (p + np.abs(u) * phi) + phi * forward_u + TINY
    assert np.all(np.abs(outputs.probabilities() - p) <= tol_p)
    np.testing.assert_array_equal(outputs.upper, u > 0)  # exact unless u rounds across 0
    assert np.all(outputs.tail[~outputs.in_log_space] > 0)  # nothing saturates

    k = kernels.invert(task, outputs, t)
    k_ref = trilat.distances_from_logits(task, trilat.predict_logits(task, mu, t), t)
    kernel_err = 2 * C_STABLE * EPS * s * (upper_mills(-np.abs(u)) + np.abs(u))
    oracle_err = LOGIT_ROUND_TRIP_ULPS * EPS * np.abs(y)
    tol_k = kernel_err + 2 * oracle_err + 2 * s * forward_u + 8 * SUBNORMAL
    assert np.all(np.abs(k - k_ref) <= tol_k)


@pytest.mark.slow
@given(cases(), st.data())
def test_kernel_recover_matches_the_oracle(case, data):
    """For every full-rank task and distances ``k``: ``kernels.recover`` is ``C^+ (k + b)``
    as ``trilat.recover`` computes it, with the same ``C^+``: the two sums of N products
    differ by at most ``N eps |C^+| |k + b|`` (each within ``N eps/2`` of exact)."""
    task, _, _ = case
    k = data.draw(tt.logits((3, task.n_tasks), max_abs=50.0), label="k")
    ours, ref = kernels.recover(task, k), trilat.recover(task, k)
    tol = task.n_tasks * EPS * (np.abs(k + task.b) @ np.abs(task.pinv).T) + 4 * SUBNORMAL
    assert np.all(np.abs(ours - ref) <= tol)


@given(tt.tasks(full_rank=False))
def test_kernels_refuse_what_is_not_identifiable(task):
    """For every C of rank < D: the kernels raise NotIdentifiableError, as the oracle does."""
    with pytest.raises(trilat.NotIdentifiableError):
        kernels.recover(task, np.zeros(task.n_tasks))
    with pytest.raises(trilat.NotIdentifiableError):
        kernels.roundtrip(task, 2, 2, rng=0)


@pytest.mark.slow
@given(TASKS, st.integers(1, 5), st.integers(1, 6), SEEDS, st.sampled_from(["flat", "gaussian"]))
def test_kernel_roundtrip_is_the_oracle_on_the_same_noise(task, n_trials, n_steps, seed, prior):
    """For every full-rank task, seed, T and posterior (flat or the conjugate Gaussian): the
    fused round trip draws ``trilat.simulate``'s trials and forms ``trilat.posterior``'s
    ``mu(t)`` bit for bit, and recovers ``mu(t)`` from its outputs within
    ``complement_aware_bound``; the oracle's logit path on the same ``mu(t)`` is within
    ``logit_path_bound``, so the two recoveries are within the sum."""
    post_prior = trilat.Gaussian(0.1, 0.8) if prior == "gaussian" else "flat"
    rt = kernels.roundtrip(task, n_trials, n_steps, rng=seed, prior=post_prior)
    trials = trilat.simulate(task, n_trials, n_steps, rng=seed)
    post = trilat.posterior(task, trials.evidence, prior=post_prior)
    np.testing.assert_array_equal(rt.x_star, trials.x_star)
    np.testing.assert_array_equal(rt.mu, post.mean)
    s = np.broadcast_to(post.std, post.mean.shape[:-1])
    ours = complement_aware_bound(task, post.mean, s)
    assert np.all(np.linalg.norm(rt.mu_hat - post.mean, axis=-1) <= ours)
    np.testing.assert_allclose(rt.error, np.linalg.norm(rt.mu_hat - rt.mu, axis=-1), rtol=4 * EPS)
    z = trilat.predict_logits(task, post.mean, std=post.std)
    ref = trilat.recover(task, trilat.distances_from_logits(task, z, std=post.std))
    both = ours + logit_path_bound(task, post.mean, s)
    assert np.all(np.linalg.norm(rt.mu_hat - ref, axis=-1) <= both)
