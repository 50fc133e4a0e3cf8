"""trilat.kernels._special: scipy's normal functions bound for numba, and the branch-free Phi, Phi^-1.

- The bindings are scipy's own code: bit-identical to ``scipy.special`` on
  10^6 points each, spread over the whole domain.
- The branch-free functions are checked against mpmath at 50 digits
  (``tests/_support/mp_reference.py``, at the exact double input) in units of the
  spacing of doubles at the exact value (ulp; ``2^-1074`` for subnormal
  results). The specification is at most 4 ulp (``SPEC_ULP``); the docstrings claim the measured
  bounds ``PHI_ULP`` and ``PHI_INV_ULP`` (from ~200,000 points), which the few
  thousand points here must not exceed.
"""

from __future__ import annotations

import math

import mpmath as mp
import numba
import numpy as np
import pytest
from _support import mp_reference as ref
from scipy import special

from trilat.kernels import _special

PHI_ULP = 2.5  # documented in ndtr_lower, fast_ndtr (2.3 measured on 130,000 points)
PHI_INV_ULP = 3.0  # documented in ndtri_lower, fast_ndtri (2.9 measured on 200,000 points)
SPEC_ULP = 4.0  # the specification of the branch-free Phi and Phi^-1


@numba.njit
def _apply(f, x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = f(x[i])
    return out


def ulp_errors(computed: np.ndarray, exact: list) -> np.ndarray:
    """``|computed - exact| / spacing(exact)``, with the spacing at the exact value's binade."""
    errs = []
    for c, e in zip(computed, exact, strict=True):
        e_abs = abs(e)
        if e_abs == 0:
            spacing = mp.mpf(2) ** -1074
        else:
            exponent = max(int(mp.floor(mp.log(e_abs, 2))), -1022)
            spacing = mp.mpf(2) ** (exponent - 52)
        errs.append(float(abs(mp.mpf(float(c)) - e) / spacing))
    return np.array(errs)


# ----------------------------------------------------------------- scipy bindings


def _domain_points(rng: np.random.Generator, name: str, n: int = 10**6) -> np.ndarray:
    if name in ("ndtr", "log_ndtr"):
        x = np.concatenate(
            [
                rng.normal(0, 3, n // 2),
                rng.uniform(-45, 45, n // 4),
                -(10 ** rng.uniform(-3, 3, n // 4)),
            ]
        )
    elif name == "ndtri":
        x = np.concatenate(
            [
                rng.random(n // 2),
                10 ** rng.uniform(-320, 0, n // 4),
                1 - 10 ** rng.uniform(-16, 0, n // 4),
            ]
        )
    else:  # ndtri_exp: y = log p <= 0
        x = -(10 ** rng.uniform(-20, 4, n))
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan, 1e-300, 5e-324, -40.0, 40.0]
    return np.concatenate([x, specials])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ndtr", "ndtri", "log_ndtr", "ndtri_exp"])
def test_bindings_are_bit_identical_to_scipy(name):
    x = _domain_points(np.random.default_rng(3), name)
    ours = _apply(getattr(_special, name), x)
    theirs = getattr(special, name)(x)
    assert ours.tobytes() == theirs.tobytes()  # bit for bit, NaNs included


def test_bindings_are_found_by_signature_not_by_name():
    # scipy 1.17: ndtr and log_ndtr are fused (__pyx_fuse_1...), ndtri and ndtri_exp are not
    for name in ("ndtr", "ndtri", "log_ndtr", "ndtri_exp"):
        address, _ = _special._capsule(name)
        assert address
    with pytest.raises(ImportError, match="no 'double \\(double\\)' chndtr"):
        _special._capsule("chndtr")  # three arguments: no double (double) capsule


# ----------------------------------------------------------------- branch-free Phi


def _phi_points() -> np.ndarray:
    """3,000 points on [-38, 0]: uniform, log-spaced towards 0 and the ends of every piece."""
    rng = np.random.default_rng(11)
    ends = [0.0, -1e-300, -0.5, -0.5000000000000001, -2.25, -4.25, -37.5, -38.0, -40.0]
    return np.concatenate(
        [-rng.uniform(0, 38, 1500), -(10 ** rng.uniform(-12, math.log10(38), 1491)), ends]
    )


@pytest.mark.slow
def test_phi_lower_within_its_ulp_bound_of_mpmath():
    u = _phi_points()
    exact = [ref.ndtr(v) for v in u]
    errs = ulp_errors(_apply(_special.ndtr_lower, u), exact)
    assert errs.max() <= PHI_ULP <= SPEC_ULP, f"{errs.max():.3f} ulp at u = {u[errs.argmax()]!r}"


@pytest.mark.slow
def test_phi_upper_half_by_symmetry_within_its_ulp_bound():
    u = -_phi_points()[:1500]  # Phi(u) = 1 - Phi(-u) on (0, 38]
    exact = [ref.ndtr(v) for v in u]
    errs = ulp_errors(_apply(_special.fast_ndtr, u), exact)
    assert errs.max() <= PHI_ULP, f"{errs.max():.3f} ulp at u = {u[errs.argmax()]!r}"


def test_fast_ndtr_special_values():
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, -1e4, 1e4, -38.4, -39.0])
    out = _apply(_special.fast_ndtr, x)
    np.testing.assert_array_equal(out[:2], [0.0, 1.0])
    assert np.isnan(out[2])
    np.testing.assert_array_equal(out[3:7], [0.5, 0.5, 0.0, 1.0])
    assert out[7] == 13 * 5e-324  # Phi(-38.4) = 6.6e-323: the nearest subnormal, not flushed
    assert out[8] == 0.0  # Phi(-39) = 5.4e-333 is below the smallest subnormal


# ----------------------------------------------------------------- branch-free Phi^-1


def _inverse_points() -> np.ndarray:
    """3,000 points on [1e-300, 1/2]: log-spaced in the tail, uniform in the centre, piece ends."""
    rng = np.random.default_rng(12)
    ends = [1e-300, 0.5, 0.49999999999999994, 0.075, 0.07500000000000001, 0.07499999999999999,
            math.exp(-25.0), 1.3887943864964021e-11, 2.2250738585072014e-308]  # fmt: skip
    tail = 10 ** rng.uniform(-300, math.log10(0.5), 1700)
    return np.concatenate([tail, rng.uniform(0, 0.5, 1291), ends])


@pytest.fixture(scope="module")
def inverse_reference():
    p = _inverse_points()
    return p, [ref.ndtri(v) for v in p]


@pytest.mark.slow
def test_phi_inverse_lower_within_its_ulp_bound_of_mpmath(inverse_reference):
    p, exact = inverse_reference
    errs = ulp_errors(_apply(_special.ndtri_lower, p), exact)
    assert errs.max() <= PHI_INV_ULP <= SPEC_ULP, (
        f"{errs.max():.3f} ulp at p = {p[errs.argmax()]!r}"
    )


@pytest.mark.slow
def test_phi_inverse_upper_half_by_symmetry():
    rng = np.random.default_rng(13)
    upper = np.concatenate([0.5 + rng.uniform(0, 0.5, 300), 1 - 10 ** rng.uniform(-16, -0.4, 300)])
    exact = [ref.ndtri(v) for v in upper]
    errs = ulp_errors(_apply(_special.fast_ndtri, upper), exact)
    assert errs.max() <= PHI_INV_ULP, f"{errs.max():.3f} ulp at p = {upper[errs.argmax()]!r}"


def test_fast_ndtri_special_values():
    p = np.array([0.0, 1.0, -0.1, 1.1, np.nan, 5e-324, 0.5])
    out = _apply(_special.fast_ndtri, p)
    np.testing.assert_array_equal(out[:2], [-np.inf, np.inf])
    assert np.all(np.isnan(out[2:5]))
    assert -38.5 < out[5] < -38.4  # the smallest subnormal
    assert out[6] == 0.0
