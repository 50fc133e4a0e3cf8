"""``trilat verify``: check Theorem 3.1 end to end on simulated trials.

- ``_engine``: :func:`run_verify`, the checks of parts 1-3 and of eq. 7;
- ``_result``: :class:`VerifyConfig`, the tolerances and the records of
  :class:`VerifyReport` (strict JSON);
- ``_report``: the text report;
- ``_plots``: the figures (:func:`verify_figures`, the ``plot`` extra);
- ``_cli``: the ``trilat verify`` options and run.
"""

from trilat.verify._engine import linearization_stats, part1_row, part3_row, run_verify
from trilat.verify._plots import verify_figures
from trilat.verify._result import (
    CHECK_CHANCE,
    PART1_TOL,
    RANDOM_SEEDS,
    Ceiling,
    Part1Row,
    Part2,
    Part3Row,
    VerifyConfig,
    VerifyReport,
)

__all__ = [
    "CHECK_CHANCE",
    "PART1_TOL",
    "RANDOM_SEEDS",
    "Ceiling",
    "Part1Row",
    "Part2",
    "Part3Row",
    "VerifyConfig",
    "VerifyReport",
    "linearization_stats",
    "part1_row",
    "part3_row",
    "run_verify",
    "verify_figures",
]
