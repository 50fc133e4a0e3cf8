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
  eq. 7, ``1 - s(t)^2 / Var(x*)``, which is exactly that R^2 in expectation
  (:func:`trilat.decodability_ceiling`).

- Prior gap (reported; its round trip checked; D <= 2): at t = 1, 2, 5, 10, 20 (and T), how far the
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
from typing import Any

import numpy as np

from trilat._progress import progress_bar
from trilat._stable import logit_ndtr
from trilat._tail_bounds import (
    UNIT_ROUNDOFF,
    bernstein_deviation,
    chi2_interval,
    gaussian_max_bound,
    uniform_sum_of_squares_interval,
)
from trilat.kernels._montecarlo import RunningMoments, chunks, default_chunk_trials
from trilat.linearization import linear_decoder
from trilat.metrics._linear import r2_columns
from trilat.oracle import (
    bayes_decodability,
    decodability_ceiling,
    estimate_from_logits,
    oracle_gap,
    posterior,
    posterior_mean,
    posterior_std,
    predict_logits,
)
from trilat.orthogonality import column_cosines, orthogonality_scale
from trilat.task import Task, Uniform, random_unit_rows, simulate
from trilat.verify._result import (
    CHECK_CHANCE,
    PART1_TOL,
    RANDOM_SEEDS,
    ROUNDTRIP_REL,
    Ceiling,
    Part1Row,
    Part2,
    Part3Row,
    PriorGap,
    VerifyConfig,
    VerifyReport,
)

__all__ = ["VerifyConfig", "VerifyReport", "run_verify"]

LINEAR_U = 2.0  # |u| below which Phi^-1(sigmoid(z)) ~ alpha z is accurate
GAP_MAX_DIM = 2  # D = 3 needs nested quadrature (~5-10 ms an output): too slow for every run
GAP_MAX_TASKS = 64  # beyond, ~1000 trials-by-t x N exact outputs: seconds and GiB for a report
GAP_TRIALS = 200  # trials of the prior-gap part (reported with its standard error)
GAP_T = (1, 2, 5, 10, 20)  # the t of the prior gap (and T): the exact outputs cost ~30 us each
ROUND_TRIP_MAX_WIDTH = 1e4  # the round trip is checked where the box is 1..1e4 s(t) wide
ROUND_TRIP_TRIALS = 10  # trials whose every gap t goes through the box-prior round trip
PART2_N = 6  # the paper's N for part 2 (else the identifiable N closest to it)
EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- part 1


def part1_row(task: Task, stats: Any | None) -> Part1Row:
    """Part 1 for one task, from its Monte Carlo statistics (None when not identifiable).

    Parameters
    ----------
    task : Task
    stats : MonteCarloStats or None
        What :func:`trilat.kernels.monte_carlo` returned for ``task``; None when
        ``task`` is not identifiable.

    Returns
    -------
    Part1Row

    Examples
    --------
    >>> import trilat
    >>> from trilat.kernels import monte_carlo
    >>> from trilat.verify import part1_row
    >>> task = trilat.Task.evenly_spaced(6)
    >>> row = part1_row(task, monte_carlo(task, n_trials=200, n_steps=5, rng=0, progress=False))
    >>> row.identifiable, row.rank, row.passed
    (True, 2, True)
    >>> part1_row(trilat.Task.evenly_spaced(1), None).note  # N = 1 < D = 2
    'not identifiable (N < D), as predicted'
    """
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
    tol = part1_tolerance(task, stats.n_trials, len(stats.t))
    passed = worst < tol
    return Part1Row(
        **common,
        identifiable=True,
        max_error=worst,
        mean_error=float(np.mean(stats.mean_abs_error)),
        saturated_share=float(np.sum(stats.n_saturated) / (stats.n_outputs * len(stats.t))),
        passed=passed,
        note=f"max < {tol:.1e}" if passed else f"max >= {tol:.1e}",
    )


