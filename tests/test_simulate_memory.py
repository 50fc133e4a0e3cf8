"""``trilat.simulate`` draws in chunks (issue 12 item 8): numbers bit-identical to the
unchunked draw for every chunk size, and a peak memory within 2x of its output."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest

import trilat
import trilat.kernels
from trilat import task as task_module

# sha256 of x_star and evidence as drawn before chunking (one pass over all trials)
BEFORE = {
    "evenly_6": "035868090ee57bef7b2a470bdad4b3ab5e996a4fe6446bf7656d242e56c9337f",
    "gaussian_5d": "194ee8032388cc3594e07b0162a5d9a13a18841e69bc2c713dd9078a544e8cc7",
}


def draw(name):
    if name == "evenly_6":
        return trilat.simulate(trilat.Task.evenly_spaced(6), 1000, 20, rng=0)
    task = trilat.Task.random(5, 7, rng=1, prior=trilat.Gaussian(0.3, 2.0))
    return trilat.simulate(task, 257, 3, rng=12345, first_trial=10**12)


def digest(trials):
    return hashlib.sha256(trials.x_star.tobytes() + trials.evidence.tobytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BEFORE))
@pytest.mark.parametrize("budget", [1, 5_000, 100_000, 2**40])
def test_chunked_draws_are_bit_identical_to_the_unchunked_draw(name, budget, monkeypatch):
    """budget 1 gives one trial per chunk; 2**40 gives chunks of n/16 trials."""
    monkeypatch.setattr(task_module, "SIMULATE_CHUNK_BYTES", budget)
    assert digest(draw(name)) == BEFORE[name]


def test_chunks_match_the_numba_kernel():
    task = trilat.Task.evenly_spaced(3)
    a = trilat.simulate(task, 333, 7, rng=5, first_trial=17)
    b = trilat.kernels.simulate(task, 333, 7, rng=5, first_trial=17)
    np.testing.assert_array_equal(a.evidence, b.evidence)
    np.testing.assert_array_equal(a.x_star, b.x_star)


def test_peak_memory_is_within_twice_the_output():
    """20000 trials x 20 steps, D = 2: 6.4 MB of output; one pass peaked at 8x."""
    task = trilat.Task.evenly_spaced(6)
    trilat.simulate(task, 10, 20, rng=0)  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        trials = trilat.simulate(task, 20_000, 20, rng=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output = trials.x_star.nbytes + trials.evidence.nbytes
    assert peak <= 2 * output, f"peak {peak / output:.2f}x the output"
