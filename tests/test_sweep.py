"""Sweeps: deterministic seeding across executors, resume, recorded failures, built-ins."""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilat.orthogonality import column_cosines, orthogonality_scale
from trilat.sweep import (
    SWEEPS,
    SweepResult,
    canonical_json,
    ceiling,
    expand_grid,
    linearization,
    orthogonality,
    read_sweep,
    recovery,
    sweep,
    unit_seed,
)
from trilat.sweep._builtin import _truncated_normal_mean
from trilat.sweep._result import RESERVED_COLUMNS

EPS = np.finfo(np.float64).eps
# Small grids that still exercise simulation, the oracle and several configurations.
ORTHO_GRID = {"N": [2, 8, 64], "D": [2, 4]}
CEILING_GRID = [{"t": t, "sigma": 0.3, "n_trials": 50} for t in (1, 4)]


def numbers(result: SweepResult) -> dict[str, np.ndarray]:
    """Every column but the wall time, keyed for exact comparison."""
    table = result.to_array()
    return {name: table[name] for name in table.dtype.names if name != "seconds"}


def assert_same_numbers(a: SweepResult, b: SweepResult) -> None:
    na, nb = numbers(a), numbers(b)
    assert na.keys() == nb.keys()
    for name in na:
        if na[name].dtype.kind == "f":
            # bit-identical: compare the bytes, so -0.0 != 0.0 and NaN payloads count
            assert na[name].tobytes() == nb[name].tobytes(), name
        else:
            assert np.array_equal(na[name], nb[name]), name


# --- seeds -----------------------------------------------------------------------------


def test_unit_seed_is_a_function_of_the_configuration_not_its_key_order():
    a = unit_seed({"D": 4, "N": 8}, 3).generate_state(4)
    b = unit_seed({"N": np.int64(8), "D": 4}, 3).generate_state(4)
    assert np.array_equal(a, b)
    others = [
        unit_seed({"D": 4, "N": 8}, 4),
        unit_seed({"D": 4, "N": 9}, 3),
        unit_seed({"D": 4, "N": 8.0}, 3),  # 8 and 8.0 are different configurations
        unit_seed({"D": 4, "N": 8}, 3, root=1),
        unit_seed({"D": 4, "N": 8}, 3, root=2**40),
    ]
    states = {tuple(s.generate_state(4)) for s in others}
    assert len(states) == len(others) and tuple(a) not in states


@pytest.mark.integration
def test_unit_seed_is_the_same_in_every_process():
    # Python's hash() is salted per process; the seed must not depend on it.
    code = (
        "from trilat.sweep import unit_seed; "
        "print(unit_seed({'D': 4, 'N': 8, 'prior': 'uniform'}, 3).generate_state(4).tolist())"
    )
    here = unit_seed({"D": 4, "N": 8, "prior": "uniform"}, 3).generate_state(4).tolist()
    for salt in ("12345",):  # this process has its own (random unless set) salt
        env = {**os.environ, "PYTHONHASHSEED": salt}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == here


@pytest.mark.slow
@settings(max_examples=100)  # a permutation property: 100 examples cover it; keeps CI < 45 s
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda k: k not in RESERVED_COLUMNS),
        st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.text(max_size=8)),
        min_size=1,
        max_size=5,
    ),
    st.randoms(use_true_random=False),
    st.integers(0, 2**40),
)
def test_unit_seed_ignores_key_order(config, random, seed):
    keys = list(config)
    random.shuffle(keys)
    shuffled = {k: config[k] for k in keys}
    assert canonical_json(shuffled) == canonical_json(config)
    assert np.array_equal(
        unit_seed(shuffled, seed).generate_state(4), unit_seed(config, seed).generate_state(4)
    )


