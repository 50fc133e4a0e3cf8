"""Reproduce the poster's claims about trained networks, side by side with the theory.

Default (``--blocks protocol``): the paper's experiment as its code runs it, then
trilat's recipe on the same measurements. Block "paper": ``train.py``'s recipe
(batches of 16, Adam at a constant 1e-3; the paper trains 1e5 batches = 1.6M
trials, ``--steps-paper`` sets how many here, and the output states the
fraction) on the paper's trial (fixation step, 20 stimulus steps, decision
step, fixation channel, BCE towards 1/2 then the label), for the paper's ReLU
RNN, LSTM and one-layer GPT-2 block, N_task in {1, 2, 3, 6, 12, 24}, units
ordered as the paper's (``Task.paper_units``). Block "trilat": trilat's recipe
(batches of 64, cosine rate, loss at every step, no fixation) for the RNN.
For each network: the excess cross-entropy and implied estimate at the scored
step (the decision step; t = T for trilat's trial), the latent code with
trilat's metrics (ridge decodability of mu, quadrant generalisation with the
ridge decoder, factor angles over folds, CCGP), ``generalize.py``'s Adam-decoder
analysis both faithful to its code (its test set for held-out quadrants 2 and
4 lies in quadrants 1 and 3) and corrected (:func:`trilat.experiments.
reference_generalization`), CPU seconds of training and of the analysis; and
the Fig. 5a theory curve with t counted both ways. Writes
``OUT/protocol_{quick,full}.{jsonl,md,png}``; a rerun resumes.

``--blocks recipe``: the earlier table, trilat's recipe alone. It trains the vanilla ReLU RNN and the one-layer causal transformer of
``trilat.experiments`` on the paper's D = 2 task (evenly spaced boundaries
through the origin, sigma = 0.2, T = 20, x* ~ U[-0.5, 0.5]^2, a frozen mixing
MLP 2 -> 100 -> 100 -> 40) for N_task in {1, 2, 3, 6, 12, 24}, several seeds
each, and prints one table (per architecture and N_task, over seeds):

- excess cross-entropy over the Bayes-optimal outputs at the decision step
  ``t = T`` (``KL(Bern(Yhat_opt) || Bern(Yhat_net))``, nats per output);
- the implied estimate ``mu_hat = C^+ (s(T) Phi^-1(Yhat_net) + b)``
  recovered from the network's own outputs: ``r^2`` against ``x*`` next to
  the eq. 7 ceiling ``1 - s(T)^2 / Var(x*)`` (undefined for N < D);
- the cross-validated ridge ``R^2`` of ``mu(t)`` decoded from the latent
  state, at its worst step ``t`` (trained, and an untrained network of the
  same architecture);
- quadrant regression generalisation of ``x*`` from the latent state at
  ``t = T`` (the paper's appendix A.2 protocol): median and IQR of the
  fold scores pooled over seeds, beside the same for an untrained network
  and for the optimal network's logits;
- the median angle between the factor directions of the decoder, with the
  95% range of angles between random directions;
- for the RNN, under the fixation input ``f(0)``: the attractor dimension
  from :func:`trilat.experiments.fixed_points` (eigenvalues with timescale
  ``-1/ln|lambda| >= T/2``), the moduli of the three eigenvalues nearest 1,
  and the fraction of the slow points' variance on two principal axes
  (:func:`trilat.experiments.slow_points`).

Writes the figure of generalisation and angle against N_task, the sweep
results (JSON lines; a rerun resumes) and the table as markdown to ``--out``.

Run from the repository root::

    python benchmarks/paper_claims.py --quick    # both protocol blocks, 1% of the paper's trials
    python benchmarks/paper_claims.py            # the full sweep (the paper's 1.6M trials)
    python benchmarks/paper_claims.py --blocks recipe --quick   # the earlier table

It prints its own runtime.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import trilat
from trilat import metrics
from trilat.sweep import sweep

TASKS = (1, 2, 3, 6, 12, 24)
ARCHS = ("rnn", "transformer")
N_STEPS = 20

# Training budgets. The paper trains for 1e5 batches of 16 (1.6M trials) at a
# constant rate of 1e-3. On two CPU cores that is hours per network, so the
# benchmark trains on batches of 64 with a cosine rate from 2e-3 (--lr,
# --schedule), which gets further per trial: the quick RNN sees 256k trials
# (16% of the paper's), the full one 768k (48%); the transformer, which learns
# faster, 51k and 128k. Every verdict is about networks trained this long.
SETTINGS = {
    "quick": {
        "seeds": 2,
        "steps": {"rnn": 4000, "transformer": 800},
        "batch_size": 64,
        "eval_trials": 2000,
    },
    "full": {
        "seeds": 3,
        "steps": {"rnn": 12000, "transformer": 2000},
        "batch_size": 64,
        "eval_trials": 4000,
    },
}


def _run_sweep(
    fn: Any, grid: list[dict], seeds: int, workers: int, out: Path
) -> tuple[Any, list[dict]]:
    """``sweep(fn, grid)`` on ``workers`` spawned processes (serially for one), resumed from
    and stored to ``out``; the result and its failed records."""
    context = multiprocessing.get_context("spawn")  # no fork after torch's threads start
    executor = cf.ProcessPoolExecutor(workers, mp_context=context) if workers > 1 else None
    try:
        result = sweep(
            fn, grid, seeds=seeds, executor=executor, out=out, progress=None, retry_errors=True
        )
    finally:
        if executor is not None:
            executor.shutdown()
    return result, [r for r in result.records if r.get("error_type")]


def run_unit(config: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Train one network and measure it (one unit of the sweep)."""
    from trilat.experiments import train

    task = trilat.Task.evenly_spaced(config["n_tasks"])
    train_seed, eval_seed, fp_seed = (int(s) for s in rng.integers(0, 2**63 - 1, size=3))
    start = time.perf_counter()
    net = train(
        config["arch"],
        task,
        steps=config["steps"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        schedule=config["schedule"],
        loss=config["loss"],
        n_steps=N_STEPS,
        rng=train_seed,
        progress=False,
        patience=config["patience"] or None,  # 0: no early stopping
    )
    values: dict[str, Any] = {
        "train_seconds": time.perf_counter() - start,
        "steps_done": net.history.step[-1],
        "best_step": net.history.best_step,
        "val_excess": net.history.excess,
    }
    if config["save"]:
        # an id that survives the results table's float64: 52 bits of the seed
        values["net_id"] = net_id = train_seed % 2**52
        net.save(Path(config["save"]) / f"{config['arch']}_N{config['n_tasks']}_{net_id:013x}.pt")
    values.update(_measure(net, task, config["eval_trials"], eval_seed))
    values["gen_init"], values["angle_init"], values["decode_mu_min_init"] = _untrained_code(
        config["arch"], net, task, config["eval_trials"], eval_seed
    )
    if config["arch"] != "transformer":
        values.update(_attractor(net, fp_seed))
    return values


def _attractor(net: Any, seed: int) -> dict[str, Any]:
    """Fixed and slow points under the fixation input (``[f(0), 1]`` on the paper's trial).

    The exact fixed points' count, attractor dimension (the median count of
    eigenvalues with ``|lambda - 1| < 1 - e^(-2/T)``, -1 when none was found)
    and the median ``|lambda|`` of the three eigenvalues nearest 1; the slow
    points' count, dimension and fraction of variance on two principal axes; and the
    spread across trials and drift of the end-of-evidence states after T steps of
    the fixation input (:func:`trilat.experiments.hold`; 1 and 0 for an attractor).
    """
    from trilat.experiments import fixed_points, hold, slow_points

    values: dict[str, Any] = {}
    fp = fixed_points(net, rng=seed, progress=False)
    values["fp_found"] = fp.n_fixed
    values["attractor_dim"] = fp.dimension if fp.n_fixed else -1
    lead = np.median(np.abs(fp.eigenvalues[:, :3]), axis=0) if fp.n_fixed else [np.nan] * 3
    for k in range(3):
        values[f"fp_lambda{k + 1}"] = float(lead[k])
    sp = slow_points(net, rng=seed, progress=False)
    values["slow_found"] = sp.n_fixed
    values["slow_dim"] = sp.dimension if sp.n_fixed else -1
    values["slow_spread2"] = float(sp.spread[:2].sum()) if sp.spread.size else float("nan")
    held = hold(net, rng=seed)
    values["hold_spread"] = float(held.spread[-1])
    values["hold_drift"] = float(held.drift[-1])
    return values


def _measure(net: Any, task: trilat.Task, n_trials: int, seed: int) -> dict[str, Any]:
    """Output optimality at t = T, the implied estimate, and the latent code at t = T."""
    from trilat.compare import bernoulli_kl, compare

    values: dict[str, Any] = {}
    if task.identifiable:
        c = compare(net, task, n_trials=n_trials, n_steps=N_STEPS, rng=seed, progress=False)
        values["excess_ce"] = float(c.excess_cross_entropy[-1])
        values["implied_r2"] = float(c.estimate_r2[-1])
        values["ceiling"] = float(c.ceiling[-1])
    trials = trilat.simulate(task, n_trials, N_STEPS, rng=seed)
    out = net(net.mixing(trials.evidence))
    post = trilat.posterior(task, trials.evidence)
    # "the latent state encodes mu(t) linearly": cross-validated ridge R^2 of mu(t), each t
    decode = [
        metrics.decodability(out.latents[:, t], post.mean[:, t], rng=seed).score
        for t in range(N_STEPS)
    ]
    values["decode_mu_min"] = float(min(decode))
    values["decode_mu_T"] = float(decode[-1])
    if not task.identifiable:  # compare needs rank C = D; the outputs are still comparable
        z_opt = trilat.predict_logits(task, post.mean[:, -1], std=post.std[-1])
        values["excess_ce"] = float(np.mean(bernoulli_kl(z_opt, out.logits[:, -1])))
        values["implied_r2"] = float("nan")
        values["ceiling"] = float(1 - post.std[-1] ** 2 / task.prior.variance)
    gen = metrics.regression_generalization(
        out.latents[:, -1], trials.x_star, "quadrant", prior_variance=task.prior.variance
    )
    for k, score in enumerate(gen.scores):
        values[f"gen_fold{k}"] = float(score)
    values["gen_median"] = gen.median
    angles = metrics.factor_angles(gen.weight, rng=seed)
    values["angle_median"] = angles.median
    values["angle_null_lo"], _, values["angle_null_hi"] = (float(q) for q in angles.null_quantiles)
    return values


def _untrained_code(
    arch: str, net: Any, task: trilat.Task, n_trials: int, seed: int
) -> tuple[float, float, float]:
    """Generalisation, factor angle and worst-step decodability of mu(t) of a fresh network.

    Random features of ``x*`` in an untrained network already generalise to
    some degree, at angles near 90 degrees; this baseline says how much of a
    trained network's scores training added.
    """
    import torch

    from trilat.adapters import from_torch
    from trilat.experiments import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed % 2**63)
        module = build(arch, net.obs_dim, task.n_tasks)
    trials = trilat.simulate(task, n_trials, N_STEPS, rng=seed)
    latents = from_torch(module, latent="latent")(net.mixing(trials.evidence)).latents
    gen = metrics.regression_generalization(
        latents[:, -1], trials.x_star, "quadrant", prior_variance=task.prior.variance
    )
    post = trilat.posterior(task, trials.evidence)
    decode = min(
        metrics.decodability(latents[:, t], post.mean[:, t], rng=seed).score
        for t in range(N_STEPS)
    )
    return gen.median, metrics.factor_angles(gen.weight, n_null=0).median, float(decode)


