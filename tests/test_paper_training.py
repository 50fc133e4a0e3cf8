"""The paper's training protocol: its recipe, its networks, its checkpoint format, devices."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import trilat

torch = pytest.importorskip("torch")

from trilat.experiments import (  # noqa: E402
    RECIPES,
    PaperGPT,
    PaperRNN,
    build,
    save_paper_checkpoint,
    train,
)

pytestmark = pytest.mark.torch

PAPER = trilat.TrialProtocol.paper()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "disentangleres.py"


def _example():
    spec = importlib.util.spec_from_file_location("disentangleres_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _short(arch: str, n_tasks: int = 2, steps: int = 40, **kwargs):
    kwargs.setdefault("eval_every", steps)
    return train(
        arch,
        trilat.Task.paper_units(n_tasks),
        recipe="paper",
        protocol=PAPER,
        steps=steps,
        eval_trials=64,
        rng=0,
        progress=False,
        **kwargs,
    )


def test_the_papers_recipe_is_train_py_defaults() -> None:
    paper = RECIPES["paper"]
    assert (paper.steps, paper.batch_size, paper.lr, paper.schedule) == (
        100_000,
        16,
        1e-3,
        "constant",
    )
    assert paper.keep == "last" and paper.patience is None
    assert paper.trials() == 1_600_000  # the paper's 1.6M training trials
    assert RECIPES["trilat"].schedule == "cosine"
    with pytest.raises(ValueError, match="recipe must be one of"):
        train("rnn", trilat.Task.paper_units(2), recipe="adam")


def test_paper_rnn_is_the_example_rnn_layer_for_layer() -> None:
    """The fused kernel of PaperRNN.states equals RNN.py's loop (the example's module)."""
    example = _example()
    torch.manual_seed(3)
    net = PaperRNN(41, 3, hidden=16)
    rnn = example.RNN(41, 16, 3)
    rnn.load_state_dict({k: v for k, v in net.state_dict().items() if "readout" not in k})
    x = torch.randn(5, 22, 41)
    with torch.no_grad():
        looped = [torch.zeros(5, 16)]
        for t in range(22):
            looped.append(net.step(looped[-1], x[:, t]))
        torch.testing.assert_close(net.states(x), torch.stack(looped[1:], dim=1))
        torch.testing.assert_close(net.states(x), rnn(x)[1])
    # nn.Linear's default initialisation per layer: inp_to_rec within 1/sqrt(41), not 1/sqrt(16)
    bound = 1 / math.sqrt(41)
    assert net.inp_to_rec.weight.abs().max() <= bound
    assert net.inp_to_rec.weight.abs().max() > 1 / math.sqrt(64)


@pytest.mark.filterwarnings("ignore:the network's output units")  # 40 batches: near chance
def test_a_network_trained_with_the_papers_protocol_loads_in_the_example(
    tmp_path: Path,
) -> None:
    trained = _short("paper_rnn", n_tasks=2, steps=40)
    assert trained.config["batch_size"] == 16 and trained.config["lr"] == 1e-3
    assert trained.config["steps"] == 40 and trained.config["keep"] == "last"
    assert trained.config["recipe"] == "paper" and trained.obs_dim == 41
    checkpoint, readout = tmp_path / "net.pth", tmp_path / "readout.pt"
    save_paper_checkpoint(trained, checkpoint, readout)
    state = torch.load(checkpoint, weights_only=False)
    assert set(state) == {"state_dict", "encoder", "loss_hist"}
    assert set(state["encoder"]) == {f"{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}
    assert set(torch.load(readout)) == {"0.weight", "0.bias"}

    network, task, mixing, protocol = _example().factory(checkpoint, readout, n_tasks=2)
    assert task == trained.task and protocol == PAPER
    trials = trilat.simulate(task, 32, 20, rng=5)
    # the encoder is saved in float32, as the paper's: equal to float32 rounding
    np.testing.assert_allclose(
        mixing(trials.evidence), trained.mixing(trials.evidence), rtol=0, atol=1e-6
    )
    x = PAPER.inputs(trials.evidence, trained.mixing)
    mine, theirs = trained(x), network(x)
    np.testing.assert_allclose(theirs.latents, mine.latents, rtol=0, atol=1e-6)
    np.testing.assert_allclose(theirs.logits, mine.logits, rtol=0, atol=1e-6)
    c = trilat.compare(network, task, mixing=mixing, protocol=protocol, n_trials=64, rng=0)
    assert c.protocol == PAPER.to_dict()


def test_keep_last_returns_the_last_weights() -> None:
    def weights(net):
        return torch.cat([p.detach().flatten() for p in net.module.parameters()])

    # seed 0: the validation loss rises between steps 10 and 20, so the best is not the last
    last = _short("paper_rnn", steps=20, eval_every=10, lr=3e-3)
    best = _short("paper_rnn", steps=20, eval_every=10, lr=3e-3, keep="best")
    final = _short("paper_rnn", steps=20, eval_every=20, lr=3e-3, keep="best")  # one eval
    assert last.history.step == [10, 20] and best.history.best_step == 10
    assert torch.equal(weights(last), weights(final))
    assert not torch.equal(weights(last), weights(best))


@pytest.mark.parametrize("arch", ["lstm", "gpt2"])
def test_the_papers_other_networks_train_on_its_protocol(arch: str) -> None:
    trained = _short(arch, n_tasks=3, steps=20)
    out = trained(
        PAPER.inputs(trilat.simulate(trained.task, 8, 20, rng=1).evidence, trained.mixing)
    )
    assert out.logits.shape == (8, 22, 3) and out.latents.shape == (8, 22, 64)
    assert np.isfinite(trained.history.val_loss[-1])


def test_gpt2_block_is_causal_and_initialised_as_gpt2() -> None:
    torch.manual_seed(0)
    net = PaperGPT(41, 4)
    assert abs(float(net.c_attn.weight.detach().std()) - 0.02) < 0.002
    assert abs(float(net.c_proj.weight.detach().std()) - 0.02 / math.sqrt(2)) < 0.002
    assert float(net.c_fc.bias.detach().abs().max()) == 0.0
    x = torch.randn(3, 22, 41)
    y = x.clone()
    y[:, 10:] += 1.0
    with torch.no_grad():
        a, b = net(x), net(y)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])
    # no positional information: a permutation of the past leaves the last step unchanged
    perm = torch.cat([torch.randperm(21), torch.tensor([21])])
    with torch.no_grad():
        torch.testing.assert_close(net(x[:, perm])[:, -1], a[:, -1], rtol=1e-5, atol=1e-6)


def test_build_knows_the_papers_architectures() -> None:
    assert isinstance(build("paper_rnn", 41, 2), PaperRNN)
    assert isinstance(build("gpt2", 41, 2), PaperGPT)


@pytest.mark.filterwarnings("ignore:the network's output units")
def test_training_and_compare_take_a_device() -> None:
    """On the CPU, device="cpu" is the default run exactly; on CUDA, the same data stream."""
    a = _short("paper_rnn", steps=20)
    b = _short("paper_rnn", steps=20, device=torch.device("cpu"))
    assert a.history.val_loss == b.history.val_loss
    c1 = trilat.compare(a, a.task, n_trials=64, rng=0)
    c2 = trilat.compare(a, a.task, n_trials=64, rng=0, device="cpu")
    np.testing.assert_array_equal(c1.excess_cross_entropy, c2.excess_cross_entropy)
    with pytest.raises(ValueError, match="device= needs a torch network"):
        trilat.compare(lambda x: x, a.task, n_trials=64, device="cpu")
    if not torch.cuda.is_available():
        return
    g = _short("paper_rnn", steps=20, device="cuda")
    np.testing.assert_allclose(g.history.val_loss, a.history.val_loss, rtol=1e-4)
    c3 = trilat.compare(g, g.task, n_trials=64, rng=0, device="cuda")
    np.testing.assert_allclose(c3.excess_cross_entropy, c1.excess_cross_entropy, atol=1e-5)