def test_progress_bar_when_asked_for(capsys):
    pytest.importorskip("tqdm")
    sweep(draw, {"x": [0, 1, 2, 3]}, progress=True)
    # the shared bar is cleared when done (leave=False) and redraws at most every 0.1 s:
    # the fast units may finish before it shows 4/4, but it was drawn, named and sized
    err = capsys.readouterr().err
    assert "draw:" in err and "/4 [" in err and "run/s" in err
    sweep(draw, {"x": [0, 1, 2, 3]}, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm_is_quiet_by_default_and_an_error_when_asked_for(
    monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert len(sweep(draw, {"x": [0, 1]}, progress=None)) == 2
    assert capsys.readouterr().err == ""
    with pytest.raises(ImportError, match=r"trilat\[progress\]"):
        sweep(draw, {"x": [0, 1]}, progress=True)


def test_results_do_not_depend_on_grid_order_or_neighbours():
    forward = sweep(orthogonality, ORTHO_GRID, seeds=2)
    configs = expand_grid(ORTHO_GRID)
    backward = sweep(orthogonality, configs[::-1], seeds=[1, 0])
    by_unit = {(canonical_json({"N": r["N"], "D": r["D"]}), r["seed"]): r for r in backward}
    for r in forward:
        other = by_unit[(canonical_json({"N": r["N"], "D": r["D"]}), r["seed"])]
        assert all(r[v] == other[v] for v in forward.values)
    alone = sweep(orthogonality, [configs[3]], seeds=[1])
    assert alone.records[0]["cos_ms"] == forward.records[3 * 2 + 1]["cos_ms"]


# --- the same numbers on every executor --------------------------------------------------


@pytest.fixture(scope="module")
def serial_results():
    return {
        "orthogonality": sweep(orthogonality, ORTHO_GRID, seeds=3),
        "ceiling": sweep(ceiling, CEILING_GRID, seeds=2),
    }


@pytest.mark.integration
def test_process_pool_gives_bit_identical_results(serial_results):
    # spawn, not fork: a forked child of a process with threads (pytest plugins, dask) can
    # deadlock, and spawn is what macOS and Windows do anyway
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        ortho = sweep(orthogonality, ORTHO_GRID, seeds=3, executor=pool)
        ceil = sweep(ceiling, CEILING_GRID, seeds=2, executor=pool, chunksize=3)
    assert_same_numbers(ortho, serial_results["orthogonality"])
    assert_same_numbers(ceil, serial_results["ceiling"])


@pytest.mark.integration
def test_dask_local_cluster_gives_bit_identical_results(serial_results):
    distributed = pytest.importorskip("distributed")
    # one worker process (units cross a process boundary, pickled by dask) with two threads
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ortho = sweep(orthogonality, ORTHO_GRID, seeds=3, executor=client)
        ceil = sweep(ceiling, CEILING_GRID, seeds=2, executor=client.get_executor())
    assert_same_numbers(ortho, serial_results["orthogonality"])
    assert_same_numbers(ceil, serial_results["ceiling"])


# --- resume and failures ---------------------------------------------------------------


def draw(config, rng):
    return {"y": config["x"] + rng.random()}


def test_resume_after_an_interruption_skips_finished_work_and_loses_none(tmp_path):
    grid = {"x": [0, 1, 2, 3], "w": ["a", "b"]}
    reference = sweep(draw, grid, seeds=2)
    out = tmp_path / "sweep.jsonl"

    calls = []

    def interrupted(config, rng):
        if config == {"x": 2, "w": "a"}:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-sweep
        calls.append((config["x"], config["w"]))
        return draw(config, rng)

    interrupted.__qualname__ = draw.__qualname__  # the same function, as far as the file knows
    interrupted.__module__ = draw.__module__
    with pytest.raises(KeyboardInterrupt):
        sweep(interrupted, grid, seeds=2, out=out)
    finished = len(calls)
    assert finished == 4 * 2  # x = 0, 1 (two w, two seeds) finished before the stop
    assert len(out.read_text().splitlines()) == finished

    def counted(config, rng):
        calls.append((config["x"], config["w"]))
        return draw(config, rng)

    counted.__qualname__ = draw.__qualname__
    counted.__module__ = draw.__module__
    resumed = sweep(counted, grid, seeds=2, out=out)
    assert len(calls) - finished == len(reference) - finished  # only the unfinished ran
    assert_same_numbers(resumed, reference)
    assert len(out.read_text().splitlines()) == len(reference)
    # and once more: nothing left to do
    again = sweep(counted, grid, seeds=2, out=out)
    assert len(calls) == len(reference)
    assert_same_numbers(again, reference)


class StopAfter(cf.ThreadPoolExecutor):
    """An executor that is interrupted once ``k`` units have been handed out."""

    def __init__(self, k: int) -> None:
        super().__init__(max_workers=2)
        self.k = k
        self.submitted = 0
        self.started: list[cf.Future] = []

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        if self.submitted <= self.k:
            self.started.append(super().submit(fn, *args, **kwargs))
            return self.started[-1]
        cf.wait(self.started)  # the first k finish before the stop, so the test is deterministic
        future = cf.Future()
        future.set_exception(KeyboardInterrupt())
        return future


def test_auto_chunks_batch_quick_units_and_change_no_number():
    # orthogonality units take ~0.1 ms: after 8 timed single-unit tasks, chunks grow to the cap
    # of ceil(len(todo)/64) units (here 3), so the 180 units take far fewer than 180 tasks
    grid = {"N": [2, 4, 8, 16, 32, 64], "D": [2, 3, 4, 8, 16]}
    with StopAfter(10**6) as pool:
        batched = sweep(orthogonality, grid, seeds=6, executor=pool)
    assert 8 < pool.submitted <= 8 + (180 - 8) // 2
    assert_same_numbers(batched, sweep(orthogonality, grid, seeds=6))


def test_resume_after_an_executor_is_interrupted(tmp_path):
    out = tmp_path / "sweep.jsonl"
    reference = sweep(orthogonality, ORTHO_GRID, seeds=3)
    with StopAfter(7) as pool, pytest.raises(KeyboardInterrupt):
        sweep(orthogonality, ORTHO_GRID, seeds=3, executor=pool, out=out, chunksize=1)
    stored = read_sweep(out)
    assert len(stored) == 7  # every unit that ran was kept, none that did not
    with StopAfter(len(reference)) as pool:
        resumed = sweep(orthogonality, ORTHO_GRID, seeds=3, executor=pool, out=out, chunksize=1)
    assert pool.submitted == len(reference) - 7
    assert_same_numbers(resumed, reference)


def test_a_line_cut_short_by_a_crash_is_dropped_and_rerun(tmp_path):
    out = tmp_path / "sweep.jsonl"
    reference = sweep(draw, {"x": [0, 1, 2]}, seeds=1, out=out)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])  # the last write died half-way
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        resumed = sweep(draw, {"x": [0, 1, 2]}, seeds=1, out=out)
    assert_same_numbers(resumed, reference)
    assert [json.loads(line)["config"]["x"] for line in out.read_text().splitlines()] == [0, 1, 2]


