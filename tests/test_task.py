"""The task model: Task (canonical rows, rank, conditioning, labels), priors, MixingMLP,
posterior_std, and every bad input they must refuse.

Monte Carlo checks use a fixed seed and a tolerance of Z standard errors; with
Z = 5 a correct implementation fails for a given seed with probability
< 6e-7 per check (two-sided normal tail), so a failure means a defect.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import trilat
from trilat import Gaussian, MixingMLP, NotIdentifiableError, Task, Uniform
from trilat.testing import tasks

EPS = float(np.finfo(np.float64).eps)

Z = 5.0  # standard errors; P(|N(0,1)| > 5) = 5.7e-7


# --------------------------------------------------------------------------- Task


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 5),
    st.integers(1, 8),
    st.floats(1e-3, 1e3),
)
def test_rows_are_stored_with_unit_norm_and_labels_are_unchanged(seed, dim, n, scale):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(n, dim)) * rng.uniform(0.1, 10.0, (n, 1)) * scale
    b = rng.normal(size=n) * scale
    task = Task(C, b, 0.2)
    norms = np.linalg.norm(C, axis=1)
    np.testing.assert_allclose(np.linalg.norm(task.C, axis=1), 1.0, rtol=4e-16 * dim)
    np.testing.assert_allclose(task.C, C / norms[:, None], rtol=1e-15)
    np.testing.assert_allclose(task.b, b / norms, rtol=1e-15)
    x = rng.normal(size=(50, dim)) * scale
    # away from the boundary (|margin| > 1e-9 relative) rounding cannot flip a label
    margin = np.abs(x @ C.T - b) / (np.abs(x) @ np.abs(C).T + np.abs(b))
    keep = margin > 1e-9
    np.testing.assert_array_equal(task.labels(x)[keep], (x @ C.T > b)[keep])


def test_properties_and_readonly_arrays():
    task = Task([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]], [1.0, 0.0, 0.5], 0.25)
    assert (task.dim, task.n_tasks, task.rank, task.sigma) == (2, 3, 2, 0.25)
    assert task.identifiable
    task.require_identifiable()
    assert task.prior == Uniform(-0.5, 0.5)
    np.testing.assert_allclose(task.b, [0.5, 0.0, 0.5 / math.sqrt(2.0)], rtol=1e-15)
    s = np.linalg.svd(task.C, compute_uv=False)
    assert task.condition_number == pytest.approx(s[0] / s[-1], rel=1e-14)
    np.testing.assert_allclose(task.pinv, np.linalg.pinv(task.C), rtol=0, atol=1e-15)
    for arr in (task.C, task.b, task.pinv):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0
    with pytest.raises(AttributeError, match="immutable"):
        task.sigma = 1.0


@given(task=tasks(), anisotropic=st.booleans(), gaussian=st.booleans())
def test_pickle_copy_and_deepcopy_give_the_same_task(task, anisotropic, gaussian):
    """An immutable Task survives pickle (process pools), copy and deepcopy bit for bit."""
    import copy
    import pickle

    if anisotropic:
        cov = np.diag(np.linspace(0.01, 0.09, task.dim)) + 0.001
        task = Task(task.C, task.b, noise_cov=cov, prior=Gaussian(0.1, 0.7) if gaussian else None)
    elif gaussian:
        task = Task(task.C, task.b, task.sigma, Gaussian(0.1, 0.7))
    for again in (pickle.loads(pickle.dumps(task)), copy.copy(task), copy.deepcopy(task)):
        assert again == task
        for name in ("C", "b", "noise_scales", "pinv"):
            np.testing.assert_array_equal(getattr(again, name), getattr(task, name))
        assert again.condition_number == task.condition_number
        assert again.rank == task.rank


def test_input_arrays_are_copied_not_aliased():
    C = np.array([[1.0, 0.0], [0.0, 1.0]])
    task = Task(C, np.zeros(2), 0.2)
    C[0, 0] = 5.0
    assert task.C[0, 0] == 1.0


def test_pinv_is_computed_once():
    task = Task.random(3, 6, rng=0)
    assert task.pinv is task.pinv


@pytest.mark.parametrize(
    "C,rank,cond_finite",
    [([[1.0, 0.0]], 1, False), ([[1.0, 1.0], [2.0, 2.0]], 1, False), (np.eye(3), 3, True)],
)
def test_rank_and_identifiability(C, rank, cond_finite):
    task = Task(C, np.zeros(len(C)), 0.2)
    assert task.rank == rank
    assert task.identifiable == (rank == np.shape(C)[1])
    assert math.isfinite(task.condition_number) == cond_finite
    if not task.identifiable:
        with pytest.raises(NotIdentifiableError, match=f"rank {rank} < D = {np.shape(C)[1]}"):
            task.require_identifiable()


def test_equality_repr_and_dict_round_trip():
    task = Task.random(3, 5, sigma=0.3, rng=4, offset_scale=0.1, prior=Gaussian(0.1, 0.5))
    again = Task.from_dict(task.to_dict())
    assert again == task
    # canonicalisation is idempotent: re-normalising unit rows changes no bit
    assert Task(task.C, task.b, task.sigma, task.prior) == task
    assert task != Task.random(3, 5, sigma=0.3, rng=5)
    assert "dim=3" in repr(task) and "n_tasks=5" in repr(task)
    with pytest.raises(TypeError):
        hash(task)
    with pytest.raises(ValueError, match="prior kind"):
        Task.from_dict({**task.to_dict(), "prior": {"kind": "Cauchy"}})


@pytest.mark.parametrize(
    "C,b,sigma,name",
    [
        ([1.0, 0.0], [0.0], 0.2, "C"),  # 1-D
        (np.zeros((1, 2, 2)), [0.0], 0.2, "C"),  # 3-D
        ([[np.nan, 0.0]], [0.0], 0.2, "C"),
        ([[np.inf, 0.0]], [0.0], 0.2, "C"),
        ([[0.0, 0.0], [1.0, 0.0]], [0.0, 0.0], 0.2, "C"),  # zero row
        (np.zeros((0, 2)), np.zeros(0), 0.2, "C"),
        ([["a", "b"]], [0.0], 0.2, "C"),
        ([[1j, 0.0]], [0.0], 0.2, "C"),
        ([[1.0, 0.0]], [0.0, 1.0], 0.2, "b"),  # wrong shape
        ([[1.0, 0.0]], [[0.0]], 0.2, "b"),
        ([[1.0, 0.0]], [np.nan], 0.2, "b"),
        ([[1.0, 0.0]], [0.0], 0.0, "sigma"),
        ([[1.0, 0.0]], [0.0], -0.2, "sigma"),
        ([[1.0, 0.0]], [0.0], np.nan, "sigma"),
        ([[1.0, 0.0]], [0.0], np.inf, "sigma"),
        ([[1.0, 0.0]], [0.0], "0.2x", "sigma"),
    ],
)
def test_bad_task_input_is_refused_naming_the_argument(C, b, sigma, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b") as info:
        Task(C, b, sigma)
    # the message says what was given (a shape, a value or the offending rows)
    assert any(word in str(info.value) for word in ("shape", "value", "got", "rows"))


def test_bad_prior_is_refused():
    with pytest.raises(ValueError, match="prior"):
        Task([[1.0]], [0.0], 0.2, prior="uniform")


def test_labels():
    task = Task([[1.0, 0.0], [0.0, -2.0]], [0.1, 0.0], 0.2)
    x = np.array([[0.2, 0.3], [0.0, -0.1], [0.1, 0.0]])
    np.testing.assert_array_equal(task.labels(x), [[True, False], [False, True], [False, False]])
    assert task.labels(np.zeros((4, 3, 2))).shape == (4, 3, 2)
    with pytest.raises(ValueError, match=r"\bx\b"):
        task.labels(np.zeros(3))
    with pytest.raises(ValueError, match=r"\bx\b"):
        task.labels(1.0)


# --------------------------------------------------------------------------- constructors


@pytest.mark.parametrize("n", [1, 2, 3, 6, 12, 24])
def test_evenly_spaced_is_the_papers_set(n):
    task = Task.evenly_spaced(n, sigma=0.3)
    angles = (np.arange(n) + 0.5) * np.pi / n
    np.testing.assert_allclose(task.C, np.column_stack([np.cos(angles), np.sin(angles)]))
    assert np.all(task.b == 0) and task.sigma == 0.3
    if n >= 2:
        # C^T C = (N/2) I exactly in exact arithmetic; here to rounding
        np.testing.assert_allclose(task.C.T @ task.C, n / 2 * np.eye(2), atol=8 * n * 2.2e-16)
        assert task.identifiable and task.condition_number == pytest.approx(1.0, abs=1e-13)
    else:
        assert not task.identifiable


def test_random_rows_are_uniform_on_the_sphere():
    """D = 3: by Archimedes each coordinate of a uniform unit vector is U(-1, 1).
    KS test at n = 3000 with rejection level 1e-6 (false failure probability 1e-6)."""
    task = Task.random(3, 3000, rng=12)
    np.testing.assert_allclose(np.linalg.norm(task.C, axis=1), 1.0, rtol=1e-15)
    assert np.all(task.b == 0)
    for j in range(3):
        assert stats.kstest(task.C[:, j], stats.uniform(-1, 2).cdf).pvalue > 1e-6


def test_random_offsets_have_the_requested_scale():
    """b ~ N(0, offset_scale^2): the sample std of n draws has standard error
    offset_scale / sqrt(2 (n - 1)); the test allows Z of them."""
    n, scale = 4000, 0.7
    task = Task.random(1, n, rng=3, offset_scale=scale)
    # D = 1: rows are +-1, so the canonical b is +-b, same distribution
    se = scale / math.sqrt(2 * (n - 1))
    assert abs(np.std(task.b, ddof=1) - scale) <= Z * se
    assert abs(np.mean(task.b)) <= Z * scale / math.sqrt(n)


def test_random_is_reproducible_from_the_seed():
    a = Task.random(4, 9, rng=7, offset_scale=0.2)
    assert a == Task.random(4, 9, rng=7, offset_scale=0.2)
    assert a == Task.random(4, 9, rng=np.random.default_rng(7), offset_scale=0.2)
    assert a != Task.random(4, 9, rng=8, offset_scale=0.2)


def test_paper_is_evenly_spaced_for_two_dimensions_and_random_otherwise():
    gen = np.random.default_rng(5)
    state = gen.bit_generator.state
    assert Task.paper(2, 6, sigma=0.3, rng=gen) == Task.evenly_spaced(6, sigma=0.3)
    assert gen.bit_generator.state == state  # D = 2 draws nothing
    assert Task.paper(3, 6, sigma=0.3, rng=4) == Task.random(3, 6, sigma=0.3, rng=4)
    with pytest.raises(ValueError, match="dim"):
        Task.paper(0, 6)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: Task.random(0, 3), "dim"),
        (lambda: Task.random(2.0, 3), "dim"),
        (lambda: Task.random(2, 0), "n_tasks"),
        (lambda: Task.random(2, True), "n_tasks"),
        (lambda: Task.random(2, 3, offset_scale=-1.0), "offset_scale"),
        (lambda: Task.random(2, 3, offset_scale=np.nan), "offset_scale"),
        (lambda: Task.random(2, 3, sigma=0.0), "sigma"),
        (lambda: Task.random(2, 3, rng="seed"), "rng"),
        (lambda: Task.evenly_spaced(0), "n_tasks"),
        (lambda: Task.evenly_spaced(3, sigma=-1.0), "sigma"),
    ],
)
def test_bad_constructor_input_is_refused(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- priors


def test_uniform_prior():
    prior = Uniform(-1.0, 3.0)
    assert prior.variance == pytest.approx(16.0 / 12.0, rel=1e-15)
    assert prior.mean == 1.0 and Uniform().mean == 0.0
    x = prior.sample(20000, 2, rng=1)
    assert x.shape == (20000, 2) and x.min() >= -1.0 and x.max() <= 3.0
    for j in range(2):
        assert stats.kstest(x[:, j], stats.uniform(-1.0, 4.0).cdf).pvalue > 1e-6
    np.testing.assert_array_equal(x, prior.sample(20000, 2, rng=1))
    assert prior.sample(0, 3).shape == (0, 3)


def test_gaussian_prior():
    prior = Gaussian(0.5, 2.0)
    assert prior.variance == 4.0 and prior.mean == 0.5
    x = prior.sample(20000, 1, rng=2)[:, 0]
    assert stats.kstest(x, stats.norm(0.5, 2.0).cdf).pvalue > 1e-6
    np.testing.assert_allclose(prior.quantile(np.array([0.5])), [0.5], atol=1e-16)


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: Uniform(1.0, 1.0), "low < high"),
        (lambda: Uniform(2.0, 1.0), "low < high"),
        (lambda: Uniform(-np.inf, 1.0), "low < high"),
        (lambda: Gaussian(np.nan, 1.0), "mean"),
        (lambda: Gaussian(0.0, 0.0), "std"),
        (lambda: Gaussian(0.0, -1.0), "std"),
        (lambda: Uniform().sample(-1, 2), r"\bn\b"),
        (lambda: Uniform().sample(3, 0), "dim"),
        (lambda: Gaussian().sample(3, 2, rng=1.5), "rng"),
    ],
)
def test_bad_prior_input_is_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()


# --------------------------------------------------------------------------- posterior_std


def test_posterior_std():
    task = Task.evenly_spaced(3, sigma=0.4)
    t = np.array([1.0, 4.0, 2.5])
    np.testing.assert_allclose(trilat.posterior_std(task, t), 0.4 / np.sqrt(t), rtol=1e-16)
    np.testing.assert_array_equal(trilat.posterior_std(task, None, std=[0.1, 0.2]), [0.1, 0.2])
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"\bt\b"):
            trilat.posterior_std(task, bad)
        with pytest.raises(ValueError, match="std"):
            trilat.posterior_std(task, None, std=bad)
    with pytest.raises(ValueError, match="not both"):
        trilat.posterior_std(task, 1.0, std=0.1)
    with pytest.raises(ValueError, match="t is required"):
        trilat.posterior_std(task, None)


def test_conjugate_posterior_std_and_precision():
    """Gaussian prior N(m0, s0^2): precision t/sigma^2 + 1/s0^2, against exact rational
    arithmetic on the same doubles. Each quotient takes two roundings (the square, the
    division), the sum one more: <= 2.5 eps relative; s(t) = 1/sqrt(precision) two more,
    <= 3.5 eps, against a reference rounded three times itself (to a double, sqrt, 1/x):
    5 eps. The flat prior's t/sigma^2: <= eps. posterior() reports exactly this std."""
    from fractions import Fraction

    from trilat.oracle import posterior_precision

    task = Task.evenly_spaced(3, sigma=0.4)
    prior = Gaussian(0.1, 0.3)
    t = np.array([1.0, 4.0, 2.5, 100.0])
    sigma2, s02 = Fraction(task.sigma) ** 2, Fraction(prior.std) ** 2
    flat = np.array([float(Fraction(x) / sigma2) for x in t])
    exact = np.array([float(Fraction(x) / sigma2 + 1 / s02) for x in t])
    np.testing.assert_allclose(posterior_precision(task, t), flat, rtol=EPS)
    np.testing.assert_allclose(posterior_precision(task, t, prior), exact, rtol=2.5 * EPS)
    std = trilat.posterior_std(task, t, prior=prior)
    np.testing.assert_allclose(std, 1 / np.sqrt(exact), rtol=5 * EPS)
    evidence = np.zeros((1, 3, 2))
    post = trilat.posterior(task, evidence, prior=prior)
    np.testing.assert_array_equal(post.std, trilat.posterior_std(task, post.t, prior=prior))
    with pytest.raises(ValueError, match=r"prior must be 'flat' or a trilat\.Gaussian"):
        trilat.posterior_std(task, t, prior=Uniform())


