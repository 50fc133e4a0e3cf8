"""Memory checked before the work: ``trilat verify`` refuses a run that cannot fit, in one
line naming the size and a smaller setting; the estimate against a measured peak."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from trilat import _resources
from trilat.cli import main


def test_available_memory_is_memavailable():
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        pytest.skip("no /proc/meminfo")
    kib = int(re.search(r"^MemAvailable:\s+(\d+) kB$", meminfo.read_text(), re.M).group(1))
    got = _resources.available_memory()
    assert abs(got - kib * 1024) < 2**28  # read a moment apart: within 256 MiB


@pytest.mark.parametrize("budget", [0, 1, 2, 17, 99, 100, 10**6])
def test_largest_fitting_against_brute_force(budget):
    need = lambda x: 3 * x * x + 1  # noqa: E731
    brute = [x for x in range(0, 101) if need(x) <= budget]
    assert _resources.largest_fitting(need, budget, 0, 100) == (max(brute) if brute else None)


def test_format_bytes():
    assert _resources.format_bytes(20 * 20002**2 * 8) == "59.6 GiB"  # the MemoryError
    assert _resources.format_bytes(2**20 * 300) == "300 MiB"
    assert _resources.format_bytes(2**40 * 1.5) == "1.5 TiB"


def test_check_memory_refuses_in_one_line():
    with pytest.raises(_resources.MemoryNeedError) as info:
        _resources.check_memory(3 * 2**30, "part 2", "try --small", available=2**30)
    assert str(info.value) == (
        "part 2 needs about 3.0 GiB of memory, 1.0 GiB is available; try --small"
    )
    _resources.check_memory(2**30, "part 2", "try --small", available=2**30)  # fits


def test_verify_refuses_a_run_that_cannot_fit(capsys):
    # part 2's moments alone: 6 arrays of 1000 x 100002 x 100002 doubles, 437 TiB
    assert main(["verify", "--n-tasks", "100000", "--steps", "1000"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before any part ran
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("trilat verify: error: part 2 at N = 100000 ")
    assert "needs about 436.6 TiB of memory" in line
    n_max = int(re.search(r"part 2 must run at N <= (\d+)", line).group(1))
    assert 1 <= n_max < 100000
    assert f"--n-tasks {min(6, n_max)} 100000" in line


@pytest.mark.integration
@pytest.mark.slow
def test_verify_memory_estimate_bounds_the_measured_peak():
    """The estimate is at least the measured peak (resident set) and at most twice it."""
    from trilat.verify import VerifyConfig
    from trilat.verify import _cli as _verify_cli

    n, steps, trials = 800, 20, 200  # 5 chunks of 43 trials
    code = (
        "import io, contextlib, resource\n"
        "from trilat.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['verify', '--n-tasks', '{n}', '--steps', '{steps}', '--trials', '{trials}',"
        " '--no-progress'])\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork + exec, so the child
        # reported the pytest process's own peak (3.5-8 GiB late in the suite)
        "import re, pathlib\n"
        "st = pathlib.Path('/proc/self/status')\n"
        "m = re.search(r'^VmHWM:\\s+(\\d+) kB', st.read_text(), re.M) if st.exists() else None\n"
        "print(int(m.group(1)) * 1024 if m else"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=900, check=True)  # fmt: skip
    measured = int(proc.stdout.split()[-1])
    estimate, n2 = _verify_cli.peak_bytes(VerifyConfig(n_tasks=(n,), steps=steps, trials=trials))
    assert n2 == n
    assert measured <= estimate <= 2 * measured, (measured / 2**20, estimate / 2**20)


def test_compare_refuses_n_trials_that_cannot_fit(tmp_path, capsys, monkeypatch):
    # a fixed budget: the machine's free memory moves between two reads of it
    available = 16 * 2**30
    monkeypatch.setattr(_resources, "available_memory", lambda: available)
    factory = tmp_path / "nets.py"
    factory.write_text(
        "import trilat\n\n"
        "def optimal():\n"
        "    return trilat.OptimalNetwork(trilat.Task.evenly_spaced(3), latent='logits')\n"
    )
    # at least 8 x 10^12 x 20 x (2*2 + 2 + 2*3 + 1) bytes = 1891.7 TiB
    argv = ["compare", f"{factory}:optimal", "--n-trials", str(10**12), "--no-figures"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("trilat compare: error: --n-trials 1000000000000 x --n-steps 20 ")
    assert "needs about 1891.7 TiB of memory" in lines[0]
    fits = int(re.search(r"use --n-trials (\d+) or fewer", lines[0]).group(1))
    assert 8 * fits * 20 * 13 <= available < 8 * (fits + 1) * 20 * 13 + 2**28