def fails_for_three(config, rng):
    if config["x"] == 3:
        raise ValueError(f"x = {config['x']} is not allowed")
    return {"y": rng.random()}


def test_a_failing_configuration_is_recorded_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "sweep.jsonl"
    result = sweep(fails_for_three, {"x": [1, 3, 5]}, seeds=2, out=out)
    table = result.to_array()
    assert len(result) == 6 and result.n_errors == 2
    failed = table["x"] == 3
    assert np.all(table["error_type"][failed] == "ValueError")
    assert np.all(table["error_message"][failed] == "x = 3 is not allowed")
    assert np.all(np.isnan(table["y"][failed])) and np.all(np.isfinite(table["y"][~failed]))
    assert "fails_for_three" in result.errors[0]["error"]["traceback"]
    # the error is kept on resume (it would fail again) unless asked to retry
    calls = []

    def fixed(config, rng):
        calls.append(config["x"])
        return {"y": rng.random()}

    fixed.__qualname__, fixed.__module__ = fails_for_three.__qualname__, __name__
    assert sweep(fixed, {"x": [1, 3, 5]}, seeds=2, out=out).n_errors == 2 and calls == []
    retried = sweep(fixed, {"x": [1, 3, 5]}, seeds=2, out=out, retry_errors=True)
    assert retried.n_errors == 0 and calls == [3, 3]
    assert np.array_equal(retried.to_array()["y"][~failed], table["y"][~failed])


@pytest.mark.integration
def test_a_failure_inside_a_worker_process_is_recorded():
    # cond < 1 is refused by the recovery sweep inside the worker
    grid = [{"D": 2, "N": 4, "cond": 0.5}, {"D": 2, "N": 4, "cond": 10.0}]
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = sweep(recovery, grid, seeds=1, executor=pool)
    assert [r["error_type"] for r in result] == ["ValueError", None]
    assert "cond must be >= 1" in result.records[0]["error_message"]