def _reference(n_trials: int) -> dict[int, float]:
    """Quadrant generalisation of the Bayes-optimal network's logits used as its latent state.

    What a network whose hidden state held nothing but its optimal output
    logits would score: below the eq. 7 ceiling because the logit of
    ``Phi(u)`` grows like ``u^2 / 2`` away from the boundaries.
    """
    from trilat.adapters import OptimalNetwork

    ref = {}
    for n in TASKS:
        task = trilat.Task.evenly_spaced(n)
        trials = trilat.simulate(task, n_trials, N_STEPS, rng=12345)
        z = OptimalNetwork(task, "logits")(trials.evidence).latents[:, -1]
        ref[n] = metrics.regression_generalization(z, trials.x_star, "quadrant").median
    return ref


def _summarise(result: Any, archs: tuple[str, ...], tasks: tuple[int, ...]) -> list[dict]:
    rows = []
    for arch in archs:
        for n in tasks:
            recs = [
                r
                for r in result.records
                if r["arch"] == arch and r["n_tasks"] == n and not r.get("error_type")
            ]
            if not recs:
                continue
            folds = np.concatenate(
                [[r[k] for k in r if k.startswith("gen_fold")] for r in recs]
            ).astype(float)
            q25, q50, q75 = np.percentile(folds, [25, 50, 75])
            row = {
                "arch": arch,
                "n_tasks": n,
                "seeds": len(recs),
                "steps": float(np.mean([r["steps_done"] for r in recs])),
                "excess_ce": float(np.mean([r["excess_ce"] for r in recs])),
                "implied_r2": float(np.mean([r["implied_r2"] for r in recs])),
                "decode_mu_min": float(np.mean([r["decode_mu_min"] for r in recs])),
                "decode_mu_min_init": float(np.mean([r["decode_mu_min_init"] for r in recs])),
                "ceiling": recs[0]["ceiling"],
                "gen_median": float(q50),
                "gen_iqr": (float(q25), float(q75)),
                "angle": float(np.median([r["angle_median"] for r in recs])),
                "angle_null": (recs[0]["angle_null_lo"], recs[0]["angle_null_hi"]),
                "gen_init": float(np.median([r["gen_init"] for r in recs])),
                "angle_init": float(np.median([r["angle_init"] for r in recs])),
                "train_seconds": float(np.mean([r["train_seconds"] for r in recs])),
            }
            if "attractor_dim" in recs[0]:
                row["attractor_dim"] = [int(r["attractor_dim"]) for r in recs]
                row["fp_found"] = [int(r["fp_found"]) for r in recs]
                row["fp_lambda"] = [
                    _nanmedian([r[f"fp_lambda{k}"] for r in recs]) for k in (1, 2, 3)
                ]
                row["slow_spread2"] = float(_nanmedian([r["slow_spread2"] for r in recs]))
            rows.append(row)
    return rows


