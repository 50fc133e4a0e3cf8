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
    return (
        f"Task: D = {task.dim}, N = {task.n_tasks} boundaries, sigma = {task.sigma:g}, "
        f"prior {kind}({params}), Var(x*) = {prior.variance:.4g}; oracle: {posterior}."
    )


def _step_table(c: Any) -> list[str]:
    header = ["t", "s(t)", "mean abs(Yhat - Yhat*)", "excess CE (nats)", "RMSE(mu_hat - mu)",
              "r²(mu_hat, x*)", "eq. 7: r² of mu", "oracle r²", "R²(decode mu)",
              "R²(decode x*)"]  # fmt: skip
    rows = []
    for i, t in enumerate(c.t):
        row = [
            f"{int(t)}",
            number(c.posterior_std[i]),
            number(c.output_abs_error[i]),
            number(c.excess_cross_entropy[i]),
            number(c.estimate_rmse[i]),
            number(c.estimate_r2[i]),
            number(c.ceiling[i]),
            number(c.optimal_r2[i]),
            number(c.latent_r2_mu[i]),
            number(c.latent_r2_xstar[i]),
        ]
        rows.append(row)
    return table(header, rows, markdown=True)


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


def _code_table(c: Any) -> list[str]:
    ceiling = float(c.ceiling[c.latent_step - 1])

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
            "factor angles, median (degrees)",
            "factor_angles",
            lambda a: f"{float(a['median']):.1f}",
            null_text,
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
    return table(header, cells, left=(0, 3), markdown=True)


def markdown(c: Any) -> str:
    """Header, per-step table, latent-code table and the notes a reader needs to read them."""
    lines = [
        f"## trilat compare: {c.network}",
        "",
        _task_line(c),
        f"{c.n_trials} trials x {c.n_steps} steps, seed {c.seed}; inputs: {c.mixing}; "
        f"outputs given as {c.output_kind}; latent dimension H = {c.latent_dim}.",
        "",
        "### Outputs and the implied estimate, per step",
        "",
        *_step_table(c),
        "",
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
    lines += [
        f"### Latent code at t = {c.latent_step}",
        "",
        *_code_table(c),
        "",
        "Yhat* and mu are the Bayes-optimal outputs and posterior mean; mu_hat = "
        "C⁺(s(t) Φ⁻¹(Yhat) + b) is what the network's own outputs imply by trilateration; "
        "r² = 1 - MSE / Var(x*); eq. 7, 1 - s(t)² / Var(x*), is the r² of mu(t) itself, "
        "the paper's ceiling of decodability: the ceiling for mu(t) and codes affine in it, "
        "which a decoder fitted in distribution (R²(decode x*)) can exceed at small t by "
        "shrinking towards the prior; "
        "excess CE is mean KL(Bern(Yhat*) || Bern(Yhat)) per output.",
    ]
    return "\n".join(lines) + "\n"
