"""The README's commands, its quick start, its links, and ``.ci/run``: they must stay in step."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block."""
    return re.findall(r"^```([^\n]*)\n(.*?)^```", text, re.S | re.M)


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = text.index("```")
    assert text[:first_block].strip() == "# trilat"  # nothing but the title before them
    _, body = code_blocks(text)[0]
    commands = [line for line in body.splitlines() if line.strip()]
    assert commands == [
        'pip install ".[plot]" && trilat verify',
        'pip install -e ".[test,plot,dask,docs]" torch==2.13.0 && python -m pytest',
    ]
    # the torch extra would pull the newest torch; the README pins the tested version
    assert "torch]" not in commands[1] and ",torch" not in commands[1]
    # and says how to get the CPU wheel, since the PyPI default on Linux x86_64 is CUDA's
    assert "--index-url https://download.pytorch.org/whl/cpu" in text


@pytest.mark.integration
def test_ci_runs_the_readmes_test_command():
    assert CI.stat().st_mode & stat.S_IXUSR, ".ci/run must be executable"
    out = subprocess.run(
        ["bash", str(CI), "--print-command"], capture_output=True, text=True, check=True
    )
    _, body = code_blocks(README.read_text(encoding="utf-8"))[0]
    assert out.stdout.strip() == [line for line in body.splitlines() if line.strip()][1]
    assert "TRILAT_HYPOTHESIS_PROFILE=ci" in CI.read_text()


def test_quick_start_runs_and_recovers_mu():
    quick = next(
        b for lang, b in code_blocks(README.read_text(encoding="utf-8")) if lang == "python"
    )
    assert len(quick.strip().splitlines()) <= 12  # the ten-line quick start, plus its imports
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(quick, "README quick start", "exec"), {})
    assert float(printed.getvalue().split()[-1]) < 1e-12


def test_quick_start_is_the_gallery_example():
    """The README's quick start is the marked part of examples/plot_quick_start.py, which
    the docs build runs and the getting-started page includes."""
    quick = next(
        b for lang, b in code_blocks(README.read_text(encoding="utf-8")) if lang == "python"
    )
    example = (ROOT / "examples" / "plot_quick_start.py").read_text(encoding="utf-8")
    marked = example.split("# quick start\n", 1)[1].split("# end of quick start", 1)[0]
    assert quick == marked


def test_readme_is_a_landing_page_whose_links_resolve():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#", 1)[0] for t in targets if "://" not in t]
    assert local, "the README links into docs/"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def fake_project(tmp_path: Path, test_body: str | None) -> Path:
    """A tiny project with the real .ci/run, a README whose test command installs nothing,
    and one test module (or none)."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(CI, tmp_path / ".ci" / "run")
    (tmp_path / "README.md").write_text(
        "# demo\n\n```\necho install && echo verify\necho install && python -m pytest\n```\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (tmp_path / "tests").mkdir()
    if test_body is not None:
        (tmp_path / "tests" / "test_demo.py").write_text(test_body)
    return tmp_path


def run_ci(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        ["bash", str(project / ".ci" / "run")], capture_output=True, text=True, env=env
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "body,code,line",
    [
        ("def test_ok():\n    assert 1 + 1 == 2\n", 0, "1 passed, 0 failed, 0 skipped"),
        ("def test_bad():\n    assert 1 + 1 == 3\n", 1, None),
        (
            "import pytest\n\n@pytest.mark.skip(reason='x')\ndef test_skipped():\n    pass\n",
            1,
            "0 passed, 0 failed, 1 skipped",
        ),
        (None, 5, None),  # pytest collects nothing: its exit code 5 fails the run
    ],
)
def test_ci_fails_on_failure_and_when_no_test_passed(tmp_path, body, code, line):
    result = run_ci(fake_project(tmp_path, body))
    assert result.returncode == code, result.stdout + result.stderr
    if line is not None:
        assert line in result.stdout.splitlines()
