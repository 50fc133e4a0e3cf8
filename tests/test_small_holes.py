"""The smaller holes of issue 12 item 9: each input that slipped through, now refused or exact."""

from __future__ import annotations

import numpy as np
import pytest

import trilat
import trilat.kernels
from trilat import Task


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-160, 1e-300, 1.0])
def test_task_rows_are_unit_norm_at_any_scale(scale):
    """Rows are normalised by their largest entry first: no overflow to a zero C (1e200 gave
    rank 0) and no subnormal digits lost (1e-160 came out 5.6e-6 off unit norm)."""
    C = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [1e-3, -2.0]]) * scale
    task = Task(C, np.zeros(4), 0.2)
    assert task.rank == 2
    norms = np.linalg.norm(task.C, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=0, atol=4 * np.finfo(float).eps)
    np.testing.assert_allclose(task.C[2], [0.6, 0.8], rtol=2e-16)


def test_task_offsets_scale_with_their_rows():
    task = Task([[3e200, 4e200]], [5e200], 0.2)
    assert task.b[0] == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(ValueError, match=r"b / \|c\|"):
        Task([[1e-300, 0.0]], [1e300], 0.2)


@pytest.mark.parametrize("bad", ["0.2", True, False, np.bool_(True), 1 + 0j, None, [0.2]])
def test_numeric_scalars_refuse_strings_and_booleans(bad):
    with pytest.raises(ValueError, match="sigma"):
        Task(np.eye(2), np.zeros(2), bad)
    with pytest.raises(ValueError, match="Gaussian std"):
        trilat.Gaussian(0.0, bad)
    with pytest.raises(ValueError, match="Gaussian mean"):
        trilat.Gaussian(bad, 1.0)
    with pytest.raises(ValueError, match="Uniform needs finite low < high"):
        trilat.Uniform(bad, 1.0)


def test_numeric_scalars_accept_numpy_reals():
    assert Task(np.eye(2), np.zeros(2), np.float32(0.5)).sigma == 0.5
    assert Task(np.eye(2), np.zeros(2), np.array(0.25)).sigma == 0.25
    assert Task(np.eye(2), np.zeros(2), 1).sigma == 1.0


@pytest.mark.parametrize("simulate", [trilat.simulate, trilat.kernels.simulate])
def test_simulate_refuses_a_trial_range_that_wraps_the_counter(simulate):
    task = Task.evenly_spaced(2)
    last = simulate(task, 2, 1, rng=0, first_trial=2**64 - 2)  # the last two trials: fine
    assert last.x_star.shape == (2, 2)
    with pytest.raises(ValueError, match=r"first_trial \+ n_trials must be <= 2\*\*64"):
        simulate(task, 3, 1, rng=0, first_trial=2**64 - 2)
    with pytest.raises(ValueError, match="first_trial"):
        simulate(task, 1, 1, rng=0, first_trial=2**64)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "x", 2.0])
def test_the_rng_error_names_the_argument(bad):
    task = Task.evenly_spaced(3)
    calls = [
        lambda: trilat.simulate(task, 2, 2, rng=bad),
        lambda: Task.random(2, 3, rng=bad),
        lambda: trilat.Uniform().sample(2, 2, rng=bad),
        lambda: trilat.kernels.simulate(task, 2, 2, rng=bad),
        lambda: trilat.kernels.monte_carlo(task, 2, 2, rng=bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"^rng must be an int seed >= 0"):
            call()


def test_cases_print_as_code_that_rebuilds_them():
    """A falsifying case of tt.cases() pastes back: task_from(...) with round-trip floats."""
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings

    import trilat.testing as tt

    seen = []

    @settings(max_examples=20, database=None, deadline=None)
    @given(tt.cases(dim=3, max_offset=1.0))
    def collect(case):
        seen.append(case)

    collect()
    for case in seen:
        namespace = {"task_from": tt.task_from, "array": np.array, "Uniform": trilat.Uniform}
        task, mu, t = eval(repr(case), namespace)
        assert task == case[0]
        np.testing.assert_array_equal(mu, case[1])
        assert t == case[2]
        assert repr(case).startswith("(task_from(boundaries=(array(")


@pytest.mark.parametrize("scale", [1e-200, 1e-100, 1.0, 1e100, 1e200])
def test_participation_ratio_is_scale_free(scale):
    H = np.random.default_rng(0).normal(size=(200, 6)) * [1, 2, 3, 0.5, 0.1, 4]
    assert trilat.participation_ratio(H * scale) == pytest.approx(
        trilat.participation_ratio(H), rel=1e-13
    )
    with pytest.raises(ValueError, match="constant"):
        trilat.participation_ratio(np.full((10, 3), 1e-200))


def test_an_empty_weights_file_is_a_value_error(tmp_path):
    torch = pytest.importorskip("torch")
    empty = tmp_path / "weights.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty or truncated"):
        trilat.load_state_dict(torch.nn.Linear(2, 2), empty)
