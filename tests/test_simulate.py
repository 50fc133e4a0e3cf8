"""simulate() and its counter-based Philox4x64-10 stream.

The generator is checked bit for bit against ``numpy.random.Philox`` (the same
algorithm, an independent implementation); the trial stream against its
definition (every number a pure function of seed, trial, step and block); and
the draws against their distributions.

Monte Carlo tolerances are Z = 5 standard errors: for a given seed a correct
implementation fails a check with probability < 6e-7 (two-sided normal tail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

import trilat
from trilat import Gaussian, Task, Uniform, _philox

Z = 5.0
U64 = st.integers(0, 2**64 - 1)


def numpy_block(counter: tuple[int, int, int, int], key: tuple[int, int]) -> list[int]:
    """Philox4x64-10 at ``counter`` via numpy. numpy increments its 256-bit counter before
    generating, so it is started at ``counter - 1`` (with borrow across the words)."""
    value = sum(int(w) << (64 * i) for i, w in enumerate(counter))
    prev = (value - 1) % (1 << 256)
    words = np.array([(prev >> (64 * i)) & (2**64 - 1) for i in range(4)], dtype=np.uint64)
    gen = np.random.Philox(counter=words, key=np.array(key, dtype=np.uint64))
    return [int(w) for w in gen.random_raw(4)]


@given(U64, U64, U64, U64, U64, U64)
def test_block_function_is_bit_identical_to_numpy_philox(c0, c1, c2, c3, k0, k1):
    ours = _philox.philox4x64(
        *(np.array([c], dtype=np.uint64) for c in (c0, c1, c2, c3)),
        np.array([k0], dtype=np.uint64),
        np.array([k1], dtype=np.uint64),
    )
    assert [int(w[0]) for w in ours] == numpy_block((c0, c1, c2, c3), (k0, k1))


@pytest.mark.parametrize("counter", [(0, 0, 0, 0), (2**64 - 1, 0, 0, 0), (5, 2**64 - 1, 3, 0)])
def test_block_function_at_counter_edges(counter):
    key = (0x0123456789ABCDEF, 0xFEDCBA9876543210)
    ours = _philox.philox4x64(
        *(np.array([c], dtype=np.uint64) for c in counter),
        *(np.array([k], dtype=np.uint64) for k in key),
    )
    assert [int(w[0]) for w in ours] == numpy_block(counter, key)


def test_simulate_draws_exactly_its_documented_stream():
    """Rebuild simulate's output from numpy's Philox alone: counter (trial, step, block, 0),
    step 0 for x*, steps 1..T for the noise, dimension d in block d // 4, word d % 4,
    uniform (top 53 bits + 1/2) 2^-53, noise Phi^-1(uniform), key from SeedSequence."""
    task = Task.random(5, 3, sigma=0.3, rng=0, prior=Uniform(-2.0, 1.0))  # D = 5: two blocks
    n, T, first, seed = 3, 4, 17, 2024
    trials = trilat.simulate(task, n, T, rng=seed, first_trial=first)
    key = tuple(int(k) for k in np.random.SeedSequence(seed).generate_state(2, np.uint64))
    for i in range(n):
        for step in range(T + 1):
            words = []
            for block in range(2):
                words += numpy_block((first + i, step, block, 0), key)
            u = np.array([((w >> 11) + 0.5) * 2.0**-53 for w in words[:5]])
            if step == 0:
                np.testing.assert_array_equal(trials.x_star[i], -2.0 + 3.0 * u)
            else:
                expected = trials.x_star[i] + 0.3 * special.ndtri(u)
                np.testing.assert_array_equal(trials.evidence[i, step - 1], expected)


def test_shapes_and_dtype():
    task = Task.evenly_spaced(6)
    trials = trilat.simulate(task, 7, 20, rng=0)
    assert trials.x_star.shape == (7, 2) and trials.evidence.shape == (7, 20, 2)
    assert trials.x_star.dtype == trials.evidence.dtype == np.float64
    assert (trials.n_trials, trials.n_steps, trials.first_trial) == (7, 20, 0)
    empty = trilat.simulate(task, 0, 3, rng=0)
    assert empty.evidence.shape == (0, 3, 2)


@pytest.mark.slow
@given(st.integers(0, 2**63), st.integers(0, 60), st.integers(1, 20), st.integers(1, 9))
def test_any_range_of_trials_is_the_slice_of_a_bigger_draw(seed, first, count, dim):
    task = Task.random(dim, 2, rng=1)
    big = trilat.simulate(task, first + count + 5, 5, rng=seed)
    part = trilat.simulate(task, count, 5, rng=seed, first_trial=first)
    np.testing.assert_array_equal(part.x_star, big.x_star[first : first + count])
    np.testing.assert_array_equal(part.evidence, big.evidence[first : first + count])
    assert part.first_trial == first


def test_more_steps_extend_fewer_steps():
    task = Task.evenly_spaced(3)
    short = trilat.simulate(task, 10, 5, rng=3)
    long = trilat.simulate(task, 10, 12, rng=3)
    np.testing.assert_array_equal(long.evidence[:, :5], short.evidence)
    np.testing.assert_array_equal(long.x_star, short.x_star)


def test_seeds_and_generators():
    task = Task.evenly_spaced(3)
    a = trilat.simulate(task, 50, 4, rng=9)
    np.testing.assert_array_equal(a.evidence, trilat.simulate(task, 50, 4, rng=9).evidence)
    assert not np.array_equal(a.evidence, trilat.simulate(task, 50, 4, rng=10).evidence)
    # A Generator supplies the key (two draws) and advances: same state, same numbers.
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    b1 = trilat.simulate(task, 50, 4, rng=g1)
    np.testing.assert_array_equal(b1.evidence, trilat.simulate(task, 50, 4, rng=g2).evidence)
    assert not np.array_equal(b1.evidence, trilat.simulate(task, 50, 4, rng=g1).evidence)
    seq = trilat.simulate(task, 50, 4, rng=np.random.SeedSequence(9))
    np.testing.assert_array_equal(seq.evidence, a.evidence)
    unseeded = trilat.simulate(task, 5, 2)  # rng=None: fresh entropy, still valid draws
    assert np.all(np.isfinite(unseeded.evidence))


def test_noise_is_standard_normal():
    """eps = (X - x*) / sigma over n = 20000 trials x T = 10 steps x D = 2: M = 4e5 draws.
    Mean: se 1/sqrt(M). Variance: se sqrt(2/M) (normal fourth moment 3). Lag-1 and
    cross-dimension correlations: se 1/sqrt(M'). KS test rejection level 1e-6."""
    task = Task.evenly_spaced(4, sigma=0.3)
    trials = trilat.simulate(task, 20000, 10, rng=123)
    eps = (trials.evidence - trials.x_star[:, None, :]) / 0.3
    flat = eps.ravel()
    m = flat.size
    assert abs(flat.mean()) <= Z / math.sqrt(m)
    assert abs(flat.var() - 1.0) <= Z * math.sqrt(2.0 / m)
    lag = np.mean(eps[:, 1:] * eps[:, :-1])
    assert abs(lag) <= Z / math.sqrt(eps[:, 1:].size)
    cross = np.mean(eps[..., 0] * eps[..., 1])
    assert abs(cross) <= Z / math.sqrt(eps[..., 0].size)
    assert stats.kstest(flat[:200000], stats.norm.cdf).pvalue > 1e-6


def test_latents_follow_the_prior():
    """x* from the task's prior: KS rejection level 1e-6, and x* independent of the noise."""
    uniform = Task.evenly_spaced(3)
    x = trilat.simulate(uniform, 20000, 1, rng=7).x_star
    for j in range(2):
        assert stats.kstest(x[:, j], stats.uniform(-0.5, 1.0).cdf).pvalue > 1e-6
    gauss = Task.evenly_spaced(3, prior=Gaussian(1.0, 0.5))
    trials = trilat.simulate(gauss, 20000, 2, rng=7)
    assert stats.kstest(trials.x_star[:, 0], stats.norm(1.0, 0.5).cdf).pvalue > 1e-6
    eps = trials.evidence[:, 0, 0] - trials.x_star[:, 0]
    corr = np.corrcoef(eps, trials.x_star[:, 0])[0, 1]
    assert abs(corr) <= Z / math.sqrt(20000)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"task": "task"}, "task"),
        ({"n_trials": -1}, "n_trials"),
        ({"n_trials": 2.0}, "n_trials"),
        ({"n_steps": 0}, "n_steps"),
        ({"n_steps": 1.5}, "n_steps"),
        ({"first_trial": -3}, "first_trial"),
        ({"rng": "seed"}, "rng"),
        ({"rng": 1.5}, "rng"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(kwargs, name):
    args = {"task": Task.evenly_spaced(2), "n_trials": 3, "n_steps": 4, "rng": 0, **kwargs}
    first = args.pop("first_trial", 0)
    with pytest.raises(ValueError, match=name):
        trilat.simulate(
            args["task"], args["n_trials"], args["n_steps"], rng=args["rng"], first_trial=first
        )
