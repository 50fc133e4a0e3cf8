"""The records of a ``trilat verify`` run: one dataclass per part and the whole report.

Computed by :mod:`trilat.verify`, printed by ``trilat._verify_text``, drawn by
:mod:`trilat.plots_verify`; ``VerifyReport.to_dict()`` is the ``--json`` output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trilat.verify import VerifyConfig

__all__ = ["Ceiling", "Part1Row", "Part2", "Part3Row", "VerifyReport"]


@dataclass
class Part1Row:
    """Part 1 for one ``N``: identifiability and the exactness of the recovery.

    Attributes
    ----------
    n_tasks, rank, condition_number
        ``N``, ``rank(C)`` and ``cond(C)`` (``inf`` when not identifiable).
    identifiable : bool
        ``rank(C) = D``.
    max_error, mean_error : float or None
        Largest and mean ``|mu_hat(t) - mu(t)|`` over trials and ``t`` (None
        when not identifiable).
    saturated_share : float or None
        Share of optimal outputs whose probability rounds to 0 or 1.
    passed : bool
        ``max_error < PART1_TOL``, or not identifiable exactly when ``N < D``.
    note : str
        What the check found, in words.
    """

    n_tasks: int
    rank: int
    condition_number: float
    identifiable: bool
    max_error: float | None
    mean_error: float | None
    saturated_share: float | None
    passed: bool
    note: str


@dataclass
class Part2:
    """Part 2 (reported, not checked): affine decoders of ``mu(t)`` from the optimal logits.

    Attributes
    ----------
    n_tasks : int
        ``N`` of the task used.
    t, s : list of float, length T
        Samples seen and ``s(t) = sigma / sqrt(t)``.
    r2_closed_form : list of float
        R^2 against ``mu(t)`` of ``s(t) (sqrt(3)/pi) C^+ z + C^+ b``.
    r2_best_affine : list of float
        R^2 of the least-squares affine map of the same logits (in sample).
    share_linear : list of float
        Share of outputs with ``|u| <= 2``, where ``Phi^-1(sigmoid(z)) ~ alpha z``.
    """

    n_tasks: int
    t: list[float]
    s: list[float]
    r2_closed_form: list[float]
    r2_best_affine: list[float]
    share_linear: list[float]


@dataclass
class Part3Row:
    """Part 3 for one ``N``: orthogonality of the factor directions (columns of ``C``).

    Attributes
    ----------
    n_tasks : int
    task_max_cos : float
        Largest ``|cos|`` between columns of the verified ``C``.
    task_tolerance, task_passed : float or None, bool or None
        ``2 (N + 3) eps`` and the check, for the evenly spaced set (``D = 2``,
        ``N >= 2``); None otherwise.
    random_max_cos, random_max_cos_se : float
        Mean over ``RANDOM_SEEDS`` random tasks of the largest ``|cos|``, and its
        standard error.
    gram_ms, gram_ms_se : float
        Mean over random tasks of ``q = mean_{j<k} (D G_jk / N)^2`` and its
        standard error.
    gram_expected : float
        ``E[q] = D / ((D + 2) N)``.
    gram_low, gram_high : float
        Where the mean of ``q`` lies except with chance ``CHECK_CHANCE``.
    random_passed : bool
        ``gram_low <= gram_ms <= gram_high`` (:func:`trilat.verify.gram_interval`).
    """

    n_tasks: int
    task_max_cos: float
    task_tolerance: float | None
    task_passed: bool | None
    random_max_cos: float
    random_max_cos_se: float
    gram_ms: float
    gram_ms_se: float
    gram_expected: float
    gram_low: float
    gram_high: float
    random_passed: bool


@dataclass
class Ceiling:
    """The ceiling check: R^2 of ``mu(t)`` against ``x*`` beside eq. 7, per ``t``.

    Attributes
    ----------
    t : list of float, length T
    r2 : list of float
        Monte Carlo R^2 of ``mu(t)`` against ``x*``.
    eq7 : list of float
        ``1 - s(t)^2 / Var(x*)`` (:func:`trilat.decodability_ceiling`), the R^2
        of ``mu(t)`` in expectation.
    low, high : list of float
        The interval a correct ``r2`` lies in except with chance ``CHECK_CHANCE``
        per ``t`` (finite-sample bounds and rounding, see
        :func:`trilat.verify.ceiling_interval`); ``low`` may be ``-inf`` at tiny n.
    passed : list of bool
        ``low <= r2 <= high``.
    n_tasks_used : int or None
        ``N`` of the task whose trials gave ``r2`` (None: identity boundaries
        stood in, no identifiable task being verified).
    """

    t: list[float]
    r2: list[float]
    eq7: list[float]
    low: list[float]
    high: list[float]
    passed: list[bool]
    n_tasks_used: int | None


@dataclass
class VerifyReport:
    """All numbers of a run of ``trilat verify`` (``to_dict`` for JSON)."""

    config: VerifyConfig
    part1: list[Part1Row]
    part2: Part2 | None
    part3: list[Part3Row]
    ceiling: Ceiling
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether every check held (``failures`` is empty)."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy for JSON: every field, ``passed`` and the tolerances; inf -> None."""
        out = asdict(self)
        out["passed"] = self.passed
        out["config"]["task_kind"] = self.config.task_kind
        from trilat.verify import CHECK_CHANCE, PART1_TOL

        out["tolerances"] = {
            "part1_max_error": PART1_TOL,
            "monte_carlo_check_chance": CHECK_CHANCE,
            "evenly_spaced_max_cos": "2 (N + 3) eps",
        }
        return _finite_or_none(out)


def _finite_or_none(x: Any) -> Any:
    """JSON has no inf/nan: map them to None, recursively."""
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
