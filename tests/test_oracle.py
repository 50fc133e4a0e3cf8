"""The closed-form oracle against mpmath at 50 digits, and every bad input it must refuse.

Accuracy tests evaluate the oracle where its arithmetic outside the special
functions is exact: ``C`` has rows ``+-e_j`` and ``b = 0`` (so ``C mu - b``
only selects and negates), and ``s(t) = sigma / sqrt(t)`` is a power of two
(``sigma = 1/2``, ``t`` a power of 4), so ``u = (C mu - b) / s`` is the exact
double the special function receives, and the mpmath reference is taken at
that same double. Everything measured is then the error of the special
function itself, bounded by its conditioning (see ``tests/_support/mp_reference.py``).
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from _support import mp_reference as ref
from _support.theorem_bounds import C_STABLE
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

import trilat
from trilat import NotIdentifiableError, Task

# C_STABLE, the error constant of a backward-stable double evaluation (c in
# c eps (1 + kappa)), is derived in _support.theorem_bounds; these tests check it.
# Smallest positive normal double. scipy's ndtr flushes Phi(u) to 0 a little
# before the true value leaves the subnormal range (u ~ -37.7); below this the
# result is only good to an absolute TINY, which is what predict_logits is for.
TINY = float(np.finfo(np.float64).tiny)
# The oracle's specification: relative error <= 1e-13 where the function is well
# conditioned; with C_STABLE that is kappa <= 1e-13 / (4 eps) - 1 ~ 111.
WELL_CONDITIONED = 100.0
ISSUE_REL_TOL = 1e-13

SIGMA = 0.5
T_POW4 = np.array([1.0, 4.0, 16.0, 64.0])  # s = 1/2, 1/4, 1/8, 1/16, exact
S_POW2 = SIGMA / np.sqrt(T_POW4)


def axis_task() -> Task:
    """D = 2, N = 4: rows +e1, +e2, -e1, -e2 and b = 0, so C mu is exact."""
    return Task([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], np.zeros(4), SIGMA)


def scaled_points() -> np.ndarray:
    """At least 200 scaled distances u: the body, |u| in [8, 37] (Phi saturates) and beyond."""
    rng = np.random.default_rng(20250426)
    body = np.linspace(-40.0, 40.0, 161)
    tail = np.logspace(np.log10(8.0), np.log10(37.0), 40)
    near_zero = rng.uniform(-1.0, 1.0, 20)
    tiny = np.array([1e-300, 1e-30, 1e-8, 2.0**-20])
    u = np.concatenate([body, tail, -tail, near_zero, tiny, -tiny])
    assert u.size >= 200 and np.any(np.abs(u) >= 37.0)
    return u


def mu_for(u: np.ndarray) -> np.ndarray:
    """``mu (n, T, 2)`` whose scaled distances under ``axis_task()`` at ``T_POW4`` are
    ``(u_m, u_{m+1}, -u_m, -u_{m+1})`` exactly (scaling by a power of two is exact)."""
    pair = np.stack([u, np.roll(u, -1)], axis=-1)
    return pair[:, None, :] * S_POW2[None, :, None]


def expected_u(u: np.ndarray) -> np.ndarray:
    pair = np.stack([u, np.roll(u, -1)], axis=-1)
    four = np.concatenate([pair, -pair], axis=-1)
    return np.broadcast_to(four[:, None, :], (u.size, T_POW4.size, 4))


def check_against(got, points, f_ref, slope_ref, *, floor=0.0):
    """Assert ``|got - f(x)| <= C_STABLE eps (|f| + |x f'|) + floor`` at every point, and the
    specified relative 1e-13 wherever ``kappa <= WELL_CONDITIONED``; return the worst relative
    error among those well-conditioned points."""
    worst = 0.0
    for g, x in zip(np.ravel(got), np.ravel(points), strict=True):
        value, slope = f_ref(float(x)), slope_ref(float(x))
        err = abs(ref.mpf(g) - value)
        bound = ref.rel_bound(value, slope, C_STABLE)
        assert float(err) <= bound + floor, (float(x), g, float(value), float(err), bound)
        if value != 0 and abs(value) >= TINY and abs(slope / value) <= WELL_CONDITIONED:
            rel = float(err / abs(value))
            assert rel <= ISSUE_REL_TOL, (float(x), g, float(value), rel)
            worst = max(worst, rel)
    return worst


# --------------------------------------------------------------------------- accuracy


def test_predict_matches_mpmath_at_exact_inputs():
    task, u = axis_task(), scaled_points()
    got = trilat.predict(task, mu_for(u), T_POW4)
    assert got.shape == (u.size, T_POW4.size, 4) and got.dtype == np.float64
    points = expected_u(u)
    normal = np.array([float(ref.ndtr(x)) >= TINY for x in points.ravel()]).reshape(points.shape)
    check_against(got[normal], points[normal], ref.ndtr, ref.ndtr_slope)
    # Below the normal range Phi(u) is flushed towards 0: only an absolute TINY is promised.
    check_against(got[~normal], points[~normal], ref.ndtr, ref.ndtr_slope, floor=TINY)
    # The reason for predict_logits: Phi(8.3) already rounds to 1.
    assert trilat.predict(task, [8.3 * SIGMA, 0.0], 1.0)[0] == 1.0


@pytest.mark.slow
def test_predict_logits_matches_mpmath_everywhere():
    """The logit of Phi is well conditioned for every u (kappa <= 2): 1e-13 holds throughout."""
    task, u = axis_task(), scaled_points()
    got = trilat.predict_logits(task, mu_for(u), T_POW4)
    assert got.shape == (u.size, T_POW4.size, 4)
    worst = check_against(got, expected_u(u), ref.logit_ndtr, ref.logit_ndtr_slope)
    assert worst <= ISSUE_REL_TOL


def probabilities() -> np.ndarray:
    rng = np.random.default_rng(7)
    p = np.concatenate(
        [
            rng.uniform(0.0, 1.0, 100),
            10.0 ** -rng.uniform(0.5, 307.0, 60),
            [1e-310, 5e-324, TINY],  # subnormal and smallest normal inputs are exact doubles
            1.0 - 2.0 ** -np.arange(2.0, 54.0),  # towards 1, where kappa grows like 1/(1-p)
            [0.5, 0.5 + 2.0**-53, 0.5 - 2.0**-54, 0.5 + 1e-10],  # around the zero of Phi^-1
        ]
    )
    assert p.size >= 200 and np.all((p > 0) & (p < 1))
    return p


def test_distances_match_mpmath_at_exact_probabilities():
    """``k = s Phi^-1(p)``: conditioning ``p / (phi |Phi^-1(p)|)`` is unbounded near 1/2 and
    towards 1, so the bound carries it; relative 1e-13 holds where kappa <= 100."""
    task, p = axis_task(), probabilities()
    yhat = np.broadcast_to(p[:, None, None], (p.size, T_POW4.size, 4)).copy()
    yhat[..., 1::2] = yhat[::-1, :, 1::2]  # two orders, so each output column differs
    got = trilat.distances(task, yhat, T_POW4)
    assert got.shape == yhat.shape
    # s is a power of two: k / s is exactly what ndtri returned.
    check_against(got / S_POW2[:, None], yhat, ref.ndtri, ref.ndtri_slope)


def logits() -> np.ndarray:
    rng = np.random.default_rng(11)
    grid = np.linspace(-700.0, 700.0, 141)
    spread = np.logspace(-300.0, np.log10(700.0), 60)
    near = rng.uniform(-3.0, 3.0, 40)
    # beyond 700: where scipy's ndtri_exp alone drifts to ~3000 ulp (trilat refines it)
    edges = np.array([2.0, np.nextafter(2.0, 0.0), 37.0, 700.0, 745.0, 1e3, 5e3, 2e4, 1e5, 1e6])
    z = np.concatenate([grid, spread, -spread, near, edges, -edges])
    assert z.size >= 200 and np.max(np.abs(z)) >= 700.0
    return z


@pytest.mark.slow
@pytest.mark.parametrize("activation,scale", [("sigmoid", 1.0), ("tanh", 2.0)])
def test_distances_from_logits_match_mpmath_to_700(activation, scale):
    """``Phi^-1(sigmoid(z))`` is well conditioned for every z (kappa <= 1): 1e-13 throughout.

    ``tanh`` means ``Yhat = sigmoid(2z)``; doubling is exact, so its reference is
    the sigmoid reference at ``2z``."""
    task, z = axis_task(), logits()
    z = z / scale  # exact: keeps |2z| within the same range
    zz = np.broadcast_to(z[:, None, None], (z.size, T_POW4.size, 4)).copy()
    zz[..., 2:] = -zz[..., 2:]
    got = trilat.distances_from_logits(task, zz, T_POW4, activation=activation)
    worst = check_against(
        got / S_POW2[:, None], scale * zz, ref.probit_expit, ref.probit_expit_slope
    )
    assert worst <= ISSUE_REL_TOL


def test_never_ndtri_of_expit():
    """The naive composition is inf from z ~ 37 on; the oracle stays finite and exact-ish."""
    task = axis_task()
    z = np.array([[40.0, -40.0, 700.0, -700.0]])
    k = trilat.distances_from_logits(task, z, 1.0)
    assert np.all(np.isfinite(k))
    assert k[0, 0] == -k[0, 1] and k[0, 2] == -k[0, 3]


# --------------------------------------------------------------------------- round trips


@given(
    st.integers(1, 40),
    st.floats(1.0, 20.0),
    st.floats(0.0, 70.0),
    st.floats(0.0, 2 * np.pi),
    st.sampled_from([2, 3, 6, 12, 24]),
)
def test_round_trip_through_logits_to_1e12_up_to_u_70(seed, t, u_max, angle, n_tasks):
    """Done-when: mu -> predict_logits -> distances_from_logits -> recover returns mu to
    1e-12 for |u| up to 70, where Phi(u) itself is 0 or 1 in double precision.

    Error budget: |mu| <= 70 s <= 14, each k carries ~C_STABLE (1 + kappa) eps
    relative through two well-conditioned maps (kappa <= 2, <= 1), and the
    evenly spaced C has cond 1, so |mu_hat - mu| <~ 30 eps |mu| ~ 1e-13.
    """
    task = Task.evenly_spaced(n_tasks, sigma=0.2)
    s = 0.2 / np.sqrt(t)
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-1.0, 1.0, (8, 2))
    mu[0] = [np.cos(angle), np.sin(angle)]  # one point with max |u| = u_max exactly-ish
    u = mu @ task.C.T / s
    mu = mu * (u_max / max(np.max(np.abs(u)), 1e-300))
    z = trilat.predict_logits(task, mu, t)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    assert np.max(np.abs(mu_hat - mu)) <= 1e-12


def test_round_trip_at_u_70_where_probabilities_saturate():
    task = Task.evenly_spaced(6, sigma=0.2)
    t = 20.0
    s = 0.2 / np.sqrt(t)
    mu = np.stack([70.0 * s * task.C[0], -70.0 * s * task.C[3]])
    u = mu @ task.C.T / s
    assert np.max(np.abs(u)) == pytest.approx(70.0)
    yhat = trilat.predict(task, mu, t)
    assert np.any((yhat == 0.0) | (yhat == 1.0))  # the probability path has lost mu here
    mu_hat = trilat.recover(
        task, trilat.distances_from_logits(task, trilat.predict_logits(task, mu, t), t)
    )
    np.testing.assert_allclose(mu_hat, mu, rtol=0, atol=1e-12)


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
    st.integers(0, 6),
    st.floats(0.05, 2.0),
    st.floats(1.0, 100.0),
    st.floats(0.0, 40.0),
)
def test_round_trip_on_random_tasks_within_conditioning_bound(seed, dim, extra, sigma, t, u_max):
    """Any identifiable task: the recovery error is ``||C^+||_2`` times the error of k.

    Budget (forward error of each step, relative to the row scale
    ``a_i = |c_i||mu| + |b_i|``): ``C mu - b`` is a dot product of D + 1 terms,
    ``<= (D + 1) eps a_i``; dividing by s, the logit and the probit add
    ``C_STABLE (1 + 2) + C_STABLE (1 + 1)`` eps relative (kappa of the logit <= 2,
    of the probit <= 1, relative to |u| <= a_i / s); scaling by s and adding b
    two more. recover's QR solve adds ``~ cond(C) eps |mu|``. Hence
    ``|mu_hat - mu| <= ||C^+|| sqrt(N) (D + 24) eps max a_i + 4 cond eps |mu|``.
    """
    task = Task.random(dim, dim + extra, sigma=sigma, rng=seed, offset_scale=0.3)
    if not task.identifiable or task.condition_number > 1e6:
        return
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-1.0, 1.0, (4, dim))
    u = (mu @ task.C.T - task.b) / (sigma / np.sqrt(t))
    mu = mu * (u_max / max(np.max(np.abs(u)), 1e-300))
    z = trilat.predict_logits(task, mu, t)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    scale = np.linalg.norm(mu, axis=-1, keepdims=True) + np.max(np.abs(task.b))
    pinv_norm = np.linalg.norm(task.pinv, 2)
    n = task.n_tasks
    bound = ref.EPS * (
        pinv_norm * np.sqrt(n) * (dim + 24) * scale + 4 * task.condition_number * scale
    )
    assert np.all(np.linalg.norm(mu_hat - mu, axis=-1, keepdims=True) <= bound)


@given(st.integers(0, 2**32 - 1), st.floats(0.0, 8.0), st.floats(0.5, 50.0))
def test_estimate_inverts_predict_where_probabilities_do_not_saturate(seed, u_max, t):
    """|u| <= 8, where Phi(u) < 1 in double. Error budget per output: predict's Phi(u) carries
    C_STABLE eps (1 + kappa_Phi) relative, kappa_Phi = |u| phi / Phi, which moves k by
    s/phi times that; ndtri adds C_STABLE eps (|u| + Phi/phi) s. Together
    dk <= 2 C_STABLE eps s (Phi(u)/phi(u) + |u|): large only in the upper tail, where
    a probability keeps few digits of 1 - Phi(u) (that is why logits exist).
    recover multiplies by ||C^+||_2."""
    task = Task.evenly_spaced(6, sigma=0.2)
    s = 0.2 / np.sqrt(t)
    mu = np.random.default_rng(seed).uniform(-1.0, 1.0, (5, 2))
    u = mu @ task.C.T / s
    mu = mu * (u_max / max(np.max(np.abs(u)), 1e-300))
    u = mu @ task.C.T / s
    yhat = trilat.predict(task, mu, t)
    mu_hat = trilat.estimate(task, yhat, t)
    # Phi/phi only sizes the bound (a factor of 2 is already in it): scipy is plenty.
    mills = np.exp(special.log_ndtr(u) + 0.5 * u * u + 0.5 * np.log(2.0 * np.pi))
    dk = 2 * C_STABLE * ref.EPS * s * (mills + np.abs(u))
    bound = np.linalg.norm(task.pinv, 2) * np.linalg.norm(dk, axis=-1) + 8 * ref.EPS
    assert np.all(np.linalg.norm(mu_hat - mu, axis=-1) <= bound)


@given(st.floats(-1e3, 1e3, allow_subnormal=False))
def test_logit_and_probit_paths_are_exactly_odd(x):
    task = Task([[1.0], [-1.0]], [0.0, 0.0], 1.0)
    logit = trilat.predict_logits(task, [x], 1.0)
    assert logit[0] == -logit[1]
    k = trilat.distances_from_logits(task, [x, -x], 1.0)
    assert k[0] == -k[1]


# --------------------------------------------------------------------------- posterior


def test_flat_posterior_is_the_running_mean():
    task = Task.evenly_spaced(3)
    evidence = np.random.default_rng(0).normal(size=(5, 7, 2))
    post = trilat.posterior(task, evidence)
    expected = np.stack([evidence[:, : t + 1].mean(axis=1) for t in range(7)], axis=1)
    np.testing.assert_allclose(post.mean, expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(post.t, np.arange(1.0, 8.0))
    np.testing.assert_allclose(post.std, 0.2 / np.sqrt(np.arange(1.0, 8.0)), rtol=1e-15)
    np.testing.assert_array_equal(post.std, trilat.posterior_std(task, post.t))


def test_gaussian_posterior_matches_numerical_bayes():
    """Conjugate update against the posterior computed by quadrature on a fine grid (D = 1).

    The grid (spacing h = 1e-4 over +-10 prior std) integrates Gaussians with
    trapezoidal error far below 1e-10 (the integrand is smooth and negligible at
    the ends), so the moments agree to 1e-9."""
    prior = trilat.Gaussian(0.3, 0.4)
    task = Task([[1.0]], [0.0], 0.5, prior=prior)
    evidence = np.array([[[0.9], [0.1], [1.4]]])
    post = trilat.posterior(task, evidence, prior=prior)
    x = np.arange(-4.0, 4.0, 1e-4)
    log_density = -0.5 * ((x - prior.mean) / prior.std) ** 2
    for t in range(3):
        log_density = log_density - 0.5 * ((evidence[0, t, 0] - x) / task.sigma) ** 2
        w = np.exp(log_density - log_density.max())
        mean = np.sum(w * x) / np.sum(w)  # uniform grid: the spacing cancels
        std = np.sqrt(np.sum(w * (x - mean) ** 2) / np.sum(w))
        assert post.mean[0, t, 0] == pytest.approx(mean, abs=1e-9)
        assert post.std[t] == pytest.approx(std, abs=1e-9)


def test_posterior_refuses_bad_input():
    task = Task.evenly_spaced(3)
    with pytest.raises(ValueError, match="evidence"):
        trilat.posterior(task, np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="evidence"):
        trilat.posterior(task, np.zeros(2))
    with pytest.raises(ValueError, match="evidence"):
        trilat.posterior(task, np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="prior"):
        trilat.posterior(task, np.zeros((1, 2, 2)), prior="uniform")
    with pytest.raises(ValueError, match="task"):
        trilat.posterior("task", np.zeros((1, 2, 2)))


# --------------------------------------------------------------------------- t, std and shapes


def test_t_broadcasts_against_the_time_axis_and_std_replaces_it():
    task = Task.evenly_spaced(4)
    mu = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 5, 2))
    t = np.arange(1.0, 6.0)
    together = trilat.predict(task, mu, t)
    for i in range(5):
        np.testing.assert_array_equal(together[:, i], trilat.predict(task, mu[:, i], t[i]))
    s = trilat.posterior_std(task, t)
    np.testing.assert_array_equal(
        trilat.predict_logits(task, mu, std=s), trilat.predict_logits(task, mu, t)
    )
    # fractional sample counts are allowed
    assert np.all(np.isfinite(trilat.predict(task, mu, 2.5)))


def test_float32_is_promoted_not_computed_in_float32():
    task = Task.evenly_spaced(4)
    mu = np.random.default_rng(2).uniform(-0.5, 0.5, (6, 2)).astype(np.float32)
    got = trilat.predict_logits(task, mu, 3)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, trilat.predict_logits(task, mu.astype(np.float64), 3))


BAD_T = [0, -1.0, np.nan, np.inf, [1.0, 0.0]]


@pytest.mark.parametrize("t", BAD_T)
@pytest.mark.parametrize(
    "call",
    [
        lambda task, t: trilat.predict(task, [0.1, 0.2], t),
        lambda task, t: trilat.predict_logits(task, [0.1, 0.2], t),
        lambda task, t: trilat.distances(task, np.full(3, 0.5), t),
        lambda task, t: trilat.distances_from_logits(task, np.zeros(3), t),
        lambda task, t: trilat.estimate(task, np.full(3, 0.5), t),
        lambda task, t: trilat.linear_decoder(task, t),
        lambda task, t: trilat.decodability_ceiling(task, t),
    ],
)
def test_bad_t_is_refused_naming_t(call, t):
    with pytest.raises(ValueError, match=r"\bt\b"):
        call(Task.evenly_spaced(3), t)


@pytest.mark.parametrize("std", [0.0, -0.1, np.nan, np.inf])
def test_bad_std_is_refused_naming_std(std):
    with pytest.raises(ValueError, match="std"):
        trilat.predict(Task.evenly_spaced(3), [0.1, 0.2], std=std)


def test_t_and_std_are_exclusive_and_one_is_required():
    task = Task.evenly_spaced(3)
    with pytest.raises(ValueError, match="not both"):
        trilat.predict(task, [0.1, 0.2], 1.0, std=0.2)
    with pytest.raises(ValueError, match="t is required"):
        trilat.predict(task, [0.1, 0.2])


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda task: trilat.predict(task, np.zeros((4, 3)), 1), "mu"),
        (lambda task: trilat.predict(task, 0.5, 1), "mu"),
        (lambda task: trilat.predict(task, [np.nan, 0.0], 1), "mu"),
        (lambda task: trilat.predict(task, ["a", "b"], 1), "mu"),
        (lambda task: trilat.predict_logits(task, [1j, 0.0], 1), "mu"),
        (lambda task: trilat.distances(task, np.full((2, 2), 0.5), 1), "yhat"),
        (lambda task: trilat.distances_from_logits(task, np.zeros(2), 1), "z"),
        (lambda task: trilat.distances_from_logits(task, [np.inf, 0, 0], 1), "z"),
        (lambda task: trilat.distances_from_logits(task, [np.nan, 0, 0], 1), "z"),
        (lambda task: trilat.distances_from_logits(task, np.zeros(3), 1, "relu"), "activation"),
        (lambda task: trilat.recover(task, np.zeros(2)), "k"),
        (lambda task: trilat.predict(np.eye(2), [0.0, 0.0], 1), "task"),
        (lambda task: trilat.distances(None, [0.5], 1), "task"),
        (lambda task: trilat.recover({"C": 1}, [0.5]), "task"),
    ],
)
def test_bad_arrays_are_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(Task.evenly_spaced(3))


# --------------------------------------------------------------------------- distances: saturation


@pytest.mark.parametrize("bad", [np.nan, -1e-300, 1.0 + 2.0**-52, 2.0, -np.inf])
def test_distances_refuse_non_probabilities(bad):
    with pytest.raises(ValueError, match=r"yhat must be probabilities in \[0, 1\]"):
        trilat.distances(Task.evenly_spaced(3), [0.5, bad, 0.2], 1)


def test_saturated_probabilities_give_infinite_distances_with_one_counting_warning():
    task = Task.evenly_spaced(3)
    yhat = np.array([[0.0, 0.5, 1.0], [1.0, 1.0, 0.3]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        k = trilat.distances(task, yhat, 4)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "4 of 6" in message and "distances_from_logits" in message
    assert k[0, 0] == -np.inf and k[0, 2] == np.inf and k[1, 0] == np.inf and k[0, 1] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trilat.distances(task, np.full(3, 0.25), 4)  # no warning without saturation


# --------------------------------------------------------------------------- recover / estimate


def test_recover_solves_least_squares_against_mpmath():
    """Inconsistent k: mu = argmin ||C mu - (k + b)||, against the normal equations solved at
    50 digits (exact for our purpose). QR least squares is backward stable; its forward error
    is <= c eps (cond + cond^2 ||r|| / (||C|| ||mu||)) ||mu|| (Higham, Thm 20.1), c ~ N D."""
    task = Task.random(3, 7, rng=5, offset_scale=0.5)
    k = np.random.default_rng(6).normal(size=(10, 7))
    got = trilat.recover(task, k)
    C = mp.matrix(task.C.tolist())
    normal = C.T * C
    cond = task.condition_number
    for row, mu in zip(k, got, strict=True):
        rhs = mp.matrix((row + task.b).tolist())
        exact = mp.lu_solve(normal, C.T * rhs)
        residual = float(mp.norm(C * exact - rhs))
        norm_mu = float(mp.norm(exact))
        bound = 7 * 3 * ref.EPS * (cond + cond**2 * residual / norm_mu) * norm_mu
        assert float(mp.norm(mp.matrix(mu.tolist()) - exact)) <= bound


def test_recover_is_a_factorisation_not_the_normal_equations():
    """Three nearly parallel rows, cond(C) ~ 1.6e7: a QR solve keeps ~ cond eps ~ 1e-9 of
    mu; inv(C^T C) squares the condition number and keeps ~ 1e-3. The distances are the
    exact ones rounded once, so the bound is 8 cond eps |mu|, with 8 covering the QR
    solve (Higham Thm 19.5, a few N D eps) and the one rounding of k."""
    d = 1e-7
    task = Task([[1.0, 1.0], [1.0, 1.0 + d], [1.0, 1.0 - 2 * d]], np.zeros(3), 0.2)
    mu = np.array([0.3, -0.2])
    k = np.array([float(v) for v in mp.matrix(task.C.tolist()) * mp.matrix(mu.tolist())])
    got = trilat.recover(task, k)
    cond = task.condition_number
    assert cond > 1e7
    bound = 8 * cond * ref.EPS * np.linalg.norm(mu)
    assert np.linalg.norm(got - mu) <= bound
    # The case separates the two methods: the normal equations miss the bound by far.
    naive = np.linalg.inv(task.C.T @ task.C) @ (task.C.T @ k)
    assert np.linalg.norm(naive - mu) > 100 * bound


@pytest.mark.parametrize(
    "C,rank",
    [
        ([[1.0, 0.0]], 1),  # N < D
        ([[1.0, 0.0], [-2.0, 0.0], [3.0, 0.0]], 1),  # N >= D, rank-deficient
        (np.eye(3)[:2], 2),
    ],
)
def test_not_identifiable_names_rank_dimension_and_condition(C, rank):
    task = Task(C, np.zeros(len(C)), 0.2)
    dim = np.shape(C)[1]
    assert not task.identifiable and task.rank == rank
    for call in (
        lambda: trilat.recover(task, np.zeros(len(C))),
        lambda: trilat.estimate(task, np.full(len(C), 0.5), 1),
        lambda: trilat.linear_decoder(task, 1),
        lambda: task.pinv,
    ):
        with pytest.raises(NotIdentifiableError) as info:
            call()
        message = str(info.value)
        assert f"rank {rank}" in message and f"D = {dim}" in message
        assert "condition number" in message
        assert isinstance(info.value, ValueError)


def test_estimate_is_recover_of_distances():
    task = Task.random(2, 5, rng=3, offset_scale=0.2)
    yhat = np.random.default_rng(4).uniform(0.01, 0.99, (6, 4, 5))
    t = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(
        trilat.estimate(task, yhat, t), trilat.recover(task, trilat.distances(task, yhat, t))
    )
