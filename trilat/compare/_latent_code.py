"""The latent code part of :func:`trilat.compare`: what a network's hidden state holds.

Per step, cross-validated decodability of ``mu(t)`` and ``x*``; at one step,
the representation metrics of :mod:`trilat.metrics` on the network's latents
and on the optimal code ``k(t) = C mu(t) - b`` of the same trials and folds,
and the held-out quadrant predictions the figures draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from trilat import metrics
from trilat._json import plain
from trilat.adapters import NetworkOutput
from trilat.task import Task

__all__ = ["latent_scores"]

# Trials kept for the figures: per output-scatter panel (compare) and per held-out fold.
PLOT_POINTS = 1500


def latent_scores(
    task: Task,
    out: NetworkOutput,
    post: Any,
    x_star: np.ndarray,
    step: int,
    seed: np.random.SeedSequence,
    bar: Any,
    alpha: float | None = None,
) -> dict[str, Any]:
    """Decodability per step, and the representation metrics at ``step`` (network and optimal).

    ``alpha`` is the relative ridge penalty of every decoder (``None``:
    cross-validated inside each training set, see :mod:`trilat.metrics`).
    """
    gen = np.random.default_rng(seed)
    r2_mu, r2_x = np.empty(len(post.t)), np.empty(len(post.t))
    alphas = np.empty(len(post.t))
    for i in range(len(post.t)):
        bar.stage(f"decode t={i + 1}")
        r2_mu[i], r2_x[i], alphas[i] = _decodability_at(
            out.latents[:, i], post.mean[:, i], x_star, int(gen.integers(2**63)), alpha
        )
        bar.advance()
    bar.stage("latent code")
    mu = post.mean[:, step - 1]
    code_seed = int(gen.integers(2**63))
    code, heldout = _code_metrics(task, out.latents[:, step - 1], x_star, mu, code_seed, alpha)
    # the same metrics on the optimal code k = C mu - b, same trials and folds: what a
    # perfect network scores here, Monte Carlo error included
    reference, _ = _code_metrics(task, mu @ task.C.T - task.b, x_star, mu, code_seed, alpha)
    return {
        "latent_r2_mu": r2_mu,
        "latent_r2_xstar": r2_x,
        "latent_alpha": alphas,
        "code": plain(code),
        "reference_code": plain(reference),
        "heldout": heldout,
    }


def _decodability_at(
    latents: np.ndarray, mu: np.ndarray, x_star: np.ndarray, seed: int, alpha: float | None
) -> tuple[float, float, float]:
    """Cross-validated R^2 of ``mu(t)`` and of ``x*`` from one step's latents, and the median
    relative ridge penalty of the fold decoders (NaN if undefined).

    One ridge fit serves both: the decoder of each target column is independent
    (its own penalty, chosen on its own), so decoding ``[mu, x*]`` together is
    decoding each alone, on the same folds.
    """
    dim = mu.shape[1]
    try:
        result = metrics.decodability(latents, np.hstack([mu, x_star]), alpha=alpha, rng=seed)
    except ValueError:
        return math.nan, math.nan, math.nan
    return (
        float(np.mean(result.per_target[:dim])),
        float(np.mean(result.per_target[dim:])),
        float(np.median(result.fold_alphas)),
    )


def _code_metrics(
    task: Task,
    latents: np.ndarray,
    x_star: np.ndarray,
    mu: np.ndarray,
    seed: int,
    alpha: float | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The :mod:`trilat.metrics` results on one step's latents, and held-out decoded ``x*``.

    A metric that is undefined on these latents (constant latents, too few
    samples in a condition, ...) is recorded as ``{"error": message}``.
    """
    seeds = [int(s) for s in np.random.default_rng(seed).integers(2**63, size=5)]
    center = task.prior.mean  # the quadrants of factor space are split at the prior's centre
    code: dict[str, Any] = {}

    def record(name: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except ValueError as exc:
            code[name] = {"error": str(exc)}
            return None
        code[name] = result if isinstance(result, float) else result.to_dict()
        return result

    record("decodability", lambda: metrics.decodability(latents, mu, alpha=alpha, rng=seeds[0]))
    gen_result = record(
        "generalization",
        lambda: metrics.regression_generalization(
            latents,
            x_star,
            "quadrant",
            prior_variance=task.prior.variance,
            alpha=alpha,
            center=center,
            rng=seeds[1],
        ),
    )
    record("ccgp", lambda: metrics.ccgp(latents, x_star, alpha=alpha, center=center, rng=seeds[2]))
    record(
        "parallelism",
        lambda: metrics.parallelism(latents, x_star, alpha=alpha, center=center, rng=seeds[3]),
    )
    if gen_result is None:
        code["factor_angles"] = {"error": "no decoder: " + code["generalization"]["error"]}
    else:
        record("factor_angles", lambda: metrics.factor_angles(gen_result.weight, rng=seeds[4]))
    record("participation_ratio", lambda: metrics.participation_ratio(latents))
    heldout = {} if gen_result is None else _heldout_decoded(latents, x_star, center, gen_result)
    return code, heldout


def _heldout_decoded(
    latents: np.ndarray, x_star: np.ndarray, center: float, gen_result: Any
) -> dict[str, Any]:
    """``x*`` decoded on each held-out quadrant by the decoder fitted on the others.

    The folds and decoders of :func:`trilat.metrics.regression_generalization`
    (its ``splits``, its ridge with the penalties ``fold_alphas`` it chose),
    kept for the figure; ``r^2`` of these predictions reproduces its fold
    ``scores``.
    """
    sides = np.where(x_star > center, 1, -1)
    per_fold = max(1, PLOT_POINTS // len(gen_result.splits))
    true, decoded, fold = [], [], []
    for k, signs in enumerate(np.asarray(gen_result.splits)):
        test = np.all(sides == signs, axis=1)
        weight, offset = metrics.ridge(latents[~test], x_star[~test], gen_result.fold_alphas[k])
        idx = np.flatnonzero(test)[:per_fold]
        true.append(x_star[idx])
        decoded.append(latents[idx] @ weight.T + offset)
        fold.append(np.full(len(idx), k))
    return {
        "true": np.concatenate(true),
        "decoded": np.concatenate(decoded),
        "fold": np.concatenate(fold),
        "splits": np.asarray(gen_result.splits),
    }
