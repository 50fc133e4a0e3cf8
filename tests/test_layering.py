"""The import graph of the package runs one way (docs/architecture.md).

Every module under ``trilat/`` is parsed (``ast``, nothing is imported) and
each ``import`` it contains, at module level or inside a function, under
``if TYPE_CHECKING:`` or not, is an edge. The test fails on an import from a
lower layer to a higher one and on any circle, naming the modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "trilat"

# The layers, lowest first: a module may import its own layer and the layers below it.
# A module belongs to the layer of the longest entry that names it or a package holding
# it; "trilat" itself names only trilat/__init__.py. (Explained in docs/architecture.md.)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "helpers",
        (
            "trilat._checks",
            "trilat._json",
            "trilat._lock",
            "trilat._mpl",
            "trilat._numba_cache",
            "trilat._paths",
            "trilat._philox",
            "trilat._progress",
            "trilat._resources",
            "trilat._stable",
            "trilat._tail_bounds",
            "trilat._text",
            "trilat._threads",
            "trilat._version",
        ),
    ),
    ("model", ("trilat.priors", "trilat.mixing")),
    ("task", ("trilat.task", "trilat.protocol")),
    ("oracle", ("trilat.oracle", "trilat.box", "trilat.orthogonality")),
    ("linearization", ("trilat.linearization",)),
    ("kernels", ("trilat.kernels",)),
    ("measures", ("trilat.metrics", "trilat.adapters", "trilat._torch", "trilat.testing")),
    (
        "features",
        (
            "trilat.compare",
            "trilat.verify",
            "trilat.sweep",
            "trilat.bench",
            "trilat.experiments",
        ),
    ),
    ("cli", ("trilat.cli",)),
    ("api", ("trilat",)),  # trilat/__init__.py: re-exports only; nothing imports it
]

# Modules that must not be loaded by ``import trilat`` (each is imported where it is used).
HEAVY = ("scipy.integrate", "numba", "torch", "matplotlib", "dask", "sympy", "sklearn")


def module_name(path: Path, root: Path) -> str:
    """``root/a/b.py`` -> ``trilat.a.b``; ``root/a/__init__.py`` -> ``trilat.a``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module of the package that ``name`` refers to (its longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every ``.py`` file under ``root``."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package upwards
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join([*package, base] if base else package)
                # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    edges.add(resolved)
        graph[name] = edges
    return graph


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int | None:
    """Index of the layer whose longest prefix names ``module`` (None: in no layer)."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            inside = "." in prefix and module.startswith(prefix + ".")
            if (module == prefix or inside) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layering_violations(
    graph: dict[str, set[str]], layers: list[tuple[str, tuple[str, ...]]]
) -> list[str]:
    """Every upward import, every circle and every module in no layer, one message each."""
    problems = []
    for module in sorted(graph):
        here = layer_of(module, layers)
        if here is None:
            problems.append(f"{module} is in no layer: add it to LAYERS")
            continue
        for target in sorted(graph[module]):
            there = layer_of(target, layers)
            if there is not None and there > here:
                problems.append(
                    f"upward import: {module} ({layers[here][0]}) imports {target} "
                    f"({layers[there][0]})"
                )
    for component in _cycles(graph):
        pairs = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
        problems.append(f"circle among {component}: {', '.join(pairs)}")
    return problems


def test_the_package_imports_one_way():
    graph = import_graph(PACKAGE)
    assert "trilat.oracle" in graph and "trilat.kernels._jit" in graph  # the walk found the tree
    assert layering_violations(graph, LAYERS) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "trilat" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "trilat"


def test_checker_names_a_planted_upward_import(tmp_path):
    # task (low) importing the oracle (high) inside a function, as a lazy import would
    root = _write(
        tmp_path,
        {
            "__init__.py": "from trilat.oracle import posterior\n",
            "task.py": "def f():\n    from trilat.oracle import posterior\n",
            "oracle.py": "from trilat.task import Task\n",
        },
    )
    problems = layering_violations(import_graph(root), LAYERS)
    assert "upward import: trilat.task (task) imports trilat.oracle (oracle)" in problems
    assert any(p.startswith("circle among ['trilat.oracle', 'trilat.task']") for p in problems)


def test_checker_resolves_relative_submodule_and_type_checking_imports(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "task.py": "",
            "compare/__init__.py": "from ._engine import compare\n",
            "compare/_engine.py": "from . import _report\nfrom ..task import Task\n",
            "compare/_report.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from trilat.compare import compare\n"
            ),
        },
    )
    graph = import_graph(root)
    assert graph["trilat.compare"] == {"trilat.compare._engine"}
    assert graph["trilat.compare._engine"] == {"trilat.compare._report", "trilat.task"}
    assert graph["trilat.compare._report"] == {"trilat.compare"}
    problems = layering_violations(graph, LAYERS)
    assert len(problems) == 1 and problems[0].startswith("circle among ['trilat.compare', ")


def test_checker_refuses_a_module_in_no_layer():
    problems = layering_violations({"trilat.newthing": set()}, LAYERS)
    assert problems == ["trilat.newthing is in no layer: add it to LAYERS"]


@pytest.mark.integration
def test_import_trilat_stays_light():
    code = f"import sys, trilat; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["trilat.kernels", "trilat.verify", "trilat.sweep"])
def test_feature_packages_import_without_numba_until_used(name):
    # the kernels' numba is imported on first use of a kernel, not by importing a package
    code = f"import sys, {name}; print('numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
