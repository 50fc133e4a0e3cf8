"""The markdown report of a :class:`trilat.compare.Comparison`.

Each function takes the ``Comparison`` as ``c`` (annotated ``Any``): the result
class calls :func:`markdown` from its ``to_markdown``, so this module does not
import it back (no circle, not even for type checking).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trilat._text import number, table


def _task_line(c: Any) -> str:
    task = c.task
    prior = task.prior
    kind = type(prior).__name__
    params = ", ".join(f"{v:g}" for v in prior.__dict__.values())
    posterior = "conjugate Gaussian posterior" if kind == "Gaussian" else "flat-prior posterior"
    if getattr(c, "box_prior", None) is not None and c.box_trials:
        low, high = c.box_prior
        posterior += (
            f" (the theorem's), and beside it the exact box-prior oracle (uniform on "
            f"[{low:g}, {high:g}]^D, first {c.box_trials} trials)"
        )
    return (
        f"Task: D = {task.dim}, N = {task.n_tasks} boundaries, sigma = {task.sigma:g}, "
        f"prior {kind}({params}), Var(x*) = {prior.variance:.4g}; oracle: {posterior}."
    )


def _plain(c: Any) -> bool:
    return (
        len(c.steps) == c.n_steps
        and bool(np.all(c.scored))
        and c.protocol.get("fixation_channel") in (False, None)
    )


def _step_table(c: Any) -> list[str]:
    """One row per scored step (per step with evidence for a network without outputs)."""
    plain = _plain(c)
    has_outputs = bool(np.any(c.scored))
    first = ["t"] if plain else ["step", "t"]
    box = getattr(c, "box_prior", None) is not None and has_outputs
    outputs = ["mean abs(Yhat - Yhat*)", "excess CE (nats)"]
    if box:
        outputs += [
            f"excess CE, first {c.box_trials} trials: flat / box oracle",
            "box vs flat oracle KL",
        ]
    outputs += ["RMSE(mu_hat - mu)", "r²(mu_hat, x*)"]
    rest = ["eq. 7: r² of mu", "oracle r²", "R²(decode mu)", "R²(decode x*)"]
    header = [*first, "s(t)", *(outputs if has_outputs else []), *rest]
    cells = []
    rows = np.flatnonzero(c.scored) if has_outputs else np.flatnonzero(np.asarray(c.t) >= 1)
    not_identifiable = "not identifiable"
    for i in rows:
        est = (
            [number(c.estimate_rmse[i]), number(c.estimate_r2[i])]
            if c.identifiable
            else [not_identifiable] * 2
        )
        row = [f"{int(c.steps[i])}"] if plain else [f"{int(c.steps[i])}", f"{int(c.t[i])}"]
        row.append(number(c.posterior_std[i]))
        if has_outputs:
            row += [number(c.output_abs_error[i]), number(c.excess_cross_entropy[i])]
            if box:
                pair = (c.excess_cross_entropy_box_trials[i], c.excess_cross_entropy_box[i])
                row += [" / ".join(number(v) for v in pair), number(c.oracle_gap[i])]
            row += est
        row += [
            number(c.ceiling[i]),
            number(c.optimal_r2[i]),
            number(c.latent_r2_mu[i]),
            number(c.latent_r2_xstar[i]),
        ]
        cells.append(row)
    return table(header, cells, markdown=True)


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 3, 7]`` -> ``"0..3, 7"``."""
    parts, start = [], None
    for k, x in enumerate(numbers):
        if start is None:
            start = x
        if k + 1 == len(numbers) or numbers[k + 1] != x + 1:
            parts.append(str(start) if start == x else f"{start}..{x}")
            start = None
    return ", ".join(parts)


