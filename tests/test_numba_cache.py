"""numba's cache of trilat's kernels: a per-user directory, never the installed package.

The README's two commands in order (install, ``trilat verify``, editable
install) once left numba's cache files in ``site-packages/trilat/__pycache__``,
which then imported as an empty namespace package. These tests run the
kernels in fresh interpreters with controlled environments and look where the
cache went; the slow test at the end runs the README's commands themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import trilat
from trilat import _numba_cache

PACKAGE = Path(trilat.__file__).parent
REPO = Path(__file__).resolve().parents[1]

# one small kernel call: compiles (or loads from the cache) a few numba functions
KERNEL_CALL = "import numpy as np, trilat.kernels as k; print(k.ndtr(np.zeros(3)).sum())"


def _cache_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")}


def _run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _environ(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env["PYTHONPATH"] = str(PACKAGE.parent)  # this checkout's trilat, whatever the cwd
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "/x"}, Path("/x/trilat")),
        ("linux", {"HOME": "/h"}, Path("/h/.cache/trilat")),
        ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "rel"}, Path("/h/.cache/trilat")),  # XDG spec
        ("freebsd14", {"HOME": "/h", "XDG_CACHE_HOME": ""}, Path("/h/.cache/trilat")),
        ("darwin", {"HOME": "/h", "XDG_CACHE_HOME": "/x"}, Path("/h/Library/Caches/trilat")),
        ("win32", {"HOME": "/h", "LOCALAPPDATA": "/l"}, Path("/l/trilat/Cache")),
        ("win32", {"USERPROFILE": "/u"}, Path("/u/AppData/Local/trilat/Cache")),
    ],
)
def test_user_cache_dir_per_platform(platform, environ, expected):
    assert _numba_cache.user_cache_dir(platform, environ) == expected


@pytest.mark.integration
def test_kernels_cache_in_the_user_cache_dir_not_the_package(tmp_path):
    before = _cache_files(PACKAGE)
    xdg = tmp_path / "xdg"
    # numba imported first, as a user's own code may: trilat must still redirect it
    code = "import numba; " + KERNEL_CALL + "; print(numba.config.CACHE_DIR)"
    proc = _run(code, _environ(XDG_CACHE_HOME=str(xdg), HOME=str(tmp_path)), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(xdg / "trilat")
    assert _cache_files(xdg / "trilat"), "numba wrote no cache in the user cache directory"
    assert _cache_files(PACKAGE) == before, "numba's cache was written into the package"
    assert "UncachedWarning" not in proc.stderr


@pytest.mark.integration
def test_a_users_numba_cache_dir_is_respected(tmp_path):
    mine = tmp_path / "mine"
    env = _environ(NUMBA_CACHE_DIR=str(mine), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = _run(KERNEL_CALL + "; import os; print(os.environ['NUMBA_CACHE_DIR'])", env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(mine)
    assert _cache_files(mine)
    assert not (tmp_path / "xdg").exists()


# A read-only install with a read-only home, as on a cluster image. Running as root
# ignores permission bits, so "cannot write" is made certain: the cache directories lie
# under a regular file, and numba's in-tree locator (the package's __pycache__) is
# disabled as a read-only site-packages disables it. Before the fix numba then raised
# "RuntimeError: cannot cache function ...: no locator available" at import.
READ_ONLY_PACKAGE = textwrap.dedent(
    """
    from numba.core import caching
    caching.InTreeCacheLocator.from_function = classmethod(lambda cls, f, p: None)
    import sys
    from trilat import cli
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def _read_only_env(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return _environ(HOME=str(blocker), XDG_CACHE_HOME=str(blocker / "cache"))


def _uncached_warnings(stderr: str) -> list[str]:
    return re.findall(r"UncachedWarning: .*", stderr)


@pytest.mark.integration
def test_read_only_home_and_package_run_uncached_with_one_warning(tmp_path):
    before = _cache_files(PACKAGE)
    code = READ_ONLY_PACKAGE.split("import sys")[0] + KERNEL_CALL
    proc = _run(code, _read_only_env(tmp_path), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1.5"]
    assert len(_uncached_warnings(proc.stderr)) == 1, proc.stderr
    assert "cannot write numba's cache" in proc.stderr
    assert _cache_files(PACKAGE) == before


VERIFY_SMALL = ["verify", "--trials", "300", "--steps", "4", "--n-tasks", "2", "3"]


@pytest.mark.integration
@pytest.mark.slow
def test_trilat_verify_read_only_runs_with_one_warning(tmp_path):
    before = _cache_files(PACKAGE)
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", READ_ONLY_PACKAGE, *VERIFY_SMALL],
        env=_read_only_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(_uncached_warnings(proc.stderr)) == 1, proc.stderr
    assert _cache_files(PACKAGE) == before
