"""compare(network, task): the optimal network scores perfectly, degraded ones measurably worse."""

from __future__ import annotations

import importlib
import json
import math
import sys
import warnings
from dataclasses import fields

import mpmath
import numpy as np
import pytest
from _support.gru_reference import gru_module, numpy_gru
from _support.quadrant_reference import least_squares_quadrant_r2
from scipy import special

import trilat
from trilat.adapters import OptimalNetwork, from_callable, from_torch
from trilat.compare import Comparison, bernoulli_kl, compare

latent_code = importlib.import_module("trilat.compare._latent_code")
TASK = trilat.Task.evenly_spaced(6)
N_TRIALS = 2000
EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def optimal() -> Comparison:
    return compare(OptimalNetwork(TASK, "distances"), TASK, n_trials=N_TRIALS, rng=11)


def _derived(latent_fn, *, logits_fn=None):
    """A network built on the optimal one: ``latent_fn(k)`` as its latent, optimal logits."""
    reference = OptimalNetwork(TASK, "distances")

    def fn(evidence):
        out = reference(evidence)
        logits = out.logits if logits_fn is None else logits_fn(out.logits)
        return latent_fn(out.latents), logits

    return from_callable(fn, input_kind="evidence", n_tasks=TASK.n_tasks)


# --- the excess cross-entropy ------------------------------------------------------------------


def test_bernoulli_kl_against_mpmath() -> None:
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(0, 3, 300), rng.uniform(-60, 60, 100), [0.0, 40.0, -700.0]])
    b = np.concatenate([a[:100] + rng.normal(0, 1e-6, 100), rng.normal(0, 8, a.size - 100)])
    got = bernoulli_kl(a, b)
    mpmath.mp.dps = 60
    for ai, bi, gi in zip(a, b, got, strict=True):
        p, q = mpmath.mpf(1) / (1 + mpmath.exp(-ai)), mpmath.mpf(1) / (1 + mpmath.exp(-bi))
        ref = p * mpmath.log(p / q) + (1 - p) * mpmath.log((1 - p) / (1 - q))
        # Each of the two terms w (log s(x) - log s(y)) is a difference of logs, each correct
        # to a few ulps, times a weight correct to a few ulps: an absolute error of at most
        # ~4 eps w (|log s(x)| + |log s(y)|) per term (the cancellation between the terms
        # when b ~ a is in absolute, not relative, terms).
        lp, lq = mpmath.log(p), mpmath.log(q)
        l1p, l1q = mpmath.log(1 - p), mpmath.log(1 - q)
        bound = 4 * EPS * float(p * (abs(lp) + abs(lq)) + (1 - p) * (abs(l1p) + abs(l1q)))
        assert abs(gi - float(ref)) <= bound + 4 * EPS * float(ref), (ai, bi, gi, ref)


def test_bernoulli_kl_edge_cases() -> None:
    z = np.array([-800.0, -30.0, 0.0, 5.0, 800.0])
    np.testing.assert_array_equal(bernoulli_kl(z, z), 0.0)
    # a saturated output disagreeing with a finite reference costs infinitely many nats
    assert bernoulli_kl(3.0, np.inf) == np.inf and bernoulli_kl(3.0, -np.inf) == np.inf
    # with the reference certain to 745 digits of e, the weight of the other side underflows
    assert bernoulli_kl(800.0, np.inf) == 0.0
    with pytest.raises(ValueError, match="z must not contain NaN"):
        bernoulli_kl(0.0, np.nan)


# --- the optimal network scores perfectly -----------------------------------------------------


def test_optimal_network_outputs_are_optimal(optimal: Comparison) -> None:
    # the network's logits are the oracle's, bit for bit: the KL is exactly zero
    np.testing.assert_array_equal(optimal.excess_cross_entropy, 0.0)
    np.testing.assert_array_equal(optimal.saturated, 0)
    # Yhat* = Phi(u) against sigmoid(logit of Phi(u)): both correct to a few ulps of a
    # probability <= 1, so they differ by at most ~4 eps
    assert np.all(optimal.output_abs_error <= 4 * EPS)