def part1_tolerance(task: Task, n_trials: int, n_steps: int) -> float:
    """``PART1_TOL``, or the rounding bound of the round trip where that is larger.

    The round trip ``mu -> z -> k -> mu_hat`` is exact to ``ROUNDTRIP_REL`` of
    ``|k + b|`` per distance (the complement-aware special functions), and
    ``C^+`` amplifies an error ``e`` in ``k`` to at most ``cond(C) sqrt(N) |e|_inf``
    for unit rows. ``|k + b| = |c^T mu| <= |mu|_2 <= sqrt(D) M``, ``M`` bounding
    every ``|x*|`` and ``|evidence|`` (noise within ``z`` sd except with chance
    ``CHECK_CHANCE``, :func:`~trilat._tail_bounds.gaussian_max_bound`). At the
    paper's scale this is far below ``PART1_TOL``; at ``sigma = 1e6`` it is not.
    """
    prior = task.prior
    spread = (
        max(abs(prior.low), abs(prior.high))
        if isinstance(prior, Uniform)
        else abs(prior.mean) + prior.std * gaussian_max_bound(n_trials * task.dim, CHECK_CHANCE)
    )
    z = gaussian_max_bound(float(n_trials) * n_steps * task.dim, CHECK_CHANCE)
    bound = math.sqrt(task.dim) * (spread + task.sigma * z)
    rounding = ROUNDTRIP_REL * task.condition_number * math.sqrt(task.n_tasks) * bound
    return max(PART1_TOL, rounding)


# --------------------------------------------------------------------------- part 2


def linearization_stats(
    task: Task, n_trials: int, n_steps: int, seed: Any, progress: bool | None = None
) -> Part2:
    """Part 2: per ``t``, R^2 of the closed-form and the best affine decoder of the logits.

    Both are scored against the exact ``mu(t)`` over the same trials (seed as
    part 1). The best affine decoder is the in-sample least-squares fit of
    ``mu`` on ``[z, 1]``, from streamed centred co-moments; R^2 is
    ``1 - SS_res/SS_tot`` per coordinate, averaged over coordinates.

    Parameters
    ----------
    task : Task
        Identifiable.
    n_trials, n_steps : int
        ``n`` and ``T``.
    seed : int
        The seed of :func:`trilat.simulate`.
    progress : bool, optional
        A progress bar on stderr; default: when stderr is a terminal.

    Returns
    -------
    Part2
        Lists of length ``T``.

    Examples
    --------
    >>> import trilat
    >>> from trilat.verify import linearization_stats
    >>> part2 = linearization_stats(trilat.Task.evenly_spaced(6), 200, 5, seed=0, progress=False)
    >>> part2.t, [round(r2, 2) for r2 in part2.r2_closed_form]
    ([1.0, 2.0, 3.0, 4.0, 5.0], [0.95, 0.85, 0.75, 0.63, 0.49])
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
    ``O(sqrt(D / ((D + 2) N)))``. Checked over ``RANDOM_SEEDS`` tasks by
    Bernstein's inequality (:func:`gram_interval`), which holds at every size.

    Parameters
    ----------
    config : VerifyConfig
        Its ``dim`` and ``seed`` (for the random tasks).
    task : Task
        The verified task of this ``N``.

    Returns
    -------
    Part3Row

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, part3_row
    >>> config = VerifyConfig(n_tasks=(6,))
    >>> row = part3_row(config, config.task(6))
    >>> row.task_passed, row.random_passed, round(row.gram_expected, 4)  # D / ((D + 2) N)
    (True, True, 0.0833)
    """
    n, d = task.n_tasks, task.dim
    task_cos = max_abs_cos(task.C)
    task_tol = task_ok = None
    if config.dim == 2 and n >= 2:  # the evenly spaced set: orthogonal up to rounding
        task_tol = 2 * (n + 3) * EPS
        task_ok = task_cos <= task_tol
    seeds = np.random.SeedSequence([config.seed, 3, n]).spawn(RANDOM_SEEDS)
    # the rows of Task.random(d, n, rng=seq), without building (factorising) 400 Tasks
    Cs = np.stack([random_unit_rows(d, n, seq) for seq in seeds])  # (RANDOM_SEEDS, n, d)
    cos_max = np.max(np.abs(column_cosines(Cs)), axis=-1)
    j, k = np.triu_indices(d, 1)
    gram = np.swapaxes(Cs, -1, -2) @ Cs
    gram_ms = np.mean((d * gram[:, j, k] / n) ** 2, axis=-1)
    expected = float(orthogonality_scale(d, n)) ** 2  # D / ((D + 2) N)
    low, high = gram_interval(d, n, RANDOM_SEEDS)
    mean = float(np.mean(gram_ms))
    return Part3Row(
        n_tasks=n,
        task_max_cos=task_cos,
        task_tolerance=task_tol,
        task_passed=task_ok,
        random_max_cos=float(np.mean(cos_max)),
        random_max_cos_se=float(np.std(cos_max, ddof=1) / math.sqrt(RANDOM_SEEDS)),
        gram_ms=mean,
        gram_ms_se=float(np.std(gram_ms, ddof=1) / math.sqrt(RANDOM_SEEDS)),
        gram_expected=expected,
        gram_low=low,
        gram_high=high,
        random_passed=low <= mean <= high,
    )


