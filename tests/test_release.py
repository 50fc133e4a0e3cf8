"""The package is releasable: wheel and sdist build, pass ``twine check``, carry what a
packager needs, and the wheel works in a fresh environment outside the repository."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import trilat

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.integration
def test_one_version_everywhere() -> None:
    """``trilat._version`` is the only definition; the metadata, CITATION.cff and the
    changelog agree with it."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "trilat._version.__version__" }' in pyproject
    assert not re.search(r"^version\s*=\s*\"", pyproject, re.M)  # no second definition
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version:\s*(\S+)$", cff, re.M).group(1) == trilat.__version__
    assert "arXiv:2407.11249" in cff and "Vafidis" in cff
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {trilat.__version__}" in changelog
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    cli = subprocess.run(
        [sys.executable, "-m", "trilat.cli", "--version"], capture_output=True, text=True
    )
    assert cli.stdout.strip() == f"trilat {trilat.__version__}", cli.stdout + cli.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("build", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install build)")
    out = tmp_path_factory.mktemp("dist")
    # with this environment's setuptools when it meets [build-system] (no index needed),
    # else in build's isolated environment (which fetches setuptools)
    required = re.search(r'"setuptools>=([0-9]+)', (ROOT / "pyproject.toml").read_text())
    have = int(importlib.metadata.version("setuptools").split(".")[0])
    isolation = ["--no-isolation"] if have >= int(required.group(1)) else []
    _run([sys.executable, "-m", "build", *isolation, "--outdir", str(out), str(ROOT)])
    return out


@pytest.mark.slow
@pytest.mark.integration
def test_wheel_and_sdist_carry_what_they_should(dist: Path) -> None:
    (wheel,) = dist.glob("trilat-*.whl")
    (sdist,) = dist.glob("trilat-*.tar.gz")
    version = trilat.__version__
    assert wheel.name.startswith(f"trilat-{version}-") and sdist.name == f"trilat-{version}.tar.gz"
    names = zipfile.ZipFile(wheel).namelist()
    assert "trilat/__init__.py" in names and "trilat/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "examples/"))]
    meta = zipfile.ZipFile(wheel).read(f"trilat-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in meta and "Provides-Extra: docs" in meta
    with tarfile.open(sdist) as tar:
        members = {Path(*Path(m).parts[1:]).as_posix() for m in tar.getnames()}
    for path in ("LICENSE", "CITATION.cff", "CHANGELOG.md", "README.md", "MANIFEST.in",
                 "tests/conftest.py", "derivations/posterior.py", "derivations/README.md",
                 "benchmarks/kernels.py", "examples/plot_quick_start.py", "examples/gru.py",
                 "docs/conf.py", "docs/index.md", "docs/_ext/trilat_derivations.py",
                 "docs/sweep-orthogonality.png"):  # fmt: skip
        assert path in members, path
    assert not [m for m in members if m.startswith(("docs/_build", "docs/api/", "docs/generated"))]
    if importlib.util.find_spec("twine") is None:
        pytest.skip("twine is not installed: the metadata check did not run")
    out = _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)])
    assert out.stdout.count("PASSED") == 2, out.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_wheel_runs_in_a_fresh_environment(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("trilat-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .stdout.strip()
    )  # fmt: skip
    # offline: the fresh environment sees this one's dependencies (numpy, scipy, numba, ...)
    # through a .pth, but trilat only from the wheel (its own site-packages comes first)
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    here |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    (purelib / "outer-environment.pth").write_text("\n".join(sorted(here)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "--no-cache-dir", "--quiet", str(wheel)])  # fmt: skip

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    env["MPLBACKEND"] = "Agg"
    where = _run([str(python), "-c", "import trilat; print(trilat.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    trilat_cmd = str(bindir / "trilat")
    version = _run([trilat_cmd, "--version"], cwd=work, env=env)
    assert version.stdout.strip() == f"trilat {trilat.__version__}"
    _run([trilat_cmd, "verify", "--trials", "2000"], cwd=work, env=env)

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = re.search(r"^```python\n(.*?)^```", readme, re.S | re.M).group(1)
    (work / "quick_start.py").write_text(quick)
    out = _run([str(python), "quick_start.py"], cwd=work, env=env)
    assert float(out.stdout.split()[-1]) < 1e-12
