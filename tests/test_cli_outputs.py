"""Output paths of ``trilat verify``, ``compare`` and ``sweep``: checked before the work,
a failure to write is one line with exit status 2; and one sweep at a time per ``--out``.

Read-only storage is simulated (these tests may run as root, for whom permission
bits do not stop a write): every way these commands create files or directories
(``open``, ``io.open``, ``os.open``, ``os.mkdir``) fails with ``EROFS`` below the
read-only directory, as a read-only mount fails them.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trilat._lock import OutputLockedError, lock_output
from trilat.cli import main


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory (with a file in it) on simulated read-only storage."""
    root = tmp_path / "ro"
    root.mkdir()
    (root / "old.jsonl").write_text("")
    prefix = str(root)

    def below(path: object) -> bool:
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(prefix)  # type: ignore[arg-type]
        except TypeError:  # a file descriptor
            return False

    def refuse(path: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))  # type: ignore[arg-type]

    def guard(real, writes):  # type: ignore[no-untyped-def]
        def wrapper(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if below(path) and writes(args, kwargs):
                raise refuse(path)
            return real(path, *args, **kwargs)

        return wrapper

    def opens_for_writing(args, kwargs):  # type: ignore[no-untyped-def]
        mode = args[0] if args else kwargs.get("mode", "r")
        if isinstance(mode, int):  # os.open flags
            return bool(mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        return any(c in mode for c in "wax+")

    monkeypatch.setattr(builtins, "open", guard(builtins.open, opens_for_writing))
    monkeypatch.setattr(io, "open", guard(io.open, opens_for_writing))
    monkeypatch.setattr(os, "open", guard(os.open, opens_for_writing))
    monkeypatch.setattr(os, "mkdir", guard(os.mkdir, lambda a, k: True))
    return root


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    """Run ``trilat argv``; it must exit 2 at once: no report, one error line naming ``words``."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    command = argv[0]
    assert captured.out == "", "the work ran before the output was checked"
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"trilat {command}: error: "), captured.err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ compare


def _factory(tmp_path: Path) -> str:
    path = tmp_path / "nets.py"
    path.write_text(
        textwrap.dedent(
            """
            import trilat

            def optimal():
                return trilat.OptimalNetwork(trilat.Task.evenly_spaced(3), latent="logits")
            """
        )
    )
    return f"{path}:optimal"


def test_compare_out_into_read_only_dir(tmp_path, read_only, capsys):
    out = read_only / "results"
    argv = ["compare", _factory(tmp_path), "--n-trials", "100", "--out", str(out), "--no-figures"]
    _one_line_error(capsys, argv, f"--out {out}", "not writable", "Read-only file system")
    assert not out.exists()


def test_compare_out_onto_an_existing_file(tmp_path, capsys):
    out = tmp_path / "taken.json"
    out.write_text("{}")
    argv = ["compare", _factory(tmp_path), "--n-trials", "100", "--out", str(out)]
    _one_line_error(capsys, argv, f"--out {out}", "is a file, not a directory")
    assert out.read_text() == "{}"


def test_compare_figures_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    argv = ["compare", _factory(tmp_path), "--n-trials", "100", "--out", str(tmp_path / "o")]
    _one_line_error(capsys, argv, "matplotlib", "trilat[plot]")


# ------------------------------------------------------------------- verify

VERIFY_FAST = ["verify", "--trials", "300", "--steps", "4", "--n-tasks", "2"]


def test_verify_plot_onto_a_file(tmp_path, capsys):
    target = tmp_path / "figures"
    target.write_text("")
    _one_line_error(capsys, [*VERIFY_FAST, "--plot", str(target)], f"--plot {target}", "is a file")


def test_verify_plot_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    argv = [*VERIFY_FAST, "--plot", str(tmp_path / "figs")]
    _one_line_error(capsys, argv, "matplotlib", "trilat[plot]")
    assert not (tmp_path / "figs").exists()


def test_verify_plot_into_read_only_dir(read_only, capsys):
    argv = [*VERIFY_FAST, "--plot", str(read_only / "figs")]
    _one_line_error(capsys, argv, "--plot", "not writable", "Read-only file system")


# -------------------------------------------------------------------- sweep

SWEEP_FAST = ["sweep", "orthogonality", "--grid", "N=2,3", "--grid", "D=2", "--seeds", "2",
              "--quiet", "--no-progress"]  # fmt: skip


def test_sweep_out_on_read_only_storage(read_only, capsys):
    _one_line_error(capsys, [*SWEEP_FAST, "--out", str(read_only / "new.jsonl")], "not writable")
    _one_line_error(capsys, [*SWEEP_FAST, "--out", str(read_only / "old.jsonl")],
                    f"--out {read_only / 'old.jsonl'}", "cannot be written")  # fmt: skip


@pytest.mark.slow
def test_sweep_plot_on_read_only_storage(read_only, capsys):
    _one_line_error(
        capsys, [*SWEEP_FAST, "--plot", str(read_only / "f.png")], "--plot", "not writable"
    )


def test_sweep_plot_unknown_format(tmp_path, capsys):
    _one_line_error(
        capsys, [*SWEEP_FAST, "--plot", str(tmp_path / "f.xyz")], "cannot write '.xyz'"
    )


@pytest.mark.slow
def test_sweep_plot_without_suffix_prints_the_file_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*SWEEP_FAST, "--plot", "figure_noext"]) == 0
    out = capsys.readouterr().out
    assert "figure: figure_noext.png" in out.splitlines()
    assert (tmp_path / "figure_noext.png").is_file()
    assert not (tmp_path / "figure_noext").exists()


# ------------------------------------------------------ one sweep per --out


def test_second_sweep_on_a_locked_out_refuses_naming_the_pid(tmp_path, capsys):
    out = tmp_path / "res.jsonl"
    with lock_output(out):
        line = _one_line_error(capsys, [*SWEEP_FAST, "--out", str(out)], f"pid {os.getpid()}")
        assert str(out) in line
        with pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"), lock_output(out):
            pass
    assert not out.exists()  # the refused run wrote nothing
    assert not (tmp_path / "res.jsonl.lock").exists()  # released and removed
    assert main([*SWEEP_FAST, "--out", str(out)]) == 0  # free again
    assert len(out.read_text().splitlines()) == 4


@pytest.mark.integration
def test_two_sweeps_at_once_run_each_unit_once(tmp_path):
    out = tmp_path / "res.jsonl"
    # about 2 s of units, so that the two runs overlap
    argv = ["sweep", "orthogonality", "--grid", "N=2,3,4,6,8,12,16,24", "--grid", "D=2,4,8",
            "--seeds", "40", "--quiet", "--no-progress", "--out", str(out)]  # fmt: skip
    code = "import sys; from trilat.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *argv],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in runs]
    for p in runs:
        p.stdout.close()
        p.stderr.close()
    units = [
        (json.dumps(r["config"], sort_keys=True), r["seed"])
        for r in map(json.loads, out.read_text().splitlines())
    ]
    assert len(units) == 8 * 3 * 40 and len(set(units)) == len(units), "a unit ran twice"
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    if codes == [0, 2]:  # they overlapped: the second refused, naming the first
        refused = next(err for code, err in results if code == 2)
        pids = {str(p.pid) for p in runs}
        assert "is being written by another trilat sweep (pid " in refused
        assert any(f"pid {pid})" in refused for pid in pids), refused
