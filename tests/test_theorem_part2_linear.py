"""Theorem 3.1 part 2, linear decodability: with a sigmoid readout ``mu(t)`` is nearly affine in z.

``mu = C^+ (s(t) h(z) + b)`` exactly, ``h(z) = Phi^-1(sigmoid(z))``, and
``trilat.linear_decoder`` replaces ``h(z)`` by ``alpha z``. The bound on the
error is the one ``derivations/linearization.py`` derives,
``||mu_lin - mu|| <= s(t) ||C^+||_2 sqrt(N) E(a)`` whenever every ``|z_i| <= a``,
with ``E(a) = max_{|z| <= a} |h(z) - alpha z|`` computed there with mpmath from
the derived constant (not the package's): imported from the script, not
re-derived here.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from _support.theorem_bounds import decoder_rounding
from hypothesis import example, given
from hypothesis import strategies as st

import trilat
from trilat import testing as tt

SCRIPT = Path(__file__).resolve().parents[1] / "derivations" / "linearization.py"
_spec = importlib.util.spec_from_file_location("derivations_linearization", SCRIPT)
derivation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(derivation)

# |u| <= 3 / s with s >= 0.3 / sqrt(100) = 0.03 (|c_i^T mu| <= ||mu|| <= 2, |b_i| <= 1),
# so |u| <= 100 and |z| ~ u^2/2 <= 5000: from the linear regime near the boundaries,
# where the decoder is accurate, deep into the tails, where its error is ~ s alpha |z|.
SIGMAS = st.floats(0.3, 2.0)
MAX_T = 100
# E(a) is a maximum over |z| <= a, so it never decreases with a: the bound at any a' >= a
# holds wherever the bound at a does. Evaluating it at a' = the grid point at or above
# max(a, 2^-6) (2^(1/4) apart) costs one mpmath evaluation per grid point and run, and
# loosens the bound by at most E(1.19 a) - E(a), about 0.014 a near z = 0.
GRID_PER_OCTAVE = 4
SMALLEST_A = 2.0**-6


def grid_above(a):
    """The grid point at or above ``max(a, SMALLEST_A)``."""
    a = max(a, SMALLEST_A)
    return 2.0 ** (math.ceil(math.log2(a) * GRID_PER_OCTAVE) / GRID_PER_OCTAVE)


@st.composite
def linear_cases(draw):
    task = draw(tt.tasks(sigma=SIGMAS, max_condition=100.0))
    mu = draw(tt.latents(task, shape=st.integers(1, 3)))
    return task, mu, draw(tt.times(max_value=MAX_T))


@pytest.mark.slow
@given(linear_cases(), st.sampled_from(["sigmoid", "tanh"]))
@example((trilat.Task.evenly_spaced(6, sigma=0.3), np.array([[0.1, -0.05]]), 1), "sigmoid")
@example((trilat.Task([[1.0]], [0.0], 0.3), np.array([[1.0]]), 9), "sigmoid")  # u = 10, z ~ 53
@example((trilat.Task([[1.0]], [0.0], 1.0), np.array([[0.01]]), 1), "sigmoid")  # near z = 0
def test_linear_decoder_error_within_derived_bound(case, activation):
    """For every full-rank C, sigma, t, mu and readout: the closed-form decoder
    ``linear_decoder(task, t, activation)`` applied to the optimal outputs' logits
    errs by at most ``s(t) ||C^+||_2 sqrt(N) E(a)`` for any ``a >= max_i |z_i|``, the bound
    derived in derivations/linearization.py (``uniform_decoder_error_bound``), plus
    rounding (``_support.theorem_bounds.decoder_rounding``)."""
    task, mu, t = case
    scale = 2.0 if activation == "tanh" else 1.0
    z = trilat.predict_logits(task, mu, t) / scale  # the readout's own logit
    mu_lin = trilat.linear_decoder(task, t, activation)(z)
    err = np.linalg.norm(mu_lin - mu, axis=-1)
    s = task.sigma / np.sqrt(t)
    alpha = trilat.linearization_constant(activation)
    allowance = decoder_rounding(task, mu, z * scale, s, alpha)
    for e, z_row, slack in zip(err, z, allowance, strict=True):
        a = grid_above(float(np.max(np.abs(z_row))))
        assert e <= derivation.uniform_decoder_error_bound(task, a, t, activation) + slack
