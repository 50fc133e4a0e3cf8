"""``trilat compare MODULE:FACTORY``: the report, its files, and one clear line per mistake."""

from __future__ import annotations

import json
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
