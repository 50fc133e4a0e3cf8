"""The Network protocol and its adapters: numpy callables, torch modules, the optimal network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from _support.gru_reference import gru_module as _gru_module
from _support.gru_reference import numpy_gru as _numpy_gru
from scipy import special

import trilat
from trilat.adapters import NetworkOutput, OptimalNetwork, from_callable, from_torch

TASK = trilat.Task.evenly_spaced(6)


def _evidence(n: int = 40, steps: int = 12, seed: int = 3) -> np.ndarray:
    return trilat.simulate(TASK, n, steps, rng=seed).evidence


# --- OptimalNetwork ----------------------------------------------------------------------------


@pytest.mark.parametrize("latent", OptimalNetwork.LATENTS)
def test_optimal_network_is_the_oracle(latent: str) -> None:
    evidence = _evidence()
    out = OptimalNetwork(TASK, latent=latent)(evidence)
    post = trilat.posterior(TASK, evidence)
    logits = trilat.predict_logits(TASK, post.mean, post.t)
    np.testing.assert_array_equal(out.logits, logits)
    expected = {
        "distances": post.mean @ TASK.C.T - TASK.b,
        "posterior_mean": post.mean,
        "logits": logits,
    }[latent]
    np.testing.assert_array_equal(out.latents, expected)
    assert out.probabilities is None


def test_optimal_network_follows_a_gaussian_prior() -> None:
    prior = trilat.Gaussian(0.1, 0.3)
    task = trilat.Task.evenly_spaced(6, prior=prior)
    evidence = trilat.simulate(task, 10, 5, rng=0).evidence
    out = OptimalNetwork(task, latent="posterior_mean")(evidence)
    np.testing.assert_array_equal(out.latents, trilat.posterior(task, evidence, prior).mean)


def test_optimal_network_reads_the_evidence() -> None:
    net = OptimalNetwork(TASK)
    assert net.input_kind == "evidence" and net.obs_dim == 2 and net.n_tasks == 6
    assert isinstance(net, trilat.adapters.Network)
    with pytest.raises(ValueError, match="latent must be one of"):
        OptimalNetwork(TASK, latent="hidden")


# --- NetworkOutput and from_callable -----------------------------------------------------------


def test_network_output_promotes_and_checks_shapes() -> None:
    out = NetworkOutput(np.ones((2, 3, 4), np.float32), np.zeros((2, 3, 6), np.float32))
    assert out.latents.dtype == np.float64 and out.logits.dtype == np.float64
    assert out.shape == (2, 3)
    with pytest.raises(ValueError, match=r"latents must have shape \(n_trials, n_steps, H\)"):
        NetworkOutput(np.ones((2, 3)), np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match=r"share \(n_trials, n_steps\).*\(2, 3, 4\).*\(2, 4, 6\)"):
        NetworkOutput(np.ones((2, 3, 4)), np.zeros((2, 4, 6)))


def test_probabilities_are_kept_and_converted_to_logits() -> None:
    p = np.array([[[0.0, 0.25, 0.5, 1.0]]])
    out = NetworkOutput.from_probabilities(np.zeros((1, 1, 2)), p)
    np.testing.assert_array_equal(out.probabilities, p)
    # logit(1/4) = -log 3 exactly up to rounding of log
    np.testing.assert_allclose(out.logits[0, 0, 1:3], [-np.log(3.0), 0.0], rtol=1e-15, atol=0)
    assert out.logits[0, 0, 0] == -np.inf and out.logits[0, 0, 3] == np.inf
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\].*1\.5"):
        NetworkOutput.from_probabilities(np.zeros((1, 1, 2)), np.array([[[0.5, 1.5]]]))


def test_from_callable_wraps_numpy_functions() -> None:
    w = np.random.default_rng(0).standard_normal((40, 6))

    def fn(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.tanh(obs), obs @ w

    net = from_callable(fn, obs_dim=40, n_tasks=6)
    obs = np.random.default_rng(1).standard_normal((3, 4, 40)).astype(np.float32)
    out = net(obs)
    np.testing.assert_array_equal(out.logits, obs @ w)
    assert out.latents.dtype == np.float64
    assert (net.input_kind, net.obs_dim, net.n_tasks) == ("observations", 40, 6)

    probs = from_callable(lambda x: (x, special.expit(x @ w)), output="probability")(obs)
    np.testing.assert_array_equal(probs.probabilities, special.expit(obs @ w))

    with pytest.raises(ValueError, match=r"tuple \(latents, logits\).*got ndarray"):
        from_callable(lambda x: x)(obs)
    with pytest.raises(ValueError, match="output must be one of"):
        from_callable(fn, output="softmax")
    with pytest.raises(ValueError, match="input_kind must be one of"):
        from_callable(fn, input_kind="pixels")
    with pytest.raises(ValueError, match="fn must be callable"):
        from_callable(3)


# --- torch -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.torch
def test_from_torch_matches_the_gru_equations_in_numpy() -> None:
    torch = pytest.importorskip("torch")
    module = _gru_module(torch, 40, 16, 6, torch.float64)
    obs = np.random.default_rng(2).standard_normal((70, 9, 40))
    # batch_size 32 splits the 70 trials unevenly: batching must not change a number
    out = from_torch(module, latent="gru", batch_size=32)(obs)
    latents, logits = _numpy_gru(module, obs)
    # float64 on both sides, same operations up to summation order: a few ulps per step,
    # compounded over 9 steps through contractive gates; |h| <= 1 and |logits| ~ 1.
    np.testing.assert_allclose(out.latents, latents, rtol=0, atol=1e-13)
    np.testing.assert_allclose(out.logits, logits, rtol=0, atol=1e-13)
    assert out.latents.dtype == np.float64 and out.latents.shape == (70, 9, 16)
    # latent as a function of the output gives the same numbers
    by_fn = from_torch(module, latent=lambda logits_: logits_)(obs)
    np.testing.assert_array_equal(by_fn.latents, out.logits)


@pytest.mark.torch
def test_from_torch_float32_module_runs_in_its_dtype() -> None:
    torch = pytest.importorskip("torch")
    module = _gru_module(torch, 40, 16, 6, torch.float32)
    module.train()
    obs = np.random.default_rng(2).standard_normal((20, 9, 40))
    out = from_torch(module, latent="gru")(obs)
    assert module.training, "the module's training mode must be restored"
    latents, logits = _numpy_gru(module, obs)
    # float32 arithmetic: each gate is within ~H eps32 ~ 16 * 6e-8 of the float64 value,
    # and errors do not grow through the contractive update over 9 steps; 1e-5 leaves 10x.
    np.testing.assert_allclose(out.latents, latents, rtol=0, atol=1e-5)
    np.testing.assert_allclose(out.logits, logits, rtol=0, atol=1e-5)


@pytest.mark.torch
def test_from_torch_errors_name_what_was_expected() -> None:
    torch = pytest.importorskip("torch")
    module = _gru_module(torch, 40, 16, 6, torch.float32)
    with pytest.raises(ValueError, match=r"'lstm' is not a submodule.*\['gru', 'readout'\]"):
        from_torch(module, latent="lstm")
    with pytest.raises(ValueError, match=r"module must be a torch\.nn\.Module"):
        from_torch(lambda x: x, latent="gru")

    # the final state h_n of shape (1, batch, H) is not a latent trajectory
    last_state = from_torch(module.gru, latent=lambda out: out[1])
    with pytest.raises(
        ValueError, match=r"\(batch, T, features\) = \(5, 9, \.\.\.\).*\(1, 5, 16\)"
    ):
        last_state(np.zeros((5, 9, 40)))

    # a sequence-first recurrent layer reads the batch as time: shapes cannot tell, so warn
    with pytest.warns(UserWarning, match=r"'' \(GRU\) has batch_first=False"):
        from_torch(torch.nn.GRU(40, 16), latent=lambda out: out[0])


@pytest.mark.torch
def test_load_state_dict_round_trips_weights(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    source = _gru_module(torch, 40, 16, 6, torch.float32)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    target = _gru_module(torch, 40, 16, 6, torch.float32, seed=1)
    assert trilat.adapters.load_state_dict(target, path) is target
    for name, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], value)
    trilat.adapters.load_state_dict(target, tmp_path / "ckpt.pt", key="state_dict")
    with pytest.raises(
        ValueError, match=r"entries \['state_dict', 'epoch'\] are not tensors; pass key="
    ):
        trilat.adapters.load_state_dict(target, tmp_path / "ckpt.pt")
    with pytest.raises(ValueError, match="do not fit"):
        trilat.adapters.load_state_dict(_gru_module(torch, 40, 8, 6, torch.float32), path)


class _Payload:
    """Unpickling this runs code: exactly what weights_only=True must refuse."""

    ran = False

    def __reduce__(self):
        return (_Payload._mark, ())

    @staticmethod
    def _mark():
        _Payload.ran = True
        return "pwned"


@pytest.mark.torch
def test_load_state_dict_refuses_pickled_objects(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    module = _gru_module(torch, 40, 16, 6, torch.float32)
    path = tmp_path / "evil.pt"
    torch.save({"gru.weight_ih_l0": _Payload()}, path)
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        trilat.adapters.load_state_dict(module, path)
    assert not _Payload.ran
    # a plain pickle of an object (not even torch's format) is refused the same way
    with open(tmp_path / "plain.pkl", "wb") as fh:
        pickle.dump(_Payload(), fh, protocol=2)
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        trilat.adapters.load_state_dict(module, tmp_path / "plain.pkl")
    assert not _Payload.ran