def test_optimal_network_implies_mu_exactly(optimal: Comparison) -> None:
    # mu_hat = C^+ (s Phi^-1(sigmoid(z)) + b) with z the logit of Phi(u): the round trip
    # u -> z -> u is exact to ~1e-14 relative (trilat._stable), |k| = s |u| <= ~1 and
    # cond(C) = 1 for evenly spaced lines, so |mu_hat - mu| <= ~1e-14; 1e-13 leaves 10x.
    assert np.all(optimal.estimate_rmse <= 1e-13)
    # hence the implied estimate scores what the oracle's mu(t) scores, to rounding
    np.testing.assert_allclose(optimal.estimate_r2, optimal.optimal_r2, rtol=0, atol=1e-12)


def test_optimal_network_estimate_reaches_the_ceiling(optimal: Comparison) -> None:
    # mu(t) - x* ~ N(0, s^2 I) exactly (flat-prior running mean), so the r^2 of mu(t) is
    # 1 - (mean of n D squared normals) s^2 / V, whose standard error is
    # (s^2 / V) sqrt(2 / (n D)); 5 standard errors: false failure < 1e-6 per step.
    se = (optimal.posterior_std**2 / TASK.prior.variance) * math.sqrt(2 / (N_TRIALS * TASK.dim))
    assert np.all(np.abs(optimal.optimal_r2 - optimal.ceiling) <= 5 * se)


def test_optimal_code_is_at_the_ceiling(optimal: Comparison) -> None:
    code = optimal.code
    # an exactly affine code of mu(t): ridge with alpha = 1e-3 against a latent sum of
    # squares ~ n Var(k) ~ 1600 * 0.04 shrinks by ~1e-5 relative; R^2 >= 1 - 1e-4
    assert code["decodability"]["score"] >= 1 - 1e-4
    assert np.min(optimal.latent_r2_mu) >= 1 - 1e-4
    # quadrant generalisation: each fold's r^2 is 1 - MSE/V over m ~ n/4 test trials and D
    # coordinates, MSE ~ s^2 (chi^2 / (m D)): SE = (s^2/V) sqrt(2/(m D)) ~ 1.1e-3 at t = 20.
    # The least-squares decoder also shrinks toward the training mean: its expected score is
    # least_squares_quadrant_r2 (0.97506), 9e-4 under eq. 7 (0.976, the r^2 of mu itself).
    # The median lies within the largest fold deviation; 5 SE per fold: false failure
    # <= 4 P(|Z| > 5) = 2.3e-6.
    s2 = optimal.posterior_std[-1] ** 2
    se = s2 / TASK.prior.variance * math.sqrt(2 / (N_TRIALS / 4 * TASK.dim))
    expected = least_squares_quadrant_r2(s2)
    assert abs(code["generalization"]["median"] - expected) <= 5 * se
    # factor angles: the decoder's rows are C^+ rows up to estimation error; each row's
    # coefficient on the other factor has SE s / sqrt(n (V + s^2)) ~ 3.4e-3 relative to a
    # coefficient ~ V/(V + s^2) ~ 0.98, two such errors: SD ~ 0.28 degrees; 5 SD:
    assert abs(code["factor_angles"]["median"] - 90.0) <= 5 * 0.28
    # the network's code is the reference code: same latents, same folds
    assert code == optimal.reference_code


# --- degraded networks score worse on the metric meant to notice ------------------------------


