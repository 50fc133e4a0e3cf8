"""Bookkeeping shared by the derivation scripts: check each step, then print it.

A :class:`Derivation` records steps in order. Every step is checked when it is
recorded and raises ``AssertionError`` (explicitly, so ``python -O`` cannot
skip it) if it does not hold; :meth:`Derivation.report` prints each step in
plain text and in LaTeX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

__all__ = ["Derivation", "Phi", "PhiInvOf", "PhiOf", "Phi_inv", "phi"]


def Phi(x: Any) -> sp.Expr:
    """Standard normal CDF, ``(1 + erf(x / sqrt 2)) / 2``."""
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def Phi_inv(p: Any) -> sp.Expr:
    """Standard normal quantile, ``sqrt(2) erfinv(2p - 1)``."""
    return sp.sqrt(2) * sp.erfinv(2 * p - 1)


def phi(x: Any) -> sp.Expr:
    """Standard normal density, ``exp(-x^2/2) / sqrt(2 pi)``."""
    return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)


class PhiOf(sp.Function):
    """``Phi(x)`` left unevaluated, for printing a step in the paper's notation."""

    def _sympystr(self, printer: Any) -> str:
        return f"Phi({printer._print(self.args[0])})"

    def _latex(self, printer: Any) -> str:
        return rf"\Phi\left({printer._print(self.args[0])}\right)"


class PhiInvOf(sp.Function):
    """``Phi^-1(p)`` left unevaluated, for printing."""

    def _sympystr(self, printer: Any) -> str:
        return f"Phi^-1({printer._print(self.args[0])})"

    def _latex(self, printer: Any) -> str:
        return rf"\Phi^{{-1}}\left({printer._print(self.args[0])}\right)"


def _is_zero(expr: Any, simplifier: Callable[[Any], Any]) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(_is_zero(e, simplifier) for e in expr)
    if isinstance(expr, sp.MatrixExpr):
        reduced = simplifier(expr)
        return isinstance(reduced, sp.ZeroMatrix) or reduced == 0
    return simplifier(sp.sympify(expr)) == 0


@dataclass
class _Step:
    name: str
    text: str
    latex: str
    kind: str  # "=" (identity checked), "ok" (a fact checked), "def" / "result" / "note"


@dataclass
class Derivation:
    """Ordered, checked steps of one derivation, and its named results."""

    title: str
    steps: list[_Step] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def define(self, name: str, lhs: Any, rhs: Any) -> Any:
        """Record a definition ``lhs := rhs`` (nothing to check); return ``rhs``."""
        self.steps.append(
            _Step(name, f"{sp.sstr(lhs)} := {sp.sstr(rhs)}", rf"{_tex(lhs)} := {_tex(rhs)}", "def")
        )
        return rhs

    def equal(
        self,
        name: str,
        lhs: Any,
        rhs: Any,
        *,
        simplifier: Callable[[Any], Any] = sp.simplify,
        show: tuple[Any, Any] | None = None,
    ) -> Any:
        """Check ``lhs == rhs`` by ``simplifier(lhs - rhs) == 0``; record it; return ``rhs``.

        ``show`` replaces ``(lhs, rhs)`` in the printout when the checked form
        is not the readable one.
        """
        if not _is_zero(lhs - rhs, simplifier):
            raise AssertionError(
                f"[{self.title}] step {name!r} does not hold: {sp.sstr(lhs)} - ({sp.sstr(rhs)}) "
                f"simplifies to {sp.sstr(simplifier(lhs - rhs))}, not 0"
            )
        a, b = show if show is not None else (lhs, rhs)
        self.steps.append(
            _Step(name, f"{sp.sstr(a)} = {sp.sstr(b)}", rf"{_tex(a)} = {_tex(b)}", "=")
        )
        return rhs

    def holds(self, name: str, statement: str, ok: Any, latex: str | None = None) -> None:
        """Record a checked fact (an inequality, a numerical check); raise if ``ok`` is false."""
        try:
            true = bool(ok)  # None (sympy could not decide) counts as not shown
        except TypeError:  # an undecided sympy relational
            true = False
        if not true:
            raise AssertionError(f"[{self.title}] step {name!r} does not hold: {statement}")
        self.steps.append(_Step(name, statement, latex if latex is not None else "", "ok"))

    def result(
        self, name: str, lhs: Any, rhs: Any, *, key: str | None = None, show: Any = None
    ) -> Any:
        """Record a result established by the steps before it; return ``rhs``.

        ``key`` stores ``rhs`` in :attr:`results`; ``show`` replaces ``rhs`` in the printout.
        """
        if key is not None:
            self.results[key] = rhs
        shown = rhs if show is None else show
        self.steps.append(
            _Step(
                name,
                f"{sp.sstr(lhs)} = {sp.sstr(shown)}",
                rf"{_tex(lhs)} = {_tex(shown)}",
                "result",
            )
        )
        return rhs

    def note(self, text: str) -> None:
        """Record prose: an argument that is not a symbolic identity."""
        self.steps.append(_Step("", text, "", "note"))

    def report(self) -> str:
        """Every step in order, in plain text and LaTeX."""
        tags = {"=": "[checked]", "ok": "[checked]", "def": "[define] ", "result": "[RESULT] "}
        lines = [self.title, "=" * len(self.title)]
        for step in self.steps:
            if step.kind == "note":
                lines.append(f"  -- {step.text}")
                continue
            lines.append(f"{tags[step.kind]} {step.name}")
            lines.append(f"    text : {step.text}")
            if step.latex:
                lines.append(f"    latex: {step.latex}")
        return "\n".join(lines)


def _tex(x: Any) -> str:
    return x if isinstance(x, str) else sp.latex(x)