# --------------------------------------------------------------------------- MixingMLP


def test_mixing_mlp_matches_pytorch_default_initialisation():
    """nn.Linear's default draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Over the 10^4 weights of a 100 x 100 layer: every weight within the bound, the sample
    variance within Z standard errors of bound^2/3 (the variance of a sample variance of
    U(-a, a) is (mu4 - sigma^4)/n = (a^4/5 - a^4/9)/n = 4 a^4 / (45 n)), and a KS test
    against the uniform at rejection level 1e-6."""
    mlp = MixingMLP(2, rng=0)
    assert mlp.widths == (100, 100, 40) and mlp.out_dim == 40
    fan_ins = (2, 100, 100)
    for w, b, fan_in in zip(mlp.weights, mlp.biases, fan_ins, strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
        assert w.shape[0] == fan_in
    w = mlp.weights[1].ravel()
    bound = 0.1
    se = bound**2 * math.sqrt(4.0 / 45.0 / w.size)
    assert abs(np.var(w) - bound**2 / 3) <= Z * se
    assert stats.kstest(w, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-6


def test_mixing_mlp_forward_pass():
    mlp = MixingMLP(3, widths=(8, 5), rng=4)
    x = np.random.default_rng(5).normal(size=(6, 7, 3))
    out = mlp(x)
    assert out.shape == (6, 7, 5)
    hidden = np.maximum(x @ mlp.weights[0] + mlp.biases[0], 0.0)
    np.testing.assert_allclose(out, hidden @ mlp.weights[1] + mlp.biases[1], rtol=1e-14)
    assert np.any(out < 0)  # the last layer is linear: no ReLU on the output
    np.testing.assert_array_equal(MixingMLP(3, widths=(8, 5), rng=4)(x), out)
    assert "dim=3" in repr(mlp)


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: MixingMLP(0), "dim"),
        (lambda: MixingMLP(2, widths=()), "widths"),
        (lambda: MixingMLP(2, widths=(10, 0)), "widths"),
        (lambda: MixingMLP(2)(np.zeros((4, 3))), "evidence"),
        (lambda: MixingMLP(2)(np.full((4, 2), np.nan)), "evidence"),
    ],
)
def test_bad_mlp_input_is_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()
