"""``trilat COMMAND --help`` in a terminal: plain text, the defaults, the sweeps' grids,
and which D are verified on random tasks."""

from __future__ import annotations

import re

import pytest

from trilat import Task
from trilat.cli import main, plain_text
from trilat.sweep import SWEEPS
from trilat.verify import VerifyConfig

MARKUP = re.compile(r"``|:(?:func|class|meth|mod|data|attr):`|`[^`\s]+`_")


def _help(capsys: pytest.CaptureFixture[str], command: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["verify", "sweep", "compare", "bench"])
def test_help_is_plain_text(capsys, command):
    text = _help(capsys, command)
    assert not MARKUP.search(text), MARKUP.search(text)


def test_plain_text_strips_literals_and_roles():
    text = "``trilat verify``: see :func:`trilat.kernels.monte_carlo` and :class:`~trilat.Task`"
    assert plain_text(text) == "trilat verify: see trilat.kernels.monte_carlo and trilat.Task"


def test_bench_help_shows_every_default(capsys):
    text = " ".join(_help(capsys, "bench").split())  # argparse wraps lines
    for option, default in [("--trials", 20000), ("--logit-trials", 5000), ("--steps", 100),
                            ("--repeats", 2), ("--elements", 10**7)]:  # fmt: skip
        assert re.search(rf"{option} \S+ .*?\(default: {default}\)", text), option


def test_sweep_help_lists_each_sweeps_grid_keys(capsys):
    text = _help(capsys, "sweep")
    for name, builtin in SWEEPS.items():
        block = re.search(rf"^  {name}: .*?\n    grid: (.*)$", text, re.M)
        assert block, f"no entry for the {name} sweep"
        keys = [item.split("=")[0] for item in block.group(1).split("; ")]
        assert keys == list(builtin.grid), name


def test_verify_help_says_which_d_use_random_tasks(capsys):
    text = " ".join(_help(capsys, "verify").split())
    assert "D = 2 verifies the paper's evenly spaced tasks" in text
    assert "every other D (D = 1 too) random tasks" in text
    # what the code does: evenly spaced for D = 2 only
    for dim in (1, 2, 3):
        task = VerifyConfig(dim=dim, n_tasks=(3,)).task(3)
        expected = Task.evenly_spaced(3) if dim == 2 else Task.random(dim, 3, rng=0)
        assert (task.C == expected.C).all() and (task.b == expected.b).all(), dim