def test_bad_return_values_are_recorded_as_errors():
    def bad(config, rng):
        return {"s": "text"} if config["x"] else {"seed": 1.0}

    result = sweep(bad, {"x": [0, 1]})
    assert [r["error_type"] for r in result] == ["ValueError", "TypeError"]


def test_an_out_file_of_another_sweep_is_refused(tmp_path):
    out = tmp_path / "sweep.jsonl"
    sweep(draw, {"x": [0]}, out=out)
    with pytest.raises(ValueError, match="holds results of fn"):
        sweep(fails_for_three, {"x": [0]}, out=out)
    with pytest.raises(ValueError, match="root"):
        sweep(draw, {"x": [0]}, out=out, root=1)


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"x": []}, "empty"),
        ([], "no configurations"),
        ([{"x": 1}, {"x": 1}], "repeats"),
        ({"seed": [1]}, "reserved"),
        ({"x": [[1, 2]]}, "bool, int, float or str"),
        ("x=1", "mapping"),
    ],
)
def test_bad_grids_fail_loudly(grid, match):
    with pytest.raises(ValueError, match=match):
        sweep(draw, grid)


# --- the table ---------------------------------------------------------------------------


def test_table_columns_types_and_summary(tmp_path):
    result = sweep(draw, {"x": [0, 1], "w": ["a", "bb"], "flag": [True]}, seeds=4)
    table = result.to_array()
    assert table.dtype["x"] == np.int64 and table.dtype["flag"] == np.bool_
    assert table.dtype["w"].kind == "U" and table.dtype["y"] == np.float64
    assert result.columns == (
        "x",
        "w",
        "flag",
        "seed",
        "y",
        "error_type",
        "error_message",
        "seconds",
    )
    summary = result.summarize(by=["x"])
    for row in summary:
        y = table["y"][table["x"] == row["x"]]
        assert row["n"] == 8 and row["y_mean"] == np.mean(y)
        assert row["y_sem"] == np.std(y, ddof=1) / math.sqrt(8)
    path = tmp_path / "copy.jsonl"
    result.save(path)
    assert_same_numbers(read_sweep(path), result)
    with pytest.raises(FileExistsError):
        result.save(path)


def test_to_pandas_names_the_missing_dependency():
    result = sweep(draw, {"x": [0]})
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            result.to_pandas()
    else:
        assert list(result.to_pandas()["y"]) == [result.records[0]["y"]]


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "sweep.parquet"
    first = sweep(fails_for_three, {"x": [1, 3]}, seeds=2, out=out)
    assert_same_numbers(read_sweep(out), first)
    grown = sweep(fails_for_three, {"x": [1, 3, 5]}, seeds=2, out=out)
    assert_same_numbers(sweep(fails_for_three, {"x": [1, 3, 5]}, seeds=2), grown)


# --- the built-in sweeps -----------------------------------------------------------------


def test_column_cosines_match_scikit_learn():
    # each cosine is a ratio of a dot product of N terms to a product of two norms:
    # relative rounding of order (N + 4) eps on values of order 1
    from sklearn.metrics.pairwise import cosine_similarity

    C = np.random.default_rng(2).standard_normal((40, 5))
    j, k = np.triu_indices(5, 1)
    expected = cosine_similarity(C.T)[j, k]
    np.testing.assert_allclose(column_cosines(C), expected, rtol=0, atol=(40 + 4) * EPS)


@pytest.mark.slow
def test_orthogonality_cosines_approach_the_derived_scale():
    # derivations/recovery.py: E[cos^2] = D/((D+2)N) + 2D(5D-4)/((D+2)^2 (D+4) N^2) + O(N^-3);
    # the leading term is orthogonality_scale^2. At N = 1024 the O(N^-3) remainder is ~1e-9
    # relative, far below the Monte Carlo error: 5 standard errors of the mean over seeds
    # (false failure ~6e-7 per check, normal approximation).
    n = 1024
    result = sweep(orthogonality, {"D": [4, 32], "N": [n]}, seeds=300)
    for row in result.summarize():
        d = row["D"]
        scale2 = float(orthogonality_scale(d, n)) ** 2
        assert scale2 == d / ((d + 2) * n)
        two_term = scale2 + 2 * d * (5 * d - 4) / ((d + 2) ** 2 * (d + 4) * n**2)
        assert abs(row["cos_ms_mean"] - two_term) <= 5 * row["cos_ms_sem"]


