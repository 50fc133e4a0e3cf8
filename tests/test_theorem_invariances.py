"""Invariances: transformations of the task that the theorem's objects must respect.

Each property builds an equivalent task ``task2`` (and latent ``mu2``) by a
transformation, then checks the three things that must not change: the labels
(wherever the latent is further from a boundary than rounding can move it),
the optimal logits, and ``mu`` recovered from the same distances, which must
come back transformed. Tolerances are ``_support.theorem_bounds.equivalent_task_bounds``,
from per-row perturbation bounds derived next to each transformation.
"""

from __future__ import annotations

import numpy as np
import pytest
from _support.theorem_bounds import EPS, SUBNORMAL, equivalent_task_bounds, renormalisation_ulps
from hypothesis import example, given
from hypothesis import strategies as st

import trilat
from trilat import testing as tt

TASKS = tt.tasks(max_condition=100.0)
MAX_T = 1000


def check_equivalent(task, mu, task2, mu2, t, *, row_err, offset_err, latent_err, order=None):
    """Labels, logits and recovery of ``task2`` at ``mu2`` against ``task`` at ``mu``.

    ``order`` maps task2's outputs to task's (``task2`` output ``i`` is ``task`` output
    ``order[i]``); the returned pair is ``(mu_hat, mu_hat2)``, recovered from the
    same distances, for the caller to compare through the transformation.
    """
    order = np.arange(task.n_tasks) if order is None else np.asarray(order)
    s = task.sigma / np.sqrt(t)
    dy, dz, recover_tol = equivalent_task_bounds(
        task, mu, task2, mu2, s, row_err, offset_err, latent_err
    )
    inverse = np.argsort(order)

    y = mu @ task.C.T - task.b
    clear = np.abs(y) > dy
    labels2 = task2.labels(mu2)[..., inverse]
    np.testing.assert_array_equal(labels2[clear], task.labels(mu)[clear])

    z = trilat.predict_logits(task, mu, t)
    z2 = trilat.predict_logits(task2, mu2, t)[..., inverse]
    assert np.all(np.abs(z2 - z) <= dz), np.max(np.abs(z2 - z) - dz)

    k = trilat.distances_from_logits(task, z, t)
    mu_hat = trilat.recover(task, k)
    mu_hat2 = trilat.recover(task2, k[..., order])
    w_norm = np.maximum(
        np.linalg.norm(k + task.b, axis=-1), np.linalg.norm(k[..., order] + task2.b, axis=-1)
    )
    return mu_hat, mu_hat2, recover_tol(w_norm)


def renormalised(dim):
    return renormalisation_ulps(dim) * EPS


@pytest.mark.slow
@given(
    TASKS.flatmap(
        lambda task: st.tuples(
            st.just(task),
            tt.latents(task, shape=st.integers(1, 3)),
            tt.times(max_value=MAX_T),
            tt.orthogonal_matrices(task.dim),
        )
    )
)
@example(
    (
        trilat.Task.evenly_spaced(6, sigma=0.2),
        np.array([[0.3, -0.2]]),
        4,
        np.array([[0.0, -1.0], [1.0, 0.0]]),
    )
)
def test_rotating_c_and_mu_together(case):
    """For every full-rank C, orthogonal Q, mu and t: the task with rows ``Q c_i`` at ``Q mu``
    has the same labels and logits as the original at ``mu``, and recovers ``Q mu_hat``
    from the same distances (the theorem is coordinate-free).

    Perturbation: the computed ``Q`` is ``omega = ||Q^T Q - I||_2`` (+ D eps for computing
    omega) from the orthogonal ``Q_o`` nearest it; ``fl(Q c_i)`` is within
    ``omega + D^1.5 eps/2`` of ``Q_o c_i``, and normalising a near-unit vector at most
    doubles that, plus the normalisation's own rounding; ``b_i`` is divided by the
    row's norm, ``1 +- (omega + D^1.5 eps/2)``; ``fl(Q mu)`` is within
    ``(omega + D^1.5 eps/2) ||mu||`` of ``Q_o mu``."""
    task, mu, t, q = case
    d = task.dim
    omega = np.linalg.norm(q.T @ q - np.eye(d), 2) + d * EPS
    off = omega + d**1.5 * EPS / 2
    task2 = trilat.Task(task.C @ q.T, task.b, task.sigma)
    mu2 = mu @ q.T
    row_err = np.full(task.n_tasks, 2 * off + renormalised(d))
    offset_err = (off + renormalised(d)) * np.abs(task.b)
    latent_err = off * np.linalg.norm(mu, axis=-1)
    mu_hat, mu_hat2, tol = check_equivalent(
        task, mu, task2, mu2, t, row_err=row_err, offset_err=offset_err, latent_err=latent_err
    )
    rotate_err = off * np.linalg.norm(mu_hat, axis=-1)
    assert np.all(np.linalg.norm(mu_hat2 - mu_hat @ q.T, axis=-1) <= tol + rotate_err)


