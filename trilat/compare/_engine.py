"""Measure a network against the Bayes-optimal estimator: ``compare(network, task)``.

:func:`compare` simulates the task, feeds the network (the mixed observations
``f(X(t))``, or the evidence for references that ask for it, see
:mod:`trilat.adapters`), and measures three things:

1. **output optimality**, per step: the mean ``|Yhat_net - Yhat_opt|`` and the
   excess cross-entropy over the optimal outputs, the mean over trials and
   tasks of ``KL(Bernoulli(Yhat_opt) || Bernoulli(Yhat_net))``;
2. **the implied estimate**, per step: ``mu_hat_net = C^+ (s(t) Phi^-1(Yhat_net)
   + b)``, what the network's own outputs say about ``mu(t)`` by
   trilateration, against ``mu(t)`` and against ``x*``, next to eq. 7,
   ``r^2(t) = 1 - s(t)^2 / Var(x*)``: the r^2 of ``mu(t)`` itself, the paper's
   ceiling of decodability (a ceiling for ``mu(t)`` and codes affine in it;
   decoders fitted in distribution can exceed it at small ``t`` by shrinking
   towards the prior);
3. **the latent code**: decodability of ``mu(t)`` and ``x*`` per step, and at
   one step (the last by default) the representation metrics of
   :mod:`trilat.metrics`.

The oracle is :func:`trilat.adapters.oracle_posterior`: the flat-prior
posterior of Theorem 3.1 for the uniform prior (its truncation to the box is
ignored), the conjugate posterior for a Gaussian prior.

Outputs given as probabilities are inverted with :func:`trilat.distances`;
saturated ones (exactly 0 or 1, e.g. a float32 sigmoid beyond ``|z| ~ 17``)
carry no distance, are warned about, counted per step in ``saturated``, and
left out of the excess cross-entropy (where they are infinite) and of the
implied estimate (the whole trial at that step). Pass logits to keep them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from trilat._checks import as_float_array, as_rng, describe, nonnegative_scalar, positive_int
from trilat._json import plain
from trilat._progress import progress_bar
from trilat._threads import limit_threads
from trilat.adapters import Network, NetworkOutput, input_kind, oracle_posterior
from trilat.compare import _latent_code
from trilat.compare._latent_code import latent_scores
from trilat.compare._result import Comparison
from trilat.mixing import MixingMLP
from trilat.oracle import (
    decodability_ceiling,
    distances,
    distances_from_logits,
    predict,
    predict_logits,
    recover,
)
from trilat.task import Task, check_task, simulate

__all__ = ["Comparison", "bernoulli_kl", "compare"]


def bernoulli_kl(z_ref: Any, z: Any) -> np.ndarray:
    """``KL(Bernoulli(p) || Bernoulli(q))`` in nats from logits, ``p = sigmoid(z_ref)``, ``q = sigmoid(z)``.

    ``KL = p (log p - log q) + (1 - p) (log(1 - p) - log(1 - q))`` with every
    log as ``log sigmoid(+-z)`` (:func:`scipy.special.log_expit`), so that no
    ``1 - p`` is formed: accurate for confident outputs where ``p`` rounds to
    1, and exactly 0 when ``z == z_ref``. Terms with weight ``p = 0`` or
    ``1 - p = 0`` are 0; ``z = +-inf`` (a saturated output) gives ``inf``
    unless the reference agrees.

    Parameters
    ----------
    z_ref : array_like
        Reference logits (finite), e.g. the Bayes-optimal outputs'.
    z : array_like
        Logits compared with them, broadcastable against ``z_ref``.

    Returns
    -------
    ndarray
        Elementwise KL, ``>= 0``.
    """
    a = as_float_array(z_ref, "z_ref")
    b = as_float_array(z, "z", finite=False)
    if np.any(np.isnan(b)):
        raise ValueError(f"z must not contain NaN, got {describe(b)}")
    p, q = special.expit(a), special.expit(-a)  # p and 1 - p, each to full relative precision
    with np.errstate(invalid="ignore"):
        upper = np.where(p > 0, p * (special.log_expit(a) - special.log_expit(b)), 0.0)
        lower = np.where(q > 0, q * (special.log_expit(-a) - special.log_expit(-b)), 0.0)
    return np.maximum(upper + lower, 0.0)


class _Progress:
    """The stages of :func:`compare` on a progress bar (:func:`trilat._progress.progress_bar`)."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.bar = progress_bar(total, "trilat compare", enabled, unit="stage")

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _seed(rng: Any) -> int:
    """One int seed from which every draw of :func:`compare` derives (recorded in the result)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative int seed, got {rng!r}")
        return int(rng)
    if rng is None:
        return int(np.random.SeedSequence().entropy)
    return int(as_rng(rng).integers(2**63))


def _check_output(out: Any, n: int, steps: int, task: Task) -> NetworkOutput:
    if not isinstance(out, NetworkOutput):
        raise ValueError(
            f"the network must return a trilat.NetworkOutput (wrap numpy functions with "
            f"trilat.from_callable, torch modules with trilat.from_torch), got "
            f"{type(out).__name__}"
        )
    expected = (n, steps, task.n_tasks)
    if out.logits.shape != expected:
        raise ValueError(
            f"network outputs must have shape (n_trials, n_steps, N) = {expected} for a task "
            f"with N = {task.n_tasks} boundaries, got {out.logits.shape}"
        )
    if out.latents.shape[:2] != (n, steps) or out.latents.shape[2] == 0:
        raise ValueError(
            f"network latents must have shape (n_trials, n_steps, H) = ({n}, {steps}, H >= 1), "
            f"got {out.latents.shape}"
        )
    for name, arr in (("latents", out.latents), ("outputs", out.logits)):
        bad = np.isnan(arr) if name == "outputs" and out.probabilities is not None else None
        bad = ~np.isfinite(arr) if bad is None else bad
        if np.any(bad):
            trial, step, unit = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"network {name} of shape {arr.shape} have {int(bad.sum())} NaN or infinite "
                f"entries, the first at trial {trial}, t = {step + 1}, unit {unit}"
            )
    return out


def _check_dims(network: Any, task: Task, in_dim: int, kind: str) -> None:
    obs_dim = getattr(network, "obs_dim", None)
    if obs_dim is not None and obs_dim != in_dim:
        source = (
            f"the task's evidence X(t) has shape (n, T, {in_dim}) (D = {in_dim})"
            if kind == "evidence"
            else f"the mixing f(X(t)) gives observations of shape (n, T, {in_dim})"
        )
        raise ValueError(f"network expects inputs of shape (n, T, {obs_dim}), but {source}")
    n_tasks = getattr(network, "n_tasks", None)
    if n_tasks is not None and n_tasks != task.n_tasks:
        raise ValueError(
            f"network has {n_tasks} outputs but the task has N = {task.n_tasks} boundaries "
            f"(C of shape {task.C.shape}); pass the task the network was trained on"
        )


def compare(
    network: Network,
    task: Task,
    *,
    n_trials: int = 2000,
    n_steps: int = 20,
    mixing: Any = None,
    latent_step: int | None = None,
    alpha: float | None = None,
    rng: Any = None,
    progress: bool | None = None,
) -> Comparison:
    """Measure ``network`` against the Bayes-optimal estimator on ``task``.

    Per step ``t``: ``mean |Yhat_net - Yhat_opt|``; the excess cross-entropy
    ``mean KL(Bern(Yhat_opt) || Bern(Yhat_net))``; the implied estimate
    ``mu_hat_net = C^+ (s(t) Phi^-1(Yhat_net) + b)`` against ``mu(t)`` (RMSE)
    and ``x*`` (``r^2 = 1 - MSE / Var(x*)``) beside eq. 7, the r^2 of ``mu(t)``,
    ``1 - s(t)^2 / Var(x*)`` (:func:`trilat.decodability_ceiling`); cross-validated decodability of ``mu(t)`` and
    ``x*`` from the latent state. At ``latent_step``: the metrics of
    :mod:`trilat.metrics` on the latent state.

    Parameters
    ----------
    network : Network
        See :mod:`trilat.adapters`.
    task : Task
        Must be identifiable (``rank C = D``).
    n_trials, n_steps : int
        ``n`` trials of ``T`` evidence samples (paper: ``T = 20``).
    mixing : callable, optional
        ``f``, mapping evidence ``(n, T, D)`` to observations
        ``(n, T, obs_dim)``; default ``network.mixing`` if the network has one
        (the ``f`` it was trained with), else ``MixingMLP(D)`` seeded from
        ``rng``.
    latent_step : int, optional
        The step ``t`` at which the latent code is measured; default ``T``.
    alpha : float, optional
        Relative ridge penalty of every decoder and least-squares classifier
        of the latent code, ``>= 0``, in units of ``tr(H_c^T H_c) / H`` of
        its centred training latents ``H_c`` (``H`` their non-constant units) (see :mod:`trilat.metrics`).
        Default: chosen by leave-one-out cross-validation inside each
        training set from ``trilat.metrics.RIDGE_ALPHAS``. Either way the
        scores do not depend on the scale or offset of the latents; the
        penalties used are reported in ``code``/``reference_code`` and, per
        step, in ``latent_alpha``.
    rng : None, int or Generator
        Seed of the trials, the default mixing and the metrics' splits;
        recorded as ``Comparison.seed`` (``compare(..., rng=c.seed)``
        reproduces ``c``).
    progress : bool, optional
        A progress bar on stderr; default: when stderr is a terminal.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Network inputs or outputs of the wrong shape, NaN outputs.
    NotIdentifiableError
        ``rank C < D``.
    """
    task = check_task(task, identifiable=True)
    if not callable(network):
        raise ValueError(f"network must be callable, got {type(network).__name__}")
    n = positive_int(n_trials, "n_trials", minimum=8)
    steps = positive_int(n_steps, "n_steps")
    step = steps if latent_step is None else positive_int(latent_step, "latent_step")
    alpha = None if alpha is None else nonnegative_scalar(alpha, "alpha")
    if step > steps:
        raise ValueError(f"latent_step must be in 1..n_steps = 1..{steps}, got {step}")
    kind = input_kind(network)
    seed = _seed(rng)
    sim_seq, mix_seq, metric_seq = np.random.SeedSequence(seed).spawn(3)
    if mixing is None:
        mixing = getattr(network, "mixing", None)
    if mixing is None:
        mixing = MixingMLP(task.dim, rng=np.random.default_rng(mix_seq))
    elif not callable(mixing):
        raise ValueError(f"mixing must be callable on evidence (n, T, D), got {mixing!r}")
    mixing_dim = getattr(mixing, "in_dim", None)
    if kind == "observations" and mixing_dim is not None and mixing_dim != task.dim:
        raise ValueError(
            f"mixing takes evidence of shape (n, T, {mixing_dim}) but the task has D = "
            f"{task.dim}: evidence of shape (n, T, {task.dim}); pass the task the network "
            f"was trained on"
        )

    bar = _Progress(total=4 + steps, enabled=progress)
    try:
        bar.stage("simulate")
        trials = simulate(task, n, steps, rng=sim_seq)
        if kind == "evidence":
            inputs = trials.evidence
        else:
            inputs = as_float_array(mixing(trials.evidence), "mixing(evidence)", ndim=3)
            if inputs.shape[:2] != (n, steps):
                raise ValueError(
                    f"mixing must map evidence of shape {trials.evidence.shape} to shape "
                    f"({n}, {steps}, obs_dim), got {inputs.shape}"
                )
        _check_dims(network, task, inputs.shape[2], kind)
        bar.advance()
        bar.stage("network")
        try:
            raw = network(inputs)
        except ValueError:
            raise
        except Exception as exc:  # the user's network: name the inputs it was given
            raise ValueError(
                f"the network raised {type(exc).__name__} on inputs of shape {inputs.shape} "
                f"({'evidence X(t)' if kind == 'evidence' else 'observations f(X(t))'}): {exc}"
            ) from exc
        out = _check_output(raw, n, steps, task)
        bar.advance()
        bar.stage("outputs")
        post = oracle_posterior(task, trials.evidence)
        scores = _output_scores(task, post, out, trials.x_star)
        bar.advance()
        with limit_threads(1):  # hundreds of small fits: see trilat._threads
            latent = latent_scores(
                task, out, post, trials.x_star, step, metric_seq, bar, alpha=alpha
            )
        bar.advance()
    finally:
        bar.close()

    samples = _output_samples(scores.pop("yhat_pairs"), steps)
    samples["heldout"] = latent.pop("heldout")
    return Comparison(
        network=repr(network),
        task=task,
        mixing="none (the network reads the evidence)" if kind == "evidence" else repr(mixing),
        n_trials=n,
        n_steps=steps,
        seed=seed,
        latent_step=step,
        alpha=alpha,
        latent_dim=int(out.latents.shape[2]),
        output_kind="logits" if out.probabilities is None else "probability",
        t=post.t,
        posterior_std=post.std,
        ceiling=decodability_ceiling(task, std=post.std),
        **latent,
        samples=plain(samples),
        **scores,
    )


def _output_scores(task: Task, post: Any, out: NetworkOutput, x_star: np.ndarray) -> dict:
    """Per-step output optimality and implied-estimate scores, shape ``(T,)`` each."""
    z_opt = predict_logits(task, post.mean, std=post.std)
    yhat_opt = predict(task, post.mean, std=post.std)
    if out.probabilities is None:
        yhat_net = special.expit(out.logits)
        k = distances_from_logits(task, out.logits, std=post.std)
    else:
        yhat_net = out.probabilities
        k = distances(task, yhat_net, std=post.std)  # warns about saturated outputs
    saturated = ~np.isfinite(out.logits)
    kl = np.where(saturated, 0.0, bernoulli_kl(z_opt, np.where(saturated, 0.0, out.logits)))
    kept = np.maximum((~saturated).sum(axis=(0, 2)), 1)
    mu_hat = recover(task, k)
    valid = np.all(np.isfinite(mu_hat), axis=-1)[..., None]  # (n, T, 1)
    n_valid = np.maximum(valid.sum(axis=0)[:, 0] * task.dim, 1)
    err_mu = np.where(valid, mu_hat - post.mean, 0.0)
    err_x = np.where(valid, mu_hat - x_star[:, None, :], 0.0)
    variance = task.prior.variance
    no_estimate = valid.sum(axis=0)[:, 0] == 0
    return {
        "output_abs_error": np.mean(np.abs(yhat_net - yhat_opt), axis=(0, 2)),
        "excess_cross_entropy": kl.sum(axis=(0, 2)) / kept,
        "saturated": saturated.sum(axis=(0, 2)).astype(np.int64),
        "estimate_rmse": np.where(
            no_estimate, np.nan, np.sqrt((err_mu**2).sum(axis=(0, 2)) / n_valid)
        ),
        "estimate_r2": np.where(
            no_estimate, np.nan, 1.0 - (err_x**2).sum(axis=(0, 2)) / n_valid / variance
        ),
        "optimal_r2": 1.0 - np.mean((post.mean - x_star[:, None, :]) ** 2, axis=(0, 2)) / variance,
        "yhat_pairs": (yhat_opt, yhat_net),
    }


def _output_samples(pairs: tuple[np.ndarray, np.ndarray], steps: int) -> dict[str, Any]:
    """A few trials' optimal and network outputs at early, middle and last steps."""
    yhat_opt, yhat_net = pairs
    per_step = max(1, _latent_code.PLOT_POINTS // yhat_opt.shape[2])
    chosen = sorted({1, (steps + 1) // 2, steps})
    return {
        "output_steps": chosen,
        "optimal_outputs": [yhat_opt[:per_step, t - 1].ravel() for t in chosen],
        "network_outputs": [yhat_net[:per_step, t - 1].ravel() for t in chosen],
    }
