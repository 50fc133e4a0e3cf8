"""Trial protocols, the paper's units and checkpoints, and what compare makes of them."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import special

import trilat
from trilat import TrialProtocol

PAPER = TrialProtocol.paper()


def _identity(x):
    return np.asarray(x, dtype=np.float64)


# --- the protocol -------------------------------------------------------------------------


def test_the_papers_protocol_is_22_steps_with_a_fixation_channel() -> None:
    assert PAPER.n_steps == 22 and PAPER.stimulus == 20
    assert PAPER.step_numbers().tolist() == list(range(22))  # the paper's 0-based indices
    assert PAPER.oracle_times().tolist() == [0, *range(1, 21), 20]
    assert np.flatnonzero(PAPER.scored_steps()).tolist() == [21]
    assert PAPER.fixation_signal().tolist() == [1.0] * 21 + [0.0]
    assert PAPER.periods() == ["fixation"] + ["stimulus"] * 20 + ["decision"]

    task = trilat.Task.paper_units(6)
    trials = trilat.simulate(task, 5, 20, rng=1)
    mixing = trilat.MixingMLP(2, rng=3)
    x = PAPER.inputs(trials.evidence, mixing)
    assert x.shape == (5, 22, 41)
    f0 = mixing(np.zeros(2))
    # equal up to the rounding of BLAS's blocking of a larger product (~1e-17 here)
    same = {"rtol": 0, "atol": 1e-15}
    np.testing.assert_allclose(x[:, 0, :40], np.broadcast_to(f0, (5, 40)), **same)  # f(0)
    np.testing.assert_allclose(x[:, 21, :40], np.broadcast_to(f0, (5, 40)), **same)  # f(0)
    np.testing.assert_allclose(x[:, 1:21, :40], mixing(trials.evidence), **same)
    np.testing.assert_array_equal(x[:, :, 40], np.broadcast_to(PAPER.fixation_signal(), (5, 22)))

    y = task.labels(trials.x_star)
    targets = PAPER.targets(y)
    np.testing.assert_array_equal(targets[:, :21], 0.5)
    np.testing.assert_array_equal(targets[:, 21], y.astype(float))


def test_protocol_checks_and_step_numbers() -> None:
    plain = TrialProtocol()
    assert plain.is_plain and plain.step_numbers().tolist() == list(range(1, 21))
    assert np.all(plain.scored_steps())
    p = TrialProtocol(fixation=2, stimulus=3, delay=2, decision=1, scored="every_step")
    assert p.step_numbers().tolist() == [-1, 0, 1, 2, 3, 4, 5, 6]
    assert p.oracle_times().tolist() == [0, 0, 1, 2, 3, 3, 3, 3]
    assert p.scored_steps().tolist() == [False, False] + [True] * 6
    assert p.index(6) == 7
    with pytest.raises(ValueError, match=r"step must be in -1..6"):
        p.index(7)
    with pytest.raises(ValueError, match="scored='decision' needs decision >= 1"):
        TrialProtocol(scored="decision")
    with pytest.raises(ValueError, match="scored must be one of"):
        TrialProtocol(scored="end")
    with pytest.raises(ValueError, match=r"evidence must have T = 20 steps"):
        PAPER.inputs(np.zeros((2, 5, 2)), _identity)
    assert TrialProtocol.from_dict(PAPER.to_dict()) == PAPER


# --- the paper's units ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7])
def test_paper_units_label_like_the_papers_code(n: int) -> None:
    x = np.random.default_rng(n).uniform(-0.5, 0.5, (4000, 2))
    # the paper's rule, written out: unit k is 1 when x2 > tan((k + 1/2) pi / N) x1
    expected = np.array(
        [[xi[1] > math.tan((k + 0.5) * math.pi / n) * xi[0] for k in range(n)] for xi in x]
    )
    np.testing.assert_array_equal(trilat.Task.paper_units(n).labels(x), expected)


def test_paper_units_against_evenly_spaced() -> None:
    paper, even = trilat.Task.paper_units(6), trilat.Task.evenly_spaced(6)
    np.testing.assert_allclose(paper.C, even.C[[3, 4, 5, 0, 1, 2]], atol=1e-15)
    one = trilat.Task.paper_units(1)
    np.testing.assert_allclose(one.C, [[-1.0, 0.0]], atol=1e-15)  # label x1 < 0
    assert not one.identifiable


# --- the mixing from weights --------------------------------------------------------------


@pytest.mark.torch
def test_mixing_from_a_torch_sequential_matches_it() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(4)
    layers = [torch.nn.Linear(2, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100)]
    encoder = torch.nn.Sequential(*layers, torch.nn.ReLU(), torch.nn.Linear(100, 40))
    mixing = trilat.MixingMLP.from_state_dict(encoder.state_dict())
    assert (mixing.in_dim, mixing.widths) == (2, (100, 100, 40))
    x = np.random.default_rng(0).uniform(-1.5, 1.5, (3000, 2)).astype(np.float32)
    with torch.no_grad():
        reference = encoder(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(mixing(x), reference, rtol=0, atol=1e-6)  # float32 precision
    # arrays in nn.Linear's (out, in) layout give the same MLP
    state = {k: v.numpy() for k, v in encoder.state_dict().items()}
    again = trilat.MixingMLP.from_weights(
        [state[f"{i}.weight"] for i in (0, 2, 4)], [state[f"{i}.bias"] for i in (0, 2, 4)]
    )
    np.testing.assert_array_equal(again(x), mixing(x))
    with pytest.raises(ValueError, match="expected the keys of a torch Sequential"):
        trilat.MixingMLP.from_state_dict({"encoder.0.weight": state["0.weight"]})
    with pytest.raises(ValueError, match=r"layers \[2\] lack one"):
        trilat.MixingMLP.from_state_dict(
            {
                "0.weight": state["0.weight"],
                "0.bias": state["0.bias"],
                "2.weight": state["2.weight"],
            }
        )
    with pytest.raises(ValueError, match=r"layer 1: weights\[1\] of shape \(100, 2\).*in = 100"):
        trilat.MixingMLP.from_weights([state["0.weight"]] * 2, [state["0.bias"]] * 2)
    with pytest.raises(ValueError, match=r"layer 0: .* biases\[0\] of shape \(40,\)"):
        trilat.MixingMLP.from_weights([state["0.weight"]], [state["4.bias"]])


# --- compare on the paper's protocol ------------------------------------------------------


def _protocol_oracle(task: trilat.Task, protocol: TrialProtocol, *, order=None, latents=True):
    """The Bayes-optimal network under ``protocol`` with identity mixing: it reads X(t) from
    the stimulus channels, counts the stimulus steps by the fixation channel, and answers
    ``1/2``-free garbage (logit 3) at unscored steps. ``order`` permutes its output units."""
    dim = task.dim
    scored = protocol.scored_steps()

    def fn(x):
        stim = x[..., :dim]
        during = np.zeros(protocol.n_steps, dtype=bool)
        during[protocol.fixation : protocol.fixation + protocol.stimulus] = True
        seen = np.cumsum(during)
        mean = np.cumsum(stim * during[None, :, None], axis=1) / np.maximum(seen, 1)[None, :, None]
        std = task.sigma / np.sqrt(np.maximum(seen, 1))
        z = trilat.predict_logits(task, mean, std=std)
        z[:, ~scored] = 3.0
        if order is not None:
            z = z[..., order]
        k = mean @ task.C.T - task.b
        return (k if latents else mean), z

    return trilat.from_callable(fn, obs_dim=dim + protocol.extra_channels())


@pytest.mark.slow
def test_compare_scores_the_decision_step_only() -> None:
    task = trilat.Task.paper_units(6)
    net = _protocol_oracle(task, PAPER)
    c = trilat.compare(net, task, mixing=_identity, protocol=PAPER, n_trials=400, rng=2)
    assert c.latent_step == 21 and c.steps.tolist() == list(range(22))
    assert c.t.tolist() == [0, *range(1, 21), 20]
    assert np.all(np.isnan(c.excess_cross_entropy[:21])) and np.all(np.isnan(c.estimate_rmse[:21]))
    assert 0 <= c.excess_cross_entropy[21] < 1e-12 and c.estimate_rmse[21] < 1e-12
    # the decision step is compared with mu(T), s(T): the oracle's r2 there is the one at t = 20
    assert c.optimal_r2[21] == c.optimal_r2[20] and c.posterior_std[21] == 0.2 / math.sqrt(20)
    assert np.isnan(c.posterior_std[0]) and np.isnan(c.latent_r2_mu[0])
    assert c.latent_r2_mu[21] > 0.999 and c.units["identity"] and not c.units["warning"]
    report = c.to_markdown()
    assert "Trial: 22 steps (fixation 0, stimulus 1..20, decision 21)" in report
    assert "\n| 21 | 20 | 0.0447 | " in report  # step 21 at t = 20
    assert "\n| 20 | 20 |" not in report and "\n| 0 |" not in report  # no rows for unscored steps
    assert "Steps not scored against the oracle: 0..20" in report
    assert "### Latent code at step 21 (t = 20)" in report
    back = trilat.Comparison.from_json(c.to_json())
    assert back.to_markdown() == report
    # any step with evidence can be measured; a fixation step cannot
    c20 = trilat.compare(
        net, task, mixing=_identity, protocol=PAPER, n_trials=200, rng=2, latent_step=20
    )
    assert c20.latent_step == 20
    with pytest.raises(ValueError, match="latent_step = 0 is a fixation step"):
        trilat.compare(net, task, mixing=_identity, protocol=PAPER, n_trials=50, latent_step=0)
    with pytest.raises(ValueError, match="n_steps = 10 but the protocol has T = 20"):
        trilat.compare(net, task, mixing=_identity, protocol=PAPER, n_trials=50, n_steps=10)


@pytest.mark.slow
def test_a_permuted_network_is_named_with_the_matching_task() -> None:
    paper, even = trilat.Task.paper_units(6), trilat.Task.evenly_spaced(6)
    net = _protocol_oracle(paper, PAPER)
    with pytest.warns(
        UserWarning,
        match=r"unit 0 -> row 3, unit 1 -> row 4, unit 2 -> row 5, "
        r"unit 3 -> row 0, unit 4 -> row 1, unit 5 -> row 2.*Task\.paper_units\(6\)",
    ):
        c = trilat.compare(net, even, mixing=_identity, protocol=PAPER, n_trials=400, rng=0)
    assert c.units["assignment"] == [3, 4, 5, 0, 1, 2] and not c.units["identity"]
    report = c.to_markdown()
    assert "### Warning: output units against task rows (step 21)" in report
    assert "the matching task is Task.paper_units(6)" in report
    # the other way round, and a flipped unit
    net = _protocol_oracle(even, PAPER, order=[0, 1, 2, 3, 4, 5])

    def flipped(x):
        out = net(x)
        return out.latents, out.logits * np.array([1, 1, -1, 1, 1, 1])

    with pytest.warns(UserWarning, match=r"unit 2 -> row 2 \(flipped\).*rows \[2\] negated"):
        trilat.compare(
            trilat.from_callable(flipped),
            even,
            mixing=_identity,
            protocol=PAPER,
            n_trials=400,
            rng=0,
        )
    with pytest.warns(UserWarning, match=r"Task\.evenly_spaced\(6\)"):
        trilat.compare(net, paper, mixing=_identity, protocol=PAPER, n_trials=400, rng=0)


def test_rank_deficient_task_runs_without_the_estimate() -> None:
    one = trilat.Task.paper_units(1)
    net = _protocol_oracle(one, PAPER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right units: no warning
        c = trilat.compare(net, one, mixing=_identity, protocol=PAPER, n_trials=400, rng=1)
    assert not c.identifiable and np.all(np.isnan(c.estimate_r2))
    assert 0 <= c.excess_cross_entropy[21] < 1e-12
    report = c.to_markdown()
    assert "not identifiable (rank C = 1 < D = 2, N = 1)" in report
    assert "| not identifiable | not identifiable |" in report


def test_a_network_with_latents_only() -> None:
    task = trilat.Task.evenly_spaced(6)
    reference = trilat.OptimalNetwork(task, "posterior_mean")

    def fn(evidence):
        out = reference(evidence)
        return trilat.NetworkOutput(out.latents, out.logits[..., :0])

    net = trilat.from_callable(fn, input_kind="evidence")
    c = trilat.compare(net, task, n_trials=400, rng=5)
    assert c.output_kind == "none (latents only)" and not np.any(c.scored)
    assert np.all(np.isnan(c.excess_cross_entropy)) and c.units == {}
    assert np.all(c.latent_r2_mu > 0.999)
    report = c.to_markdown()
    assert "No outputs: the network gave latents only" in report
    assert "### The latent code, per step" in report and "excess CE (nats)" not in report
    assert "| 20 | 0.0447 | 0.9760 |" in report


def test_factor_angles_of_the_fold_decoders_against_scikit_learn() -> None:
    from sklearn.linear_model import Ridge

    task = trilat.Task.evenly_spaced(6)
    rng = np.random.default_rng(8)
    mix = rng.normal(size=(6, 12))

    def fn(evidence):
        out = trilat.OptimalNetwork(task, "distances")(evidence)
        return np.tanh(out.latents @ mix), out.logits  # a nonlinear code: angles vary by fold

    net = trilat.from_callable(fn, input_kind="evidence")
    c = trilat.compare(net, task, n_trials=600, rng=4)
    folds = c.code["factor_angles_folds"]
    assert len(folds["per_fold"]) == 4 and folds["median"] == np.median(folds["per_fold"])
    # the same trials, the same latents, decoders fitted by scikit-learn on three quadrants
    trials = trilat.simulate(task, 600, 20, rng=np.random.SeedSequence(4).spawn(3)[0])
    h = fn(trials.evidence)[0][:, -1]
    sides = np.where(trials.x_star > 0, 1, -1)
    expected = []
    gen = c.code["generalization"]
    for signs, alphas in zip(gen["splits"], gen["fold_alphas"], strict=True):
        train = ~np.all(sides == np.asarray(signs), axis=1)
        # the penalty each fold chose, relative to tr(Hc^T Hc) / H of its training latents
        hc = h[train] - h[train].mean(axis=0)
        scale = np.sum(hc**2) / np.count_nonzero(np.ptp(h[train], axis=0))
        w = np.array(
            [
                Ridge(alpha=a * scale).fit(h[train], trials.x_star[train, j]).coef_
                for j, a in enumerate(alphas)
            ]
        )
        cos = w[0] @ w[1] / np.linalg.norm(w[0]) / np.linalg.norm(w[1])
        expected.append(math.degrees(math.acos(cos)))
    np.testing.assert_allclose(np.ravel(folds["per_fold"]), expected, rtol=0, atol=1e-6)
    report = c.to_markdown()
    assert "factor angles, decoder fitted on all trials, median (degrees)" in report
    assert "median over the held-out-quadrant decoders (the paper's; degrees)" in report


# --- training on the paper's protocol ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.torch
def test_train_with_the_papers_protocol() -> None:
    pytest.importorskip("torch")
    from trilat.experiments import make_batch, train

    task = trilat.Task.paper_units(2)
    mixing = trilat.MixingMLP(2, rng=0)
    batch = make_batch(task, mixing, 4, 20, rng=0, protocol=PAPER)
    assert batch.observations.shape == (4, 22, 41) and batch.targets.shape == (4, 22, 2)
    trained = train(
        "rnn",
        task,
        protocol=PAPER,
        mixing=mixing,
        steps=20,
        hidden=8,
        eval_every=10,
        eval_trials=64,
        rng=0,
        progress=False,
    )
    assert trained.protocol == PAPER and trained.obs_dim == 41
    assert trained.config["loss"] == "decision" and trained.config["n_steps"] == 20
    # the oracle's loss: log 2 on the 21 steps of target 1/2, the oracle's BCE at step 21
    val = make_batch(
        task, mixing, 64, 20, rng=trained.config["data_seed"], first_trial=2**62, protocol=PAPER
    )
    post = trilat.posterior(task, val.evidence)
    z = trilat.predict_logits(task, post.mean[:, -1], std=post.std[-1])
    y = val.targets[:, 21]
    bce = np.mean(-y * special.log_expit(z) - (1 - y) * special.log_expit(-z))
    assert trained.history.oracle_loss == pytest.approx((21 * math.log(2) + bce) / 22, rel=1e-6)
    c = trilat.compare(trained, task, n_trials=100, rng=0)  # the network's own protocol
    assert c.latent_step == 21 and c.protocol == PAPER.to_dict()
    with pytest.raises(ValueError, match="loss = 'every_step' but the protocol scores"):
        train("rnn", task, protocol=PAPER, loss="every_step", steps=1)


# --- loading weights ---------------------------------------------------------------------


@pytest.mark.torch
def test_load_state_dict_strict_lists_the_keys(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    state = dict(module.state_dict())
    state["1.weight"] = torch.zeros(1)
    path = tmp_path / "w.pt"
    torch.save({"net": state, "loss_hist": np.zeros(5)}, path)  # a numpy array, as train.py
    with pytest.raises(
        ValueError,
        match=r"unexpected keys \['1.weight'\], missing keys \[\]; "
        r"strict=False ignores them",
    ):
        trilat.load_state_dict(module, path, key="net")
    with pytest.warns(UserWarning, match=r"ignoring the unexpected keys \['1.weight'\]"):
        trilat.load_state_dict(module, path, key="net", strict=False)
    assert isinstance(trilat.read_weights(path)["loss_hist"], np.ndarray)
    torch.save({"f": print}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        trilat.read_weights(tmp_path / "bad.pt")
