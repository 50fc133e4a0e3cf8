"""Theorem 3.1 part 1, optimality: ``Yhat_i = Phi(k_i / s(t))`` minimises expected cross-entropy.

Cross-entropy is a proper scoring rule: its expectation over the labels is
smallest for the true conditional probabilities ``P(y_i = 1 | X(1..t))``. The
oracle's ``Yhat`` is that probability when the posterior it uses is the
exact one, so no perturbed estimator may do better in expectation.

How each property is checked (Monte Carlo, not a bare inequality on one draw):
``n`` trials are simulated with a seeded generator (the seed is part of the
hypothesis example, so a failure replays). Per trial ``j``, the paired
difference ``d_j = sum_i [CE(q'_ij, y_ij) - CE(q_ij, y_ij)]`` between a perturbed
estimator ``q'`` and the oracle ``q`` is taken on the same labels, over the outputs
where both ``q`` and ``q'`` lie in ``[SELECT, 1 - SELECT]``. The selection depends on
the evidence only, never on the labels, and given the evidence the expected
difference is ``KL(p || q') - KL(p || q)`` (``p`` the true ``P(y = 1 | X)``), which is
``KL(q || q') >= 0`` output by output when the oracle is right; so ``E[d] >= 0`` is
the claim. It is rejected only if ``mean(d) < -Z se(d) - floor``: a one-sided test
at level ``ALPHA`` under the normal approximation to the mean of ``n`` i.i.d.
paired differences.

Why the selection: without it, ``d`` is dominated by rare labels against a
confident output (an over-confident estimator wins a little on every trial
and loses a lot on the rare one), so a sample of 2000 trials that happens to
hold none of them shows a large, "significant" negative mean although
``E[d] >= 0``: the normal approximation fails for such skewed ``d``. On the
selected outputs ``|d_ij| <= log((1 - SELECT) / SELECT) = 2.9`` and the minority
label has probability >= SELECT, where the approximation is sound. ``floor``
absorbs rounding in ``d`` (see :func:`check_not_better`).

Priors. The oracle is Bayes-optimal under the prior its posterior assumes.

- The Gaussian-prior property draws ``x* ~ N(m0, s0^2 I)`` and uses the
  conjugate posterior, ``trilat.posterior(..., prior=Gaussian(m0, s0))`` with
  ``predict(..., std=)``: the oracle is then exactly optimal, for any ``s0``.
- The flat-prior property (the theorem's own, ``s(t) = sigma/sqrt(t)``, through
  ``predict(mu, t)``) cannot draw ``x*`` from an improper prior. It draws ``x*``
  uniform on a box ``[-L, L]^D`` (the paper's prior, with ``L = 8 sigma + 1/4``)
  and keeps the trials whose running mean ``mu_f`` lies at least ``4 s(t)`` inside
  the box in every coordinate (a selection by the evidence only). The exact
  posterior is ``N(mu_f, s(t)^2 I)`` truncated to the box; on the kept trials the
  truncation changes ``P(y_i = 1 | X)`` by at most ``2 D Phi(-4) <= 2.6e-4``, i.e. ``u``
  by ``<~ 3e-3`` where outputs are selected (``phi(u) >= 0.1``), so the flat oracle's
  expected excess cross-entropy is ``O(1e-5)`` per output against the perturbations'
  ``O(1e-2)``: ``E[d] >= 0`` still holds. (A wide Gaussian prior also works but
  leaves few outputs near a boundary, where the test has power.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

import trilat
from trilat import testing as tt

N_TRIALS = 2000
N_PERTURBATIONS = 4
# Per comparison. A ci run makes <= 500 examples x 4 comparisons per property, so
# a correct oracle fails a run with probability <= 2000 * 5e-8 = 1e-4.
ALPHA = 5e-8
Z = float(stats.norm.isf(ALPHA))  # 5.33
EPS = float(np.finfo(np.float64).eps)
SELECT = 0.05
BOX_SIGMAS = 8.0  # the flat-prior property's box is [-L, L]^D, L = 8 sigma + 1/4
BOX_MARGIN = 4.0  # trials kept: running mean at least 4 s(t) inside the box

ANY_TASK = st.one_of(
    tt.tasks(sigma=st.floats(0.05, 1.0), max_offset=0.5),
    tt.tasks(sigma=st.floats(0.05, 1.0), max_offset=0.5, full_rank=False),
)


def check_not_better(task, mu, s, labels, direction, trials=None):
    """Assert that no perturbation of the oracle beats it in expected cross-entropy.

    Perturbations: the posterior std scaled by 2/3 and 3/2 (over- and
    under-confidence), and the posterior mean shifted by ``+-s/2`` along
    ``direction``. ``floor``: on the selected outputs each log is computed to
    ``eps/2`` relative of a value <= 3, so each ``d_ij`` carries <= ``6 eps`` and a
    trial <= ``6 N eps``. ``trials`` (bool, shape ``(n,)``) restricts the test to some
    trials, chosen from the evidence alone.
    """
    if trials is not None:
        mu, labels = mu[trials], labels[trials]
    q = trilat.predict(task, mu, std=s)
    perturbed = {
        "std x 2/3": trilat.predict(task, mu, std=s * 2.0 / 3.0),
        "std x 3/2": trilat.predict(task, mu, std=s * 1.5),
        "mean + s/2": trilat.predict(task, mu + 0.5 * s * direction, std=s),
        "mean - s/2": trilat.predict(task, mu - 0.5 * s * direction, std=s),
    }
    assert len(perturbed) == N_PERTURBATIONS
    inside = (q >= SELECT) & (q <= 1 - SELECT)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q, log_not_q = np.log(q), np.log1p(-q)
        for name, q_pert in perturbed.items():
            keep = inside & (q_pert >= SELECT) & (q_pert <= 1 - SELECT)
            ce_diff = np.where(
                labels, log_q - np.log(q_pert), log_not_q - np.log1p(-q_pert)
            )  # CE(q') - CE(q) = log q - log q' for y = 1, and the complement for y = 0
            d = np.where(keep, ce_diff, 0.0).sum(axis=-1)
            if d.size < 2:
                continue  # nothing to test on
            se = d.std(ddof=1) / np.sqrt(d.size)
            floor = 6 * EPS * task.n_tasks
            assert d.mean() >= -Z * se - floor, (
                f"{name} beats the oracle: mean paired CE difference {d.mean():.4g} over "
                f"{keep.sum()} outputs (se {se:.3g}, z = {d.mean() / se if se else -np.inf:.2f}"
                f" < -{Z:.2f})"
            )


def unit_direction(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    if norm == 0:
        out = np.zeros_like(v)
        out[0] = 1.0
        return out
    return v / norm


@pytest.mark.slow
@given(
    ANY_TASK,
    st.floats(-0.5, 0.5),
    st.floats(0.1, 1.0),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
    st.data(),
)
@example(trilat.Task.evenly_spaced(6, sigma=0.2), 0.0, 0.3, 4, 0, None)
def test_oracle_is_optimal_under_the_gaussian_prior(task, m0, s0, t, seed, data):
    """For every task (any rank), prior ``N(m0, s0^2 I)``, sigma and t: the oracle's
    ``Yhat = Phi((C mu(t) - b) / s(t))`` with the conjugate posterior ``mu(t), s(t)`` has
    expected cross-entropy against ``y = 1[C x* > b]`` no larger than an estimator
    with a mis-scaled posterior std or a shifted posterior mean (one-sided Monte
    Carlo test, ``n = 2000`` seeded trials, level 5e-8 per comparison)."""
    rng = np.random.default_rng(seed)
    x_star = m0 + s0 * rng.standard_normal((N_TRIALS, task.dim))
    evidence = x_star[:, None, :] + task.sigma * rng.standard_normal((N_TRIALS, t, task.dim))
    post = trilat.posterior(task, evidence, prior=trilat.Gaussian(m0, s0))
    mu, s = post.mean[:, -1], post.std[-1]
    direction = np.ones(task.dim) if data is None else data.draw(tt.latents(task), "direction")
    check_not_better(task, mu, s, task.labels(x_star), unit_direction(direction))


@pytest.mark.slow
@given(ANY_TASK, st.integers(1, 8), st.integers(0, 2**32 - 1), st.data())
@example(trilat.Task.evenly_spaced(6, sigma=0.2), 4, 0, None)
def test_flat_prior_oracle_is_optimal_on_the_uniform_box(task, t, seed, data):
    """For every task, sigma and t: the theorem's flat-prior oracle,
    ``Yhat = Phi((C mu(t) - b) / (sigma/sqrt t))`` with ``mu(t)`` the running mean, has
    expected cross-entropy no larger than its perturbations when ``x*`` is uniform on
    a box, on the trials whose running mean is ``4 s(t)`` inside it (where the exact,
    truncated posterior is the flat one; see the module docstring). Same test as above."""
    rng = np.random.default_rng(seed)
    half_width = BOX_SIGMAS * task.sigma + 0.25
    x_star = rng.uniform(-half_width, half_width, (N_TRIALS, task.dim))
    evidence = x_star[:, None, :] + task.sigma * rng.standard_normal((N_TRIALS, t, task.dim))
    mu = trilat.posterior(task, evidence).mean[:, -1]
    s = trilat.posterior_std(task, t)
    interior = np.all(np.abs(mu) <= half_width - BOX_MARGIN * s, axis=-1)
    direction = np.ones(task.dim) if data is None else data.draw(tt.latents(task), "direction")
    labels = task.labels(x_star)
    check_not_better(task, mu, s, labels, unit_direction(direction), trials=interior)
    # the oracle's outputs through t are those through s: the check above is of predict(mu, t)
    np.testing.assert_array_equal(trilat.predict(task, mu, t), trilat.predict(task, mu, std=s))


@given(ANY_TASK, st.integers(1, 8), st.integers(0, 2**32 - 1))
@example(trilat.Task.evenly_spaced(6, sigma=0.2), 4, 0)
def test_flat_prior_is_the_limit_of_the_conjugate_posterior(task, n_steps, seed):
    """For every task and evidence: the flat-prior posterior the theorem uses,
    ``N(running mean, (sigma^2/t) I)`` (``posterior(task, X)`` and ``posterior_std(task, t)``,
    two code paths), is the conjugate posterior of ``N(0, s0^2 I)`` as ``s0 -> inf``.

    With ``s0 = 1e6 sigma`` the conjugate std is ``s_f / sqrt(1 + r)`` and its mean
    ``mu_f / (1 + r)``, ``r = s_f^2 / s0^2 <= 1e-12``: both agree with the flat ones to
    ``r`` plus rounding (a square root, two divisions and a sum of reciprocals: 4 eps
    for the std; a division by t against two divisions and the precision: 6 eps for
    the mean). The optimality of the conjugate oracle is checked above, so this pins
    ``s(t) = sigma/sqrt(t)`` exactly, where the Monte Carlo test's power is limited by how
    many outputs fall near a boundary.
    """
    rng = np.random.default_rng(seed)
    evidence = rng.standard_normal((5, n_steps, task.dim))
    t = np.arange(1.0, n_steps + 1)
    s0 = 1e6 * task.sigma
    flat = trilat.posterior(task, evidence)
    conj = trilat.posterior(task, evidence, prior=trilat.Gaussian(0.0, s0))
    s_flat = trilat.posterior_std(task, t)
    r = s_flat**2 / s0**2
    np.testing.assert_array_equal(flat.std, s_flat)
    assert np.all(np.abs(conj.std - s_flat) <= (r / 2 + 4 * EPS) * s_flat)
    tol = (r + 6 * EPS)[:, None] * np.abs(flat.mean)
    assert np.all(np.abs(conj.mean - flat.mean) <= tol)