@given(
    TASKS.flatmap(
        lambda task: st.tuples(
            st.just(task),
            tt.latents(task, shape=st.integers(1, 3)),
            tt.times(max_value=MAX_T),
            st.permutations(range(task.n_tasks)),
        )
    )
)
def test_permuting_the_tasks(case):
    """For every task, permutation of its boundaries, mu and t: labels and logits are
    permuted the same way, and recovery from the permuted distances gives the same mu
    (the order of the questions carries no information).

    Perturbation: only Task's renormalisation of rows that are already unit."""
    task, mu, t, order = case
    order = np.asarray(order)
    task2 = trilat.Task(task.C[order], task.b[order], task.sigma)
    row_err = np.full(task.n_tasks, renormalised(task.dim))
    offset_err = renormalised(task.dim) * np.abs(task.b)
    mu_hat, mu_hat2, tol = check_equivalent(
        task,
        mu,
        task2,
        mu,
        t,
        row_err=row_err,
        offset_err=offset_err,
        latent_err=np.zeros(mu.shape[:-1]),
        order=order,
    )
    assert np.all(np.linalg.norm(mu_hat2 - mu_hat, axis=-1) <= tol)


@pytest.mark.slow
@given(
    TASKS.flatmap(
        lambda task: st.tuples(
            st.just(task),
            tt.latents(task, shape=st.integers(1, 3)),
            tt.times(max_value=MAX_T),
            st.lists(st.floats(1e-3, 1e3), min_size=task.n_tasks, max_size=task.n_tasks),
        )
    )
)
# found by hypothesis: lam b is subnormal, so its rounding is absolute
@example((trilat.Task([[1.0]], [2.2250738585072014e-308], 1.0), np.array([[0.0]]), 1, [0.001]))
@example(
    (
        trilat.Task([[1.0, 0.0], [0.0, 1.0]], [0.25, -0.5], 0.2),
        np.array([[0.5, 0.1]]),
        1,
        [3.0, 0.001],
    )
)
def test_scaling_a_boundary_by_a_positive_number(case):
    """For every task, positive factors ``lam_i``, mu and t: the task with rows
    ``(lam_i c_i, lam_i b_i)`` is the same task (labels ``1[c_i^T x > b_i]`` do not see
    ``lam_i``): same labels, logits and recovered mu.

    Perturbation: ``fl(lam c_i)`` and ``fl(lam b_i)`` round once (``eps/2``), then Task
    divides by the computed norm: ``(D/2 + 3) eps`` relative to each row, and where
    ``lam b_i`` is subnormal its rounding is absolute, half a subnormal unit, which the
    division by ``~lam_i`` magnifies."""
    task, mu, t, lam = case
    lam = np.asarray(lam)
    task2 = trilat.Task(task.C * lam[:, None], task.b * lam, task.sigma)
    ulps = (renormalisation_ulps(task.dim) + 1.0) * EPS
    mu_hat, mu_hat2, tol = check_equivalent(
        task,
        mu,
        task2,
        mu,
        t,
        row_err=np.full(task.n_tasks, ulps),
        offset_err=ulps * np.abs(task.b) + SUBNORMAL / lam,
        latent_err=np.zeros(mu.shape[:-1]),
    )
    assert np.all(np.linalg.norm(mu_hat2 - mu_hat, axis=-1) <= tol)


@pytest.mark.slow
@given(
    TASKS.flatmap(
        lambda task: st.tuples(
            st.just(task),
            tt.latents(task, shape=st.integers(1, 3)),
            tt.times(max_value=MAX_T),
            tt.latents(task),
        )
    )
)
@example(
    (trilat.Task.evenly_spaced(6, sigma=0.2), np.array([[0.3, -0.2]]), 4, np.array([0.5, 0.5]))
)
def test_translating_the_origin(case):
    """For every task, shift ``a``, mu and t: measuring latents from ``a`` (``x' = x - a``)
    with offsets ``b' = b - C a`` gives the same labels and logits at ``mu - a``, and
    recovery from the same distances gives ``mu_hat - a``.

    Perturbation: ``fl(b - C a)`` errs by ``(D + 1) eps/2 (|b_i| + ||a||)``, the
    renormalisation adds ``(D/2 + 2) eps`` of each row, ``fl(mu - a)`` errs by
    ``eps/2 (||mu|| + ||a||)``, and so does ``fl(mu_hat - a)``."""
    task, mu, t, shift = case
    d = task.dim
    b2 = task.b - task.C @ shift
    task2 = trilat.Task(task.C, b2, task.sigma)
    a_norm = np.linalg.norm(shift)
    offset_err = EPS * (0.5 * (d + 1) * (np.abs(task.b) + a_norm)) + renormalised(d) * np.abs(b2)
    latent_err = 0.5 * EPS * (np.linalg.norm(mu, axis=-1) + a_norm)
    mu_hat, mu_hat2, tol = check_equivalent(
        task,
        mu,
        task2,
        mu - shift,
        t,
        row_err=np.full(task.n_tasks, renormalised(d)),
        offset_err=offset_err,
        latent_err=latent_err,
    )
    shift_err = 0.5 * EPS * (np.linalg.norm(mu_hat, axis=-1) + a_norm)
    assert np.all(np.linalg.norm(mu_hat2 - (mu_hat - shift), axis=-1) <= tol + shift_err)