def test_orthogonality_scale_formula_and_validation():
    assert orthogonality_scale(2, 8) == math.sqrt(2 / (4 * 8))
    assert orthogonality_scale([2, 4], 2).shape == (2,)
    with pytest.raises(ValueError, match="dim >= 2"):
        orthogonality_scale(1, 8)


def test_recovery_error_is_bounded_by_the_condition_number():
    # |d mu| <= ||C^+|| ||d k|| <= cond(C) sqrt(D) max|d k| (||C|| >= sqrt(N/D) for unit rows), and
    # |k| <= sqrt(D) max|mu|; the stable logit/probit compositions carry <= ~10 ulp each, so
    # err_rel <= 10 D cond eps.
    configs = [
        {"D": D, "N": N, "cond": c, "offset": 0.1}
        for D, N in [(2, 2), (2, 16), (8, 8), (8, 64)]
        for c in (1.0, 1e4, 1e10)
    ]
    for config in configs:
        out = recovery(config, np.random.default_rng(0))
        assert out["identifiable"] == 1.0 and out["rank"] == config["D"]
        assert abs(out["cond_actual"] / config["cond"] - 1) < 1e-3
        assert out["err_rel"] <= 10 * config["D"] * out["cond_actual"] * EPS, config


def test_recovery_reports_unidentifiable_tasks():
    short = recovery({"D": 8, "N": 4}, np.random.default_rng(0))
    assert short["identifiable"] == 0.0 and short["rank"] == 4 and math.isnan(short["err_max"])
    singular = recovery({"D": 4, "N": 16, "cond": math.inf}, np.random.default_rng(0))
    assert singular["identifiable"] == 0.0 and singular["rank"] == 3
    # rank < D means s_D < max(N, D) eps s_1 (numpy's matrix_rank tolerance), so:
    assert singular["cond_actual"] > 1 / (16 * EPS) and math.isnan(singular["err_max"])


def test_recovery_refuses_unknown_parameters():
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['n'\]"):
        recovery({"n": 4}, np.random.default_rng(0))


def test_linearization_best_affine_map_bounds_the_closed_form():
    # the closed form is one affine map of the logits, the least-squares one is the best:
    # r2_best_affine >= r2_closed_form for every draw (up to rounding)
    rows = [
        linearization({"t": t, "sigma": sigma, "n_trials": 500}, np.random.default_rng(1))
        for t in (1, 20)
        for sigma in (0.05, 0.8)
    ]
    for row in rows:
        assert row["r2_best_affine"] >= row["r2_closed_form"] - 1e-12
    # the closed form degrades as outputs leave the linear range |u| < 2
    sharp, blunt = rows[2], rows[1]  # (t=20, sigma=0.05) against (t=1, sigma=0.8)
    assert sharp["frac_linear"] < blunt["frac_linear"]
    assert sharp["r2_closed_form"] < 0 < blunt["r2_closed_form"]


@pytest.mark.slow
def test_ceiling_eq7_against_monte_carlo():
    grid = [{"t": t, "sigma": 0.3, "n_trials": 400} for t in (1, 9)]
    result = sweep(ceiling, grid, seeds=40)
    for row in result.summarize():
        assert row["r2_eq7_mean"] == pytest.approx(1 - 0.3**2 / row["t"] * 12, rel=1e-14)
        # E[r2_mu] = eq. 7 up to the O(1/n) bias of a ratio of sums; 5 standard errors over
        # 40 seeds (false failure ~6e-7) dominate it at n = 400 trials x 2 coordinates
        assert abs(row["r2_mu_minus_eq7_mean"]) <= 5 * row["r2_mu_minus_eq7_sem"]
        # knowing the prior beats the flat-prior ceiling
        assert row["r2_bayes_mean"] > row["r2_eq7_mean"]


def test_ceiling_statistics_come_from_the_same_trials():
    # mu itself is one affine map of mu, so on the same trials the least-squares affine map has
    # r2_linear >= r2_mu exactly; where the two nearly coincide (s^2 << Var) trials drawn
    # differently would break this about half the time
    result = sweep(ceiling, [{"t": 50, "sigma": 0.1, "n_trials": 200}], seeds=12)
    table = result.to_array()
    assert np.all(table["r2_linear"] >= table["r2_mu"] - 1e-12)
    assert np.all(table["recovery_max_err"] < 1e-12)