def gram_moments(dim: int, n_tasks: int) -> tuple[float, float]:
    """``E[q]`` and ``Var`` of one pair's ``(D G_jk / N)^2`` (an upper bound on ``Var q``); see :func:`gram_interval`."""
    d, n = dim, n_tasks
    mean = d / ((d + 2.0) * n)
    w2 = 1.0 / (d * (d + 2.0))
    w4 = 9.0 / (d * (d + 2.0) * (d + 4.0) * (d + 6.0))
    return mean, max(0.0, (d / n) ** 4 * (n * w4 + 3.0 * n * (n - 1.0) * w2**2) - mean**2)


def gram_interval(dim: int, n_tasks: int, n_draws: int) -> tuple[float, float]:
    """``[low, high]`` holding the mean of ``n_draws`` values of ``q`` except with chance ``CHECK_CHANCE``.

    ``q = mean_{j<k} (D G_jk / N)^2`` lies in ``[0, D^2/4]`` (``|G_jk| <= N/2``).
    Its variance is at most that of one pair (a mean of equally distributed
    terms), ``(D/N)^4 E[G^4] - E[q]^2`` with ``G = sum_i w_i``, ``w = c_j c_k``:
    ``E[G^4] = N E[w^4] + 3 N (N - 1) E[w^2]^2``, ``E[w^2] = 1/(D(D+2))``,
    ``E[w^4] = 9/(D(D+2)(D+4)(D+6))`` (moments of the uniform sphere). Bernstein
    on each side (chance ``CHECK_CHANCE / 2``): above with ``q - E q <= D^2/4``,
    below with ``E q - q <= E q`` (``q >= 0``); plus the rounding of ``G``, a
    relative ``2 (N + 2) u`` on each ``q``.
    """
    d, n, m = dim, n_tasks, n_draws
    mean, variance = gram_moments(d, n)
    above = bernstein_deviation(m, variance, d * d / 4.0, CHECK_CHANCE / 2) / m
    below = bernstein_deviation(m, variance, mean, CHECK_CHANCE / 2) / m
    rounding = 2.0 * (n + 2) * UNIT_ROUNDOFF * d * d / 4.0
    return mean - below - rounding, mean + above + rounding


# --------------------------------------------------------------------------- ceiling


