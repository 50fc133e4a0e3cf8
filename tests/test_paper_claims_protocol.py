"""benchmarks/paper_claims.py's protocol blocks: one unit of each, and the Fig. 5a curves."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_claims.py"


def _bench():
    spec = importlib.util.spec_from_file_location("paper_claims_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fig5a_curves_count_t_both_ways() -> None:
    table = _bench().fig5a_curves()
    # sigma^2 / Var(x*) = 0.04 * 12 = 0.48: eq. 7 at t = 20 is 0.976, Fig5a.py's 1 - 0.48/21
    assert "| 20 | 0.9760 | 0.9771 |" in table
    assert "| 2 | 0.7600 | 0.8400 |" in table


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("block,arch", [("paper", "paper_rnn"), ("trilat", "rnn")])
def test_one_protocol_unit_measures_both_analyses(block: str, arch: str) -> None:
    pytest.importorskip("torch")
    bench = _bench()
    config = {
        "block": block,
        "arch": arch,
        "n_tasks": 2,
        "steps": 8,
        "eval_trials": 200,
        "n_fits": 1,
        "n_batches": 4,
    }
    values = bench.run_protocol_unit(config, np.random.default_rng(0))
    assert values["step"] == (21 if block == "paper" else 20)
    assert values["train_trials"] == 8 * (16 if block == "paper" else 64)
    for key in ("faithful", "corrected"):
        scores = [values[f"{key}_q{q}_fit0"] for q in range(1, 5)]
        assert np.isfinite(scores).all() and values[f"{key}_median"] == np.median(scores)
    # quadrants 1 and 3 are tested alike by both analyses
    for q in (1, 3):
        assert values[f"faithful_q{q}_fit0"] == values[f"corrected_q{q}_fit0"]