@pytest.mark.slow
def test_noisy_outputs_raise_the_excess_cross_entropy() -> None:
    tau = 0.3
    noise_rng = np.random.default_rng(5)
    weights = []

    def noisy(logits):
        p = special.expit(logits)
        weights.append(np.mean(p * (1 - p), axis=(0, 2)))
        return logits + tau * noise_rng.standard_normal(logits.shape)

    c = compare(_derived(lambda k: k, logits_fn=noisy), TASK, n_trials=N_TRIALS, rng=11)
    # Pinsker: KL(p||q) >= 2 (p - q)^2 entrywise, so mean KL >= 2 mean((p-q)^2) >= 2 (mean|p-q|)^2
    assert np.all(c.excess_cross_entropy >= 2 * c.output_abs_error**2)
    # Second order: KL(sigmoid(a) || sigmoid(a + d)) = p(1-p) d^2 / 2 - p(1-p)(1-2p) d^3 / 6 + ...
    # With d ~ N(0, tau^2) the odd terms vanish in mean and the d^4 term is at most tau^2/8
    # (1.1%) relative. The Monte Carlo error of the mean of p(1-p) d^2 / 2 over n N entries
    # is at most tau^2/2 sqrt(2 / (n N)) * max p(1-p) <= tau^2/8 * 0.013 absolute.
    expected = 0.5 * tau**2 * weights[0]
    mc = 0.125 * tau**2 * math.sqrt(2 / (N_TRIALS * TASK.n_tasks))
    assert np.all(np.abs(c.excess_cross_entropy - expected) <= 0.011 * expected + 5 * mc)
    assert np.all(c.excess_cross_entropy > 1e-3)


@pytest.mark.slow
def test_nonlinear_mixing_of_the_latent_hurts_generalization_not_outputs(
    optimal: Comparison,
) -> None:
    mix = np.random.default_rng(5)
    w, bias = mix.standard_normal((TASK.n_tasks, 64)), mix.uniform(-1, 1, 64)
    c = compare(_derived(lambda k: np.tanh(3.0 * k @ w + bias)), TASK, n_trials=N_TRIALS, rng=11)
    # the outputs are still the optimal ones, bit for bit
    np.testing.assert_array_equal(c.excess_cross_entropy, 0.0)
    np.testing.assert_array_equal(c.estimate_rmse, optimal.estimate_rmse)
    # mu(t) stays decodable in distribution (a smooth injective map of a 2-D code into 64
    # random tanh units) ...
    assert c.code["decodability"]["score"] >= 0.99
    # ... but a linear decoder fitted on three quadrants no longer extrapolates to the fourth:
    # the optimal code is within ~0.01 of the ceiling (above), with a fold SE of ~1e-3 at
    # n = 2000; measured 0.903 against 0.974 with the cross-validated penalty (0.46 at a
    # near-zero penalty, which extrapolates the tanh curvature): a drop of 0.05 is 45 SEs
    assert (
        c.code["generalization"]["median"] <= c.reference_code["generalization"]["median"] - 0.05
    )


@pytest.mark.slow
def test_rank_deficient_latent_fails_decodability() -> None:
    direction = TASK.C[0] @ TASK.pinv  # one output direction, shape (N,)
    direction /= np.linalg.norm(direction)
    c = compare(
        _derived(lambda k: (k @ direction)[..., None] * direction), TASK, n_trials=N_TRIALS, rng=11
    )
    # a rank-1 latent carries one linear function a . mu of mu; decoding mu_j from it gives
    # R^2_j = corr(mu_j, a . mu)^2, and sum_j corr^2 = 1 for mu with isotropic covariance, so
    # the mean over the D = 2 targets is 1/2, up to the sample correlation of the two
    # coordinates of mu, SD 1/sqrt(n) = 0.022; 5 SD:
    bound = 1 / TASK.dim + 5 / math.sqrt(N_TRIALS)
    assert c.code["decodability"]["score"] <= bound
    assert np.all(c.latent_r2_mu <= bound)
    np.testing.assert_array_equal(c.excess_cross_entropy, 0.0)


# --- probabilities, saturation ----------------------------------------------------------------


