"""The records of a ``trilat verify`` run: one dataclass per part and the whole report.

Computed by :mod:`trilat.verify`, printed by ``trilat.verify._report``, drawn by
:mod:`trilat.verify._plots`; ``VerifyReport.to_dict()`` is the ``--json`` output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trilat._json import plain
from trilat.task import Task

__all__ = [
    "CHECK_CHANCE",
    "PART1_TOL",
    "RANDOM_SEEDS",
    "ROUNDTRIP_REL",
    "Ceiling",
    "Part1Row",
    "Part2",
    "Part3Row",
    "PriorGap",
    "VerifyConfig",
    "VerifyReport",
]

PART1_TOL = 1e-10  # part 1 check: max |mu_hat - mu| where identifiable (at unit scale)
ROUNDTRIP_REL = 1e-13  # relative error of the distance round trip, 10x the measured 1e-14
# Chance that a correct implementation fails one Monte Carlo check (each t of the
# ceiling, each N of part 3), from finite-sample bounds that hold at every n
CHECK_CHANCE = 1e-6
RANDOM_SEEDS = 400  # random tasks per N in part 3


@dataclass(frozen=True)
class VerifyConfig:
    """What to verify: D, the N values, sigma, T, trials and the seed.

    Attributes
    ----------
    dim : int
        ``D``.
    n_tasks : tuple of int
        The ``N`` values verified.
    sigma : float
        Evidence noise per sample.
    steps : int
        ``T``, samples per trial.
    trials : int
        Monte Carlo trials per ``N``.
    seed : int

    Examples
    --------
    >>> from trilat.verify import VerifyConfig
    >>> config = VerifyConfig(n_tasks=(1, 6), steps=5, trials=200)
    >>> config.task(6)
    Task(dim=2, n_tasks=6, sigma=0.2, prior=Uniform(low=-0.5, high=0.5), rank=2, condition_number=1)
    >>> print(config.task_kind)
    evenly spaced (the paper's set)
    """

    dim: int = 2
    n_tasks: tuple[int, ...] = (1, 2, 3, 6, 12, 24)
    sigma: float = 0.2
    steps: int = 20
    trials: int = 10_000
    seed: int = 0

    def task(self, n: int) -> Task:
        """The task verified for ``N = n``: the paper's evenly spaced set for D = 2, else random."""
        return Task.paper(self.dim, n, sigma=self.sigma, rng=self.seed)

    @property
    def task_kind(self) -> str:
        """How the verified tasks are built, for the report's header."""
        return "evenly spaced (the paper's set)" if self.dim == 2 else "random unit rows, b = 0"


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

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> [(row.n_tasks, row.identifiable, row.passed) for row in report.part1]
    [(1, False, True), (6, True, True)]
    >>> report.part1[0].note
    'not identifiable (N < D), as predicted'
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

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> report.part2.n_tasks, report.part2.t  # the largest N, per t
    (6, [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> [round(r2, 2) for r2 in report.part2.r2_closed_form]  # falls as outputs saturate
    [0.95, 0.85, 0.75, 0.63, 0.49]
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

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> row = report.part3[1]  # N = 6
    >>> row.n_tasks, row.task_passed, row.random_passed, round(row.gram_expected, 4)
    (6, True, True, 0.0833)
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

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> [round(x, 2) for x in report.ceiling.eq7]  # 1 - s(t)^2 / Var(x*)
    [0.52, 0.76, 0.84, 0.88, 0.9]
    >>> all(report.ceiling.passed)
    True
    """

    t: list[float]
    r2: list[float]
    eq7: list[float]
    low: list[float]
    high: list[float]
    passed: list[bool]
    n_tasks_used: int | None


@dataclass
class PriorGap:
    """The flat prior (the theorem's) against the exact box prior, per ``t`` (reported).

    Attributes
    ----------
    n_tasks, n_trials : int
        ``N`` of the task and the trials used (drawn from the box prior).
    t : list of float
        The ``t`` computed (``GAP_T`` within ``1..T``, and ``T``).
    kl_nats : list of float
        Mean over trials and outputs of ``KL(P_box || P_flat)``
        (:func:`trilat.oracle_gap`): the cross-entropy the flat oracle loses
        to the exact one, in nats per output.
    kl_se : list of float
        Its standard error over trials (NaN for one trial).
    r2_flat, r2_box : list of float
        R^2 against ``x*`` of the flat posterior mean ``mu(t)`` and of the exact
        box posterior mean (:func:`trilat.posterior_mean`), on these trials.
    r2_eq7, r2_bayes : list of float
        Their population values: eq. 7 (:func:`trilat.decodability_ceiling`)
        and :func:`trilat.bayes_decodability`.
    round_trip_max_error : float
        Largest ``|mu_hat - mu|`` of ``mu -> predict_logits(prior=box) ->
        estimate_from_logits(prior=box)`` over the trials with ``mu`` in the box
        and ``s(t) <= high - low``.
    round_trip_checked : int
        How many ``(trial, t)`` the round trip covered.
    passed : bool
        ``round_trip_max_error < PART1_TOL``.
    """

    n_tasks: int
    n_trials: int
    t: list[float]
    kl_nats: list[float]
    kl_se: list[float]
    r2_flat: list[float]
    r2_box: list[float]
    r2_eq7: list[float]
    r2_bayes: list[float]
    round_trip_max_error: float
    round_trip_checked: int
    passed: bool


@dataclass
class VerifyReport:
    """All numbers of a run of ``trilat verify`` (``to_dict`` for JSON).

    Attributes
    ----------
    config : VerifyConfig
    part1 : list of Part1Row
        One row per ``N``.
    part2 : Part2 or None
        For the largest identifiable ``N`` (None when there is none).
    part3 : list of Part3Row
        One row per ``N``.
    ceiling : Ceiling
    failures : list of str
        The checks that failed, in words.
    seconds : float
        Wall time of the run.

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> report.passed, report.failures, len(report.part1), len(report.part3)
    (True, [], 2, 2)
    >>> sorted(report.to_dict())[:4]
    ['ceiling', 'config', 'failures', 'part1']
    """

    config: VerifyConfig
    part1: list[Part1Row]
    part2: Part2 | None
    part3: list[Part3Row]
    ceiling: Ceiling
    prior_gap: PriorGap | None = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether every check held (``failures`` is empty)."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy for strict JSON (:func:`trilat._json.plain`: inf -> "inf"): every
        field, ``passed`` and the tolerances."""
        out = asdict(self)
        out["passed"] = self.passed
        out["config"]["task_kind"] = self.config.task_kind
        out["tolerances"] = {
            "part1_max_error": PART1_TOL,
            "monte_carlo_check_chance": CHECK_CHANCE,
            "evenly_spaced_max_cos": "2 (N + 3) eps",
        }
        return plain(out)