def test_sweep_r2_scores_match_scikit_learn():
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    from trilat.sweep._builtin import _best_affine_r2, _r2

    gen = np.random.default_rng(5)
    x = gen.normal(size=(200, 4))
    target = np.tanh(x[:, :3]) * [1.0, 10.0, 0.1] + gen.normal(size=(200, 3)) * 0.05
    estimate = target + gen.normal(size=(200, 3)) * 0.3
    # per column two sums of n = 200 squares, in other orders: relative rounding below
    # n eps = 4.4e-14 each, so 1 - R^2_j (0.002 to 15.8 here) is within 8.9e-14 of it
    # relatively, and so is their mean 1 - R^2 (5.35)
    ref = r2_score(target, estimate)
    assert abs(_r2(estimate, target) - ref) <= 1e-13 * max(1.0, abs(1 - ref))
    # the in-sample least-squares affine fit: ridge(alpha=0) (SVD) against LinearRegression
    # (lstsq); at the optimum SS_res is stationary in the coefficients, so their O(cond eps)
    # differences (cond of the centred x 1.3 here) move R^2 (0.80) by rounding only
    fitted = LinearRegression().fit(x, target).predict(x)
    assert _best_affine_r2(x, target) == pytest.approx(r2_score(target, fitted), abs=1e-13)


@pytest.mark.parametrize("s", [0.005, 0.05, 0.2, 1.0, 3.0])
def test_truncated_normal_mean_against_mpmath(s):
    mpmath.mp.dps = 50
    mus = np.array([-3.0, -0.6, -0.5, -0.3, 0.0, 0.2, 0.5, 0.51, 0.9, 5.0])
    got = _truncated_normal_mean(mus, s, -0.5, 0.5)
    for mu, value in zip(mus, got, strict=True):
        a, b = (mpmath.mpf(-0.5) - mu) / s, (mpmath.mpf(0.5) - mu) / s
        mass = mpmath.ncdf(-a) - mpmath.ncdf(-b) if a > 0 else mpmath.ncdf(b) - mpmath.ncdf(a)
        exact = mu + s * (mpmath.npdf(a) - mpmath.npdf(b)) / mass
        # mu + s * offset rounds at eps (|mu| + s); the central branch subtracts two densities,
        # an error ~ eps / (phi (b - a)) in the offset, below 8/(b - a) = 8 s ulps for |a|, |b| < 3
        assert abs(value - float(exact)) <= 64 * EPS * (abs(mu) + s) * max(1.0, 8 * s), mu


def test_builtin_registry_runs_every_sweep_on_a_corner_of_its_grid(tmp_path):
    for name, builtin in SWEEPS.items():
        corner = {k: v[:1] for k, v in builtin.grid.items()}
        out = tmp_path / f"{name}.jsonl"
        result = sweep(builtin.fn, corner, seeds=1, out=out)
        assert result.n_errors == 0, (name, result.errors)
        assert set(builtin.grid) <= set(builtin.parameters), name
        # sweep files name the function by module: the built-ins are recorded under their
        # public home, whatever file holds them, so that files resume after a refactoring
        assert json.loads(out.read_text().splitlines()[0])["fn"] == f"trilat.sweep:{name}"


def _nonfinite(config, rng):
    return {"x": math.nan, "y": -math.inf * config["a"]}


def test_sweep_files_are_strict_json_and_files_with_bare_nan_still_read(tmp_path):
    grid = {"a": [1.0, math.inf]}
    out = tmp_path / "s.jsonl"
    sweep(_nonfinite, grid, seeds=1, out=out)
    lines = out.read_text().splitlines()
    for line in lines:  # no NaN/Infinity literals: the strings "nan", "inf", "-inf"
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert '"a":"inf"' in lines[1] and '"x":"nan"' in lines[0] and '"y":"-inf"' in lines[0]
    back = read_sweep(out)
    assert back.stored[1]["config"]["a"] == math.inf and math.isnan(back.stored[0]["values"]["x"])
    sweep(_nonfinite, grid, seeds=1, out=out)  # resumes: the configurations read back match
    assert len(out.read_text().splitlines()) == 2
    # a file written before the rule, with bare NaN/Infinity, reads the same
    old = tmp_path / "old.jsonl"
    old.write_text(
        "".join(json.dumps({**r, "config": dict(r["config"])}) + "\n" for r in back.stored)
    )
    assert "NaN" in old.read_text() and "Infinity" in old.read_text()
    assert_same_numbers(read_sweep(old), back)