def test_probability_outputs_report_saturation() -> None:
    reference = OptimalNetwork(TASK)

    def fn(evidence):
        out = reference(evidence)
        return out.latents, special.expit(out.logits)  # rounds to exactly 1 for z > 37

    with pytest.warns(RuntimeWarning, match="saturated"):
        c = compare(
            from_callable(fn, output="probability", input_kind="evidence"), TASK, n_trials=400
        )
    assert c.output_kind == "probability"
    assert c.saturated[0] == 0 and c.saturated[-1] > 0
    # Unsaturated outputs are the optimal ones up to the rounding of p = sigmoid(z): near
    # p -> 1 the complement q = 1 - p carries an absolute error <= eps/2, moving the logit by
    # d ~ eps / (2q), so KL ~ q (e^d - 1 - d) <= ~q d^2 <= eps^2 / (4q) <= eps / 2 for
    # q >= eps/2 (the smallest unsaturated complement); near p -> 0 the error is relative
    # and smaller. So every entry, and the mean, is <= eps.
    assert np.all(c.excess_cross_entropy <= EPS)
    # Trials with a saturated output are left out of the implied estimate; the others lose
    # what rounding p costs Phi^-1 near saturation: q = 1 - p >= eps/2 carries an absolute
    # error eps/2, so u = Phi^-1(p) moves by (eps/2) / phi(u) <= 0.04 (u <= 8.1, where
    # q = eps/2), k = s u by <= 0.04 s, and mu_hat = C^+(k + b) by <= ||C^+|| sqrt(N) 0.04 s
    # = sqrt(2/N) sqrt(N) 0.04 s < 0.06 s per trial, whatever the mix of entries.
    assert np.all(np.isfinite(c.estimate_rmse))
    assert np.all(c.estimate_rmse <= 0.06 * c.posterior_std)
    assert "saturated outputs" in c.to_markdown()


# --- errors -----------------------------------------------------------------------------------


def test_shape_mismatches_name_both_shapes() -> None:
    six = OptimalNetwork(TASK)
    other = trilat.Task.evenly_spaced(4)
    with pytest.raises(ValueError, match=r"network has 6 outputs but the task has N = 4"):
        compare(six, other, n_trials=50)
    undeclared = from_callable(lambda e: six(e), input_kind="evidence")
    with pytest.raises(
        ValueError, match=r"shape \(n_trials, n_steps, N\) = \(50, 20, 4\).*\(50, 20, 6\)"
    ):
        compare(undeclared, other, n_trials=50)
    three_d = trilat.Task.random(3, 6, rng=0)
    with pytest.raises(ValueError, match=r"inputs of shape \(n, T, 2\).*\(n, T, 3\) \(D = 3\)"):
        compare(six, three_d, n_trials=50)
    obs = from_callable(lambda o: (o, o[..., :6]), obs_dim=30)
    with pytest.raises(ValueError, match=r"\(n, T, 30\).*observations of shape \(n, T, 40\)"):
        compare(obs, TASK, n_trials=50)
    with pytest.raises(ValueError, match=r"mixing takes evidence of shape \(n, T, 3\).*D = 2"):
        compare(obs, TASK, n_trials=50, mixing=trilat.MixingMLP(3))


def test_nan_and_wrong_returns_are_reported() -> None:
    def nan_net(obs):
        logits = obs[..., :6].copy()
        logits[3, 4, 1] = np.nan
        return obs, logits

    with pytest.raises(ValueError, match=r"outputs .* 1 NaN or infinite entries.*trial 3, t = 5"):
        compare(from_callable(nan_net), TASK, n_trials=50)

    class Raw:
        def __call__(self, obs):
            return obs

    with pytest.raises(ValueError, match=r"must return a trilat.NetworkOutput.*got ndarray"):
        compare(Raw(), TASK, n_trials=50)
    # rank C < D is measured, with the implied estimate marked not identifiable:
    # tests/test_protocol.py::test_rank_deficient_task_runs_without_the_estimate