def _unscored_note(c: Any) -> list[str]:
    if not np.any(c.scored):
        return [
            "No outputs: the network gave latents only, so the table holds the latent code "
            "alone against the oracle's mu(t) on the same trials.",
            "",
        ]
    unscored = [int(s) for s, k in zip(c.steps, c.scored, strict=True) if not k]
    if not unscored:
        return []
    why = (
        "targets of 1/2 there, the label only in the decision period: outputs there answer "
        "no question of the oracle's"
        if c.protocol.get("scored") == "decision"
        else "no evidence has been seen there"
    )
    return [
        f"Steps not scored against the oracle: {_ranges(unscored)} ({why}); their latent "
        f"decodability is in the JSON (latent_r2_mu, latent_r2_xstar).",
        "",
    ]


def _units_section(c: Any) -> list[str]:
    units = c.units or {}
    if not units.get("warning"):
        return []
    return [
        f"### Warning: output units against task rows (step {units['step']})",
        "",
        f"**{units['warning']}.** The excess cross-entropy and the implied estimate below "
        f"compare each unit with the task row of its index.",
        "",
    ]


def _per_factor(values: Any) -> str:
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.size == 1:
        return number(values[0])
    return f"{number(values.mean())} ({', '.join(number(v, digits=3) for v in values)})"


def _metric(code: dict[str, Any], name: str, show: Any) -> str:
    entry = code.get(name)
    if entry is None:
        return "n/a"
    if isinstance(entry, dict) and "error" in entry:
        return f"n/a: {entry['error']}"
    return show(entry)


# Where each metric's result keeps the relative ridge penalties its decoders used.
_PENALTY_FIELDS = (
    ("decodability", "fold_alphas"),
    ("generalization", "fold_alphas"),
    ("ccgp", "alphas"),
    ("parallelism", "alphas"),
)


def _penalties(code: dict[str, Any]) -> str:
    """Median [min, max] of every relative ridge penalty the latent-code decoders used."""
    values = [
        np.ravel(np.asarray(code[name][key], dtype=float))
        for name, key in _PENALTY_FIELDS
        if isinstance(code.get(name), dict) and key in code[name]
    ]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values)]
    if not values.size:
        return "n/a"
    low, mid, high = np.min(values), np.median(values), np.max(values)
    return f"{mid:.2g} [{low:.2g}, {high:.2g}]"


def _penalty_note(c: Any) -> str:
    if c.alpha is None:
        return "chosen by leave-one-out CV in each training set"
    return f"fixed: alpha = {c.alpha:g}"


def _code_table(c: Any) -> list[str]:
    ceiling = float(c.ceiling[c.index(c.latent_step)])

    def generalization(g: dict[str, Any]) -> str:
        low, high = g["quartiles"]
        return f"{number(g['median'])} [{number(low)}, {number(high)}]"

    null = c.code.get("factor_angles", {}).get("null_quantiles")
    null_text = (
        f"random directions in R^{c.latent_dim}: {float(null[0]):.0f} to {float(null[2]):.0f} "
        f"(95%)"
        if null is not None and not np.isnan(float(null[0]))
        else ""
    )
    rows = [
        ("decodability of mu(t), CV R²", "decodability", lambda d: number(d["score"]), ""),
        (
            f"{'quadrant' if c.task.dim == 2 else 'orthant'} generalisation of x*, r² median [IQR]",
            "generalization",
            generalization,
            f"eq. 7 (r² of mu(t)) {number(ceiling)}",
        ),
        (
            "CCGP, balanced accuracy (per factor)",
            "ccgp",
            lambda d: _per_factor(d["scores"]),
            "chance 0.5",
        ),
        (
            "parallelism, decoder cosine (per factor)",
            "parallelism",
            lambda d: _per_factor(d["cosine"]),
            "",
        ),
        ("parallelism score (per factor)", "parallelism", lambda d: _per_factor(d["score"]), ""),
        (
            "factor angles, decoder fitted on all trials, median (degrees)",
            "factor_angles",
            lambda a: f"{float(a['median']):.1f}",
            null_text,
        ),
        (
            "factor angles, median over the held-out-quadrant decoders (the paper's; degrees)",
            "factor_angles_folds",
            lambda a: f"{float(a['median']):.1f}",
            "",
        ),
        (
            "participation ratio",
            "participation_ratio",
            lambda v: number(v, digits=2),
            f"D = {c.task.dim}",
        ),
    ]
    header = ["metric", "network", "optimal code k(t), same trials", "note"]
    cells = [
        [label, _metric(c.code, key, show), _metric(c.reference_code, key, show), note]
        for label, key, show, note in rows
    ]
    cells.append(
        [
            "ridge penalty alpha (relative), median [range]",
            _penalties(c.code),
            _penalties(c.reference_code),
            _penalty_note(c),
        ]
    )
    return table(header, cells, left=(0, 3), markdown=True)


