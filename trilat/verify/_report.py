"""The terminal report of ``trilat verify``: one titled, aligned table per part."""

from __future__ import annotations

import math

from trilat._text import number, table
from trilat.verify._result import CHECK_CHANCE, PART1_TOL, RANDOM_SEEDS, VerifyReport


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("pass" if ok else "FAIL")


def _header(report: VerifyReport) -> list[str]:
    c = report.config
    prior = report_prior(report)
    ns = ", ".join(str(n) for n in c.n_tasks)
    return [
        "trilat verify: Theorem 3.1 of Vafidis, Bhargava & Rangel (ICLR 2025), by Monte Carlo",
        f"  D = {c.dim}, N in {{{ns}}}, tasks: {c.task_kind}",
        f"  sigma = {c.sigma:g}, T = {c.steps} steps, {c.trials:,} trials, seed {c.seed}, "
        f"x* ~ {prior}",
        "  oracle: flat-prior posterior N(mu(t), s(t)^2 I), mu(t) the running mean, "
        "s(t) = sigma/sqrt(t)",
    ]


def report_prior(report: VerifyReport) -> str:
    return f"Uniform(-0.5, 0.5)^{report.config.dim}"


def _part1(report: VerifyReport) -> list[str]:

    rows = [
        [
            str(r.n_tasks),
            str(r.rank),
            number(r.condition_number, ".3g"),
            number(r.max_error, ".2e"),
            number(r.mean_error, ".2e"),
            "-" if r.saturated_share is None else f"{100 * r.saturated_share:.1f}%",
            verdict(r.passed),
            "" if r.identifiable and r.passed else r.note,
        ]
        for r in report.part1
    ]
    header = ["N", "rank", "cond(C)", "max |mu_hat-mu|", "mean |mu_hat-mu|", "Phi(u)=0|1",
              "check", ""]  # fmt: skip
    return [
        "Part 1: mu(t) is recovered exactly from the optimal outputs (through their logits)",
        f"  check: max over trials and t of |mu_hat - mu(t)| < {PART1_TOL:.0e} where rank C = D",
        "  (or the round trip's rounding bound 1e-13 cond(C) sqrt(N) |mu|max, when larger);",
        "  N < D must be not identifiable. 'Phi(u)=0|1': share of outputs whose probability",
        "  rounds to 0 or 1 (lost by a probability path, kept by the logits).",
        "",
        *table(header, rows, left=(-2, -1), indent="  "),
    ]


def _part2(report: VerifyReport) -> list[str]:
    p = report.part2
    title = (
        "Part 2: mu(t) is affine in the logits only near the boundaries (reported, not checked)"
    )
    if p is None:
        return [title, "  skipped: no identifiable task (N >= D) in this run"]
    rows = [
        [f"{t:g}", f"{s:.4f}", f"{a:.4f}", f"{b:.4f}", f"{c:.3f}"]
        for t, s, a, b, c in zip(
            p.t, p.s, p.r2_closed_form, p.r2_best_affine, p.share_linear, strict=True
        )
    ]
    header = ["t", "s(t)", "R^2 closed form", "R^2 best affine", "share |u| <= 2"]
    return [
        title,
        f"  N = {p.n_tasks}. R^2 against the exact mu(t) of two affine decoders of the logits z:",
        "  closed form mu ~ s(t) (sqrt(3)/pi) C^+ z + C^+ b (sigmoid, moment constant), and the",
        "  best least-squares affine map. The logit of Phi(u) grows like u^2/2 beyond |u| ~ 2, so",
        "  the closed form degrades as outputs grow confident while the best affine map holds.",
        "",
        *table(header, rows, indent="  "),
    ]


def _part3(report: VerifyReport) -> list[str]:
    title = "Part 3: the factor directions (columns of C) become orthogonal"
    if not report.part3:
        return [title, "  skipped: D = 1 has a single factor direction"]
    d = report.config.dim
    rows = []
    for r in report.part3:
        rows.append(
            [
                str(r.n_tasks),
                number(r.task_max_cos, ".1e"),
                verdict(r.task_passed),
                f"{r.random_max_cos:.3f} +- {r.random_max_cos_se:.3f}",
                f"{math.sqrt(r.gram_expected):.3f}",
                f"{r.gram_ms:.4f} +- {r.gram_ms_se:.4f}",
                f"{r.gram_expected:.4f}",
                f"[{r.gram_low:.4f}, {r.gram_high:.4f}]",
                verdict(r.random_passed),
            ]
        )
    verified = "evenly spaced" if d == 2 else "verified task"
    header = [
        "N",
        f"{verified}",
        "check",
        "random",
        "scale",
        "q (random)",
        "E[q]",
        "accepted",
        "check",
    ]
    if d == 2:
        about = [
            "  'evenly spaced': max |cos| between columns of the verified C. For N >= 2,",
            "  C^T C = (N/2) I, so max |cos| <= 2 (N + 3) eps (rounding only).",
        ]
    else:
        about = [
            "  'verified task': max |cos| of the random task of part 1 (one draw, not checked)."
        ]
    lines = [
        title,
        *about,
        f"  'random': mean over {RANDOM_SEEDS} random tasks of max |cos| (+- se); 'scale' is the",
        "  RMS cosine sqrt(D/((D+2)N)). Check: q = mean_{j<k} (D G_jk/N)^2, G = C^T C, has mean",
        "  E[q] = D/((D+2)N) exactly for unit rows uniform on the sphere; 'accepted' is",
        "  Bernstein's interval for the mean of q (0 <= q <= D^2/4, its exact variance bound).",
        "",
        *table(header, rows, indent="  "),
    ]
    return lines


