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
    # the corrected analysis on standardised latents: the same trials, its own scores
    std = [values[f"standardized_q{q}_fit0"] for q in range(1, 5)]
    assert np.isfinite(std).all() and values["standardized_median"] == np.median(std)
    # the recurrent map's fixed and slow points, of the 128 searches
    assert 0 <= values["fp_found"] <= 128 and 0 <= values["slow_found"] <= 128
    assert (
        values["attractor_dim"] == -1 if values["fp_found"] == 0 else values["attractor_dim"] >= 0
    )
    assert values["hold_spread"] > 0 and values["hold_drift"] >= 0
    config["batch_size"] = 32
    values = bench.run_protocol_unit(config, np.random.default_rng(0))
    assert values["train_trials"] == 8 * 32


def test_recipe_comparison_gives_welch_intervals() -> None:
    """Paper 0.5, 0.6, 0.7 against trilat 0.6, 0.7, 0.8: difference 0.1, standard error
    sqrt(0.01/3 + 0.01/3) = 0.08165 on Welch's 4 degrees of freedom (t_0.975 = 2.7764):
    0.1 -/+ 0.2267."""
    row = {"seeds": 3, "train_cpu_seconds": 20.0}
    rows = [
        {
            **row,
            "block": "paper",
            "arch": "paper_rnn",
            "n_tasks": 6,
            "per_seed_corrected_median": [0.5, 0.6, 0.7],
            "per_seed_gen_ridge": [0.7, 0.7, 0.7 + 1e-9],
        },
        {
            **row,
            "block": "trilat",
            "arch": "rnn",
            "n_tasks": 6,
            "per_seed_corrected_median": [0.6, 0.7, 0.8],
            "per_seed_gen_ridge": [0.5, 0.5, 0.5 + 1e-9],
        },
        {**row, "block": "paper", "arch": "lstm", "n_tasks": 6},
    ]
    table = _bench()._recipe_comparison(rows)
    line = next(x for x in table.splitlines() if x.startswith("| 6 |"))
    assert "| 0.600 ± 0.058 | 0.700 ± 0.058 | +0.100 [-0.127, +0.327] |" in line
    assert "| 0.700 ± 0.000 | 0.500 ± 0.000 | -0.200 [-0.200, -0.200] |" in line
    assert _bench()._recipe_comparison(rows[2:]) == ""


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("dim,per_t", [(3, False), (2, True)])
def test_one_figure_unit_measures_ridge_and_both_analyses(dim: int, per_t: bool) -> None:
    """The D / sigma / duration blocks: one network, trilat's ridge and generalize.py's analysis
    on at most ``max_held_out`` orthants, per stimulus step with ``per_t``."""
    pytest.importorskip("torch")
    bench = _bench()
    config = {
        "arch": "paper_rnn",
        "dim": dim,
        "n_tasks": 4,
        "sigma": 0.3,
        "steps": 8,
        "eval_trials": 200,
        "n_fits": 1,
        "n_batches": 4,
        "max_held_out": 2,
        "per_t": per_t,
    }
    values = bench.run_figure_unit(config, np.random.default_rng(0))
    assert values["train_trials"] == 8 * 16
    for key in ("faithful", "corrected"):
        held = [k for k in values if k.startswith(f"{key}_o")]
        assert len(held) == 2 and np.isfinite([values[k] for k in held]).all()
    # the ridge score at the decision step (21), and at every stimulus step with per_t
    assert values["ridge"] == values["ridge_s21"]
    assert all(f"ridge_s{t}" in values for t in range(1, 21)) == per_t
    assert all(f"corrected_s{t}" in values for t in bench.DURATION_STEPS) == per_t
    rows = [
        dict(
            config,
            seeds=1,
            faithful=(0.1, 0.2, 0.3),
            corrected=(0.0, 0.1, 0.2),
            ridge=(0.5, 0.5, 0.5),
            excess_ce=0.1,
            ceiling=0.9,
            train_cpu_seconds=1.0,
            analysis_cpu_seconds=1.0,
            train_trials=128,
            ridge_t={t: 0.5 for t in range(1, 22)},
            corrected_t={t: 0.1 for t in bench.DURATION_STEPS},
        )
    ]
    table = bench._figure_markdown(rows, "duration")
    # sigma = 0.3: eq. 7 at t = 1 is 1 - 12 * 0.09 = -0.08, Fig5a.py's 1 - 1.08/2 = 0.46
    assert "| paper_rnn | 4 | 1 | 1 | 0.500 | 0.100 | -0.080 | 0.460 |" in table
