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
from trilat.protocol import TrialProtocol
from trilat.task import Task

__all__ = ["latent_scores"]

# Trials kept for the figures: per output-scatter panel (compare) and per held-out fold.
PLOT_POINTS = 1500


def latent_scores(
    task: Task,
    out: NetworkOutput,
    post: Any,
    x_star: np.ndarray,
    protocol: TrialProtocol,
    index: int,
    seed: np.random.SeedSequence,
    bar: Any,
    alpha: float | None = None,
) -> dict[str, Any]:
    """Decodability per step, and the representation metrics at step ``index`` (0-based).

    Step ``j`` of the trial is decoded against ``mu(t_j)``, its oracle time's
    posterior mean (:meth:`TrialProtocol.oracle_times`); steps without
    evidence (``t_j = 0``) have no ``mu`` and are NaN. ``alpha`` is the
    relative ridge penalty of every decoder (``None``: cross-validated inside
    each training set, see :mod:`trilat.metrics`).
    """
    gen = np.random.default_rng(seed)
    times = protocol.oracle_times()
    numbers = protocol.step_numbers()
    r2_mu, r2_x = np.full(protocol.n_steps, np.nan), np.full(protocol.n_steps, np.nan)
    alphas = np.full(protocol.n_steps, np.nan)
    for i, t in enumerate(times):
        bar.stage(f"decode step {numbers[i]}")
        draw = int(gen.integers(2**63))  # drawn at every step, so seeds do not shift
        if t >= 1:
            r2_mu[i], r2_x[i], alphas[i] = _decodability_at(
                out.latents[:, i], post.mean[:, t - 1], x_star, draw, alpha
            )
        bar.advance()
    bar.stage("latent code")
    mu = post.mean[:, times[index] - 1]
    code_seed = int(gen.integers(2**63))
    code, heldout = _code_metrics(task, out.latents[:, index], x_star, mu, code_seed, alpha)
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
        code[name] = result if isinstance(result, (float, dict)) else result.to_dict()
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
    folds = [] if gen_result is None else _fold_decoders(latents, x_star, center, gen_result)
    if gen_result is None:
        code["factor_angles"] = {"error": "no decoder: " + code["generalization"]["error"]}
        code["factor_angles_folds"] = dict(code["factor_angles"])
    else:
        record("factor_angles", lambda: metrics.factor_angles(gen_result.weight, rng=seeds[4]))
        record("factor_angles_folds", lambda: _fold_angles(folds))
    record("participation_ratio", lambda: metrics.participation_ratio(latents))
    heldout = {} if gen_result is None else _heldout_decoded(latents, x_star, folds, gen_result)
    return code, heldout


def _fold_decoders(
    latents: np.ndarray, x_star: np.ndarray, center: float, gen_result: Any
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(test mask, weight (D, H), offset (D,))`` of each held-out quadrant's decoder.

    The folds and ridge of :func:`trilat.metrics.regression_generalization`
    (its ``splits`` and the penalties ``fold_alphas`` it chose): the decoder
    of fold ``k`` is fitted on the trials outside quadrant ``k``.
    """
    sides = np.where(x_star > center, 1, -1)
    out = []
    for k, signs in enumerate(np.asarray(gen_result.splits)):
        test = np.all(sides == signs, axis=1)
        weight, offset = metrics.ridge(latents[~test], x_star[~test], gen_result.fold_alphas[k])
        out.append((test, weight, offset))
    return out


def _fold_angles(folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Factor angles of each fold's decoder, and their median: the paper's measure.

    The paper reports the angle between the factor directions of the decoders
    fitted for its out-of-distribution folds (one per held-out quadrant), as
    the median over folds; ``median`` here is the median over folds and factor
    pairs of :func:`trilat.metrics.factor_angles` of each fold's ``weight``.
    """
    per_fold = [metrics.factor_angles(w, n_null=0).angles for _, w, _ in folds]
    return {"per_fold": np.asarray(per_fold), "median": float(np.median(per_fold))}


def _heldout_decoded(
    latents: np.ndarray,
    x_star: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    gen_result: Any,
) -> dict[str, Any]:
    """``x*`` decoded on each held-out quadrant by the decoder fitted on the others.

    The folds and decoders of :func:`trilat.metrics.regression_generalization`
    (its ``splits``, its ridge with the penalties ``fold_alphas`` it chose),
    kept for the figure; ``r^2`` of these predictions reproduces its fold
    ``scores``.
    """
    per_fold = max(1, PLOT_POINTS // len(gen_result.splits))
    true, decoded, fold = [], [], []
    for k, (test, weight, offset) in enumerate(folds):
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
