"""Theorem 3.1 part 1, identifiability: the optimal outputs determine ``mu(t)`` iff ``rank C = D``.

Every property quantifies over the cases of :mod:`trilat.testing`; each
tolerance is the rounding-error bound derived in ``tests/_support/theorem_bounds.py`` from the
condition number of ``C`` and the conditioning of the maps involved.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from _support.theorem_bounds import logit_path_bound, probability_path_bound
from hypothesis import example, given
from hypothesis import strategies as st

import trilat
from trilat import testing as tt

# sigma in [0.01, 2] and t up to 1000 reach |u| = |c_i^T mu - b_i| / s up to
# 3 / (0.01 / sqrt 1000) ~ 1e4, far past saturation of Phi (8.3) and of sigmoid (z ~ 700).
MAX_T = 1000
IDENTIFIABLE = tt.tasks(max_condition=1000.0)


@st.composite
def identifiable_cases(draw, tasks=IDENTIFIABLE, max_t=MAX_T):
    task = draw(tasks)
    mu = draw(tt.latents(task, shape=st.integers(1, 3)))
    t = draw(tt.times(max_value=max_t, integer=draw(st.booleans())))
    return task, mu, t


def paper_task(n_tasks):
    return trilat.Task.evenly_spaced(n_tasks, sigma=0.3)


@given(identifiable_cases())
@example((paper_task(6), np.array([[0.3, -0.2]]), 1))
@example((paper_task(2), np.array([[1.0, 1.0]]), 100))  # u = 47: Phi(u) is 1 in double
@example((trilat.Task([[1.0]], [-1.0], 0.3), np.array([[-1.0]]), 100))  # u = 0 exactly
# u = 1000, where scipy's ndtri_exp alone was 2.8e3 ulps off (found here, fixed in _stable)
@example((trilat.Task([[1.0]], [0.0], 1e-3), np.array([[1.0]]), 1))
def test_logit_round_trip_recovers_mu(case):
    """For every full-rank C (N >= D), sigma, t and mu:
    ``recover(distances_from_logits(predict_logits(mu, t), t)) = mu`` to within the
    rounding bound (``_support.theorem_bounds.logit_path_bound``: the per-output error of
    the logit -> distance map, ~20 ulps, times ``||C^+||``, plus the QR solve,
    ``~ N D eps cond(C) ||C^+|| ||C mu||``), even where ``Phi(u)`` rounds to 0 or 1."""
    task, mu, t = case
    s = task.sigma / np.sqrt(t)
    z = trilat.predict_logits(task, mu, t)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    err = np.linalg.norm(mu_hat - mu, axis=-1)
    bound = logit_path_bound(task, mu, s)
    assert np.all(err <= bound), (err, bound)


@given(identifiable_cases(), st.sampled_from(["sigmoid", "tanh"]))
# u subnormal (1e-309): z/2 loses its last bit, covered by the bounds' underflow term
@example((trilat.Task([[1.0]], [2.9e-308], 1.0), np.array([[3.0e-308]]), 1), "tanh")
def test_logit_round_trip_with_time_axis_and_readouts(case, activation):
    """The same claim in the batch/time layout, ``mu`` of shape ``(n, T, D)`` with ``t`` of
    shape ``(T,)``, and for both readouts: a tanh readout carries the logit ``z/2``
    where a sigmoid carries ``z``; halving is exact (but for subnormal z), so the same
    bound applies."""
    task, mu, t = case
    t_axis = np.array([1.0, t])
    mu_t = np.broadcast_to(mu[:, None, :], (mu.shape[0], 2, task.dim))
    scale = 2.0 if activation == "tanh" else 1.0
    z = trilat.predict_logits(task, mu_t, t_axis) / scale
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t_axis, activation))
    bound = logit_path_bound(task, mu_t, task.sigma / np.sqrt(t_axis))
    assert np.all(np.linalg.norm(mu_hat - mu_t, axis=-1) <= bound)


# sigma >= 0.3 and t <= 16 keep most draws unsaturated (|u| <= 3 sqrt(16) / 0.3 = 40,
# typically a few); the rest check that saturation is reported.
@pytest.mark.slow
@given(identifiable_cases(tt.tasks(sigma=st.floats(0.3, 2.0), max_condition=1000.0), max_t=16))
@example((paper_task(6), np.array([[0.3, -0.2]]), 1))
@example((trilat.Task([[1.0]], [0.0], 0.3), np.array([[0.5]]), 9))  # u = 5: 1 - Phi ~ 3e-7
def test_probability_round_trip_recovers_mu_where_not_saturated(case):
    """For every full-rank C, sigma, t and mu whose outputs are not saturated (``0 < Yhat < 1``
    in double): ``recover(distances(predict(mu, t), t)) = mu`` within
    ``_support.theorem_bounds.probability_path_bound``, whose per-output term is the
    conditioning of ``Phi^-1`` at ``p``, ``Phi(u)/phi(u)``: it grows like ``1/phi(u)``
    towards saturation. Where outputs are saturated, ``distances`` says how many
    and returns ``+-inf`` (the sign of ``u``) for them instead of a wrong finite number."""
    task, mu, t = case
    s = task.sigma / np.sqrt(t)
    yhat = trilat.predict(task, mu, t)
    saturated = (yhat == 0.0) | (yhat == 1.0)
    if not saturated.any():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            k = trilat.distances(task, yhat, t)
        mu_hat = trilat.recover(task, k)
        bound = probability_path_bound(task, mu, s)
        assert np.all(np.linalg.norm(mu_hat - mu, axis=-1) <= bound)
        np.testing.assert_array_equal(trilat.estimate(task, yhat, t), mu_hat)
    else:
        with pytest.warns(RuntimeWarning, match=f"{saturated.sum()} of {yhat.size} outputs"):
            k = trilat.distances(task, yhat, t)
        u = (mu @ task.C.T - task.b) / s
        np.testing.assert_array_equal(k[saturated], np.copysign(np.inf, u[saturated]))
        assert np.all(np.isfinite(k[~saturated]))


@pytest.mark.slow
@given(tt.tasks(full_rank=False), st.data())
@example(trilat.Task([[1.0, 0.0]], [0.0], 0.2), None)  # N = 1 < D = 2
@example(trilat.Task([[1.0, 0.0], [-1.0, 0.0]], [0.1, 0.2], 0.2), None)  # N = D, rank 1
def test_rank_deficient_c_is_not_identifiable(task, data):
    """For every C with rank < D (including N < D): recovering mu raises
    NotIdentifiableError naming the rank, D and the condition number, on every path
    (recover, estimate, linear_decoder); and the outputs really do not determine mu:
    moving mu along the null space of C leaves every logit unchanged up to rounding."""
    assert task.rank < task.dim and not task.identifiable
    message = re.escape(f"rank {task.rank} < D = {task.dim}") + ".*condition number"
    k = np.zeros(task.n_tasks)
    with pytest.raises(trilat.NotIdentifiableError, match=message):
        trilat.recover(task, k)
    with pytest.raises(trilat.NotIdentifiableError, match=message):
        trilat.estimate(task, np.full(task.n_tasks, 0.5), 1)
    with pytest.raises(trilat.NotIdentifiableError, match=message):
        trilat.linear_decoder(task, 1)
    mu = np.zeros(task.dim) if data is None else data.draw(tt.latents(task), label="mu")
    null = np.linalg.svd(task.C)[2][-1]  # unit v with C v = 0 up to rounding (rank < D)
    # u_i moves by (C v)_i / s plus rounding: fl(mu + v) errs by eps/2 (||mu|| + 1) along c_i,
    # and each of the two dot products c_i^T x - b_i by (D + 1) eps/2 (||mu|| + 1 + |b_i|).
    # The logit moves by at most L'(u) du with L'(u) = phi/Phi(u) + phi/Phi(-u) <= |u| + 1.6
    # (the inverse Mills ratio is below a + sqrt(2/pi)), plus 2 C (1 + kappa_L) = 24 ulps.
    eps = np.finfo(float).eps
    s = task.sigma
    u = (mu @ task.C.T - task.b) / s
    scale = np.linalg.norm(mu) + 1.0 + np.abs(task.b)
    du = (np.abs(task.C @ null) + (task.dim + 2) * eps * scale) / s
    z0 = trilat.predict_logits(task, mu, 1)
    z1 = trilat.predict_logits(task, mu + null, 1)
    assert np.all(np.abs(z1 - z0) <= (np.abs(u) + 1.6) * du + 24 * eps * np.abs(z0))
