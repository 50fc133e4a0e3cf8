"""Theorem 3.1 part 2: the linearisation constants and the closed-form affine decoder.

References: sympy for the Taylor slope and cubic term of ``Phi^-1(sigmoid(z))``,
mpmath for the logistic variance and the least-squares integral,
scikit-learn for a discrete least-squares fit.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from _support import mp_reference as ref
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

import trilat
from trilat import AffineMap, NotIdentifiableError, Task

_z = sp.symbols("z", real=True)
# Phi^-1(sigmoid(z)) = sqrt(2) erfinv(2 sigmoid(z) - 1)
_H = sp.sqrt(2) * sp.erfinv(2 / (1 + sp.exp(-_z)) - 1)
_SERIES = sp.series(_H, _z, 0, 5).removeO()
TAYLOR_SLOPE = _SERIES.coeff(_z, 1)  # exact: sqrt(2 pi) / 4
CUBIC = float(_SERIES.coeff(_z, 3))  # h(z) = slope z + CUBIC z^3 + O(z^5)
QUINTIC_BOUND = 1e-3  # |coefficient of z^5| = 6.1e-4 (sympy); used only for |z| <= 0.05


def test_taylor_slope_is_the_exact_derivative_at_zero():
    assert sp.simplify(TAYLOR_SLOPE - sp.sqrt(2 * sp.pi) / 4) == 0
    exact = float(sp.N(TAYLOR_SLOPE, 30))  # correctly rounded
    assert trilat.linearization_constant("sigmoid", "taylor") == exact
    # tanh readout: Yhat = sigmoid(2z), so every constant doubles (exactly, in binary)
    assert trilat.linearization_constant("tanh", "taylor") == 2 * exact


def test_moment_constant_matches_the_logistic_variance():
    """sigmoid(z) ~ Phi(alpha z) with equal variances: logistic var pi^2/3 = 1 / alpha^2.

    The variance is integrated by mpmath at 50 digits; sqrt(3)/pi computed in double
    rounds three times (sqrt, the constant pi, the division): within 2 eps."""
    var = mp.quad(lambda z: z * z * mp.exp(-z) / (1 + mp.exp(-z)) ** 2, [-mp.inf, 0, mp.inf])
    alpha = 1 / mp.sqrt(var)
    got = trilat.linearization_constant("sigmoid", "moment")
    assert abs(got - float(alpha)) <= 2 * ref.EPS * float(alpha)
    assert trilat.linearization_constant("tanh", "moment") == 2 * got
    assert got == trilat.linearization_constant()  # the default is sigmoid, moment


@pytest.mark.parametrize(
    "activation,scale,a", [("sigmoid", 1, 0.5), ("sigmoid", 1, 5.0), ("tanh", 2, 20.0)]
)
def test_lsq_slope_is_the_least_squares_integral(a, activation, scale):
    """alpha(a) = argmin_k int_{-a}^{a} (h(z) - k z)^2 dz = 3/a^3 int_0^a z h(z) dz.

    Reference: mpmath quad of the 50-digit h. The package asks scipy's quad for
    relative 1e-13 and its integrand carries <= 4 eps (1 + kappa <= 1): 1e-12 bounds both."""
    with mp.workdps(20):  # 20 digits are plenty against 1e-12, and 10x faster than 50
        integral = mp.quad(lambda z: z * ref.probit_expit(float(scale * z)), [0, a / 4, a])
        expected = float(3 * integral / mp.mpf(a) ** 3)
    got = trilat.linearization_constant(activation, "lsq", half_width=a)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_lsq_slope_agrees_with_a_discrete_least_squares_fit():
    """scikit-learn on n midpoints of [-a, a]. The slope is a ratio of midpoint sums of
    f = z h(z) and z^2, each off its integral by (d^2/24) [f']_{-a}^{a}, d = 2a/n; with
    h odd that puts the ratio off by d^2/24 |2 (h(a) + a h'(a)) / I1 - 4a / I2| relative
    (I1, I2 the integrals): 3.2e-10 at a = 3, n = 20000. The least-squares solve adds
    ~n eps = 4e-12. Tolerance 1e-9, three times the derived gap."""
    a, n = 3.0, 20000
    z = -a + (np.arange(n) + 0.5) * (2 * a / n)
    y = trilat.distances_from_logits(Task([[1.0]], [0.0], 1.0), z[:, None], 1.0)[:, 0]
    fit = LinearRegression(fit_intercept=False).fit(z[:, None], y)
    assert trilat.linearization_constant("sigmoid", "lsq", half_width=a) == pytest.approx(
        fit.coef_[0], rel=1e-9
    )


def test_lsq_slope_tends_to_taylor_as_the_range_shrinks():
    """alpha(a) = slope + (3/5) CUBIC a^2 + O(a^4) (integrate z (slope z + CUBIC z^3))."""
    slope = trilat.linearization_constant("sigmoid", "taylor")
    for a in (0.2, 0.05):
        got = trilat.linearization_constant("sigmoid", "lsq", half_width=a)
        assert got - slope == pytest.approx(0.6 * CUBIC * a * a, rel=0.05)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"activation": "relu"}, "activation"),
        ({"method": "median"}, "method"),
        ({"method": "lsq"}, "half_width"),
        ({"method": "moment", "half_width": 1.0}, "half_width"),
        ({"method": "lsq", "half_width": 0.0}, "half_width"),
        ({"method": "lsq", "half_width": -1.0}, "half_width"),
        ({"method": "lsq", "half_width": math.nan}, "half_width"),
        ({"method": "lsq", "half_width": math.inf}, "half_width"),
    ],
)
def test_bad_constants_are_refused_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        trilat.linearization_constant(**kwargs)


# --------------------------------------------------------------------------- the decoder


def shared_point_task(x0, n_tasks=5, seed=0) -> Task:
    """Boundaries all through ``x0``: ``b = C x0``, so ``u`` is small for every task near ``x0``."""
    C = np.random.default_rng(seed).normal(size=(n_tasks, len(x0)))
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    return Task(C, C @ np.asarray(x0), 0.3)


def test_decoder_weight_and_offset_are_the_closed_form():
    task = Task.random(3, 7, sigma=0.3, rng=2, offset_scale=0.4)
    t = np.array([1.0, 2.0, 5.0])
    dec = trilat.linear_decoder(task, t, "tanh", "moment")
    alpha = trilat.linearization_constant("tanh", "moment")
    assert dec.weight.shape == (3, 3, 7) and dec.offset.shape == (3,)
    s = 0.3 / np.sqrt(t)
    np.testing.assert_allclose(dec.weight, (s * alpha)[:, None, None] * task.pinv, rtol=1e-15)
    np.testing.assert_array_equal(dec.offset, task.pinv @ task.b)
    single = trilat.linear_decoder(task, 2.0)
    assert single.weight.shape == (3, 7)
    with_std = trilat.linear_decoder(task, None, std=0.3 / np.sqrt(2.0))
    np.testing.assert_array_equal(with_std.weight, single.weight)


def test_offset_is_pinv_b_unscaled_against_the_exact_recovery():
    """Boundaries through x0 != 0 (so b = C x0 != 0). At z = 0 the exact recovery
    C^+ (s Phi^-1(1/2) + b) = C^+ b = x0 and the decoder must return it; the poster's
    s alpha C^+ (Z + b) would return s alpha x0 instead."""
    x0 = np.array([0.31, -0.17])
    task = shared_point_task(x0)
    dec = trilat.linear_decoder(task, 4.0)
    exact = trilat.recover(task, trilat.distances_from_logits(task, np.zeros(5), 4.0))
    np.testing.assert_allclose(dec(np.zeros(5)), exact, rtol=0, atol=4 * ref.EPS)
    np.testing.assert_allclose(dec(np.zeros(5)), x0, rtol=0, atol=4 * ref.EPS)
    poster = (0.3 / 2.0) * trilat.linearization_constant() * task.pinv @ task.b
    assert np.linalg.norm(poster - x0) > 0.1


@given(st.integers(0, 2**32 - 1), st.floats(1e-4, 0.05), st.floats(1.0, 50.0))
def test_taylor_decoder_is_exact_to_third_order_near_the_boundaries(seed, radius, t):
    """Near x0 every |z| <= ~radius, where h(z) = slope z + CUBIC z^3 + O(z^5). So
    |decoder(z) - exact(z)| = s |C^+ (h(z) - slope z)| <= s ||C^+|| ||CUBIC z^3 + 1e-3 z^5||,
    plus rounding ~ 16 eps (|x0| + s ||C^+|| ||z||)."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-0.4, 0.4, 2)
    task = shared_point_task(x0, seed=seed % 1000)
    s = task.sigma / np.sqrt(t)
    # mu with |u| about radius: z is then about 1.6 radius
    mu = x0 + rng.uniform(-1.0, 1.0, (6, 2)) * radius * s
    z = trilat.predict_logits(task, mu, t)
    exact = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    linear = trilat.linear_decoder(task, t, method="taylor")(z)
    gap = np.abs(CUBIC) * np.abs(z) ** 3 + QUINTIC_BOUND * np.abs(z) ** 5
    pinv = np.linalg.norm(task.pinv, 2)
    bound = s * pinv * np.linalg.norm(gap, axis=-1)
    bound += 16 * ref.EPS * (np.linalg.norm(x0) + s * pinv * np.linalg.norm(z, axis=-1))
    assert np.all(np.linalg.norm(linear - exact, axis=-1) <= bound)
    np.testing.assert_allclose(exact, mu, rtol=0, atol=1e-13)


def test_affine_map_applies_time_dependent_weights_along_the_time_axis():
    task = Task.random(2, 4, rng=1, offset_scale=0.2)
    t = np.arange(1.0, 6.0)
    dec = trilat.linear_decoder(task, t)
    z = np.random.default_rng(3).normal(size=(7, 5, 4))
    got = dec(z)
    assert got.shape == (7, 5, 2)
    for i in range(5):
        one = trilat.linear_decoder(task, t[i])
        np.testing.assert_allclose(got[:, i], one(z[:, i]), rtol=1e-14, atol=1e-15)
    by_hand = AffineMap(weight=dec.weight[2], offset=dec.offset)
    np.testing.assert_allclose(by_hand(z[:, 2]), got[:, 2], rtol=1e-14, atol=1e-15)


def test_decoder_refuses_bad_input():
    task = Task.evenly_spaced(3)
    dec = trilat.linear_decoder(task, 1.0)
    with pytest.raises(ValueError, match=r"\bz\b"):
        dec(np.zeros(4))
    with pytest.raises(ValueError, match=r"\bz\b"):
        dec(0.0)
    with pytest.raises(ValueError, match="task"):
        trilat.linear_decoder("task", 1.0)
    with pytest.raises(ValueError, match="activation"):
        trilat.linear_decoder(task, 1.0, activation="softplus")
    with pytest.raises(ValueError, match="method"):
        trilat.linear_decoder(task, 1.0, method="pade")
    with pytest.raises(NotIdentifiableError, match="rank 1"):
        trilat.linear_decoder(Task.evenly_spaced(1), 1.0)
