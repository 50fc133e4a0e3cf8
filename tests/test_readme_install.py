"""The README's two commands, run in order as written in a fresh virtual environment.

``pip install ".[plot]" && trilat verify`` then ``pip install -e ".[test,plot,dask]"
torch==2.13.0 && python -m pytest``, from the root of a clone, must leave a
working install: ``trilat --version`` and ``import trilat`` from a directory
outside the clone. (numba once cached into ``site-packages/trilat/__pycache__``
during ``trilat verify``; the editable install then left that folder behind
and it imported as an empty namespace package.)

Offline, and without downloading torch: the fresh venv sees this
interpreter's installed third-party packages through a ``.pth`` file (a
directory of links to them, leaving out trilat itself and pip's own
packages), so every requirement of both commands, ``torch==2.13.0``
included, is already satisfied and the pin stays as the README writes it.
pip runs with ``PIP_NO_INDEX`` (never the network) and ``PIP_NO_BUILD_ISOLATION``
(an isolated build would download setuptools; the venv's own builds trilat).
The README's ``python -m pytest`` runs as written; ``PYTEST_ADDOPTS`` narrows
it to a few quick tests, since the whole suite (this test included) would
run again inside the clone. The clone is of the committed ``HEAD``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# pip's and the build's own packages come from the fresh venv; trilat from the clone
_SKIP = re.compile(
    r"^(trilat|__editable__|_?distutils|pip|setuptools|pkg_resources|_virtualenv)([-_.]|$)"
    r"|\.pth$|^__pycache__$"
)


def readme_commands() -> list[str]:
    """The two lines of the README's first code block (as ``.ci/run`` reads them)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no code block"
    lines = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2, lines
    return lines


def _site_dirs() -> list[Path]:
    return [Path(p) for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]


def _version(dist_info: Path) -> tuple[int, ...]:
    version = dist_info.name.split("-")[1].removesuffix(".dist-info")
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def _link_dependencies(target: Path) -> None:
    """Link every third-party package this interpreter sees into ``target`` (first one wins),
    and the newest setuptools found (pyproject.toml needs setuptools>=68; an older one,
    as a fresh venv of Python 3.11 carries, has no bdist_wheel without the wheel package)."""
    target.mkdir()
    projects: set[str] = set()  # one metadata directory per project: with layered site
    for site_dir in _site_dirs():  # directories, two versions' dist-info would both be seen
        for entry in site_dir.iterdir():
            if _SKIP.search(entry.name) or (target / entry.name).exists():
                continue
            if entry.name.endswith(".dist-info"):
                project = entry.name.split("-")[0].lower().replace("_", "-").replace(".", "-")
                if project in projects:
                    continue
                projects.add(project)
            (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    found = [d for s in _site_dirs() for d in s.glob("setuptools-*.dist-info")]
    newest = max(found, key=_version, default=None)
    if newest is None or _version(newest) < (68,):
        pytest.skip("needs setuptools>=68 installed (the build backend, offline)")
    for name in (newest.name, "setuptools", "pkg_resources", "_distutils_hack"):
        if (newest.parent / name).exists():
            (target / name).symlink_to(newest.parent / name, target_is_directory=True)


def _run(command: list[str] | str, env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        command,
        shell=isinstance(command, str),
        executable="/bin/bash" if isinstance(command, str) else None,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, (
        f"{command!r} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
        f"--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="the README's commands are POSIX shell")
def test_readme_commands_in_order_leave_a_working_install(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    clone, venv, deps = tmp_path / "clone", tmp_path / "venv", tmp_path / "deps"
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    base_env.pop("NUMBA_CACHE_DIR", None)
    base_env.pop("XDG_CACHE_HOME", None)
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    _link_dependencies(deps)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_trilat_test_dependencies.pth").write_text(f"{deps}\n")
    venv_python = str(venv / "bin" / "python")
    subprocess.run([venv_python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"],
                   check=False, timeout=300)  # fmt: skip
    env = {
        **base_env,
        "PATH": f"{venv / 'bin'}{os.pathsep}{base_env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads "0" as --no-build-isolation (its quirk)
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTEST_ADDOPTS": "-q -p no:cacheprovider tests/test_numba_cache.py -k user_cache_dir",
    }
    first, second = readme_commands()
    out_first = _run(first, env, clone)
    assert "Theorem 3.1" in out_first
    _run(second, env, clone)

    assert _run(["trilat", "--version"], env, elsewhere).strip() == "trilat 0.1.0"
    where = _run(
        ["python", "-c", "import trilat; trilat.Task; print(trilat.__file__)"], env, elsewhere
    )
    assert Path(where.strip()).resolve() == (clone / "trilat" / "__init__.py").resolve()
    # nothing of trilat left in site-packages (the editable install has only its hooks)
    assert not (Path(purelib) / "trilat").exists()
    # numba cached where it should: the user cache directory under the fake home
    assert list((home / ".cache" / "trilat").rglob("*.nbi"))