@pytest.mark.torch
def test_torch_input_width_mismatch_names_the_layer() -> None:
    torch = pytest.importorskip("torch")
    net = from_torch(gru_module(torch, 30, 8, 6, torch.float32), latent="gru")
    with pytest.raises(ValueError, match=r"shape \(50, 20, 40\).*'gru', GRU, takes input_size=30"):
        compare(net, TASK, n_trials=50)


# --- torch end to end, JSON, reproducibility ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.torch
def test_torch_gru_scores_like_the_numpy_gru() -> None:
    torch = pytest.importorskip("torch")
    module = gru_module(torch, 40, 16, 6, torch.float64)
    by_torch = compare(from_torch(module, latent="gru"), TASK, n_trials=600, rng=3)
    by_numpy = compare(from_callable(lambda o: numpy_gru(module, o)), TASK, n_trials=600, rng=3)
    # same inputs (same seed); latents and logits agree to ~1e-13 (tests/test_adapters.py).
    # Every score is a smooth function of them: KL and |dY| are Lipschitz with constants
    # O(1); mu_hat through Phi^-1(sigmoid(z)) is Lipschitz with constant s(t)|dPhi^-1/dz|
    # <= s(t) * O(|z|); ridge fits are conditioned by the latents' spectrum. 1e-8 relative
    # leaves orders of magnitude over the 1e-13 input differences.
    for name in (
        "output_abs_error",
        "excess_cross_entropy",
        "estimate_rmse",
        "estimate_r2",
        "latent_r2_mu",
        "latent_r2_xstar",
    ):
        np.testing.assert_allclose(getattr(by_torch, name), getattr(by_numpy, name), rtol=1e-8)
    np.testing.assert_allclose(
        by_torch.code["generalization"]["scores"],
        by_numpy.code["generalization"]["scores"],
        rtol=1e-8,
    )


