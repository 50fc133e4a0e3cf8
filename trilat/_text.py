"""Text for terminals and reports: the one number formatter and the one table formatter.

``trilat verify``, ``trilat compare`` (its markdown report), ``trilat sweep``
and ``trilat bench`` print their numbers and tables through these two.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["number", "table"]


def number(x: Any, fmt: str | None = None, *, digits: int = 4) -> str:
    """``x`` as a table cell: ``format(x, fmt)``, or by magnitude when ``fmt`` is None.

    ``None`` is ``"-"`` (no value); NaN, ``inf`` and ``-inf`` are ``"nan"``,
    ``"inf"``, ``"-inf"`` whatever ``fmt``. Without ``fmt``: ``"0"`` for zero,
    ``.2e`` when ``|x| < 1e-3`` or ``|x| >= 1e5``, else ``digits`` decimals.
    """
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return str(x)  # "nan", "inf", "-inf"
    if fmt is not None:
        return format(x, fmt)
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.2e}"
    return f"{x:.{digits}f}"


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    left: Collection[int] = (),
    indent: str = "",
    markdown: bool = False,
) -> list[str]:
    """The lines of a table: the header, a rule, then the rows.

    Plain text (default): columns separated by two spaces and padded to their
    widest cell, right-aligned (numbers) except the columns whose index is in
    ``left`` (text, negative indices count from the end), each line starting
    with ``indent``. ``markdown=True``: a GitHub markdown table, the ``left``
    columns aligned left (``|---|``) and the others right (``|---:|``).
    """
    n = len(header)
    if any(len(r) != n for r in rows):
        raise ValueError(f"every row must have the header's {n} cells")
    left_columns = {i % n for i in left} if n else set()
    if markdown:
        rule = "|".join("---" if i in left_columns else "---:" for i in range(n))

        def cells_line(cells: Sequence[str]) -> str:
            return f"{indent}| " + " | ".join(cells) + " |"

        return [cells_line(header), f"{indent}|{rule}|", *(cells_line(r) for r in rows)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(n)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i in left_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(padded)).rstrip()

    rule_line = indent + "  ".join("-" * w for w in widths)
    return [line(header), rule_line, *(line(r) for r in rows)]
