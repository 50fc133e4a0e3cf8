"""Sphinx configuration for trilat's documentation.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
The API pages are written at configuration time from the ``__all__`` of each
public module, so a name added to the package appears without editing docs/.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not another installed trilat
sys.path.insert(0, str(DOCS / "_ext"))

from sphinx.ext.autodoc.mock import mock  # noqa: E402

import trilat  # noqa: E402

project = "trilat"
author = "trilat developers"
copyright = "2025, trilat developers"
version = release = trilat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "myst_parser",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "trilat_derivations",
]

exclude_patterns = ["_build"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
templates_path = ["_templates"]
root_doc = "index"

# -- API reference, generated from __all__ -------------------------------------------------
# One page per public module. A name re-exported unchanged from a subpackage into
# ``trilat`` is documented once, under ``trilat``, and listed on the subpackage's page
# as a link: two pages for one object would make every cross-reference ambiguous.
API_MODULES = [
    ("trilat", "The top-level namespace: the task, the oracle, the adapters, compare."),
    ("trilat.metrics", "Representation metrics (numpy/scipy only)."),
    ("trilat.kernels", "The numba Monte Carlo kernels."),
    ("trilat.sweep", "Parameter sweeps on any executor."),
    ("trilat.verify", "The parts of ``trilat verify``, their rows and report."),
    ("trilat.testing", "Hypothesis strategies for your own property tests (``test`` extra)."),
    ("trilat.experiments", "Training the paper's networks (``torch`` extra)."),
]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_has_torch = _importable("torch")
# without torch, the API pages of trilat.experiments are written from mocked torch
# classes (names and docstrings only); the gallery's torch example is skipped
autodoc_mock_imports = [] if _has_torch else ["torch"]
if not _has_torch:  # a page left by an earlier build with torch
    exclude_patterns.append("auto_examples/plot_compare_gru*")


def _public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [n for n in getattr(module, "__all__", []) if not n.startswith("__")]


def _is_constant(obj: object) -> bool:
    return not (callable(obj) or inspect.isclass(obj) or inspect.ismodule(obj))


def _short_repr(obj: object, width: int = 90) -> str:
    text = " ".join(repr(obj).split())
    return text if len(text) <= width else text[: width - 4] + " ..."


def write_api_pages() -> None:
    """docs/api/<module>.rst for each public module; rewritten only when changed."""
    out = DOCS / "api"
    out.mkdir(exist_ok=True)
    # autosummary keeps the stub of a name that left __all__, and its import then fails
    shutil.rmtree(DOCS / "generated", ignore_errors=True)
    top = importlib.import_module("trilat")
    top_ids = {id(getattr(top, n)): n for n in _public_names("trilat")}
    toc = []
    for module_name, blurb in API_MODULES:
        module = importlib.import_module(module_name)
        own, shared = [], []
        for name in _public_names(module_name):
            obj = getattr(module, name)
            if (
                module_name != "trilat"
                and id(obj) in top_ids
                and not isinstance(obj, (int, float, str, tuple, dict, frozenset))
            ):
                shared.append(top_ids[id(obj)])
            else:
                own.append(name)
        title = f"``{module_name}``"
        lines = [
            title,
            "=" * len(title),
            "",
            blurb,
            "",
            f".. automodule:: {module_name}",
            "   :no-members:",
            "",
            f".. currentmodule:: {module_name}",
            "",
        ]
        # constants get no page of their own: autodoc would show the docstring of their
        # type (tuple, ndarray) as theirs
        constants = [n for n in own if _is_constant(getattr(module, n))]
        documented = [n for n in own if n not in constants]
        if documented:
            lines += [".. autosummary::", "   :toctree: ../generated/", ""]
            lines += [f"   {n}" for n in documented] + [""]
        if constants:
            lines += ["Constants", "---------", ""]
            for name in constants:
                lines += [
                    f".. py:data:: {name}",
                    f"   :value: {_short_repr(getattr(module, name))}",
                    "",
                ]
        if shared:
            lines += [
                f"Also importable from ``{module_name}``, documented under ``trilat``: "
                + ", ".join(f":obj:`trilat.{n}`" for n in shared)
                + ".",
                "",
            ]
        text = "\n".join(lines)
        page = out / f"{module_name}.rst"
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
        toc.append(f"   {module_name}")
    index = "\n".join(
        [
            "API reference",
            "=============",
            "",
            "Every public name, from each module's ``__all__``.",
            "",
            ".. toctree::",
            "   :maxdepth: 1",
            "",
            *toc,
            "",
        ]
    )
    page = out / "index.rst"
    if not page.exists() or page.read_text(encoding="utf-8") != index:
        page.write_text(index, encoding="utf-8")


with mock(autodoc_mock_imports):  # the pages are written by importing each module
    write_api_pages()

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- gallery --------------------------------------------------------------------------------
# Start from nothing: every build runs every example (no cache of an earlier run hides a
# broken one), and pages of examples that were removed or renamed do not linger.
shutil.rmtree(DOCS / "auto_examples", ignore_errors=True)
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py; gru.py is a module they import
    # every file not named plot_* is a module the examples import (gru.py, ...)
    "ignore_pattern": r"(^|/)((?!plot_)[^/]*|__init__)\.py$"
    if _has_torch
    else r"(^|/)((?!plot_)[^/]*|plot_compare_gru)\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "show_memory": False,
    "plot_gallery": "True",
}

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"trilat {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
