"""Every public function and class documents itself with an example that runs.

The public names are the ``__all__`` of trilat and of each public subpackage. For
each function or class the test demands, from its docstring (numpydoc):

- an ``Examples`` section with ``>>>`` lines that the doctest run (``pytest
  --doctest-modules``) really finds: it collects the module that ``__module__``
  names, and only if that file contains ``>>>`` (conftest.py); an example the
  doctest finder cannot reach would never run;
- a ``Parameters`` section when it takes named parameters (a class may describe its
  fields under ``Attributes`` instead).

A name added to an ``__all__`` later is checked too; the failure lists exactly what
is missing, object by object.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "trilat"

# trilat itself and every public subpackage (a folder under trilat/ not named _*)
MODULES = [
    "trilat",
    *sorted(
        f"trilat.{p.parent.name}"
        for p in PACKAGE.glob("*/__init__.py")
        if not p.parent.name.startswith("_")
    ),
    "trilat.testing",  # a module, not a folder, and public
]
NEEDS = {"trilat.experiments": "torch", "trilat.testing": "hypothesis"}


def _section(doc: str, title: str) -> bool:
    return re.search(rf"^{title}\n-{{3,}}\s*$", doc, re.MULTILINE) is not None


def _named_parameters(obj: object) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in kinds and p.name not in ("self", "cls")
    ]


@cache
def _doctests_with_examples(module: ModuleType) -> frozenset[str]:
    """The names of the docstrings of ``module`` that the doctest run executes."""
    finder = doctest.DocTestFinder()
    return frozenset(t.name for t in finder.find(module) if t.examples)


def _public_objects() -> list[tuple[str, object]]:
    objects, seen = [], set()
    for module_name in MODULES:
        if module_name in NEEDS:
            pytest.importorskip(NEEDS[module_name])
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue  # constants have no docstring of their own
            seen.add(id(obj))
            objects.append((f"{module_name}.{name}", obj))
    return objects


def _missing(obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    missing = []
    if ">>>" not in doc or not _section(doc, "Examples"):
        missing.append("an Examples section with >>> lines")
    else:
        defining = inspect.getmodule(obj)
        name = f"{getattr(defining, '__name__', '?')}.{getattr(obj, '__name__', '?')}"
        # conftest.py collects only the files that contain ">>>"
        source = getattr(defining, "__file__", None)
        collected = source is not None and ">>>" in Path(source).read_text(encoding="utf-8")
        if not collected or name not in _doctests_with_examples(defining):
            missing.append(f"an example the doctest run finds (as {name})")
    params = _named_parameters(obj)
    sections = ("Parameters", "Attributes") if inspect.isclass(obj) else ("Parameters",)
    if params and not any(_section(doc, s) for s in sections):
        missing.append(f"a {' or '.join(sections)} section (it takes {', '.join(params)})")
    return missing


def test_public_modules_found() -> None:
    # the folders seen from here: a renamed package must not silently drop out of the check
    assert {"trilat.kernels", "trilat.metrics", "trilat.sweep"} <= set(MODULES)


def test_every_public_name_has_an_example_and_its_parameters() -> None:
    objects = _public_objects()
    assert len(objects) > 50, [name for name, _ in objects]
    problems = [
        f"{name}: lacks {'; '.join(missing)}"
        for name, obj in objects
        if (missing := _missing(obj))
    ]
    assert not problems, f"{len(problems)} of {len(objects)} public names:\n" + "\n".join(problems)