def ceiling_interval(task: Task, n_trials: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The interval ``[low, high]`` the Monte Carlo ``R^2(mu(t), x*)`` lies in, per ``t``,
    except with probability at most ``n_steps * CHECK_CHANCE`` in all (``CHECK_CHANCE`` per ``t``).

    Exact at every ``n >= 2`` (no delta method). With ``r = s(t)^2 / Var(x*)``,
    ``R^2 = 1 - r Q``, ``Q = (1/D) sum_d A_d / (n B_d)``, where for the flat-prior
    running mean ``mu(t) - x* ~ N(0, s(t)^2)`` independently of ``x*``:
    ``sum_d A_d = sum_{i,d} (mu - x*)^2 / s^2 ~ chi^2_{nD}`` exactly (both tails
    ``CHECK_CHANCE / 4``), and ``B_d = sum_i (x*_i - mean)^2 / (n Var x*)`` is
    bounded by :func:`~trilat._tail_bounds.uniform_sum_of_squares_interval`
    (``T CHECK_CHANCE / (6 D)`` per tail and coordinate, shared by all ``t``). So
    ``Q in [a_lo / (n D b_hi), a_hi / (n D b_lo)]``.

    Rounding: the computed ``mu - x*`` is off by at most ``2 (t + 2) u M`` per entry,
    ``M = max|prior bound| + sigma z`` with ``z`` bounding every ``|noise|`` (budget
    ``T CHECK_CHANCE / 6``), which moves ``sqrt(sum A) s`` by at most ``sqrt(nD)`` times
    that; the sums carry a relative ``4 (n + 10) u``, and ``1 - r Q`` an absolute ``2 u``.
    ``r`` is ``1 - eq. 7`` from :func:`trilat.decodability_ceiling` (the formula
    checked), within ``4 u`` of the exact value.
    """
    prior = task.prior
    if not isinstance(prior, Uniform):
        raise ValueError(f"the ceiling check is derived for a uniform prior, got {prior!r}")
    n, d, p = n_trials, task.dim, CHECK_CHANCE
    t = np.arange(1.0, n_steps + 1.0)
    s = posterior_std(task, t)
    # r from the oracle's eq. 7, which is what is checked; eq. 7 is within 2u of exact
    r = 1.0 - decodability_ceiling(task, t)
    a_lo, a_hi = chi2_interval(n * d, p / 4, p / 4)
    b_lo, b_hi = uniform_sum_of_squares_interval(n, n_steps * p / (6 * d), n_steps * p / (6 * d))
    z = gaussian_max_bound(float(n) * n_steps * d, n_steps * p / 6)
    bound = max(abs(prior.low), abs(prior.high)) + task.sigma * z
    shift = math.sqrt(n * d) * 2.0 * (t + 2.0) * UNIT_ROUNDOFF * bound / s
    rel = 4.0 * (n + 10) * UNIT_ROUNDOFF
    q_lo = np.maximum(0.0, math.sqrt(a_lo) - shift) ** 2 / (n * d * b_hi) * (1.0 - rel)
    with np.errstate(divide="ignore"):  # b_lo = 0: R^2 has no lower bound
        q_hi = (math.sqrt(a_hi) + shift) ** 2 / (n * d * b_lo) * (1.0 + rel)
    low = 1.0 - (r + 4.0 * UNIT_ROUNDOFF) * q_hi - 2.0 * UNIT_ROUNDOFF
    high = 1.0 - np.maximum(0.0, r - 4.0 * UNIT_ROUNDOFF) * q_lo + 2.0 * UNIT_ROUNDOFF
    return low, high


def ceiling_check(task: Task, stats: Any, n_trials: int) -> Ceiling:
    """``R^2(mu(t), x*)`` against eq. 7, ``1 - s(t)^2 / Var(x*)``: within :func:`ceiling_interval`."""
    t = np.asarray(stats.t, dtype=float)
    eq7 = decodability_ceiling(task, t)
    low, high = ceiling_interval(task, n_trials, t.size)
    r2 = np.asarray(stats.r2_mu_xstar, dtype=float)
    return Ceiling(
        t=t.tolist(),
        r2=r2.tolist(),
        eq7=eq7.tolist(),
        low=low.tolist(),
        high=high.tolist(),
        passed=((low <= r2) & (r2 <= high)).tolist(),
        n_tasks_used=task.n_tasks,
    )


# --------------------------------------------------------------------------- prior gap


def gap_times(n_steps: int) -> list[int]:
    """The ``t`` at which the prior gap is computed: ``GAP_T`` within ``1..n_steps``, and ``n_steps``."""
    return sorted({t for t in GAP_T if t <= n_steps} | {n_steps})


def prior_gap(task: Task, n_trials: int, n_steps: int, seed: Any) -> PriorGap:
    """The flat-versus-exact gap at the ``t`` of :func:`gap_times` on ``n_trials`` trials.

    See :class:`PriorGap`. The trials are the first ``n_trials`` of ``seed``
    (the same draws as the other parts). The mean KL is reported with its
    standard error over trials (the KL is a per-trial average over outputs,
    so the trials are independent); the round trip is checked where ``mu(t)``
    lies in the box and the box is 1 to ``ROUND_TRIP_MAX_WIDTH`` posterior
    stds wide (wider posteriors make the outputs nearly constant in ``mu``,
    and the round trip's error is then the logits' rounding over that small
    slope, not a fault; much narrower ones give logits of ``~1e15``, whose
    rounding the Gauss-Newton solve cannot beat: neither is a fault of the
    oracle, and neither occurs at the defaults).
    """
    if not isinstance(task.prior, Uniform):
        raise ValueError(f"the prior gap needs a Uniform prior, got {task.prior!r}")
    trials = simulate(task, n_trials, n_steps, rng=seed)
    post = posterior(task, trials.evidence)
    ts = gap_times(n_steps)
    sel = np.asarray(ts) - 1
    mean, std = post.mean[:, sel], post.std[sel]
    box = task.prior
    kl = np.mean(oracle_gap(task, mean, std=std, prior=box), axis=-1)  # (n, len(ts))

    def r2(est: np.ndarray) -> np.ndarray:  # (n, len(ts), D) -> (len(ts),), mean over D
        return np.array([np.mean(r2_columns(trials.x_star, est[:, j])) for j in range(len(ts))])

    box_mean = posterior_mean(task, mean, std=std, prior=box)
    m = min(ROUND_TRIP_TRIALS, n_trials)
    mu = mean[:m]
    width = box.high - box.low
    inside = np.all((mu >= box.low) & (mu <= box.high), axis=-1) & (
        (std <= width) & (std >= width / ROUND_TRIP_MAX_WIDTH)
    )
    worst = 0.0
    if task.identifiable and np.any(inside):
        mu_in, s_in = mu[inside], np.broadcast_to(std, inside.shape)[inside]
        z = predict_logits(task, mu_in, std=s_in, prior=box)
        mu_hat = estimate_from_logits(task, z, std=s_in, prior=box)
        worst = float(np.max(np.abs(mu_hat - mu_in)))
    se = (
        np.std(kl, axis=0, ddof=1) / np.sqrt(n_trials)
        if n_trials > 1
        else np.full(len(ts), np.nan)
    )
    return PriorGap(
        n_tasks=task.n_tasks,
        n_trials=n_trials,
        t=[float(t) for t in ts],
        kl_nats=np.mean(kl, axis=0).tolist(),
        kl_se=se.tolist(),
        r2_flat=r2(mean).tolist(),
        r2_box=r2(box_mean).tolist(),
        r2_eq7=decodability_ceiling(task, np.asarray(ts, dtype=float)).tolist(),
        r2_bayes=bayes_decodability(task, np.asarray(ts, dtype=float)).tolist(),
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

    Examples
    --------
    >>> from trilat.verify import VerifyConfig, run_verify
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> report.passed, [row.n_tasks for row in report.part1]
    (True, [1, 6])
    """
    # numba is imported here, not at module level, so that `trilat --help` stays light;
    # the kernels give the same numbers as trilat.kernels._montecarlo's numpy reference
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
    if (
        part2_n is not None
        and isinstance(tasks[part2_n].prior, Uniform)
        and tasks[part2_n].dim <= GAP_MAX_DIM
        and tasks[part2_n].n_tasks <= GAP_MAX_TASKS
    ):
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
                f"expected {row.gram_expected:.4g}, accepted [{row.gram_low:.4g}, {row.gram_high:.4g}]"
            )
    for t, r2, eq7, lo, hi, ok in zip(
        ceiling.t, ceiling.r2, ceiling.eq7, ceiling.low, ceiling.high, ceiling.passed, strict=True
    ):
        if not ok:
            failures.append(
                f"ceiling, t = {t:g}: R^2 = {r2:.4f}, eq. 7 = {eq7:.4f}, "
                f"accepted [{lo:.4g}, {hi:.4g}]"
            )
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
