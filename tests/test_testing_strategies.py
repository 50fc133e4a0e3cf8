"""trilat.testing: the strategies generate what they promise, compose, and shrink to simple cases."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import trilat
from trilat import testing as tt

EPS = float(np.finfo(np.float64).eps)


@given(tt.tasks(max_condition=30.0))
def test_full_rank_tasks_meet_the_condition_bound(task):
    assert isinstance(task, trilat.Task)
    assert task.identifiable and task.n_tasks >= task.dim
    assert 1.0 <= task.condition_number <= 30.0
    np.testing.assert_allclose(np.linalg.norm(task.C, axis=1), 1.0, rtol=4 * EPS)
    assert np.all(np.abs(task.b) <= 1.0)
    assert 0.01 <= task.sigma <= 2.0


@pytest.mark.slow
@given(tt.boundaries(full_rank=False))
def test_rank_deficient_boundaries_have_rank_below_dim(pair):
    C, b = pair
    assert np.linalg.matrix_rank(C) < C.shape[1]
    assert trilat.Task(C, b, 1.0).rank < C.shape[1]
    assert np.all(np.linalg.norm(C, axis=1) > 0)


@given(tt.boundaries(dim=3, n_tasks=st.integers(3, 5), max_offset=0.0))
def test_dim_and_n_tasks_take_ints_or_strategies(pair):
    C, b = pair
    assert C.shape[1] == 3 and 3 <= C.shape[0] <= 5
    assert np.all(b == 0)


@pytest.mark.slow
def test_reaching_the_condition_bound():
    """The construction fills the range up to max_condition (it is not stuck near 1)."""
    task = find(tt.tasks(dim=2, n_tasks=2, max_condition=50.0), lambda t: t.condition_number > 45)
    assert task.condition_number <= 50.0


@pytest.mark.slow
def test_shrinks_to_identity_blocks():
    task = find(tt.tasks(), lambda t: t.dim == 2 and t.n_tasks == 3)
    np.testing.assert_array_equal(task.C, [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(task.b, 0.0)
    assert task.sigma == 1.0
    mu = find(tt.latents(2, shape=(2,)), lambda m: m.shape == (2, 2))
    np.testing.assert_array_equal(mu, 0.0)
    assert find(tt.times(), lambda t: True) == 1


@given(tt.orthogonal_matrices(st.integers(1, 5)))
def test_orthogonal_matrices_are_orthogonal(q):
    np.testing.assert_allclose(q.T @ q, np.eye(q.shape[0]), atol=8 * q.shape[0] * EPS)


@pytest.mark.slow
@given(st.data())
def test_latents_times_probabilities_logits(data):
    task = data.draw(tt.tasks())
    mu = data.draw(tt.latents(task, shape=(2, 3), max_abs=0.5))
    assert mu.shape == (2, 3, task.dim) and np.all(np.abs(mu) <= 0.5)
    t = data.draw(tt.times(max_value=50))
    assert isinstance(t, int) and 1 <= t <= 50
    ts = data.draw(tt.times(integer=False, shape=(4,)))
    assert ts.shape == (4,) and np.all(ts >= 1.0)
    p = data.draw(tt.probabilities((task.n_tasks,)))
    assert np.all((p > 0) & (p < 1))
    z = data.draw(tt.logits((3, task.n_tasks), max_abs=40.0))
    assert z.shape == (3, task.n_tasks) and np.all(np.abs(z) <= 40.0)
    assert np.all(np.isfinite(trilat.distances_from_logits(task, z, t)))


@pytest.mark.slow
@given(tt.cases(dim=2, max_condition=10.0))
def test_cases_compose_with_the_oracle(case):
    task, mu, t = case
    assert task.dim == 2 and mu.shape == (2,) and t >= 1
    z = trilat.predict_logits(task, mu, t)
    mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    assert np.all(np.isfinite(mu_hat))


@pytest.mark.slow
def test_falsifying_tasks_print_as_code():
    """A falsifying task prints as ``task_from(boundaries=(C, b), ...)``, which rebuilds it."""

    @settings(database=None, max_examples=50)
    @given(tt.tasks())
    def fails(task):
        assert task.n_tasks < 2

    with pytest.raises(AssertionError) as info:
        fails()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "task_from(" in notes and "boundaries=" in notes and "array(" in notes
    task = tt.task_from((np.eye(2), np.zeros(2)), 0.5)
    assert task == trilat.Task(np.eye(2), np.zeros(2), 0.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tt.boundaries(max_condition=1.0),
        lambda: tt.boundaries(max_offset=-1.0),
        lambda: tt.boundaries(dim=0),
        lambda: tt.latents(None),
        lambda: tt.latents(2, max_abs=0.0),
        lambda: tt.times(min_value=0.5),
        lambda: tt.logits(3, max_abs=np.inf),
        lambda: tt.tasks(sigma=-1.0),
        lambda: tt.tasks(prior="flat"),
    ],
)
def test_bad_arguments_are_refused(make):
    with pytest.raises(InvalidArgument):
        make()


def test_full_rank_with_fewer_tasks_than_dim_is_refused_when_drawn():
    with pytest.raises(InvalidArgument, match="n_tasks >= dim"):
        find(tt.boundaries(dim=3, n_tasks=2), lambda pair: True)


def test_missing_hypothesis_names_the_test_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "trilat.testing")
    with pytest.raises(ImportError, match=r"pip install 'trilat\[test\]'"):
        importlib.import_module("trilat.testing")


@pytest.mark.integration
def test_import_trilat_does_not_import_hypothesis():
    code = "import sys, trilat; assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def run_example(code: str) -> list[str]:
    """Execute example code and call every ``test_*`` function it defines."""
    namespace: dict = {}
    exec(compile(code, "<example>", "exec"), namespace)
    names = [name for name in namespace if name.startswith("test_")]
    for name in names:
        namespace[name]()
    return names


@pytest.mark.slow
def test_docs_example_runs():
    page = (Path(__file__).resolve().parents[1] / "docs" / "testing.md").read_text()
    section = page.split("# Testing your own estimator", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    assert len(run_example(code)) == 2


def test_module_docstring_example_runs():
    code = textwrap.dedent(tt.__doc__.split("::", 1)[1])
    assert run_example(code) == ["test_my_estimator_recovers_mu"]