def markdown(c: Any) -> str:
    """Header, per-step table, latent-code table and the notes a reader needs to read them."""
    plain = _plain(c)
    trial = "" if plain else f"Trial: {_describe_protocol(c)}."
    identifiable = (
        []
        if c.identifiable
        else [
            f"Implied estimate: not identifiable (rank C = {c.task.rank} < D = {c.task.dim}, "
            f"N = {c.task.n_tasks}): the outputs do not determine mu(t); everything else is "
            f"measured.",
            "",
        ]
    )
    lines = [
        f"## trilat compare: {c.network}",
        "",
        _task_line(c),
        f"{c.n_trials} trials x {c.n_steps} steps of evidence, seed {c.seed}; inputs: "
        f"{c.mixing}; outputs given as {c.output_kind}; latent dimension H = {c.latent_dim}.",
        *([trial] if trial else []),
        "",
        *_units_section(c),
        "### Outputs and the implied estimate, per scored step"
        if np.any(c.scored)
        else "### The latent code, per step",
        "",
        *_step_table(c),
        "",
        *_unscored_note(c),
        *identifiable,
    ]
    total = int(np.sum(c.saturated))
    if total:
        worst = int(np.argmax(c.saturated))
        lines += [
            f"**{total} saturated outputs** (probabilities exactly 0 or 1; most at t = "
            f"{worst + 1}: {int(c.saturated[worst])}) are left out of the excess cross-entropy "
            f"and of the implied estimate. Give logits to keep them.",
            "",
        ]
    at = (
        f"t = {c.latent_step}"
        if plain
        else f"step {c.latent_step} (t = {int(c.t[c.index(c.latent_step)])})"
    )
    lines += [
        f"### Latent code at {at}",
        "",
        *_code_table(c),
        "",
        "Yhat* and mu are the Bayes-optimal outputs and posterior mean; mu_hat = "
        "C⁺(s(t) Φ⁻¹(Yhat) + b) is what the network's own outputs imply by trilateration; "
        "r² = 1 - MSE / Var(x*); eq. 7, 1 - s(t)² / Var(x*), is the r² of mu(t) itself, "
        "the paper's ceiling of decodability: the ceiling for mu(t) and codes affine in it, "
        "which a decoder fitted in distribution (R²(decode x*)) can exceed at small t by "
        "shrinking towards the prior; "
        "excess CE is mean KL(Bern(Yhat*) || Bern(Yhat)) per output. "
        + (
            f"Yhat* is the flat prior's (the theorem's, Phi(k/s(t))); the box oracle's are the "
            f"exact Bayes-optimal outputs under the uniform prior on [{c.box_prior[0]:g}, "
            f"{c.box_prior[1]:g}]^D (truncated-normal posterior); on the first {c.box_trials} "
            f"trials the excess CE over each, and 'box vs flat oracle KL', what the flat oracle "
            f"itself loses to the box one. "
            if getattr(c, "box_prior", None) is not None and c.box_trials
            else ""
        )
        + "Every ridge penalty is relative, alpha · tr(H_cᵀH_c)/H on the centred training "
        "latents H_c (H their non-constant units), so no score depends on the scale or offset of the latent state.",
    ]
    return "\n".join(lines) + "\n"


def _describe_protocol(c: Any) -> str:
    from trilat.protocol import TrialProtocol

    return TrialProtocol.from_dict(c.protocol).describe()
