"""``trilat compare MODULE:FACTORY``: the report, its files, and one clear line per mistake."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from trilat.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gru.py"


def _factory(tmp_path: Path, body: str, name: str = "nets.py") -> str:
    path = tmp_path / name
    path.write_text("import numpy as np\nimport trilat\n\n" + textwrap.dedent(body))
    return str(path)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> str:
    assert main(["compare", *argv, "--n-trials", "100", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("trilat compare: error:")]
    assert len(lines) == 1, err
    assert message in lines[0], lines[0]
    return lines[0]


def test_report_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _factory(
        tmp_path,
        """
        def optimal():
            return trilat.OptimalNetwork(trilat.Task.evenly_spaced(3), latent="logits")

        def linear():
            return trilat.from_callable(lambda obs: (obs, obs[..., :6]))
        """,
    )
    out = tmp_path / "out"
    argv = ["compare", f"{path}:optimal", "--n-trials", "300", "--out", str(out), "--no-figures"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("## trilat compare: OptimalNetwork(D=2, N=3, latent='logits')")
    assert "| 20 | 0.0447 |" in captured.out  # the last step, s(20) = 0.2 / sqrt(20)
    assert "default" not in captured.err  # the network's own task
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["n_trials"] == 300 and saved["seed"] == 0 and len(saved["task"]["C"]) == 3
    assert sorted(p.name for p in out.iterdir()) == ["comparison.json"]

    assert main(["compare", f"{path}:linear", "--n-trials", "100", "--n-steps", "5"]) == 0
    captured = capsys.readouterr()
    assert "using the default (D = 2, N = 6 evenly spaced" in captured.err
    assert "| 5 | 0.0894 |" in captured.out and "| 6 |" not in captured.out


@pytest.mark.slow
@pytest.mark.torch
def test_the_readme_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    argv = ["compare", f"{EXAMPLE}:factory", "--n-trials", "200", "--out", str(out)]
    assert main(argv) == 0
    report = capsys.readouterr().out
    assert "from_torch(GRU, latent='gru', output='logits')" in report
    assert "### Latent code at t = 20" in report
    assert sorted(p.name for p in out.iterdir()) == [
        "angles.png",
        "comparison.json",
        "estimate.png",
        "generalization.png",
        "outputs.png",
    ]


def test_bad_specs_and_factories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, ["nocolon"], "expected MODULE:FACTORY")
    _fails(capsys, [f"{tmp_path}/missing.py:factory"], "no such file")
    _fails(capsys, ["trilat_no_such_module:factory"], "importing trilat_no_such_module failed")
    broken = _factory(tmp_path, "x = 1 / 0\n", "broken.py")
    _fails(capsys, [f"{broken}:factory"], "ZeroDivisionError: division by zero (at broken.py:4)")
    path = _factory(
        tmp_path,
        """
        def factory():
            return 3

        def failing():
            raise RuntimeError("weights not found")
        """,
    )
    _fails(capsys, [f"{path}:nope"], "has no function 'nope'; its public callables are ")
    _fails(capsys, [f"{path}:factory"], "must return a trilat network, (network, task)")
    _fails(capsys, [f"{path}:failing"], "failing() failed: RuntimeError: weights not found")


def test_shape_mismatches_and_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _factory(
        tmp_path,
        """
        def four_outputs():
            return trilat.OptimalNetwork(trilat.Task.evenly_spaced(4)), trilat.Task.evenly_spaced(6)

        def three_d():
            network = trilat.OptimalNetwork(trilat.Task.random(3, 6, rng=0))
            return network, trilat.Task.evenly_spaced(6)

        def nan_outputs():
            def fn(obs):
                logits = obs[..., :6].copy()
                logits[0, 0, 0] = np.nan
                return obs, logits
            return trilat.from_callable(fn)

        def wrong_width():
            return trilat.from_callable(lambda obs: (obs, obs[..., :6]), obs_dim=30)
        """,
    )
    _fails(capsys, [f"{path}:four_outputs"], "network has 4 outputs but the task has N = 6")
    _fails(capsys, [f"{path}:three_d"], "inputs of shape (n, T, 3), but the task's evidence")
    _fails(capsys, [f"{path}:nan_outputs"], "1 NaN or infinite entries, the first at trial 0")
    _fails(capsys, [f"{path}:wrong_width"], "(n, T, 30), but the mixing f(X(t)) gives")


@pytest.mark.torch
def test_bare_torch_module_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    path = _factory(
        tmp_path,
        """
        import torch

        def factory():
            return torch.nn.Sequential(torch.nn.GRU(40, 8, batch_first=True))
        """,
    )
    _fails(capsys, [f"{path}:factory"], "wrap it with trilat.from_torch(module, latent=NAME)")


def test_the_docs_show_the_example_from_its_file() -> None:
    """docs/comparing.md includes examples/gru.py from ``import torch`` on (no copy to drift)."""
    page = (EXAMPLE.parents[1] / "docs" / "comparing.md").read_text(encoding="utf-8")
    assert (
        "```{literalinclude} ../examples/gru.py\n:language: python\n:start-at: import torch\n"
        in page
    )
    source = EXAMPLE.read_text(encoding="utf-8")
    assert source.count("import torch\n") == 1 and "class GRU" in source
    assert "trilat compare examples/gru.py:factory --out out/" in page


PAPER_EXAMPLE = EXAMPLE.parent / "disentangleres.py"


@pytest.fixture(scope="module")
def paper_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small network of ``examples/disentangleres.py`` trained here on the paper's protocol
    (N = 2, 16 units, 300 batches of 16), saved as the paper's ``train.py`` saves it:
    ``{'state_dict', 'encoder', 'loss_hist'}`` (a numpy array), and the readout apart."""
    torch = pytest.importorskip("torch")
    import importlib.util

    import numpy as np

    import trilat
    from trilat.experiments import train

    spec = importlib.util.spec_from_file_location("disentangleres_example", PAPER_EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(
        torch.nn.Linear(2, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 40),
    )
    rnn, head = example.RNN(41, 16, 2), torch.nn.Linear(16, 2)
    trained = train(
        example.Network(rnn, head),
        trilat.Task.paper_units(2),
        protocol=trilat.TrialProtocol.paper(),
        mixing=trilat.MixingMLP.from_state_dict(encoder.state_dict()),
        steps=300,
        lr=1e-2,
        eval_every=300,
        eval_trials=256,
        rng=0,
        progress=False,
    )
    folder = tmp_path_factory.mktemp("paper")
    checkpoint, readout = folder / "net.pth", folder / "readout.pt"
    history = np.asarray(trained.history.train_loss)
    state = {"state_dict": rnn.state_dict(), "encoder": encoder.state_dict(), "loss_hist": history}
    torch.save(state, checkpoint)
    torch.save(torch.nn.Sequential(head, torch.nn.Sigmoid()).state_dict(), readout)
    return checkpoint, readout


@pytest.mark.torch
@pytest.mark.slow
def test_the_papers_checkpoint_in_one_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], paper_checkpoint: tuple[Path, Path]
) -> None:
    checkpoint, readout = paper_checkpoint
    args = ["--factory-arg", f"checkpoint={checkpoint}", "--factory-arg", f"readout={readout}"]
    argv = ["compare", f"{PAPER_EXAMPLE}:factory", *args, "--factory-arg", "n_tasks=2"]
    assert main([*argv, "--n-trials", "300", "--no-figures"]) == 0
    captured = capsys.readouterr()
    report = captured.out
    assert "rec_to_out ignored: never trained" in report
    assert "Trial: 22 steps (fixation 0, stimulus 1..20, decision 21)" in report
    rows = [line for line in report.splitlines() if re.match(r"\| -?\d+ \| \d+ \|", line)]
    assert len(rows) == 1 and rows[0].startswith("| 21 | 20 | 0.0447 |")  # the decision step
    assert "### Latent code at step 21 (t = 20)" in report
    # (a few hundred batches leave a network near chance: the guard may say so in a warning)

    # without its readout: the latent code alone; with N = 1 the estimate is not identifiable
    latent_only = ["--factory-arg", f"checkpoint={checkpoint}", "--factory-arg", "n_tasks=1"]
    assert main(["compare", f"{PAPER_EXAMPLE}:factory", *latent_only, "--n-trials", "300"]) == 0
    report = capsys.readouterr().out
    assert "No outputs: the network gave latents only" in report
    assert "not identifiable (rank C = 1 < D = 2, N = 1)" in report


