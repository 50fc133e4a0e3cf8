"""``trilat verify``: check Theorem 3.1 end to end on simulated trials.

- Part 1 (checked): for each N, whether ``C`` is identifiable, and the largest
  ``|mu_hat - mu(t)|`` when ``mu(t)`` is recovered from the optimal outputs
  through their logits; must be below ``1e-10`` where ``rank C = D``, and "not
  identifiable" where ``N < D`` (the theorem's own prediction).
- Part 2 (reported): per ``t``, the ``R^2`` against ``mu(t)`` of the
  closed-form affine decoder (sigmoid, moment constant) and of the best
  least-squares affine decoder of the same logits, and the share of outputs
  with ``|u| <= 2``, where the linearisation is accurate.
- Part 3 (checked): the largest ``|cos|`` between columns of ``C``; exactly 0
  (to rounding) for the evenly spaced set, and ``O(1/sqrt N)`` for random
  tasks, checked through ``E[(D G_jk / N)^2] = D / ((D + 2) N)`` for the Gram
  matrix ``G = C^T C`` of rows uniform on the sphere.
- Ceiling (checked): ``R^2`` of ``mu(t)`` against ``x*`` next to the paper's
  eq. 7, ``1 - s(t)^2 / Var(x*)``, which is exactly that R^2 in expectation:
  the paper's ceiling of decodability is the ceiling for ``mu(t)`` (and codes
  affine in it), not for every decoder (one that knows the prior does better
  at small ``t``; see :func:`trilat.decodability_ceiling`).

- Prior gap (reported; its round trip checked): per ``t``, how far the
  theorem's flat-prior oracle is from the exact one under the box prior the
  trials are drawn from: the mean ``KL(P_box || P_flat)`` per output in nats,
  and the R^2 against ``x*`` of each oracle's estimate (``mu(t)`` and the
  truncated-normal mean); and the box-prior round trip
  ``mu -> predict_logits(prior=box) -> estimate_from_logits(prior=box)``.

The Monte Carlo statistics of part 1 and the ceiling come from one function,
``trilat.kernels.monte_carlo`` (imported in :func:`run_verify`); everything streams in chunks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._montecarlo import RunningMoments, chunks, default_chunk_trials, progress_bar
from trilat._stable import logit_ndtr
from trilat._verify_records import Ceiling, Part1Row, Part2, Part3Row, PriorGap, VerifyReport
from trilat.linearization import linear_decoder
from trilat.oracle import (
    bayes_decodability,
    decodability_ceiling,
    estimate_from_logits,
    oracle_gap,
    posterior,
    posterior_mean,
    predict_logits,
)
from trilat.sweeps import column_cosines, orthogonality_scale
from trilat.task import Gaussian, Task, Uniform, posterior_std, simulate

__all__ = ["VerifyConfig", "VerifyReport", "run_verify"]

PART1_TOL = 1e-10  # issue 2: max |mu_hat - mu| where identifiable
Z_SCORE = 5.0  # Monte Carlo checks: two-sided normal tail 5.7e-7 per check
LINEAR_U = 2.0  # |u| below which Phi^-1(sigmoid(z)) ~ alpha z is accurate
RANDOM_SEEDS = 400  # random tasks per N in part 3
GAP_TRIALS = 500  # trials of the prior-gap part (the exact box outputs cost ~0.3 ms each)
ROUND_TRIP_TRIALS = 20  # trials whose every t goes through the box-prior round trip
PART2_N = 6  # the paper's N for part 2 (else the identifiable N closest to it)
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class VerifyConfig:
    """What to verify: D, the N values, sigma, T, trials and the seed."""

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


# --------------------------------------------------------------------------- part 1


def part1_row(task: Task, stats: Any | None) -> Part1Row:
    """Part 1 for one task, from its Monte Carlo statistics (None when not identifiable)."""
    n, d = task.n_tasks, task.dim
    common = dict(n_tasks=n, rank=task.rank, condition_number=task.condition_number)
    if not task.identifiable:
        predicted = n < d
        note = (
            "not identifiable (N < D), as predicted"
            if predicted
            else f"not identifiable (rank {task.rank} < D = {d}) although N >= D"
        )
        return Part1Row(**common, identifiable=False, max_error=None, mean_error=None,
                        saturated_share=None, passed=predicted, note=note)  # fmt: skip
    worst = float(np.max(stats.max_abs_error))
    passed = worst < PART1_TOL
    return Part1Row(
        **common,
        identifiable=True,
        max_error=worst,
        mean_error=float(np.mean(stats.mean_abs_error)),
        saturated_share=float(np.sum(stats.n_saturated) / (stats.n_outputs * len(stats.t))),
        passed=passed,
        note=f"max < {PART1_TOL:.0e}" if passed else f"max >= {PART1_TOL:.0e}",
    )


# --------------------------------------------------------------------------- part 2


def linearization_stats(
    task: Task, n_trials: int, n_steps: int, seed: Any, progress: bool | None = None
) -> Part2:
    """Part 2: per ``t``, R^2 of the closed-form and the best affine decoder of the logits.

    Both are scored against the exact ``mu(t)`` over the same trials (seed as
    part 1). The best affine decoder is the in-sample least-squares fit of
    ``mu`` on ``[z, 1]``, from streamed centred co-moments; R^2 is
    ``1 - SS_res/SS_tot`` per coordinate, averaged over coordinates.
    """
    n, d = task.n_tasks, task.dim
    t = np.arange(1.0, n_steps + 1.0)
    decoder = linear_decoder(task, t)  # sigmoid, moment constant
    z_edge = float(logit_ndtr(LINEAR_U))  # |u| <= 2  <=>  |z| <= logit Phi(2)
    sse_closed = np.zeros((n_steps, d))
    n_linear = np.zeros(n_steps)
    joint = RunningMoments()
    chunk = default_chunk_trials(task, n_steps)
    bar = progress_bar(n_trials, f"trilat verify part 2 (N = {n})", progress)
    for first, count in chunks(n_trials, chunk):
        evidence = simulate(task, count, n_steps, rng=seed, first_trial=first).evidence
        mu = posterior(task, evidence).mean
        z = predict_logits(task, mu, t)
        sse_closed += np.sum((decoder(z) - mu) ** 2, axis=0)
        n_linear += np.count_nonzero(np.abs(z) <= z_edge, axis=(0, 2))
        joint.add(np.concatenate([z, mu], axis=-1))
        if bar is not None:
            bar.update(count)
    if bar is not None:
        bar.close()
    s_zz = joint.comoment[:, :n, :n]
    s_zm = joint.comoment[:, :n, n:]
    ss_tot = joint.variance_sums[:, n:]
    best = np.empty(n_steps)
    for i in range(n_steps):
        beta = np.linalg.lstsq(s_zz[i], s_zm[i], rcond=None)[0]
        ss_res = ss_tot[i] - np.sum(s_zm[i] * beta, axis=0)
        best[i] = np.mean(1.0 - ss_res / ss_tot[i])
    closed = np.mean(1.0 - sse_closed / ss_tot, axis=-1)
    return Part2(
        n_tasks=n,
        t=t.tolist(),
        s=posterior_std(task, t).tolist(),
        r2_closed_form=closed.tolist(),
        r2_best_affine=best.tolist(),
        share_linear=(n_linear / (n_trials * n)).tolist(),
    )


# --------------------------------------------------------------------------- part 3


def max_abs_cos(C: np.ndarray) -> float:
    """Largest ``|cos|`` between distinct columns of ``C``."""
    return float(np.max(np.abs(column_cosines(C))))


def part3_row(config: VerifyConfig, task: Task) -> Part3Row:
    """Orthogonality of the factor directions for the verified task and random tasks.

    Evenly spaced lines have ``C^T C = (N/2) I`` for ``N >= 2``; in floating
    point each Gram entry carries at most ``(N + 3) eps`` times ``N/2`` (N
    products of rounded cos/sin and their sum), so ``|cos| <= 2 (N + 3) eps``.

    Random rows uniform on the sphere have ``E[C^T C] = (N/D) I`` and
    ``E[G_jk^2] = N / (D (D + 2))``, hence ``q = mean_{j<k} (D G_jk / N)^2`` has
    mean exactly ``D / ((D + 2) N)`` for every N: the cosines are
    ``O(sqrt(D / ((D + 2) N)))``. Checked over ``RANDOM_SEEDS`` tasks within
    ``Z_SCORE`` standard errors of the mean.
    """
    n, d = task.n_tasks, task.dim
    task_cos = max_abs_cos(task.C)
    task_tol = task_ok = None
    if config.dim == 2 and n >= 2:  # the evenly spaced set: orthogonal up to rounding
        task_tol = 2 * (n + 3) * EPS
        task_ok = task_cos <= task_tol
    seeds = np.random.SeedSequence([config.seed, 3, n]).spawn(RANDOM_SEEDS)
    cos_max = np.empty(RANDOM_SEEDS)
    gram_ms = np.empty(RANDOM_SEEDS)
    pairs = np.triu_indices(d, 1)
    for i, seq in enumerate(seeds):
        C = Task.random(d, n, rng=seq).C
        cos_max[i] = max_abs_cos(C)
        gram_ms[i] = np.mean((d * (C.T @ C)[pairs] / n) ** 2)
    expected = float(orthogonality_scale(d, n)) ** 2  # D / ((D + 2) N)
    se = float(np.std(gram_ms, ddof=1) / math.sqrt(RANDOM_SEEDS))
    return Part3Row(
        n_tasks=n,
        task_max_cos=task_cos,
        task_tolerance=task_tol,
        task_passed=task_ok,
        random_max_cos=float(np.mean(cos_max)),
        random_max_cos_se=float(np.std(cos_max, ddof=1) / math.sqrt(RANDOM_SEEDS)),
        gram_ms=float(np.mean(gram_ms)),
        gram_ms_se=se,
        gram_expected=expected,
        random_passed=abs(float(np.mean(gram_ms)) - expected) <= Z_SCORE * se,
    )


# --------------------------------------------------------------------------- ceiling


def excess_kurtosis_of_square(prior: Uniform | Gaussian) -> float:
    """``Var((x - m)^2) / Var(x)^2`` for one coordinate of the prior: 4/5 uniform, 2 Gaussian."""
    return 0.8 if isinstance(prior, Uniform) else 2.0


def ceiling_check(task: Task, stats: Any, n_trials: int) -> Ceiling:
    """``R^2(mu(t), x*)`` against eq. 7, ``1 - s(t)^2 / Var(x*)``, within a derived tolerance.

    With ``r = s^2 / Var(x*)``, ``R^2 = 1 - SS_res/SS_tot`` where
    ``SS_res/(nD)`` averages ``s^2 chi^2_1`` (relative variance 2) and
    ``SS_tot/(nD)`` averages ``(x - m)^2`` (relative variance ``k``: 4/5 for a
    uniform prior), independently. The delta method gives
    ``se = r sqrt((2 + k) / (n D))``; centring on the sample mean and the ratio
    add a bias below ``r (1 + k) / (n - 1)``. Tolerance: ``Z_SCORE se + bias``.
    """
    t = np.asarray(stats.t, dtype=float)
    eq7 = decodability_ceiling(task, t)
    r = 1.0 - eq7  # s(t)^2 / Var(x*)
    k = excess_kurtosis_of_square(task.prior)
    se = r * np.sqrt((2.0 + k) / (n_trials * task.dim))
    tol = Z_SCORE * se + r * (1.0 + k) / (n_trials - 1)
    r2 = np.asarray(stats.r2_mu_xstar, dtype=float)
    return Ceiling(
        t=t.tolist(),
        r2=r2.tolist(),
        eq7=eq7.tolist(),
        tolerance=tol.tolist(),
        passed=(np.abs(r2 - eq7) <= tol).tolist(),
        n_tasks_used=task.n_tasks,
    )


# --------------------------------------------------------------------------- prior gap


def prior_gap(task: Task, n_trials: int, n_steps: int, seed: Any) -> PriorGap:
    """The flat-versus-exact gap per ``t`` on ``n_trials`` trials of the task's box prior.

    See :class:`PriorGap`. The trials are the first ``n_trials`` of ``seed``
    (the same draws as the other parts).
    """
    if not isinstance(task.prior, Uniform):
        raise ValueError(f"the prior gap needs a Uniform prior, got {task.prior!r}")
    trials = simulate(task, n_trials, n_steps, rng=seed)
    post = posterior(task, trials.evidence)
    box = task.prior
    kl = oracle_gap(task, post.mean, std=post.std, prior=box)  # (n, T, N)
    x = trials.x_star[:, None, :]
    ss_tot = np.sum((trials.x_star - trials.x_star.mean(axis=0)) ** 2, axis=0)  # (D,)

    def r2(est: np.ndarray) -> np.ndarray:
        return np.mean(1.0 - np.sum((est - x) ** 2, axis=0) / ss_tot, axis=-1)

    box_mean = posterior_mean(task, post.mean, std=post.std, prior=box)
    m = min(ROUND_TRIP_TRIALS, n_trials)
    mu = post.mean[:m]
    inside = np.all((mu >= box.low) & (mu <= box.high), axis=-1)
    worst = 0.0
    if task.identifiable and np.any(inside):
        z = predict_logits(task, mu, std=post.std, prior=box)
        mu_hat = estimate_from_logits(task, z, std=post.std, prior=box)
        worst = float(np.max(np.abs(mu_hat - mu)[inside]))
    return PriorGap(
        n_tasks=task.n_tasks,
        n_trials=n_trials,
        t=post.t.tolist(),
        kl_nats=np.mean(kl, axis=(0, 2)).tolist(),
        r2_flat=r2(post.mean).tolist(),
        r2_box=r2(box_mean).tolist(),
        r2_bayes=bayes_decodability(task, post.t).tolist(),
        round_trip_max_error=worst,
        round_trip_checked=int(np.sum(inside)),
        passed=worst < PART1_TOL,
    )


# --------------------------------------------------------------------------- driver


def _part2_n(config: VerifyConfig, identifiable: list[int]) -> int | None:
    if not identifiable:
        return None
    if PART2_N in identifiable:
        return PART2_N
    return min(identifiable, key=lambda n: (abs(n - PART2_N), n))


def run_verify(config: VerifyConfig, progress: bool | None = None) -> VerifyReport:
    """Run every part for ``config`` and collect the checks that failed.

    Parameters
    ----------
    config : VerifyConfig
        ``D``, the ``N`` values, ``sigma``, ``T``, trials and seed.
    progress : bool, optional
        Progress bars on stderr; default: when stderr is a terminal.

    Returns
    -------
    VerifyReport
        Every number of the four parts; ``passed`` when parts 1, 3 and the
        ceiling hold.
    """
    # numba is imported here, not at module level, so that `trilat --help` stays light;
    # the kernels give the same numbers as trilat._montecarlo's numpy reference
    from trilat.kernels import monte_carlo

    start = time.perf_counter()
    tasks = {n: config.task(n) for n in config.n_tasks}
    stats = {
        n: monte_carlo(task, config.trials, config.steps, rng=config.seed, progress=progress)
        for n, task in tasks.items()
        if task.identifiable
    }
    part1 = [part1_row(task, stats.get(n)) for n, task in tasks.items()]
    part2_n = _part2_n(config, sorted(stats))
    part2 = None
    if part2_n is not None:
        part2 = linearization_stats(
            tasks[part2_n], config.trials, config.steps, config.seed, progress
        )
    part3 = [part3_row(config, task) for task in tasks.values()] if config.dim > 1 else []
    # mu(t) does not depend on C: any identifiable task gives the ceiling; without
    # one, the identity boundaries (same draws, same mu) stand in.
    ceiling_n = part2_n
    if ceiling_n is None:
        stand_in = Task(np.eye(config.dim), np.zeros(config.dim), config.sigma)
        ceiling_stats = monte_carlo(stand_in, config.trials, config.steps, rng=config.seed,
                                    progress=progress)  # fmt: skip
        ceiling = ceiling_check(stand_in, ceiling_stats, config.trials)
        ceiling.n_tasks_used = None
    else:
        ceiling = ceiling_check(tasks[ceiling_n], stats[ceiling_n], config.trials)
    gap = None
    if part2_n is not None and isinstance(tasks[part2_n].prior, Uniform):
        gap = prior_gap(tasks[part2_n], min(config.trials, GAP_TRIALS), config.steps, config.seed)
    failures = [f"part 1, N = {row.n_tasks}: {row.note}" for row in part1 if not row.passed]
    if gap is not None and not gap.passed:
        failures.append(
            f"prior gap, N = {gap.n_tasks}: box-prior round trip max |mu_hat - mu| = "
            f"{gap.round_trip_max_error:.3g} >= {PART1_TOL:.0e}"
        )
    for row in part3:
        if row.task_passed is False:
            failures.append(
                f"part 3, N = {row.n_tasks}: evenly spaced max |cos| = {row.task_max_cos:.3g} "
                f"> {row.task_tolerance:.3g}"
            )
        if not row.random_passed:
            failures.append(
                f"part 3, N = {row.n_tasks}: random tasks mean (D G_jk/N)^2 = {row.gram_ms:.4g}, "
                f"expected {row.gram_expected:.4g} +- {Z_SCORE * row.gram_ms_se:.2g}"
            )
    for t, r2, eq7, tol, ok in zip(
        ceiling.t, ceiling.r2, ceiling.eq7, ceiling.tolerance, ceiling.passed, strict=True
    ):
        if not ok:
            failures.append(f"ceiling, t = {t:g}: R^2 = {r2:.4f}, eq. 7 = {eq7:.4f} +- {tol:.2g}")
    return VerifyReport(
        config=config,
        part1=part1,
        part2=part2,
        part3=part3,
        ceiling=ceiling,
        prior_gap=gap,
        failures=failures,
        seconds=time.perf_counter() - start,
    )
