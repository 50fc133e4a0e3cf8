"""Counter-based random numbers: Philox4x64-10, keyed by a seed.

Every random number trilat draws for a trial is a pure function of
``(key, trial, step, block)``, never of the order in which trials are drawn.
That is what makes the Monte Carlo kernels give bit-identical numbers for any
chunk size and any number of threads, and lets the numpy path
(:func:`trilat.simulate`) and the numba kernels share one stream.

The functions here use only operators on ``numpy.uint64`` values, so the same
source runs vectorised on numpy arrays and, compiled by ``numba.njit`` in
:mod:`trilat.kernels`, on scalars. There is one implementation of the
generator; it is checked bit for bit against ``numpy.random.Philox`` (the
same algorithm, Salmon et al. 2011, "Parallel random numbers: as easy as
1, 2, 3") in the tests.

Counter layout: ``(trial, step, block, 0)``. Step 0 draws the latent ``x*``;
steps ``1..T`` draw the noise ``eps(t)``. Each counter gives four 64-bit words,
so dimension ``d`` uses block ``d // 4``, word ``d % 4``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trilat._checks import seed

# Philox4x64 multipliers and Weyl key increments (Random123, numpy).
M0 = np.uint64(0xD2E7470EE14C6C93)
M1 = np.uint64(0xCA5A826395121157)
W0 = np.uint64(0x9E3779B97F4A7C15)
W1 = np.uint64(0xBB67AE8584CAA73B)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
SHIFT11 = np.uint64(11)
ROUNDS = 10
# (m + 1/2) 2**-53 maps the top 53 bits to the open interval (0, 1).
HALF_ULP = 0.5
TWO_M53 = 2.0**-53


def mulhilo(a, b):
    """High and low 64-bit words of the 128-bit product ``a * b``."""
    a_lo = a & MASK32
    a_hi = a >> SHIFT32
    b_lo = b & MASK32
    b_hi = b >> SHIFT32
    lo_lo = a_lo * b_lo
    hi_lo = a_hi * b_lo
    lo_hi = a_lo * b_hi
    cross = (lo_lo >> SHIFT32) + (hi_lo & MASK32) + lo_hi
    hi = a_hi * b_hi + (hi_lo >> SHIFT32) + (cross >> SHIFT32)
    return hi, a * b


def philox4x64(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 block function: four counter words, two key words -> four words."""
    for r in range(ROUNDS):
        if r > 0:
            k0 = k0 + W0
            k1 = k1 + W1
        hi0, lo0 = mulhilo(M0, c0)
        hi1, lo1 = mulhilo(M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def to_unit(word):
    """Top 53 bits of a word as a double in the open interval (0, 1)."""
    return (np.float64(word >> SHIFT11) + HALF_ULP) * TWO_M53


def key_from_rng(rng: Any) -> np.ndarray:
    """The two key words for a seed.

    ``None``, an int or a ``SeedSequence`` are expanded by ``SeedSequence``;
    a ``Generator`` gives two draws from itself (so it advances).
    """
    rng = seed(rng)
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, np.iinfo(np.uint64).max, size=2, dtype=np.uint64, endpoint=True)
    if not isinstance(rng, np.random.SeedSequence):
        rng = np.random.SeedSequence(rng)
    return rng.generate_state(2, np.uint64)


def uniforms(key: np.ndarray, trials: np.ndarray, steps: np.ndarray, dim: int) -> np.ndarray:
    """Uniforms on (0, 1) for every ``(trial, step, d)``, shape ``(len(trials), len(steps), dim)``."""
    n_blocks = -(-dim // 4)
    tr = np.asarray(trials, dtype=np.uint64)[:, None, None]
    st = np.asarray(steps, dtype=np.uint64)[None, :, None]
    bl = np.arange(n_blocks, dtype=np.uint64)[None, None, :]
    shape = np.broadcast_shapes(tr.shape, st.shape, bl.shape)
    zero = np.zeros(shape, dtype=np.uint64)
    # keys as arrays: numpy warns on wrapping scalar arithmetic, not on arrays
    k0, k1 = (np.full((1, 1, 1), k, dtype=np.uint64) for k in key)
    words = philox4x64(tr + zero, st + zero, bl + zero, zero, k0, k1)
    # block-major, word-minor: dimension d is block d // 4, word d % 4
    out = np.stack([to_unit(w) for w in words], axis=-1)
    return out.reshape(shape[0], shape[1], n_blocks * 4)[..., :dim]