def _ceiling(report: VerifyReport) -> list[str]:
    c = report.ceiling
    rows = [
        [
            f"{t:g}",
            f"{r2:.4f}",
            f"{e:.4f}",
            f"{r2 - e:+.4f}",
            f"[{lo - e:+.4g}, {hi - e:+.4g}]",
            verdict(ok),
        ]
        for t, r2, e, lo, hi, ok in zip(c.t, c.r2, c.eq7, c.low, c.high, c.passed, strict=True)
    ]
    header = ["t", "R^2 (Monte Carlo)", "eq. 7", "diff", "accepted diff", "check"]
    r = 1.0 - c.eq7[0]  # s(1)^2 / Var(x*)
    return [
        "Ceiling of decodability (the paper's eq. 7): R^2 of mu(t) against x*",
        "  eq. 7: 1 - s(t)^2 / Var(x*), Var(x*) = 1/12: the R^2 of mu(t) itself, the ceiling",
        "  for mu(t): a decoder fitted in distribution shrinks towards the prior and reaches",
        f"  Var/(Var + s(t)^2), above eq. 7 ({1 / (1 + r):.2f} against {1 - r:.2f} at t = 1).",
        "  accepted: R^2 = 1 - r Q, r = s(t)^2 / Var(x*), with Q bounded at every n by the exact",
        "  chi^2_{nD} law of the residuals and Bernstein / volume bounds on the sample variance of",
        "  uniform x*, plus the rounding of the computation (-inf: no lower bound at this n).",
        "",
        *table(header, rows, indent="  "),
    ]


def _prior_gap(report: VerifyReport) -> list[str]:
    g = report.prior_gap
    if g is None:
        return [
            "Prior gap: not run (it needs D <= 2, N <= 64 and an identifiable task with a uniform",
            "  prior; for D = 3 the exact outputs take nested quadrature, and N > 64 would take",
            "  seconds and GiB: use trilat.oracle_gap directly)",
        ]
    rows = [
        [f"{t:g}", f"{kl:.3g} +- {se:.1g}", f"{rf:.4f}", f"{rb:.4f}", f"{e7:.4f}", f"{by:.4f}"]
        for t, kl, se, rf, rb, e7, by in zip(
            g.t, g.kl_nats, g.kl_se, g.r2_flat, g.r2_box, g.r2_eq7, g.r2_bayes, strict=True
        )
    ]
    header = ["t", "KL(box || flat), nats", "R^2 mu(t)", "R^2 box mean", "eq. 7", "Bayes R^2"]
    return [
        f"Prior gap (N = {g.n_tasks}, {g.n_trials} trials from the box prior, reported): the",
        "  theorem's flat oracle against the exact one under the uniform box (truncated-normal",
        "  posterior). KL: cross-entropy per output the flat oracle loses, in expectation (mean",
        "  +- standard error over trials); R^2 against x* of each oracle's estimate (mu(t); the",
        "  truncated-normal mean) on these trials, and their population values.",
        f"  round trip mu -> box logits -> mu over {g.round_trip_checked} (trial, t) in the box: "
        f"max |error| = {g.round_trip_max_error:.2e} {verdict(g.passed)}",
        "",
        *table(header, rows),
    ]


def format_report(report: VerifyReport) -> str:
    """The whole report: header, the four parts, and the verdict with what failed."""
    n_checks = (
        len(report.part1)
        + sum(1 for r in report.part3 if r.task_passed is not None)
        + len(report.part3)
        + len(report.ceiling.t)
        + (report.prior_gap is not None)
    )
    mc_checks = len(report.part3) + len(report.ceiling.t)
    if report.passed:
        verdict_lines = [f"Result: PASS, all {n_checks} checks hold."]
    else:
        verdict_lines = [f"Result: FAIL, {len(report.failures)} of {n_checks} checks:"]
        verdict_lines += [f"  - {f}" for f in report.failures]
    verdict_lines.append(
        f"  The {mc_checks} Monte Carlo checks use finite-sample bounds that hold at every number of\n"
        f"  trials: a correct implementation fails one with probability <= {CHECK_CHANCE:.0e}, any "
        f"of them with <= {mc_checks * CHECK_CHANCE:.1e}."
    )
    verdict_lines.append(f"  wall time {report.seconds:.1f} s")
    blocks = [_header(report), _part1(report), _part2(report), _part3(report), _ceiling(report),
              _prior_gap(report)]  # fmt: skip
    return "\n\n".join("\n".join(b) for b in [*blocks, verdict_lines])
