"""The exact outputs under the uniform box prior against mpmath, and their inversion.

References (``tests/_support/mp_reference.py``): ``box_log_prob`` integrates the
truncated-normal posterior by nested ``mp.quad`` at 20 digits (17 for three
coordinates: enough for a 1e-12 tolerance, and minutes faster);
``bayes_r2_uniform`` is the Bayes risk of the truncated mean by ``mp.quad``.
The bound under test is the one ``trilat.box`` states: where quadrature
applies, ``P`` and ``1 - P`` to ``1e-12`` relative, i.e. ``|log P - ref| <=
1e-12`` (plus the rounding of a large ``log P``, a few ulp of it), ``log P``
to ``1e-6`` relative where ``P < 1e-300``; for quasi-Monte Carlo, its stated
standard error.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from _support import mp_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import trilat
from trilat import NotIdentifiableError, Task, Uniform
from trilat import testing as tt
from trilat.box import box_log_probabilities, log_ndtr_diff, truncated_normal_mean

BOX = Uniform()
EPS = float(np.finfo(np.float64).eps)
REL = 1e-12  # the stated bound, relative in P and in 1 - P


def log_tol(value: float) -> float:
    """``1e-12`` relative in ``P``, plus 8 ulp of ``log P`` itself (a log of 1e4 has 2e-12 ulp)."""
    return REL + 8 * EPS * abs(value)


def check_point(c, b, mu, s, dps=20, grid=0.5):
    c = np.asarray(c, float)
    c = c / np.linalg.norm(c)
    res = box_log_probabilities(c[None], np.array([b]), np.asarray(mu, float), np.array(s))
    lp = ref.box_log_prob(c, b, mu, s, dps=dps, grid=grid)
    lq = ref.box_log_prob(-c, -b, mu, s, dps=dps, grid=grid)
    for got, want in ((res.log_p[0], lp), (res.log_q[0], lq)):
        if want == -mp.inf:
            assert got == -np.inf
        else:
            assert abs(got - float(want)) <= log_tol(float(want)), (c, b, mu, s, got, want)
    assert res.qmc_rel_se[0] == 0.0


# --------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    "p, q",
    [(-1.0, 2.0), (-40.0, -39.0), (30.0, 31.5), (-3.0, -2.9999), (5.0, 5.0 + 1e-9), (-1e-8, 1e-8),
     (-np.inf, -20.0), (12.0, np.inf), (-np.inf, np.inf), (-38.5, 1.0), (2.0, 2.0), (-0.3, -0.1)],
)  # fmt: skip
def test_log_ndtr_diff_against_mpmath(p: float, q: float) -> None:
    got = float(log_ndtr_diff(p, q))
    with mp.workdps(50):
        if p == q:
            assert got == -np.inf
            return
        want = mp.log(ref._phi_mass(mp.mpf(p), mp.mpf(q)))
    assert abs(got - float(want)) <= 8 * EPS * (1 + abs(float(want)))


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.5, 0.52, -0.7, 3.0, -40.0])
@pytest.mark.parametrize("s", [0.2, 0.01])
def test_truncated_normal_mean_against_mpmath(mu: float, s: float) -> None:
    got = float(truncated_normal_mean(mu, s))
    with mp.workdps(50):
        m, S = mp.mpf(mu), mp.mpf(s)
        a, b = (-0.5 - m) / S, (0.5 - m) / S
        want = m + S * (mp.npdf(a) - mp.npdf(b)) / ref._phi_mass(a, b)
    assert abs(got - float(want)) <= 1e-13 * max(1.0, abs(mu))
    assert -0.5 <= got <= 0.5


# --------------------------------------------------------------------------- against mpmath

D1_POINTS = [(mu, s, b) for mu in (0.0, 0.45, 0.5, 0.7, -3.0, 0.49) for s in (0.2, 0.01)
             for b in (0.1, -0.5, 0.5, 0.0)]  # fmt: skip


@pytest.mark.parametrize("mu, s, b", D1_POINTS)
def test_d1_against_mpmath(mu: float, s: float, b: float) -> None:
    check_point([1.0], b, [mu], s)
    check_point([-1.0], b, [mu], s)


D2_POINTS = [
    # mu: centre, corner, on a face, near a face, outside (far and near), interior
    (mu, s, b)
    for mu in ([0, 0], [0.5, 0.5], [0.45, -0.5], [2.0, 0.3], [0.3, 0.1], [-0.55, 0.52])
    for s in (0.2, 0.05)
    for b in (0.0, 0.3, -0.5, 0.69)
]


@pytest.mark.parametrize("mu, s, b", D2_POINTS)
def test_d2_against_mpmath(mu: list, s: float, b: float) -> None:
    check_point([0.6, 0.8], b, mu, s)


D3_POINTS = [
    pytest.param([0.48, 0.6, 0.64], 0.3, [0.45, 0.5, 0.3], marks=pytest.mark.slow),  # near faces
    pytest.param([0.48, -0.6, 0.64], 0.0, [0.5, -0.5, 0.6], marks=pytest.mark.slow),  # corner
    pytest.param([1.0, 1.0, 1.0], 0.8, [0.5, 0.5, 0.5], marks=pytest.mark.slow),  # deep tail
]


@pytest.mark.parametrize("c, b, mu", D3_POINTS)
def test_d3_against_mpmath(c: list, b: float, mu: list) -> None:
    """Smooth on the box's scale at s = 0.25: split at the kinks only (no grid), 17 digits:
    4 to 15 s a point (slow; the fast D = 3 checks are the round trip and the 64-node one)."""
    check_point(c, b, mu, 0.25, dps=17, grid=None)


@pytest.mark.slow  # ~15 s
def test_d5_against_mpmath() -> None:
    """D = 5: two coordinates the boundary does not involve, three near faces."""
    check_point([0.0, 0.48, 0.0, 0.6, 0.64], 0.3, [0.1, 0.45, -0.49, 0.5, 0.3], 0.25, dps=17,
                grid=None)  # fmt: skip


@pytest.mark.slow  # ~30 s at 17 digits
def test_d5_free_coordinates_against_mpmath() -> None:
    """D = 5 with small s: three coordinates far inside the box combine into one Gaussian
    term; the reference integrates the two near faces with the same Gaussian term exact
    in mpmath (their truncation mass, below Phi(-9) = 1e-19, is beyond the bound): an
    independent D = 2 quadrature with a Gaussian innermost term, at 17 digits."""
    c = np.array([0.3, 0.4, 0.5, 0.5, 0.5])
    c = c / np.linalg.norm(c)
    mu = np.array([0.49, -0.5, 0.0, 0.05, -0.05])
    s = 0.01  # the event is 15 s away: untruncated beyond 9 + 2 (15 + 1) = 41 s from the faces
    res = box_log_probabilities(c[None], np.array([0.1]), mu, np.array(s))
    assert res.qmc_rel_se[0] == 0.0  # quadrature, not QMC
    g_sd = float(np.linalg.norm(c[2:]))
    g_mu = float(c[2:] @ mu[2:])
    with mp.workdps(17):
        S = mp.mpf(s)

        scale = 125  # mp.quad's tolerance is absolute: bring P ~ e^-129 to order 1

        def tail(thr: mp.mpf) -> mp.mpf:
            return mp.ncdf((g_mu - thr) / (S * g_sd)) * mp.exp(scale)

        z2 = ref._phi_mass((-0.5 - mp.mpf(mu[1])) / S, (0.5 - mp.mpf(mu[1])) / S)
        z1 = ref._phi_mass((-0.5 - mp.mpf(mu[0])) / S, (0.5 - mp.mpf(mu[0])) / S)

        def inner(x1: mp.mpf) -> mp.mpf:
            f = lambda x2: (mp.npdf((x2 - mu[1]) / S) / S  # noqa: E731
                            * tail(mp.mpf(0.1) - c[0] * x1 - c[1] * x2))  # fmt: skip
            return mp.quad(f, [-0.5, -0.5 + 3 * s, -0.5 + 8 * s, -0.5 + 14 * s, 0.5]) / z2

        g = lambda x1: mp.npdf((x1 - mu[0]) / S) / S * inner(x1) / z1  # noqa: E731
        want = mp.log(mp.quad(g, [-0.5, 0.5 - 14 * s, 0.5 - 8 * s, 0.5 - 3 * s, 0.5])) - scale
    assert abs(res.log_p[0] - float(want)) <= log_tol(float(want))


def test_refuses_mu_far_outside() -> None:
    task = Task.evenly_spaced(3)
    with pytest.raises(ValueError, match="outside the box"):
        trilat.predict_logits(task, [0.5 + 31 * 0.1, 0.0], std=0.1, prior=BOX)
    trilat.predict_logits(task, [0.5 + 29 * 0.1, 0.0], std=0.1, prior=BOX)  # accepted


def test_far_from_faces_is_the_flat_formula() -> None:
    """Every coordinate many s inside the box: the flat outputs, bit for bit."""
    task = Task.random(5, 8, sigma=0.2, rng=3)
    mu = np.random.default_rng(0).uniform(-0.1, 0.1, (50, 5))
    t = 1e4  # s = 0.002: the faces are >= 200 s away
    z_box = trilat.predict_logits(task, mu, t, prior=BOX)
    assert np.array_equal(z_box, trilat.predict_logits(task, mu, t))
    assert np.array_equal(trilat.predict(task, mu, t, prior=BOX), trilat.predict(task, mu, t))


def test_qmc_within_its_standard_error() -> None:
    """Five coordinates near faces: quasi-Monte Carlo, checked against plain Monte Carlo."""
    c = np.array([[0.4, 0.45, 0.45, 0.45, 0.48]])
    c = c / np.linalg.norm(c)
    mu = np.array([0.45, -0.5, 0.5, 0.4, -0.45])
    s = 0.2
    res = box_log_probabilities(c, np.array([0.2]), mu, np.array(s))
    assert res.qmc_rel_se[0] > 0
    rng = np.random.default_rng(11)
    n = 2_000_000
    a, bb = (-0.5 - mu) / s, (0.5 - mu) / s
    from scipy import special

    lo, hi = special.ndtr(a), special.ndtr(bb)
    x = mu + s * special.ndtri(lo + rng.random((n, 5)) * (hi - lo))
    hit = (x @ c[0]) > 0.2
    p_mc, se_mc = hit.mean(), hit.std() / np.sqrt(n)
    p = np.exp(res.log_p[0])
    se = res.qmc_rel_se[0] * p
    assert abs(p - p_mc) <= 5 * np.hypot(se, se_mc)


@pytest.mark.parametrize("dim", [2, 5])
def test_outputs_do_not_depend_on_the_pass_they_are_in(dim: int, monkeypatch) -> None:
    """``box_log_probabilities`` evaluates ``CHUNK_OUTPUTS`` outputs per pass (memory);
    each element's result, the Jacobian and the QMC error included, is the same in passes
    of 3 trials as in one pass of all 40, to rounding: the matrix products' kernels vary
    with the arrays' sizes (measured: 2 of 240 Jacobian entries 3e-15 apart, relative),
    far inside the stated 1e-12."""
    import trilat.box as box

    C, b, mu, s = _hard_points(np.random.default_rng(dim), dim, 40)
    if dim == 5:  # a QMC element: five coordinates near faces (test_qmc_within_...)
        C = np.array([[0.4, 0.45, 0.45, 0.45, 0.48], [1.0, 0.0, 0.0, 0.0, 0.0]])
        C /= np.linalg.norm(C, axis=1, keepdims=True)
        b = np.array([0.2, 0.0])
        # points near the first boundary, so that its event is not rare (QMC refuses those)
        rng = np.random.default_rng(7)
        mu = rng.uniform(-0.5, 0.5, (40, 5))
        mu += (0.2 + rng.uniform(-0.15, 0.15, 40) - mu @ C[0])[:, None] * C[0]
        s = np.full(40, 0.2)
        mu[0] = [0.45, -0.5, 0.5, 0.4, -0.45]
    whole = box_log_probabilities(C, b, mu, s, jacobian=True)
    monkeypatch.setattr(box, "CHUNK_OUTPUTS", 3 * len(b))
    parts = box_log_probabilities(C, b, mu, s, jacobian=True)
    np.testing.assert_array_equal(parts.flat, whole.flat)
    for name in ("log_p", "log_q", "jacobian", "qmc_rel_se", "z_flat", "p_flat"):
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-13, atol=0)
    if dim == 5:
        assert whole.qmc_rel_se[0, 0] > 0  # the QMC path ran


def _hard_points(rng: np.random.Generator, dim: int, n: int) -> tuple:
    """Random boundaries and points drawn towards faces, corners, the box's outside (up to
    MAX_OUTSIDE s) and extreme s: where an integrand is narrowest or most skewed."""
    C = rng.standard_normal((4, dim))
    C[1] = 0.001
    C[1, 0] = 1.0  # a boundary almost along an axis: the near-step integrand
    if dim > 1:
        C[2, 0] = 0.0  # a coordinate the boundary does not involve
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    b = rng.uniform(-0.7, 0.7, 4)
    s = rng.choice([3.0, 1.0, 0.5, 0.2, 0.05, 0.01, 0.002], n)
    face = rng.choice([-0.5, 0.5], (n, dim)) * rng.choice([1.0, 1.0, 0.9, 0.0], (n, dim))
    out = rng.choice([0.0, 0.0, 1.0, -1.0, 5.0, 29.0], (n, dim)) * np.sign(face) * s[:, None]
    mu = face + out + rng.normal(0, 0.05, (n, dim)) * rng.integers(0, 2, (n, dim))
    mu = np.clip(mu, -0.5 - 29.9 * s[:, None], 0.5 + 29.9 * s[:, None])
    return C, b, mu, s


@pytest.mark.parametrize(
    "dim, n", [(1, 400), (2, 400), (3, 4), pytest.param(3, 40, marks=pytest.mark.slow)]
)
def test_against_many_nodes(dim: int, n: int) -> None:
    """The convergence study behind ``NODES = 24``: against 64 nodes, on random hard points,
    the stated bound holds (1e-12 relative in P while P >= 1e-300, 1e-6 relative in log P
    below); 16 nodes did not (2e-10 at a point 5 s outside a face)."""
    rng = np.random.default_rng(dim)
    C, b, mu, s = _hard_points(rng, dim, n)
    got = box_log_probabilities(C, b, mu, s)
    want = box_log_probabilities(C, b, mu, s, nodes=64)
    for g, w in ((got.log_p, want.log_p), (got.log_q, want.log_q)):
        assert np.array_equal(np.isinf(g), np.isinf(w))
        fin = np.isfinite(w)
        g, w = g[fin], w[fin]
        big = w < -690.0
        assert np.all(np.abs(g - w)[~big] <= log_tol_array(w[~big]))
        assert np.all(np.abs(g - w)[big] <= 1e-6 * np.abs(w[big]))


def log_tol_array(value: np.ndarray) -> np.ndarray:
    return REL + 8 * EPS * np.abs(value)


def test_jacobian_against_finite_differences() -> None:
    task = Task.evenly_spaced(3)
    mu = np.array([0.42, -0.47])
    s = 0.1
    J = box_log_probabilities(task.C, task.b, mu, np.array(s), jacobian=True).jacobian
    h = 1e-6
    for d in range(2):
        e = np.zeros(2)
        e[d] = h
        zp = trilat.predict_logits(task, mu + e, std=s, prior=BOX)
        zm = trilat.predict_logits(task, mu - e, std=s, prior=BOX)
        np.testing.assert_allclose(J[:, d], (zp - zm) / (2 * h), rtol=1e-7, atol=1e-7)


# --------------------------------------------------------------------------- inversion


# The box-prior outputs determine mu only locally (where d z / d mu has rank D): the map can
# fold, for D = 2 as for D = 3 (test_the_box_map_folds), so for D >= 2 the solve is checked
# to return a preimage of z, and the round trip to mu itself where it is provable: D = 1 (each
# output is monotone in mu, the truncated normal having a monotone likelihood ratio in mu).


def _preimage_residual(task: Task, mu_hat: np.ndarray, z: np.ndarray, t: float) -> float:
    z_hat = trilat.predict_logits(task, mu_hat, t, prior=task.prior)
    ok = np.isfinite(z)
    assert np.array_equal(np.isfinite(z_hat), ok)
    return float(np.max(np.abs(z_hat[ok] - z[ok]) / (1.0 + np.abs(z[ok])), initial=0.0))


@settings(max_examples=40, deadline=None)
@given(tt.box_cases(dim=1, n_tasks=st.integers(1, 4)))
def test_round_trip_box_d1(case: tuple) -> None:
    task, mu, t = case
    z = trilat.predict_logits(task, mu, t, prior=task.prior)
    mu_hat = trilat.estimate_from_logits(task, z, t, prior=task.prior)
    assert np.max(np.abs(mu_hat - mu)) <= 1e-10


@settings(max_examples=40, deadline=None)
@given(tt.box_cases(dim=2, n_tasks=st.integers(2, 5)))
def test_box_solve_returns_a_preimage(case: tuple) -> None:
    task, mu, t = case
    z = trilat.predict_logits(task, mu, t, prior=task.prior)
    mu_hat = trilat.estimate_from_logits(task, z, t, prior=task.prior)
    assert _preimage_residual(task, mu_hat, z, t) <= 1e-9


@settings(max_examples=8, deadline=None)
@given(tt.box_cases(dim=3, n_tasks=3, max_t=100))
def test_box_solve_returns_a_preimage_d3(case: tuple) -> None:
    task, mu, t = case
    z = trilat.predict_logits(task, mu, t, prior=task.prior)
    mu_hat = trilat.estimate_from_logits(task, z, t, prior=task.prior)
    assert _preimage_residual(task, mu_hat, z, t) <= 1e-9


def test_round_trip_box_where_one_to_one() -> None:
    """Near a face with well-separated boundaries the solve gives mu back (the docstring's case)."""
    task = Task.evenly_spaced(3)
    mu = np.array([[0.45, -0.2], [-0.48, 0.3], [0.1, 0.49]])
    z = trilat.predict_logits(task, mu, 4, prior=task.prior)
    assert not np.allclose(z, trilat.predict_logits(task, mu, 4), atol=0.1)  # the box matters
    np.testing.assert_allclose(
        trilat.estimate_from_logits(task, z, 4, prior=task.prior), mu, rtol=0, atol=1e-10
    )


# Found by hypothesis: two points 0.05 apart inside the box whose exact outputs agree, with the
# Jacobian's determinant changing sign between them (a fold). Row 2 is checked against mpmath.
_FOLD_C = np.array(
    [
        [0.5356871243440249, 0.0958087550780587, 0.8389636388201945],
        [-0.1983825566854627, 0.7643207695070201, -0.6135618326649205],
        [0.4481385123009508, 0.3057720217778664, 0.8400448467138923],
    ]
)
_FOLD_B = np.array([0.45, -0.33145456144850705, 0.30634740947288414])
_FOLD_SIGMA, _FOLD_T = 0.2066229581345599, 8
_FOLD_MU = np.array([3.7663586820636064e-1, 1.2277296064192860e-141, 7.6054299165508976e-4])
_FOLD_MU2 = np.array([0.32547827452475175, 0.00505387669241889, 0.02052280381447214])


def test_the_box_map_folds() -> None:
    task = Task(_FOLD_C, _FOLD_B, _FOLD_SIGMA)
    z1, z2 = (
        trilat.predict_logits(task, m, _FOLD_T, prior=task.prior) for m in (_FOLD_MU, _FOLD_MU2)
    )
    assert np.max(np.abs(_FOLD_MU - _FOLD_MU2)) > 0.05
    np.testing.assert_allclose(z1, z2, rtol=1e-10, atol=0)
    s = np.array([_FOLD_SIGMA / np.sqrt(_FOLD_T)])
    dets = [
        np.linalg.det(
            box_log_probabilities(_FOLD_C, _FOLD_B, m[None], s, jacobian=True).jacobian[0]
        )
        for m in (_FOLD_MU, _FOLD_MU2)
    ]
    assert dets[0] < -100 and dets[1] > 100  # far from singular at both ends
    # the solve from the flat closed form reaches the second point: a preimage, not mu
    mu_hat = trilat.estimate_from_logits(task, z1, _FOLD_T, prior=task.prior)
    np.testing.assert_allclose(mu_hat, _FOLD_MU2, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_the_box_map_folds_mpmath() -> None:
    """Output 2 at both points, by mpmath quadrature over two coordinates (the third in
    closed form): equal to 12 digits, as the library says."""
    mp.mp.dps = 20
    s = mp.mpf(_FOLD_SIGMA) / mp.sqrt(_FOLD_T)
    half = mp.mpf(1) / 2

    def tn_pdf(x, m):
        return mp.npdf(x, m, s) / (mp.ncdf((half - m) / s) - mp.ncdf((-half - m) / s))

    def tn_sf(x, m):
        if x >= half:
            return mp.mpf(0)
        if x <= -half:
            return mp.mpf(1)
        z = mp.ncdf((half - m) / s) - mp.ncdf((-half - m) / s)
        return (mp.ncdf((half - m) / s) - mp.ncdf((x - m) / s)) / z

    def logit(mu: np.ndarray) -> mp.mpf:
        c = [mp.mpf(v) for v in _FOLD_C[2]]
        m = [mp.mpf(v) for v in mu]

        def f(x0, x1):
            return (
                tn_pdf(x0, m[0])
                * tn_pdf(x1, m[1])
                * tn_sf((_FOLD_B[2] - c[0] * x0 - c[1] * x1) / c[2], m[2])
            )

        p = mp.quad(f, [-half, m[0], half], [-half, m[1], half])
        return mp.log(p / (1 - p))

    l1, l2 = logit(_FOLD_MU), logit(_FOLD_MU2)
    assert abs(l1 - l2) < 1e-11 * abs(l1)
    task = Task(_FOLD_C, _FOLD_B, _FOLD_SIGMA)
    z = trilat.predict_logits(task, _FOLD_MU, _FOLD_T, prior=task.prior)[2]
    assert abs(float(l1) - z) <= 1e-11 * abs(z)


def test_qmc_refuses_rare_events() -> None:
    """Four nested integrals (QMC) and P ~ 3e-6: refused, not estimated."""
    c = np.array([[0.4, 0.45, 0.45, 0.45, 0.48]])
    c = c / np.linalg.norm(c)
    mu = np.array([0.45, -0.5, 0.5, 0.4, -0.45])
    with pytest.raises(ValueError, match="QMC_MIN_P"):
        box_log_probabilities(c, np.array([0.7]), mu, np.array(0.2))
    assert box_log_probabilities(c, np.array([0.5]), mu, np.array(0.2)).qmc_rel_se[0] > 0


def test_round_trip_flat_and_gaussian() -> None:
    task = Task.evenly_spaced(6)
    mu = np.random.default_rng(1).uniform(-0.6, 0.6, (20, 4, 2))
    t = np.arange(1.0, 5.0)
    for prior in ("flat", trilat.Gaussian(0.1, 0.3)):
        z = trilat.predict_logits(task, mu, t, prior=prior)
        np.testing.assert_allclose(
            trilat.estimate_from_logits(task, z, t, prior=prior), mu, rtol=0, atol=1e-12
        )


@given(tt.tasks(full_rank=False, sigma=0.2))
@settings(max_examples=10, deadline=None)
def test_rank_deficient_raises(task: Task) -> None:
    z = np.zeros(task.n_tasks)
    for prior in ("flat", BOX):
        with pytest.raises(NotIdentifiableError):
            trilat.estimate_from_logits(task, z, 1, prior=prior)


def test_boundaries_missing_the_box_raise() -> None:
    """Full rank, but one boundary misses the box: its output is 0 for every mu, so under
    the box prior the other one alone cannot give D = 2 coordinates."""
    task = Task(np.eye(2), np.array([0.0, 0.9]), 0.2)
    z = trilat.predict_logits(task, [0.1, 0.2], 1, prior=BOX)
    assert z[1] == -np.inf
    with pytest.raises(NotIdentifiableError, match="cross the box"):
        trilat.estimate_from_logits(task, z, 1, prior=BOX)


def test_prior_refused() -> None:
    task = Task.evenly_spaced(3)
    with pytest.raises(ValueError, match="prior must be"):
        trilat.predict(task, np.zeros(2), 1, prior="box")


# --------------------------------------------------------------------------- Bayes R^2


@pytest.mark.parametrize("t", [1, 3, 20, 400])
def test_bayes_decodability_against_mpmath(t: int) -> None:
    task = Task.evenly_spaced(6)
    got = float(trilat.bayes_decodability(task, t))
    assert abs(got - ref.bayes_r2_uniform(t, 0.2)) <= 1e-12
    assert got > float(trilat.decodability_ceiling(task, t))


def test_posterior_mean_box_is_truncated_mean() -> None:
    task = Task.evenly_spaced(2)
    mu = np.array([[0.49, -0.7], [0.0, 0.1]])
    got = trilat.posterior_mean(task, mu, 4, prior=BOX)
    np.testing.assert_array_equal(got, truncated_normal_mean(mu, 0.1))
    np.testing.assert_array_equal(trilat.posterior_mean(task, mu, 4), mu)
