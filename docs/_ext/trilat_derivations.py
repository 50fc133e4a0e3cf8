"""``.. derivation:: NAME``: run ``derivations/NAME.py``'s ``derive()`` and render its steps.

Each step of a derivation is checked when it is recorded (a failed step raises), so
what the page shows is what sympy verified during this build, in the LaTeX the
script itself prints. Needs sympy and mpmath (the ``docs`` extra).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

DERIVATIONS = Path(__file__).resolve().parents[2] / "derivations"
LABELS = {
    "=": "Checked identity",
    "ok": "Checked",
    "def": "Definition",
    "result": "Result",
}


class DerivationDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        script = DERIVATIONS / f"{name}.py"
        env = self.state.document.settings.env
        env.note_dependency(str(script))
        if str(DERIVATIONS) not in sys.path:
            sys.path.insert(0, str(DERIVATIONS))  # the scripts import their helper _steps
        derivation = runpy.run_path(str(script), run_name=f"derivation_{name}")["derive"]()
        out: list[nodes.Node] = []
        items = nodes.enumerated_list()
        for step in derivation.steps:
            items += self._step(step)
        out.append(
            nodes.paragraph(
                text=f"{len(derivation.steps)} steps of '{derivation.title}', each checked by "
                f"sympy (or mpmath / Monte Carlo where stated) while these pages were built:"
            )
        )
        out.append(items)
        return out

    @staticmethod
    def _step(step: Any) -> nodes.list_item:
        item = nodes.list_item()
        if step.kind == "note":
            item += nodes.paragraph(text=step.text)
            return item
        head = nodes.paragraph()
        head += nodes.strong(text=f"{LABELS[step.kind]}: ")
        head += nodes.Text(step.name)
        item += head
        if step.latex:
            item += nodes.math_block(step.latex, step.latex, nowrap=False, number=None)
        else:
            item += nodes.literal_block(step.text, step.text)
        return item


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("derivation", DerivationDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