def test_a_file_naming_the_former_module_trilat_sweeps_resumes(tmp_path):
    # sweep files written before the built-ins moved into trilat.sweep record
    # "fn": "trilat.sweeps:NAME"; such a file, in the format of today, must resume
    grid = {"N": [2, 8], "D": [2]}
    out = tmp_path / "old.jsonl"
    full = sweep(orthogonality, grid, seeds=2, out=out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["fn"] for r in records} == {"trilat.sweep:orthogonality"}
    old = [{**r, "fn": "trilat.sweeps:orthogonality"} for r in records[:3]]  # a stopped run
    old_file = tmp_path / "written_before.jsonl"
    old_file.write_text("".join(json.dumps(r) + "\n" for r in old))
    resumed = sweep(orthogonality, grid, seeds=2, out=old_file)
    assert len(old_file.read_text().splitlines()) == 4  # ran only the unit the old file lacks
    assert [r["values"] for r in resumed.stored] == [r["values"] for r in full.stored]
    # another function, or another former name, is still refused
    with pytest.raises(ValueError, match=r"trilat\.sweeps:orthogonality"):
        sweep(recovery, {"N": [2]}, seeds=1, out=old_file)


# --- the command line ---------------------------------------------------------------------


def test_parse_grid_types_and_errors():
    from trilat.sweep._cli import parse_grid

    grid = parse_grid(["N=2,4", "cond=1e3,inf", "flag=true", "prior=uniform"])
    assert grid == {"N": [2, 4], "cond": [1e3, math.inf], "flag": [True], "prior": ["uniform"]}
    for bad in (["N"], ["=2"], ["N="], ["N=2", "N=4"]):
        with pytest.raises(ValueError, match="--grid"):
            parse_grid(bad)


@pytest.mark.slow
def test_command_line_sweep_resumes_plots_and_reports(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from trilat._mpl import pyplot
    from trilat.sweep._cli import main

    out, png = tmp_path / "ortho.jsonl", tmp_path / "ortho.png"
    argv = ["orthogonality", "--grid", "N=4,16", "--grid", "D=2,3", "--seeds", "2"]
    open_figures = pyplot().get_fignums()
    assert main([*argv, "--out", str(out), "--plot", str(png)]) == 0
    assert pyplot().get_fignums() == open_figures  # the figure was written and closed
    printed = capsys.readouterr().out
    assert "8 units (4 configurations x 2 seeds)" in printed and png.stat().st_size > 0
    assert_same_numbers(
        read_sweep(out), sweep(orthogonality, {"N": [4, 16], "D": [2, 3]}, seeds=2)
    )
    assert main([*argv, "--out", str(out), "--quiet"]) == 0  # all done: nothing re-runs
    assert len(out.read_text().splitlines()) == 8
    assert main(["recovery", "--grid", "cond=0.5", "--grid", "N=2", "--grid", "D=2"]) == 1
    assert "cond must be >= 1" in capsys.readouterr().err
    assert main(["recovery", "--grid", "N"]) == 2
    assert "--grid expects KEY=V1,V2" in capsys.readouterr().err
    assert main(["recovery", "--seeds", "0"]) == 2
    assert main(["ceiling", "--grid", "x=3"]) == 2
    assert "no parameter(s) ['x']" in capsys.readouterr().err


@pytest.mark.integration
def test_command_line_starts_a_local_dask_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    from trilat.sweep._cli import main

    out = tmp_path / "o.jsonl"
    argv = [
        "orthogonality",
        "--grid",
        "N=4,16",
        "--grid",
        "D=2",
        "--seeds",
        "3",
        "--out",
        str(out),
    ]
    assert main([*argv, "--executor", "dask", "--workers", "1"]) == 0
    assert "dask LocalCluster, 1 workers" in capsys.readouterr().out
    grid = {"N": [4, 16], "D": [2]}
    # the file is in completion order; sweep() over it returns grid order and runs nothing
    assert_same_numbers(
        sweep(orthogonality, grid, seeds=3, out=out), sweep(orthogonality, grid, seeds=3)
    )
