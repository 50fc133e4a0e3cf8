"""The documentation builds with warnings as errors, gallery and derivations included."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = ("sphinx", "numpydoc", "pydata_sphinx_theme", "sphinx_gallery", "myst_parser")


@pytest.mark.slow
@pytest.mark.integration
def test_sphinx_build_without_warnings(tmp_path: Path) -> None:
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed (missing {', '.join(missing)}): "
                    'pip install -e ".[docs]"')  # fmt: skip
    out = tmp_path / "html"
    # -E: read every page afresh, so a broken page cannot hide behind a cached one
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    for page in ("index", "getting_started", "mathematics", "comparing", "metrics", "sweeps",
                 "performance", "paper", "testing", "api/index", "auto_examples/index"):  # fmt: skip
        assert (out / f"{page}.html").is_file(), page
    # every public name of every documented module has a page (under trilat when it is
    # the same object re-exported there)
    for module_name in ("trilat", "trilat.metrics", "trilat.kernels", "trilat.sweep",
                        "trilat.testing", "trilat.experiments"):  # fmt: skip
        if module_name == "trilat.experiments" and importlib.util.find_spec("torch") is None:
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.startswith("__"):
                continue
            pages = [out / "generated" / f"{module_name}.{name}.html",
                     out / "generated" / f"trilat.{name}.html"]  # fmt: skip
            module_page = (out / "api" / f"{module_name}.html").read_text(encoding="utf-8")
            on_module_page = f'id="{module_name}.{name}"' in module_page  # constants
            assert any(p.is_file() for p in pages) or on_module_page, f"{module_name}.{name}"
    figures = list((out / "_images").glob("sphx_glr_plot_*_001.png"))
    assert len(figures) >= 5, figures
    # the derivations were run, not pasted: their checked steps are on the page
    maths = (out / "mathematics.html").read_text(encoding="utf-8")
    assert maths.count("Checked identity") >= 20