def test_factory_arguments_are_literals_or_strings() -> None:
    from trilat.compare._cli import FactoryError, factory_kwargs

    got = factory_kwargs(["checkpoint=net.pth", "n_tasks=6", "scale=0.5", "name='a=b'", "x=None"])
    assert got == {"checkpoint": "net.pth", "n_tasks": 6, "scale": 0.5, "name": "a=b", "x": None}
    with pytest.raises(FactoryError, match="must be NAME=VALUE"):
        factory_kwargs(["6"])
    with pytest.raises(FactoryError, match="given twice"):
        factory_kwargs(["a=1", "a=2"])


def test_a_permutation_is_named_on_the_terminal_and_in_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _factory(
        tmp_path,
        """
        PAPER = trilat.TrialProtocol.paper()

        def permuted():
            # the Bayes-optimal answers of the paper's units, on the paper's trial, read
            # from identity-mixed inputs; paired with trilat's evenly spaced rows
            task = trilat.Task.paper_units(6)

            def fn(x):
                seen = np.minimum(np.arange(22), 20)
                mean = np.cumsum(x[..., :2] * (x[..., 2:] > 0), axis=1)  # stimulus steps only
                mean = mean / np.maximum(seen, 1)[None, :, None]
                z = trilat.predict_logits(task, mean, std=0.2 / np.sqrt(np.maximum(seen, 1)))
                return mean, z

            network = trilat.from_callable(fn, obs_dim=3)
            return network, trilat.Task.evenly_spaced(6), lambda e: e, PAPER
        """,
    )
    argv = ["compare", f"{path}:permuted", "--n-trials", "300", "--no-figures"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    expected = (
        "unit 0 -> row 3, unit 1 -> row 4, unit 2 -> row 5, unit 3 -> row 0, unit 4 -> row 1, "
        "unit 5 -> row 2"
    )
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("trilat compare: warning: the network's")
    assert expected in warning[0] and "the matching task is Task.paper_units(6)" in warning[0]
    assert "### Warning: output units against task rows (step 21)" in captured.out
    assert expected in captured.out


def test_the_docs_show_the_papers_example_from_its_file() -> None:
    """docs/comparing.md includes examples/disentangleres.py from ``import torch`` on."""
    page = (EXAMPLE.parents[1] / "docs" / "comparing.md").read_text(encoding="utf-8")
    include = (
        "```{literalinclude} ../examples/disentangleres.py\n:language: python\n"
        ":start-at: import torch\n"
    )
    assert include in page
    source = PAPER_EXAMPLE.read_text(encoding="utf-8")
    assert source.count("import torch\n") == 1 and "class RNN" in source
    command = (
        "trilat compare examples/disentangleres.py:factory --factory-arg checkpoint=net.pth "
        "--factory-arg readout=readout.pt --factory-arg n_tasks=6"
    )
    assert command in page
    # the GRU stays the first example
    assert page.index("examples/gru.py") < page.index("examples/disentangleres.py")


def test_alpha_fixes_the_penalty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _factory(
        tmp_path,
        """
        def optimal():
            return trilat.OptimalNetwork(trilat.Task.evenly_spaced(3), latent="logits")
        """,
    )
    out = tmp_path / "out"
    argv = ["compare", f"{path}:optimal", "--n-trials", "300", "--n-steps", "3", "--no-figures"]
    assert main([*argv, "--alpha", "0.003", "--out", str(out)]) == 0
    assert "fixed: alpha = 0.003" in capsys.readouterr().out
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["alpha"] == 0.003 and saved["latent_alpha"] == [0.003] * 3
    assert saved["code"]["generalization"]["fold_alphas"] == [[0.003, 0.003]] * 4
    assert main(argv) == 0
    assert "chosen by leave-one-out CV" in capsys.readouterr().out
    _fails(capsys, [f"{path}:optimal", "--alpha", "-1"], "alpha must be")