def _nanmedian(values: list[float]) -> float:
    """The median of the finite values; NaN (without numpy's warning) when there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


def _markdown(rows: list[dict], ref: dict[int, float]) -> str:
    head = (
        "| arch | N_task | seeds | steps | excess CE at T (nats) | implied r² at T "
        "(ceiling) | R² decode μ(t), worst t (untrained) | quadrant gen. r² median [IQR] | same, "
        "untrained | optimal logits | median factor angle (null 95%) | same, untrained | "
        "attractor dim per seed (fixed points found); median \\|λ\\| of the 3 eigenvalues nearest 1; "
        "slow points' variance on 2 axes |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        implied = "n/a (N < D)" if np.isnan(r["implied_r2"]) else f"{r['implied_r2']:.3f}"
        dims = (
            ", ".join(
                f"{d} ({f})" if d >= 0 else f"none ({f})"
                for d, f in zip(r["attractor_dim"], r["fp_found"], strict=True)
            )
            + "; "
            + ", ".join(f"{x:.2f}" for x in r["fp_lambda"])
            + f"; {r['slow_spread2']:.2f}"
            if "attractor_dim" in r
            else "—"
        )
        lines.append(
            f"| {r['arch']} | {r['n_tasks']} | {r['seeds']} | {r['steps']:.0f} | "
            f"{r['excess_ce']:.4f} | {implied} ({r['ceiling']:.3f}) | {r['decode_mu_min']:.3f} "
            f"({r['decode_mu_min_init']:.3f}) | "
            f"{r['gen_median']:.3f} "
            f"[{r['gen_iqr'][0]:.3f}, {r['gen_iqr'][1]:.3f}] | {r['gen_init']:.3f} | "
            f"{ref[r['n_tasks']]:.3f} | {r['angle']:.1f}° ({r['angle_null'][0]:.0f}–"
            f"{r['angle_null'][1]:.0f}°) | {r['angle_init']:.1f}° | {dims} |"
        )
    return head + "\n".join(lines) + "\n"


def _figure(rows: list[dict], ref: dict[int, float], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_g, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"rnn": "tab:blue", "transformer": "tab:orange"}
    labels = {"rnn": "ReLU RNN", "transformer": "causal transformer"}
    for arch in dict.fromkeys(r["arch"] for r in rows):
        rs = [r for r in rows if r["arch"] == arch]
        n = np.array([r["n_tasks"] for r in rs])
        med = np.array([r["gen_median"] for r in rs])
        lo = med - np.array([r["gen_iqr"][0] for r in rs])
        hi = np.array([r["gen_iqr"][1] for r in rs]) - med
        ax_g.errorbar(
            n,
            med,
            yerr=[lo, hi],
            marker="o",
            capsize=3,
            color=colors.get(arch),
            label=labels.get(arch, arch),
        )
        ax_a.plot(
            n,
            [r["angle"] for r in rs],
            marker="o",
            color=colors.get(arch),
            label=labels.get(arch, arch),
        )
    tasks = sorted(ref)
    ceiling = rows[0]["ceiling"]
    ax_g.axhline(ceiling, color="k", ls="--", lw=1, label=f"eq. 7 ceiling at T ({ceiling:.3f})")
    ax_g.plot(
        tasks,
        [ref[n] for n in tasks],
        color="gray",
        ls=":",
        marker="s",
        ms=4,
        label="optimal network's logits",
    )
    for arch in dict.fromkeys(r["arch"] for r in rows):
        rs = [r for r in rows if r["arch"] == arch]
        ax_g.plot(
            [r["n_tasks"] for r in rs],
            [r["gen_init"] for r in rs],
            color=colors.get(arch),
            ls=":",
            lw=1.2,
            label=f"{labels.get(arch, arch)}, untrained",
        )
        ax_a.plot(
            [r["n_tasks"] for r in rs],
            [r["angle_init"] for r in rs],
            color=colors.get(arch),
            ls=":",
            lw=1.2,
            label=f"{labels.get(arch, arch)}, untrained",
        )
    ax_a.axhspan(*rows[0]["angle_null"], color="gray", alpha=0.2, label="random directions (95%)")
    ax_a.axhline(90, color="k", ls="--", lw=1, label="orthogonal (90°)")
    for ax in (ax_g, ax_a):
        ax.set_xscale("log")
        ax.set_xticks(list(TASKS))
        ax.set_xticklabels([str(n) for n in TASKS])
        ax.axvline(2, color="gray", lw=0.8, alpha=0.5)
        ax.set_xlabel("number of tasks N_task (D = 2; grey line: N_task = D)")
        ax.legend(fontsize=8, loc="lower right")
    ax_g.set_ylabel(
        "quadrant generalisation r² of x* at t = T\n(median, IQR over folds and seeds)"
    )
    ax_g.set_ylim(-0.6, 1.02)
    ax_g.set_title("Zero-shot OOD generalisation (held-out quadrant)")
    ax_a.set_ylabel("median angle between factor directions (degrees)")
    ax_a.set_ylim(0, 135)
    ax_a.set_title("Orthogonality of the decoded factors")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- the paper's protocol (issue: the paper's experiment as the paper ran it) ------------------

# The paper trains each network on 1e5 batches of 16 = 1.6M trials (train.py's defaults);
# two shared CPU cores allow a small fraction of that, stated in the output.
PAPER_TRIALS = 100_000 * 16
PROTOCOL_ARCHS = {"paper": ("paper_rnn", "lstm", "gpt2"), "trilat": ("rnn",)}
PROTOCOL_ORDER = ("paper_rnn", "rnn", "lstm", "gpt2")  # run order within an N_task, table order
RECURRENT = ("paper_rnn", "rnn", "lstm")  # a recurrent map: fixed points
PROTOCOL_SETTINGS = {
    # steps per block; the decoder of generalize.py: n_fits fits, n_batches (0: the paper's
    # 3000/2000/1000 by N_task)
    "quick": {
        "seeds": 1,
        # the same 16k training trials for both recipes
        "steps": {"paper": 1000, "trilat": 250},
        "eval_trials": 1000,
        "n_fits": 2,
        "n_batches": 300,
    },
    "full": {
        "seeds": 3,
        "steps": {"paper": 100_000, "trilat": 4000},
        "eval_trials": 4000,
        "n_fits": 5,
        "n_batches": 0,
    },
}


def run_protocol_unit(config: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Train one network with a recipe (the paper's on its protocol, or trilat's) and measure it:
    decision-step output optimality, the latent code (trilat's metrics), and generalize.py's
    analysis faithful and corrected."""
    from trilat.experiments import reference_generalization, train

    task = trilat.Task.paper_units(config["n_tasks"])
    protocol = (
        trilat.TrialProtocol.paper() if config["block"] == "paper" else trilat.TrialProtocol()
    )
    train_seed, eval_seed, gen_seed = (int(s) for s in rng.integers(0, 2**63 - 1, size=3))
    # drawn after the others, so that the units of results files written before the
    # attractor columns existed keep their seeds
    fp_seed = int(rng.integers(0, 2**63 - 1))
    cpu, wall = time.process_time(), time.perf_counter()
    net = train(
        config["arch"],
        task,
        recipe=config["block"],
        protocol=protocol,
        steps=config["steps"],
        eval_every=max(config["steps"] // 4, 1),
        eval_trials=config["eval_trials"],
        rng=train_seed,
        progress=False,
        **({"batch_size": config["batch_size"]} if config.get("batch_size") else {}),
    )
    values: dict[str, Any] = {
        "train_cpu_seconds": time.process_time() - cpu,
        "train_wall_seconds": time.perf_counter() - wall,
        "train_trials": config["steps"] * net.config["batch_size"],
        "val_excess": net.history.val_loss[-1] - net.history.oracle_loss,
    }
    import warnings

    with warnings.catch_warnings():  # a briefly trained network may be near chance: recorded
        warnings.simplefilter("ignore")
        c = trilat.compare(
            net, task, n_trials=config["eval_trials"], rng=eval_seed, progress=False
        )
    last = int(np.flatnonzero(c.scored)[-1])
    values["step"] = int(c.steps[last])
    values["excess_ce"] = float(c.excess_cross_entropy[last])
    values["implied_r2"] = float(c.estimate_r2[last]) if c.identifiable else float("nan")
    values["ceiling"] = float(c.ceiling[last])
    values["decode_mu"] = float(c.latent_r2_mu[last])
    code = c.code
    values["gen_ridge"] = float(code["generalization"].get("median", np.nan))
    values["angle_folds"] = float(code["factor_angles_folds"].get("median", np.nan))
    values["ccgp"] = float(code["ccgp"].get("mean", np.nan))
    values["unit_warning"] = 1.0 if c.units.get("warning") else 0.0
    n_batches = config["n_batches"] or None
    cpu = time.process_time()
    for key, faithful, standardize in (
        ("faithful", True, False),
        ("corrected", False, False),
        # the corrected analysis on standardised latents (the same trials and decoders):
        # unchanged by a rescaling of the state, which the paper's is not
        ("standardized", False, True),
    ):
        ref = reference_generalization(
            net,
            task,
            mixing=net.mixing,
            protocol=protocol,
            faithful=faithful,
            n_fits=config["n_fits"],
            n_batches=n_batches,
            rng=gen_seed,
            standardize=standardize,
        )
        for q, row in enumerate(ref.scores):
            for f, score in enumerate(row):
                values[f"{key}_q{q + 1}_fit{f}"] = float(score)
        values[f"{key}_median"] = ref.median
        values[f"{key}_angle"] = ref.angle_median
        if key == "corrected":  # the paper's two analyses
            values["analysis_cpu_seconds"] = time.process_time() - cpu
    if config["arch"] in RECURRENT:
        values.update(_attractor(net, fp_seed))
    return values


def _protocol_rows(result: Any) -> list[dict]:
    rows = []
    recs = [r for r in result.records if not r.get("error_type")]
    keys = sorted(
        dict.fromkeys((r["block"], r["arch"], r["n_tasks"]) for r in recs),
        key=lambda k: (k[0] != "paper", PROTOCOL_ORDER.index(k[1]), k[2]),
    )
    for block, arch, n in keys:
        rs = [r for r in recs if (r["block"], r["arch"], r["n_tasks"]) == (block, arch, n)]
        row = {"block": block, "arch": arch, "n_tasks": n, "seeds": len(rs)}
        for key in ("faithful", "corrected"):
            scores = np.array([r[k] for r in rs for k in r if k.startswith(f"{key}_q")], float)
            row[key] = tuple(float(v) for v in np.percentile(scores, [25, 50, 75]))
            q24 = [r[k] for r in rs for k in r if k.startswith((f"{key}_q2", f"{key}_q4"))]
            row[f"{key}_q24"] = float(np.median(q24))
        for k in (
            "excess_ce",
            "implied_r2",
            "ceiling",
            "decode_mu",
            "gen_ridge",
            "angle_folds",
            "ccgp",
            "faithful_angle",
            "train_cpu_seconds",
            "analysis_cpu_seconds",
            "train_trials",
            "step",
            "unit_warning",
        ):
            row[k] = float(np.mean([r[k] for r in rs]))
        for k in ("corrected_median", "gen_ridge", "train_cpu_seconds", "standardized_median"):
            if all(k in r for r in rs):
                row[f"per_seed_{k}"] = [float(r[k]) for r in rs]
        if all("attractor_dim" in r for r in rs):
            for k in ("attractor_dim", "fp_found", "slow_dim", "slow_found"):
                row[k] = [int(r[k]) for r in rs]
            row["fp_lambda"] = [_nanmedian([r[f"fp_lambda{k}"] for r in rs]) for k in (1, 2, 3)]
            row["slow_spread2"] = float(_nanmedian([r["slow_spread2"] for r in rs]))
            row["hold_spread"] = [float(r["hold_spread"]) for r in rs]
        rows.append(row)
    return rows


def _attractor_cell(r: dict) -> str:
    """Fixed-point dimension per seed (points found); median |lambda| nearest 1; slow points."""
    if "attractor_dim" not in r:
        return "—"
    fixed = ", ".join(
        f"{d} ({f})" if d >= 0 else f"none ({f})"
        for d, f in zip(r["attractor_dim"], r["fp_found"], strict=True)
    )
    lam = ", ".join(f"{x:.2f}" for x in r["fp_lambda"])
    slow = ", ".join(
        f"{d} ({f})" if d >= 0 else f"none ({f})"
        for d, f in zip(r["slow_dim"], r["slow_found"], strict=True)
    )
    held = ", ".join(f"{x:.2g}" for x in r["hold_spread"])
    return f"{fixed}; {lam}; slow {slow}; {r['slow_spread2']:.2f}; held {held}"


def _recipe_comparison(rows: list[dict]) -> str:
    """Issue item 5: trilat's recipe against the paper's, the same architecture, per N_task.

    Per seed, the corrected generalize.py median and trilat's ridge score;
    the difference of the means (trilat - paper) with Welch's 95% interval
    over seeds, and the training CPU seconds.
    """
    from scipy import stats

    pairs = {}
    for r in rows:
        pairs.setdefault(r["n_tasks"], {})[(r["block"], r["arch"])] = r
    metrics = [("per_seed_corrected_median", "corrected"), ("per_seed_gen_ridge", "ridge")]
    if all("per_seed_standardized_median" in r for r in rows if r["arch"] in ("paper_rnn", "rnn")):
        metrics.insert(1, ("per_seed_standardized_median", "standardized"))
    head = (
        "| N_task | seeds paper / trilat | "
        + " | ".join(f"{name}: paper RNN | trilat RNN | Δ [95% CI]" for _, name in metrics)
        + " | train CPU s paper / trilat |\n|---:|---:|"
        + "---:|---:|---:|" * len(metrics)
        + "---:|\n"
    )
    lines = []
    for n in sorted(pairs):
        paper, ours = pairs[n].get(("paper", "paper_rnn")), pairs[n].get(("trilat", "rnn"))
        if paper is None or ours is None:
            continue
        cells = [f"{n}", f"{paper['seeds']} / {ours['seeds']}"]
        for key, _ in metrics:
            a, b = np.array(paper[key]), np.array(ours[key])
            cells += [_mean_sem(a), _mean_sem(b)]
            if len(a) > 1 and len(b) > 1:
                ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
                cells.append(f"{b.mean() - a.mean():+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]")
            else:
                cells.append(f"{b.mean() - a.mean():+.3f}")
        cells.append(f"{paper['train_cpu_seconds']:.0f} / {ours['train_cpu_seconds']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return ""
    note = (
        "\nMean ± standard error over seeds of each seed's score (corrected, standardized: the "
        "median over quadrants x fits; standardized: the corrected analysis on latents centred "
        "and scaled by one scalar, `reference_generalization(standardize=True)`); Δ = trilat − "
        "paper, Welch's 95% interval over seeds.\n"
    )
    return head + "\n".join(lines) + "\n" + note


def _mean_sem(a: np.ndarray) -> str:
    if len(a) < 2:
        return f"{a.mean():.3f}"
    return f"{a.mean():.3f} ± {a.std(ddof=1) / np.sqrt(len(a)):.3f}"


def _protocol_markdown(rows: list[dict]) -> str:
    head = (
        "| recipe | arch | N_task | seeds | training trials (% of 1.6M) | step | excess CE "
        "(nats) | implied r² (eq. 7) | R² decode μ | trilat gen. r² (ridge) | factor angle "
        "(folds) | CCGP | generalize.py faithful median [IQR] | corrected median [IQR] | "
        "q2/q4 medians faithful → corrected | train CPU s | analysis CPU s | attractor dim per "
        "seed (fixed points found); median \\|λ\\| of the 3 nearest 1; slow-point dim per seed "
        "(found); their variance on 2 axes; spread held after T steps of fixation, per seed |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        implied = "n/a (N < D)" if np.isnan(r["implied_r2"]) else f"{r['implied_r2']:.3f}"
        f, c = r["faithful"], r["corrected"]
        warn = " ⚠" if r["unit_warning"] else ""
        lines.append(
            f"| {r['block']} | {r['arch']} | {r['n_tasks']} | {r['seeds']} | "
            f"{r['train_trials']:.0f} ({100 * r['train_trials'] / PAPER_TRIALS:.1f}%) | "
            f"{r['step']:.0f} | {r['excess_ce']:.4f}{warn} | {implied} ({r['ceiling']:.3f}) | "
            f"{r['decode_mu']:.3f} | {r['gen_ridge']:.3f} | {r['angle_folds']:.1f}° | "
            f"{r['ccgp']:.3f} | {f[1]:.3f} [{f[0]:.3f}, {f[2]:.3f}] | "
            f"{c[1]:.3f} [{c[0]:.3f}, {c[2]:.3f}] | {r['faithful_q24']:.3f} → "
            f"{r['corrected_q24']:.3f} | {r['train_cpu_seconds']:.0f} | "
            f"{r['analysis_cpu_seconds']:.0f} | {_attractor_cell(r)} |"
        )
    note = (
        "\n⚠: compare's unit check warned (an output unit at or below chance at the scored "
        "step: the network is undertrained).\n"
        "faithful: generalize.py's test set (held-out q2 and q4 tested on quadrants 1 and 3); "
        "corrected: the held-out quadrant. q1 and q3 are scored identically by both.\n"
    )
    return head + "\n".join(lines) + "\n" + note


def fig5a_curves(sigma: float = 0.2, variance: float = 1 / 12) -> str:
    """The paper's Fig. 5a theory curve two ways, as a markdown table.

    Eq. 7 with ``t`` the stimulus steps: ``1 - sigma^2 / (t Var x*)`` = ``1 - 0.48 / t``
    at the paper's values; ``Figures/Fig5a.py`` draws ``1 - 0.48 / (timing + 1)``, adding the
    decision step as a sample.
    """
    ratio = sigma**2 / variance
    head = (
        f"| stimulus steps t | eq. 7, 1 − {ratio:.2f}/t | Fig5a.py, 1 − {ratio:.2f}/(t + 1) |\n"
        "|---:|---:|---:|\n"
    )
    rows = [
        f"| {t} | {1 - ratio / t:.4f} | {1 - ratio / (t + 1):.4f} |" for t in (2, 5, 10, 20, 40)
    ]
    note = (
        "\nEq. 7 counts the evidence samples: t = the stimulus steps. Fig5a.py adds one "
        "(`# +1 because we have decision time`). Under the fixed-RT protocol (the decision "
        "step's stimulus channels are 0) that extra step carries no evidence and t + 1 "
        "overstates the ceiling; Fig5a.py plots free-RT data (`r_sq_free_timing_enc.npz`), "
        "whose environment may present the stimulus during the decision step too, where t + 1 "
        "samples are seen.\n"
    )
    return head + "\n".join(rows) + "\n" + note


def main_protocol(args: argparse.Namespace) -> int:
    """The paper-protocol block and trilat's recipe block, one sweep."""
    name = "quick" if args.quick else "full"
    setting = PROTOCOL_SETTINGS[name]
    tasks = tuple(int(n) for n in (args.tasks or ",".join(map(str, TASKS))).split(",") if n)
    archs = tuple(a for a in (args.archs or ",".join(PROTOCOL_ORDER)).split(",") if a)
    seeds = args.seeds or setting["seeds"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = dict(setting["steps"])
    if args.steps_paper:
        steps["paper"] = args.steps_paper
        name = f"{name}_s{args.steps_paper}"  # its own file: rows pool every unit in a file
    if args.steps_trilat:
        steps["trilat"] = args.steps_trilat
        name = f"{name}_t{args.steps_trilat}"
    batch = {"paper": None, "trilat": args.batch_trilat}
    if args.batch_trilat:
        name = f"{name}_b{args.batch_trilat}"
    grid = [
        {
            "block": block,
            "arch": arch,
            "n_tasks": n,
            "steps": steps[block],
            "eval_trials": setting["eval_trials"],
            "n_fits": setting["n_fits"],
            "n_batches": setting["n_batches"],
            **({"batch_size": batch[block]} if batch[block] else {}),
        }
        # N_task outermost, in the order given, and trilat's RNN right after the paper's: a
        # run cut short has every recipe of the first N_tasks, not one recipe of all of them
        for n in tasks
        for block, arch in sorted(
            ((b, a) for b in ("paper", "trilat") for a in PROTOCOL_ARCHS[b]),
            key=lambda ba: PROTOCOL_ORDER.index(ba[1]),
        )
        if arch in archs
    ]
    decoder = setting["n_batches"] or "the paper's"
    print(
        f"paper_claims protocol blocks ({name}): {len(grid)} configurations x {seeds} seeds; "
        f"paper recipe {steps['paper']} batches of 16 "
        f"({100 * steps['paper'] * 16 / PAPER_TRIALS:.1f}% of the paper's 1.6M trials), trilat "
        f"recipe {steps['trilat']} batches of {args.batch_trilat or 64}; decoder "
        f"{setting['n_fits']} fits x {decoder} batches; {args.workers} worker(s), "
        f"{multiprocessing.cpu_count()} cores",
        flush=True,
    )
    start = time.perf_counter()
    result, errors = _run_sweep(
        run_protocol_unit, grid, seeds, args.workers, out / f"protocol_{name}.jsonl"
    )
    for r in errors:
        print(f"error in {r['block']} {r['arch']} N={r['n_tasks']}: {r['error_message']}")
    rows = _protocol_rows(result)
    if not rows:
        print("no network finished; nothing to tabulate")
        return 1
    table = _protocol_markdown(rows) + "\n" + _recipe_comparison(rows) + "\n" + fig5a_curves()
    elapsed = time.perf_counter() - start
    print()
    print(table)
    fig = _protocol_figure(rows, out / f"protocol_{name}.png")
    (out / f"protocol_{name}.md").write_text(table)
    print(f"figure: {fig}\ntable: {out / f'protocol_{name}.md'}")
    print(f"runtime: {elapsed:.0f} s wall for {len(result)} networks (stored units not re-timed)")
    return 1 if errors else 0


def _protocol_figure(rows: list[dict], path: Path) -> Path:
    """Three panels against N_task: generalize.py's analysis faithful and corrected; trilat's
    ridge score per seed; the spread of the states held T steps under the fixation input."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_g, ax_r, ax_h) = plt.subplots(1, 3, figsize=(16, 4.3))
    for (block, arch), color in zip(
        dict.fromkeys((r["block"], r["arch"]) for r in rows),
        ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"),
        strict=False,
    ):
        rs = sorted(
            (r for r in rows if (r["block"], r["arch"]) == (block, arch)),
            key=lambda r: r["n_tasks"],
        )
        n = np.array([r["n_tasks"] for r in rs], float)
        label = f"{block} recipe, {arch}"
        for key, ls, shift in (("faithful", ":", 0.95), ("corrected", "-", 1.05)):
            med = np.array([r[key][1] for r in rs])
            err = [med - [r[key][0] for r in rs], [r[key][2] for r in rs] - med]
            ax_g.errorbar(
                n * shift,
                med,
                yerr=err,
                ls=ls,
                marker="o",
                capsize=2,
                color=color,
                label=f"{label}, {key}",
            )
        for r in rs:
            ridge = r["per_seed_gen_ridge"]
            ax_r.scatter(np.full(len(ridge), r["n_tasks"]), ridge, s=10, color=color, alpha=0.5)
        ax_r.plot(n, [np.mean(r["per_seed_gen_ridge"]) for r in rs], color=color, label=label)
        if all("hold_spread" in r for r in rs):
            for r in rs:
                held = r["hold_spread"]
                ax_h.scatter(np.full(len(held), r["n_tasks"]), held, s=10, color=color, alpha=0.5)
            ax_h.plot(n, [np.median(r["hold_spread"]) for r in rs], color=color, label=label)
    for ax in (ax_g, ax_r, ax_h):
        ax.set_xscale("log")
        ax.set_xticks(list(TASKS))
        ax.set_xticklabels([str(n) for n in TASKS])
        ax.set_xlabel("N_task")
    ax_g.set_ylabel("generalize.py r² (median, IQR over quadrants x fits x seeds)")
    ax_g.set_title("The paper's analysis: faithful (dotted), corrected (solid)")
    ax_g.legend(fontsize=6)
    ax_r.axhline(0.976, color="grey", ls="--", lw=0.8, label="eq. 7 at T")
    ax_r.set_ylabel("trilat ridge quadrant generalisation r²")
    ax_r.set_title("trilat's metric, per seed (dots) and mean (line)")
    ax_r.legend(fontsize=7)
    ax_h.set_yscale("log")
    ax_h.axhline(1.0, color="grey", ls="--", lw=0.8, label="held (an attractor)")
    ax_h.set_ylabel("states' spread after T steps of fixation / at T")
    ax_h.set_title("Holding the evidence: per seed (dots), median (line)")
    ax_h.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- the paper's other figures: stimulus duration (Fig. 5a), D (Fig. 5b), sigma (Fig. 5c) -------

FIGURE_BLOCKS = ("duration", "dim", "sigma")
FIGURE_SETTINGS = {
    # steps: batches of 16 of the paper's recipe; the decoder of generalize.py: n_fits fits x
    # n_batches batches (0: the paper's) per held-out orthant, at most max_held_out orthants
    "quick": {
        "seeds": 1,
        "steps": 1000,
        "eval_trials": 1000,
        "n_fits": 1,
        "n_batches": 300,
        "max_held_out": 4,
    },
    "full": {
        "seeds": 3,
        "steps": 100_000,
        "eval_trials": 4000,
        "n_fits": 5,
        "n_batches": 0,
        "max_held_out": 16,
    },
}
# what each block varies (D = 2 uses the paper's units; D > 2 random unit normals, b = 0)
FIGURE_GRIDS = {
    "duration": [{"dim": 2, "n_tasks": n, "sigma": 0.2} for n in (6, 24)],
    "dim": [{"dim": d, "n_tasks": 24, "sigma": 0.2} for d in (2, 4, 6, 8, 10)],
    "sigma": [{"dim": 2, "n_tasks": 6, "sigma": s} for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)],
}
# the stimulus steps t at which the duration block runs generalize.py's (corrected) analysis
DURATION_STEPS = (1, 2, 3, 5, 10, 20)


def _figure_task(config: dict[str, Any], seed: int) -> trilat.Task:
    if config["dim"] == 2:
        return trilat.Task.paper_units(config["n_tasks"], sigma=config["sigma"])
    return trilat.Task.random(config["dim"], config["n_tasks"], sigma=config["sigma"], rng=seed)


def run_figure_unit(config: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Train one network with the paper's recipe on its trial and measure its generalisation.

    At the decision step: compare's excess cross-entropy, trilat's ridge quadrant
    (orthant) generalisation of ``x*`` from the latent state (16 orthants drawn when
    ``2^D > 16``; enough trials that each holds ~16), and generalize.py's analysis,
    faithful and corrected, on ``max_held_out`` orthants (all when ``2^D`` is fewer, else
    drawn by the unit's seed). With ``config["per_t"]``: the same ridge score at every
    stimulus step ``t`` and the corrected analysis at :data:`DURATION_STEPS`.
    """
    import warnings

    from trilat.experiments import reference_generalization, train

    task_seed, train_seed, eval_seed, gen_seed, pick_seed = (
        int(s) for s in rng.integers(0, 2**63 - 1, size=5)
    )
    task = _figure_task(config, task_seed)
    protocol = trilat.TrialProtocol.paper()
    cpu = time.process_time()
    net = train(
        config["arch"],
        task,
        recipe="paper",
        protocol=protocol,
        steps=config["steps"],
        eval_every=max(config["steps"] // 4, 1),
        eval_trials=config["eval_trials"],
        rng=train_seed,
        progress=False,
        **({"batch_size": config["batch_size"]} if config.get("batch_size") else {}),
    )
    values: dict[str, Any] = {
        "train_cpu_seconds": time.process_time() - cpu,
        "train_trials": config["steps"] * net.config["batch_size"],
    }
    cpu = time.process_time()
    with warnings.catch_warnings():  # a briefly trained network may be near chance: recorded
        warnings.simplefilter("ignore")
        c = trilat.compare(
            net, task, n_trials=config["eval_trials"], rng=eval_seed, progress=False
        )
    last = int(np.flatnonzero(c.scored)[-1])
    values["excess_ce"] = float(c.excess_cross_entropy[last])
    values["ceiling"] = float(c.ceiling[last])
    dim = task.dim
    # trilat's metric: enough trials that a drawn orthant holds ~16 of them
    n_ridge = max(config["eval_trials"], 16 * 2**dim)
    trials = trilat.simulate(task, n_ridge, protocol.stimulus, rng=eval_seed)
    latents = np.asarray(net(protocol.inputs(trials.evidence, net.mixing)).latents)
    steps = [int(protocol.step_numbers()[last])]
    if config["per_t"]:
        steps = list(range(1, protocol.stimulus + 1)) + steps
    for step in steps:
        gen = metrics.regression_generalization(
            latents[:, protocol.index(step)],
            trials.x_star,
            "quadrant",
            prior_variance=task.prior.variance,
            max_folds=16,
            rng=eval_seed,
        )
        values[f"ridge_s{step}"] = gen.median
    values["ridge"] = values[f"ridge_s{steps[-1]}"]
    n_orthants = 2**dim
    k = min(config["max_held_out"], n_orthants)
    held = np.sort(np.random.default_rng(pick_seed).choice(n_orthants, k, replace=False))
    kwargs = {
        "mixing": net.mixing,
        "protocol": protocol,
        "n_fits": config["n_fits"],
        "n_batches": config["n_batches"] or None,
        "held_out": held,
        "rng": gen_seed,
    }
    for faithful in (True, False):
        ref = reference_generalization(net, task, faithful=faithful, **kwargs)
        key = "faithful" if faithful else "corrected"
        for q, row in zip(held, ref.scores, strict=True):
            for f, score in enumerate(row):
                values[f"{key}_o{q}_fit{f}"] = float(score)
        values[key] = ref.median
    if config["per_t"]:
        for step in DURATION_STEPS:
            ref = reference_generalization(net, task, step=step, **kwargs)
            values[f"corrected_s{step}"] = ref.median
    values["analysis_cpu_seconds"] = time.process_time() - cpu
    return values


def _figure_rows(result: Any, block: str) -> list[dict]:
    recs = [r for r in result.records if not r.get("error_type")]
    rows = []
    for key in dict.fromkeys((r["arch"], r["dim"], r["n_tasks"], r["sigma"]) for r in recs):
        rs = [r for r in recs if (r["arch"], r["dim"], r["n_tasks"], r["sigma"]) == key]
        row: dict[str, Any] = dict(zip(("arch", "dim", "n_tasks", "sigma"), key, strict=True))
        row["seeds"] = len(rs)
        for kind in ("faithful", "corrected"):
            scores = np.array([r[k] for r in rs for k in r if k.startswith(f"{kind}_o")], float)
            row[kind] = tuple(float(v) for v in np.percentile(scores, [25, 50, 75]))
        ridge = np.array([r["ridge"] for r in rs])
        row["ridge"] = (float(ridge.min()), float(np.median(ridge)), float(ridge.max()))
        for k in ("excess_ce", "ceiling", "train_cpu_seconds", "analysis_cpu_seconds"):
            row[k] = float(np.mean([r[k] for r in rs]))
        row["train_trials"] = rs[0]["train_trials"]
        if "ridge_s1" in rs[0]:
            row["ridge_t"] = {
                int(k[7:]): float(np.median([r[k] for r in rs]))
                for k in rs[0]
                if k.startswith("ridge_s")
            }
            row["corrected_t"] = {
                t: float(np.median([r[f"corrected_s{t}"] for r in rs])) for t in DURATION_STEPS
            }
        rows.append(row)
    return rows


def _eq7(sigma: float, t: float) -> float:
    """Eq. 7 with the uniform prior: ``1 - sigma^2 / (t / 12)``."""
    return 1.0 - 12.0 * sigma**2 / t


def _figure_markdown(rows: list[dict], block: str) -> str:
    lines = []
    if block == "duration":
        lines.append(
            "| arch | N_task | seeds | t (evidence samples) | ridge gen. r² (median over seeds) | "
            "generalize.py corrected | eq. 7, 1 − σ²/(t·Var x*) | Fig5a.py, 1 − σ²/((t + 1)·Var x*) "
            "| in-distribution shrinkage Var/(Var + s²) |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            s = r["sigma"]
            for t in range(1, 21):
                corr = r["corrected_t"].get(t)
                corr_s = f"{corr:.3f}" if corr is not None else ""
                shrink = 1.0 / (1.0 + 12.0 * s**2 / t)
                lines.append(
                    f"| {r['arch']} | {r['n_tasks']} | {r['seeds']} | {t} | "
                    f"{r['ridge_t'][t]:.3f} | {corr_s} | {_eq7(s, t):.3f} | "
                    f"{1 - 12 * s**2 / (t + 1):.3f} | {shrink:.3f} |"
                )
            lines.append(
                f"| {r['arch']} | {r['n_tasks']} | {r['seeds']} | decision step (t = 20) | "
                f"{r['ridge_t'][21]:.3f} | {r['corrected'][1]:.3f} | {_eq7(s, 20):.3f} | "
                f"{1 - 12 * s**2 / 21:.3f} | {1 / (1 + 12 * s**2 / 20):.3f} |"
            )
        head = "\n".join(lines) + "\n"
    else:
        head = (
            "| arch | D | N_task | σ | seeds | training trials (% of 1.6M) | excess CE at decision "
            "(nats) | eq. 7 at T | ridge gen. r² median (min–max over seeds) | generalize.py "
            "corrected median [IQR] | faithful median [IQR] | train CPU s | analysis CPU s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        for r in rows:
            f, c, g = r["faithful"], r["corrected"], r["ridge"]
            head += (
                f"| {r['arch']} | {r['dim']} | {r['n_tasks']} | {r['sigma']} | {r['seeds']} | "
                f"{r['train_trials']:.0f} ({100 * r['train_trials'] / PAPER_TRIALS:.1f}%) | "
                f"{r['excess_ce']:.4f} | {r['ceiling']:.3f} | {g[1]:.3f} ({g[0]:.3f}–{g[2]:.3f})"
                f" | {c[1]:.3f} [{c[0]:.3f}, {c[2]:.3f}] | {f[1]:.3f} [{f[0]:.3f}, {f[2]:.3f}] | "
                f"{r['train_cpu_seconds']:.0f} | {r['analysis_cpu_seconds']:.0f} |\n"
            )
    note = (
        "\nridge: trilat.metrics.regression_generalization (quadrant scheme; for D > 2, 16 "
        "orthants drawn among the 2^D) on the latent state; generalize.py: "
        "trilat.experiments.reference_generalization (Adam decoder), corrected = tested on the "
        "held-out orthant, faithful = the paper's test set (q2/q4 tested on q1/q3; for D > 2 "
        "the all-positive or all-negative orthant).\n"
    )
    return head + note


def _figure_plot(rows: list[dict], block: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    if block == "duration":
        t = np.arange(1, 21)
        for r, color in zip(rows, colors, strict=False):
            label = f"{r['arch']}, N = {r['n_tasks']}"
            ax.plot(
                t,
                [r["ridge_t"][k] for k in t],
                "o-",
                color=color,
                ms=4,
                label=f"{label}: ridge, state at step t",
            )
            ts = sorted(r["corrected_t"])
            ax.plot(
                ts,
                [r["corrected_t"][k] for k in ts],
                "s--",
                color=color,
                mfc="none",
                label=f"{label}: generalize.py corrected",
            )
            ax.plot([21], [r["ridge_t"][21]], "*", color=color, ms=9)
        sigma = rows[0]["sigma"]
        tt = np.linspace(1, 21, 200)
        ax.plot(tt, 1 - 12 * sigma**2 / tt, "k-", lw=1.2, label="eq. 7, t = evidence samples")
        ax.plot(tt, 1 - 12 * sigma**2 / (tt + 1), "k:", lw=1.2, label="Fig5a.py, 1 − 0.48/(t + 1)")
        ax.plot(
            tt,
            1 / (1 + 12 * sigma**2 / tt),
            color="gray",
            ls="-.",
            lw=1,
            label="Var/(Var + s²): shrinkage fitted in distribution",
        )
        ax.set_xlabel("evidence samples t (stars: the decision step, t = 20 + an empty step)")
        low = min(min(r["ridge_t"].values()) for r in rows)
        low = min(low, min(min(r["corrected_t"].values()) for r in rows))
        ax.set_ylim(min(0.0, low - 0.05), 1.02)
        ax.set_xticks([1, 2, 3, 5, 10, 15, 20, 21])
        ax.set_xticklabels(["1", "2", "3", "5", "10", "15", "20", "dec."])
        ax.set_title("Fig. 5a analogue: OOD r² of x* against evidence seen")
    else:
        xkey = "dim" if block == "dim" else "sigma"
        x = np.array([r[xkey] for r in rows], float)
        order = np.argsort(x)
        x = x[order]
        rs = [rows[i] for i in order]
        for kind, color, marker, ls in (
            ("corrected", "tab:blue", "o", "-"),
            ("faithful", "tab:red", "s", ":"),
        ):
            med = np.array([r[kind][1] for r in rs])
            err = [med - [r[kind][0] for r in rs], [r[kind][2] for r in rs] - med]
            ax.errorbar(
                x,
                med,
                yerr=err,
                marker=marker,
                ls=ls,
                color=color,
                capsize=3,
                label=f"generalize.py {kind} (median, IQR)",
            )
        ax.plot(
            x,
            [r["ridge"][1] for r in rs],
            "^-",
            color="tab:green",
            label="trilat ridge (median over seeds)",
        )
        if block == "dim":
            ax.axhline(_eq7(0.2, 20), color="k", lw=1, ls="--", label="eq. 7 at T = 20 (0.976)")
            ax.set_xlabel(f"latent dimension D (random boundaries, N = {rs[0]['n_tasks']})")
            ax.set_title("Fig. 5b analogue: OOD r² against D")
        else:
            ss = np.linspace(x.min(), x.max(), 100)
            ax.plot(ss, [_eq7(s, 20) for s in ss], "k--", lw=1, label="eq. 7 at T = 20")
            ax.set_xlabel(f"evidence noise σ (N = {rs[0]['n_tasks']})")
            ax.set_title("Fig. 5c analogue: OOD r² against σ")
        lo = min(0.0, min(min(r["corrected"][0], r["ridge"][1]) for r in rs) - 0.05)
        ax.set_ylim(lo, 1.02)
    ax.set_ylabel("out-of-distribution r² of x*")
    ax.legend(fontsize=6.5, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main_figure(args: argparse.Namespace) -> int:
    """One of the paper's other figures (duration, D, sigma), paper recipe, on the sweep engine."""
    block = args.blocks
    name = "quick" if args.quick else "full"
    setting = dict(FIGURE_SETTINGS[name])
    if args.steps_paper:
        setting["steps"] = args.steps_paper
        name = f"{name}_s{args.steps_paper}"
    seeds = args.seeds or setting["seeds"]
    archs = tuple(a for a in (args.archs or "paper_rnn").split(",") if a)
    base = FIGURE_GRIDS[block]
    if args.tasks:
        tasks = [int(n) for n in args.tasks.split(",") if n]
        base = [dict(b, n_tasks=n) for b in base for n in tasks]
        base = list({tuple(sorted(b.items())): b for b in base}.values())
    grid = [
        dict(
            b,
            arch=arch,
            steps=setting["steps"],
            eval_trials=setting["eval_trials"],
            n_fits=setting["n_fits"],
            n_batches=setting["n_batches"],
            max_held_out=setting["max_held_out"],
            per_t=block == "duration",
        )
        for arch in archs
        for b in base
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"paper_claims {block} ({name}): {len(grid)} configurations x {seeds} seeds; paper recipe "
        f"{setting['steps']} batches of 16 ({100 * setting['steps'] * 16 / PAPER_TRIALS:.1f}% of "
        f"the paper's 1.6M trials); decoder {setting['n_fits']} fit(s) x "
        f"{setting['n_batches'] or 'the paper'}'s batches on <= {setting['max_held_out']} "
        f"held-out orthants; {args.workers} worker(s)",
        flush=True,
    )
    start = time.perf_counter()
    result, errors = _run_sweep(
        run_figure_unit, grid, seeds, args.workers, out / f"{block}_{name}.jsonl"
    )
    for r in errors:
        print(f"error in {r['arch']} D={r['dim']} N={r['n_tasks']}: {r['error_message']}")
    rows = _figure_rows(result, block)
    if not rows:
        print("no network finished; nothing to tabulate")
        return 1
    table = _figure_markdown(rows, block)
    print()
    print(table)
    fig = _figure_plot(rows, block, out / f"{block}_{name}.png")
    (out / f"{block}_{name}.md").write_text(table)
    print(f"figure: {fig}\ntable: {out / f'{block}_{name}.md'}")
    print(
        f"runtime: {time.perf_counter() - start:.0f} s wall for {len(result)} networks (stored "
        "units not re-timed)"
    )
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short setting (< 10 min)")
    parser.add_argument("--seeds", type=int, help="seeds per configuration")
    parser.add_argument(
        "--archs",
        default=None,
        help="comma-separated (default: rnn,transformer for --blocks recipe; paper_rnn,rnn,lstm,"
        "gpt2 for the protocol blocks; paper_rnn for the figure blocks)",
    )
    parser.add_argument(
        "--tasks", default=None, help="comma-separated N_task (default: each block's own)"
    )
    parser.add_argument("--steps-rnn", type=int, help="optimiser steps of the RNN")
    parser.add_argument("--steps-transformer", type=int, help="optimiser steps of the transformer")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument(
        "--schedule", default="cosine", choices=("constant", "cosine"), help="learning rate"
    )
    parser.add_argument(
        "--loss", default="every_step", choices=("every_step", "decision"), help="target schedule"
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early-stopping patience in evaluations (default: none; a cosine schedule's "
        "last steps are its best, and stopping on the noise of a plateau mid-way cuts them)",
    )
    parser.add_argument(
        "--blocks",
        default="protocol",
        choices=("protocol", "recipe", *FIGURE_BLOCKS),
        help="protocol: the paper's recipe on its protocol (paper_rnn, lstm, gpt2) and trilat's "
        "recipe (rnn), with generalize.py's analysis faithful and corrected; recipe: the "
        "earlier table of trilat's recipe alone (rnn, transformer); duration, dim, sigma: the "
        "paper's Fig. 5a, 5b, 5c (generalisation against evidence samples t, D, sigma) on "
        "networks trained with the paper's recipe",
    )
    parser.add_argument("--steps-paper", type=int, help="batches of the paper's recipe")
    parser.add_argument("--steps-trilat", type=int, help="batches of trilat's recipe")
    parser.add_argument(
        "--batch-trilat", type=int, help="batch size of trilat's recipe (default: the recipe's 64)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--out", default="trilat-out/paper_claims", help="output directory")
    parser.add_argument(
        "--save", action="store_true", help="save every trained network to OUT/networks/"
    )
    args = parser.parse_args(argv)
    if args.blocks == "protocol":
        return main_protocol(args)
    if args.blocks in FIGURE_BLOCKS:
        return main_figure(args)

    setting = SETTINGS["quick" if args.quick else "full"]
    archs = tuple(a for a in (args.archs or ",".join(ARCHS)).split(",") if a)
    tasks = tuple(int(n) for n in (args.tasks or ",".join(map(str, TASKS))).split(",") if n)
    steps = dict(setting["steps"])
    if args.steps_rnn:
        steps["rnn"] = args.steps_rnn
    if args.steps_transformer:
        steps["transformer"] = args.steps_transformer
    seeds = args.seeds or setting["seeds"]
    batch = args.batch_size or setting["batch_size"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = [
        {
            "arch": arch,
            "n_tasks": n,
            "steps": steps[arch],
            "batch_size": batch,
            "lr": args.lr,
            "schedule": args.schedule,
            "loss": args.loss,
            "patience": args.patience or 0,
            "eval_trials": setting["eval_trials"],
            "save": str(out / "networks") if args.save else "",
        }
        # the slowest units first, so that two workers finish together
        for arch in sorted(archs, key=lambda a: -steps.get(a, 0))
        for n in sorted(tasks, reverse=True)
    ]
    name = "quick" if args.quick else "full"
    print(
        f"paper_claims ({name}): {len(grid)} configurations x {seeds} seeds, steps {steps}, "
        f"batch {batch}, lr {args.lr} ({args.schedule}), loss {args.loss!r}, "
        f"{args.workers} worker(s); "
        f"{platform.processor() or platform.machine()}, {multiprocessing.cpu_count()} cores",
        flush=True,
    )
    start = time.perf_counter()
    result, errors = _run_sweep(run_unit, grid, seeds, args.workers, out / f"{name}.jsonl")
    for r in errors:
        print(f"error in {r['arch']} N={r['n_tasks']} seed={r['seed']}: {r['error_message']}")
    rows = _summarise(result, archs, tasks)
    if not rows:
        print("no network finished; nothing to tabulate")
        return 1
    ref = _reference(setting["eval_trials"])
    table = _markdown(rows, ref)
    elapsed = time.perf_counter() - start
    print()
    print(table)
    fig = _figure(rows, ref, out / f"{name}.png")
    (out / f"{name}.md").write_text(table)
    print(f"figure: {fig}\ntable: {out / f'{name}.md'}")
    print(
        f"runtime: {elapsed:.0f} s wall for {len(result)} networks ({name} setting; units "
        f"stored in {out / f'{name}.jsonl'} are reused on a rerun and not timed again)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