def test_json_round_trip(optimal: Comparison) -> None:
    text = optimal.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    back = Comparison.from_json(text)
    assert back.to_json() == text
    assert back.task == optimal.task
    arrays = [
        f.name for f in fields(Comparison) if isinstance(getattr(optimal, f.name), np.ndarray)
    ]
    assert len(arrays) == 17  # the per-step arrays (box oracle too), step numbers, scored mask
    for name in arrays:
        a, b = getattr(optimal, name), getattr(back, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert back.code == optimal.code and back.samples == optimal.samples
    assert back.to_markdown() == optimal.to_markdown()


def test_json_keeps_non_finite_values_and_errors() -> None:
    constant = _derived(lambda k: np.ones((*k.shape[:2], 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compare(constant, TASK, n_trials=100, rng=0)
    assert "error" in c.code["participation_ratio"]
    assert "n/a: latents are constant" in c.to_markdown()
    back = Comparison.from_json(c.to_json())
    np.testing.assert_array_equal(back.latent_r2_mu, c.latent_r2_mu)  # NaN where undefined
    assert back.code == c.code


@pytest.mark.slow
def test_same_seed_same_numbers() -> None:
    net = OptimalNetwork(TASK, "logits")
    first = compare(net, TASK, n_trials=200, rng=np.random.default_rng(7))
    again = compare(net, TASK, n_trials=200, rng=first.seed)
    assert again.to_json() == first.to_json()
    assert compare(net, TASK, n_trials=200, rng=first.seed + 1).to_json() != first.to_json()


def test_heldout_points_are_the_metrics_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latent_code, "PLOT_POINTS", 10**9)  # keep every held-out trial
    c = compare(OptimalNetwork(TASK, "logits"), TASK, n_trials=800, rng=2)
    held = c.samples["heldout"]
    true, decoded, fold = (np.asarray(held[k]) for k in ("true", "decoded", "fold"))
    assert true.shape == (800, TASK.dim)  # each trial is held out exactly once
    scores = [
        1 - np.mean((decoded[fold == k] - true[fold == k]) ** 2) / TASK.prior.variance
        for k in range(len(held["splits"]))
    ]
    # the same decoders as trilat.metrics, so the same fold scores, to rounding
    np.testing.assert_allclose(scores, c.code["generalization"]["scores"], rtol=0, atol=1e-12)


@pytest.mark.slow
def test_figures_are_written(optimal: Comparison, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    paths = Comparison.from_json(optimal.to_json()).plot(tmp_path / "figs")
    assert sorted(p.name for p in paths) == [
        "angles.png",
        "estimate.png",
        "generalization.png",
        "outputs.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_figures_without_matplotlib_name_the_extra(
    optimal: Comparison, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'trilat\[plot\]'"):
        optimal.plot(tmp_path)


# --- the ridge penalty: scale-free, reported, fixable -----------------------------------------

_MIX = np.random.default_rng(8)
_W, _BIAS = _MIX.standard_normal((TASK.n_tasks, 24)), _MIX.uniform(-1.5, 0.5, 24)


def _relu_latent(k: np.ndarray) -> np.ndarray:
    """A ReLU layer on the optimal distances, with units that never fire: a code like a
    trained ReLU network's, nonlinear and rank-deficient."""
    return np.concatenate([np.maximum(k @ _W + _BIAS, 0.0), np.zeros((*k.shape[:-1], 4))], -1)


@pytest.fixture(scope="module")
def relu_base() -> Comparison:
    return compare(_derived(_relu_latent), TASK, n_trials=600, rng=4)


def _latent_numbers(c: Comparison) -> dict[str, np.ndarray]:
    code = c.code
    return {
        "latent_r2_mu": c.latent_r2_mu,
        "latent_r2_xstar": c.latent_r2_xstar,
        "decodability": np.asarray(code["decodability"]["scores"]),
        "generalization": np.asarray(code["generalization"]["scores"]),
        "ccgp": np.asarray(code["ccgp"]["fold_scores"]),
        "parallelism_cosines": np.asarray(code["parallelism"]["cosines"]),
        "parallelism_score": np.asarray(code["parallelism"]["score"]),
        "angles": np.asarray(code["factor_angles"]["angles"]),
        "participation_ratio": np.asarray([code["participation_ratio"]]),
    }


@pytest.mark.parametrize("scale, shift", [(1e-4, 0.0), (1e4, 0.0), (1.0, 7.0)])
def test_compare_does_not_depend_on_the_scale_of_the_latent(
    relu_base: Comparison, scale: float, shift: float
) -> None:
    """A network whose latent is ``c h + d`` scores as the one with latent ``h``, to ~1e-9.

    The rounding of ``c h + d`` (~1e-15 relative) passes into the fits amplified
    at most by their condition number; the chosen penalties are grid values and
    come out identical.
    """
    moved = compare(_derived(lambda k: scale * _relu_latent(k) + shift), TASK, n_trials=600, rng=4)
    np.testing.assert_array_equal(moved.latent_alpha, relu_base.latent_alpha)
    for key in ("decodability", "generalization", "parallelism"):
        alphas = "alphas" if key == "parallelism" else "fold_alphas"
        assert moved.code[key][alphas] == relu_base.code[key][alphas]
    base = _latent_numbers(relu_base)
    for key, value in _latent_numbers(moved).items():
        np.testing.assert_allclose(value, base[key], rtol=1e-9, atol=0, err_msg=key)
    # the outputs, and so everything else, are the optimal network's
    np.testing.assert_array_equal(moved.excess_cross_entropy, relu_base.excess_cross_entropy)


def test_compare_reports_and_takes_the_penalty(relu_base: Comparison) -> None:
    assert relu_base.alpha is None
    grid = set(trilat.metrics.RIDGE_ALPHAS.tolist())
    chosen = np.ravel(relu_base.code["generalization"]["fold_alphas"])
    assert set(chosen.tolist()) <= grid
    assert "chosen by leave-one-out CV" in relu_base.to_markdown()
    fixed = compare(_derived(_relu_latent), TASK, n_trials=600, rng=4, alpha=0.01)
    assert fixed.alpha == 0.01
    np.testing.assert_array_equal(fixed.latent_alpha, 0.01)
    for which in (fixed.code, fixed.reference_code):
        for key, field in [
            ("decodability", "fold_alphas"),
            ("generalization", "fold_alphas"),
            ("ccgp", "alphas"),
            ("parallelism", "alphas"),
        ]:
            np.testing.assert_array_equal(which[key][field], 0.01)
    assert "fixed: alpha = 0.01" in fixed.to_markdown()
    assert Comparison.from_json(fixed.to_json()).alpha == 0.01
    with pytest.raises(ValueError, match="alpha"):
        compare(_derived(_relu_latent), TASK, n_trials=100, alpha=-1.0)


# --------------------------------------------------------------------------- the box-prior oracle


def _box_oracle_network(task: trilat.Task, seen: list):
    """Outputs the exact box-prior logits of the evidence it reads (and records it)."""

    def fn(evidence):
        seen.append(np.array(evidence))
        post = trilat.posterior(task, evidence)
        z = trilat.predict_logits(task, post.mean, std=post.std, prior=task.prior)
        return post.mean, z

    return from_callable(fn, input_kind="evidence", n_tasks=task.n_tasks)


def test_box_oracle_scores_zero_over_itself_and_more_over_flat() -> None:
    task = trilat.Task.evenly_spaced(3)
    seen: list = []
    c = compare(_box_oracle_network(task, seen), task, n_trials=40, n_steps=5, rng=3)
    assert c.box_prior == [-0.5, 0.5] and c.box_trials == 40
    np.testing.assert_allclose(c.excess_cross_entropy_box, 0.0, atol=1e-15)
    assert np.all(c.excess_cross_entropy > 1e-5)
    # independent: the oracle's own KL (from log-probabilities, trilat.oracle_gap) for the
    # gap, and KL(flat || box) from the probabilities for the network's excess over flat
    post = trilat.posterior(task, seen[0])
    gap = trilat.oracle_gap(task, post.mean, std=post.std, prior=task.prior)
    np.testing.assert_allclose(c.oracle_gap, gap.mean(axis=(0, 2)), rtol=1e-9, atol=1e-16)
    p = trilat.predict(task, post.mean, std=post.std)  # flat
    q = trilat.predict(task, post.mean, std=post.std, prior=task.prior)  # box
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    np.testing.assert_allclose(c.excess_cross_entropy, kl.mean(axis=(0, 2)), rtol=1e-7)
    np.testing.assert_array_equal(c.excess_cross_entropy_box_trials, c.excess_cross_entropy)


@pytest.mark.filterwarnings("ignore:output units")
def test_flat_prior_only_and_json() -> None:
    task = trilat.Task.evenly_spaced(3)
    flat = compare(OptimalNetwork(task, "distances"), task, n_trials=16, n_steps=3, prior="flat")
    assert flat.box_prior is None and flat.box_trials == 0
    assert np.all(np.isnan(flat.oracle_gap)) and np.all(np.isnan(flat.excess_cross_entropy_box))
    assert "box oracle" not in flat.to_markdown()
    both = compare(OptimalNetwork(task, "distances"), task, n_trials=16, n_steps=3)
    back = Comparison.from_json(both.to_json())
    np.testing.assert_array_equal(back.oracle_gap, both.oracle_gap)
    assert back.box_prior == both.box_prior and "box vs flat oracle KL" in both.to_markdown()
    # the optimal (flat) network: its excess over the box oracle is the oracles' own gap
    np.testing.assert_allclose(both.excess_cross_entropy_box, both.oracle_gap, rtol=1e-12)
    with pytest.raises(ValueError, match="prior must be"):
        compare(OptimalNetwork(task, "distances"), task, n_trials=16, n_steps=3, prior="box")
