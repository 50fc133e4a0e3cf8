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
   ``r^2(t) = 1 - s(t)^2 / Var(x*)``, the r^2 of ``mu(t)`` itself (what it
   bounds and what it does not: :func:`trilat.decodability_ceiling`);
3. **the latent code**: decodability of ``mu(t)`` and ``x*`` per step, and at
   one step (the last by default) the representation metrics of
   :mod:`trilat.metrics`.

The trial is a :class:`trilat.TrialProtocol`: trilat's plain one (``T``
steps of evidence, each scored) or one with fixation, delay and decision
steps and a fixation channel, such as the paper's; output scores are made at
its scored steps only, against the oracle at each step's time. A task with
``rank C < D`` is measured without the implied estimate (not identifiable);
a network without outputs (width 0) is measured by its latent code alone. At
the last scored step a guard checks that output unit ``i`` answers task row
``i``, and warns with the assignment it finds otherwise.

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

import warnings
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
from trilat.protocol import TrialProtocol
from trilat.task import Task, Uniform, check_task, simulate

__all__ = ["Comparison", "bernoulli_kl", "compare"]


BOX_TRIALS = 200  # trials scored against the exact box-prior oracle (see compare's prior)


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

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.compare import bernoulli_kl
    >>> bernoulli_kl([0.0, 0.0, 40.0], [0.0, 1.0, 40.0]).round(4)  # KL(1/2 || sigmoid(1)) = 0.1201
    array([0.    , 0.1201, 0.    ])
    >>> float(bernoulli_kl(40.0, np.inf))  # a saturated output against a confident one
    inf
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


def _check_output(out: Any, n: int, protocol: TrialProtocol, task: Task) -> NetworkOutput:
    steps = protocol.n_steps
    if not isinstance(out, NetworkOutput):
        raise ValueError(
            f"the network must return a trilat.NetworkOutput (wrap numpy functions with "
            f"trilat.from_callable, torch modules with trilat.from_torch), got "
            f"{type(out).__name__}"
        )
    expected = (n, steps, task.n_tasks)
    if out.logits.shape != expected and out.logits.shape != (n, steps, 0):
        raise ValueError(
            f"network outputs must have shape (n_trials, n_steps, N) = {expected} for a task "
            f"with N = {task.n_tasks} boundaries (or ({n}, {steps}, 0): latents only), got "
            f"{out.logits.shape}"
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
                f"entries, the first at trial {trial}, {_where_step(protocol, step)}, unit {unit}"
            )
    return out


def _where_step(protocol: TrialProtocol, index: int) -> str:
    """``t = 5`` on the plain protocol, ``step 21 (t = 20)`` on others."""
    t = int(protocol.oracle_times()[index])
    if protocol.is_plain:
        return f"t = {t}"
    return f"step {int(protocol.step_numbers()[index])} (t = {t})"


def _check_dims(network: Any, task: Task, in_dim: int, kind: str, protocol: TrialProtocol) -> None:
    obs_dim = getattr(network, "obs_dim", None)
    if obs_dim is not None and obs_dim != in_dim:
        extra = protocol.extra_channels()
        source = (
            f"the task's evidence X(t) has shape (n, T, {in_dim}) (D = {in_dim})"
            if kind == "evidence"
            else f"the mixing f(X(t)) gives observations of shape (n, T, {in_dim})"
            if not extra
            else f"the mixing f(X(t)) gives {in_dim - extra} channels and the protocol appends "
            f"{extra} (the fixation channel): inputs of shape (n, S, {in_dim})"
        )
        raise ValueError(f"network expects inputs of shape (n, T, {obs_dim}), but {source}")
    n_tasks = getattr(network, "n_tasks", None)
    if n_tasks is not None and n_tasks != task.n_tasks:
        raise ValueError(
            f"network has {n_tasks} outputs but the task has N = {task.n_tasks} boundaries "
            f"(C of shape {task.C.shape}); pass the task the network was trained on"
        )


def _run_network(network: Network, inputs: np.ndarray, device: Any) -> Any:
    if device is None:
        return network(inputs)
    from trilat._torch import on_device  # torch only when a device is asked for

    with on_device(network, device):
        return network(inputs)


def compare(
    network: Network,
    task: Task,
    *,
    n_trials: int = 2000,
    n_steps: int | None = None,
    mixing: Any = None,
    protocol: TrialProtocol | None = None,
    latent_step: int | None = None,
    alpha: float | None = None,
    rng: Any = 0,
    progress: bool | None = None,
    device: Any = None,
    prior: Any = None,
) -> Comparison:
    """Measure ``network`` against the Bayes-optimal estimator on ``task``.

    At each scored step (oracle time ``t``): ``mean |Yhat_net - Yhat_opt|``;
    the excess cross-entropy ``mean KL(Bern(Yhat_opt) || Bern(Yhat_net))``;
    the implied estimate ``mu_hat_net = C^+ (s(t) Phi^-1(Yhat_net) + b)``
    against ``mu(t)`` (RMSE) and ``x*`` (``r^2 = 1 - MSE / Var(x*)``) beside
    eq. 7, the r^2 of ``mu(t)``, ``1 - s(t)^2 / Var(x*)``
    (:func:`trilat.decodability_ceiling`). At every step with evidence:
    cross-validated decodability of ``mu(t)`` and ``x*`` from the latent
    state. At ``latent_step``: the metrics of :mod:`trilat.metrics` on the
    latent state. At the last scored step, a check that output unit ``i``
    answers task row ``i`` (a warning names the assignment found otherwise).

    The trial is ``protocol``'s (:class:`trilat.TrialProtocol`): the network
    reads :meth:`~trilat.TrialProtocol.inputs` (evidence through the mixing,
    ``f(0)`` at steps without evidence, then any fixation channel), each of
    its steps is matched with the oracle at that step's time (fixation:
    no evidence; the ``t``-th stimulus step: ``mu(t)``; delay and decision:
    ``mu(T)``), and only its scored steps are compared with the optimal
    outputs (the paper's networks are trained towards ``1/2`` before the
    decision step: those steps are unscored, not an excess).

    Parameters
    ----------
    network : Network
        See :mod:`trilat.adapters`. Outputs of width 0 (latents only) are
        accepted: then only the latent code is measured.
    task : Task
        With ``rank C < D`` (e.g. ``N < D``) everything but the implied
        estimate is measured, and the estimate is marked not identifiable.
    n_trials : int
        ``n`` trials.
    n_steps : int, optional
        ``T`` evidence samples (paper: 20); default the protocol's
        ``stimulus``, 20 without a protocol.
    mixing : callable, optional
        ``f``, mapping evidence ``(n, S, D)`` to observations
        ``(n, S, obs_dim)``; default ``network.mixing`` if the network has one
        (the ``f`` it was trained with), else ``MixingMLP(D)`` seeded from
        ``rng``.
    protocol : TrialProtocol, optional
        Default ``network.protocol`` if the network has one, else
        ``TrialProtocol(stimulus=T)``: the evidence alone, every step scored.
    latent_step : int, optional
        The step number (:meth:`TrialProtocol.step_numbers`; the ``t``-th
        stimulus step is ``t``) at which the latent code is measured; default
        the last scored step (``T`` for the plain protocol, 21 for the
        paper's). Any step with evidence seen, including the decision step.
    alpha : float, optional
        Relative ridge penalty of every decoder and least-squares classifier
        of the latent code, ``>= 0``, in units of ``tr(H_c^T H_c) / H`` of
        its centred training latents ``H_c`` (``H`` their non-constant units) (see :mod:`trilat.metrics`).
        Default: chosen by leave-one-out cross-validation inside each
        training set from ``trilat.metrics.RIDGE_ALPHAS``. Either way the
        scores do not depend on the scale or offset of the latents; the
        penalties used are reported in ``code``/``reference_code`` and, per
        step, in ``latent_alpha``.
    rng : int, Generator or None, default 0
        Seed of the trials, the default mixing and the metrics' splits;
        recorded as ``Comparison.seed`` (``compare(..., rng=c.seed)``
        reproduces ``c``).
    progress : bool, optional
        A progress bar on stderr; default: when stderr is a terminal.
    prior : None, "flat" or Uniform, optional
        The oracles the outputs are scored against. Always the flat prior's
        (the theorem's, :func:`trilat.predict`), for ``excess_cross_entropy``;
        beside it, for a uniform prior, the exact box-prior oracle
        (:func:`trilat.predict` with ``prior=box``), for
        ``excess_cross_entropy_box`` and ``oracle_gap`` (the two oracles'
        own KL), on the first ``min(n_trials, BOX_TRIALS)`` trials (the exact
        outputs cost ~30-50 us each against 0.2 us at D = 2; ~5-10 ms at D = 3,
        nested quadrature; quasi-Monte Carlo beyond). ``None`` (default): the
        task's prior when it is a :class:`trilat.Uniform` and ``D <= 2``;
        ``"flat"``: the flat oracle only; a ``Uniform``: that box, at any D.
    device : str or torch.device, optional
        Run a torch network there (``"cuda"`` where torch has one): its
        module is moved for the call and moved back after. The trials are
        drawn on the CPU, so every device sees the same ones; float32 kernels
        make results equal to rounding, not bit for bit. Default: where the
        module is.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Network inputs or outputs of the wrong shape, NaN outputs, a
        ``latent_step`` outside the trial or before any evidence.

    Examples
    --------
    The oracle itself as the network (:class:`trilat.OptimalNetwork`): no excess
    anywhere, the ceiling reached.

    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> result.t, result.ceiling.round(2)  # per-step arrays, shape (S,)
    (array([1., 2., 3., 4., 5.]), array([0.52, 0.76, 0.84, 0.88, 0.9 ]))
    >>> bool(result.output_abs_error.max() < 1e-12), bool(result.estimate_rmse.max() < 1e-12)
    (True, True)
    """
    task = check_task(task)
    task.require_isotropic("trilat.compare (it scores with one posterior std s(t) per step)")
    if not callable(network):
        raise ValueError(f"network must be callable, got {type(network).__name__}")
    n = positive_int(n_trials, "n_trials", minimum=8)
    box = _box_prior(task, prior)
    protocol = _protocol(network, protocol, n_steps)
    steps = protocol.stimulus
    times = protocol.oracle_times()
    if latent_step is None:
        step = int(protocol.step_numbers()[protocol.scored_steps()][-1])
    else:
        step = latent_step
    latent_index = protocol.index(step)
    if times[latent_index] == 0:
        raise ValueError(
            f"latent_step = {step} is a fixation step: no evidence seen yet, so there is no "
            f"mu(t) to measure the latent code against; pick a step of "
            f"{int(protocol.step_numbers()[times >= 1][0])}..{int(protocol.step_numbers()[-1])}"
        )
    alpha = None if alpha is None else nonnegative_scalar(alpha, "alpha")
    kind = input_kind(network)
    if kind == "evidence" and not protocol.is_plain:
        raise ValueError(
            f"{network!r} reads the evidence X(t) itself (input_kind='evidence'), which is defined "
            f"on the plain protocol only (T steps of evidence, all scored); got the protocol "
            f"{protocol.describe()}"
        )
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

    bar = _Progress(total=4 + protocol.n_steps, enabled=progress)
    try:
        bar.stage("simulate")
        trials = simulate(task, n, steps, rng=sim_seq)
        inputs = (
            trials.evidence if kind == "evidence" else protocol.inputs(trials.evidence, mixing)
        )
        _check_dims(network, task, inputs.shape[2], kind, protocol)
        bar.advance()
        bar.stage("network")
        try:
            raw = _run_network(network, inputs, device)
        except ValueError:
            raise
        except Exception as exc:  # the user's network: name the inputs it was given
            raise ValueError(
                f"the network raised {type(exc).__name__} on inputs of shape {inputs.shape} "
                f"({'evidence X(t)' if kind == 'evidence' else 'observations f(X(t))'}): {exc}"
            ) from exc
        out = _check_output(raw, n, protocol, task)
        bar.advance()
        bar.stage("outputs")
        post = oracle_posterior(task, trials.evidence)
        has_outputs = out.logits.shape[2] > 0
        scored = protocol.scored_steps() & has_outputs
        scores = _output_scores(task, post, out, trials.x_star, protocol, scored, box)
        units = _unit_check(task, out, trials.x_star, protocol) if has_outputs else {}
        bar.advance()
        with limit_threads(1):  # hundreds of small fits: see trilat._threads
            latent = latent_scores(
                task,
                out,
                post,
                trials.x_star,
                protocol,
                latent_index,
                metric_seq,
                bar,
                alpha=alpha,
            )
        bar.advance()
    finally:
        bar.close()

    if units.get("warning"):
        warnings.warn(units["warning"], UserWarning, stacklevel=2)
    samples = _output_samples(scores.pop("yhat_pairs"), protocol, scored)
    samples["heldout"] = latent.pop("heldout")
    std = protocol.expand(post.std[None, :], before=np.nan)[0]
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
        output_kind=(
            "none (latents only)"
            if not has_outputs
            else "logits"
            if out.probabilities is None
            else "probability"
        ),
        t=times.astype(np.float64),
        posterior_std=std,
        ceiling=np.where(
            times >= 1, decodability_ceiling(task, std=np.where(times >= 1, std, 1.0)), np.nan
        ),
        **latent,
        samples=plain(samples),
        **scores,
        protocol=protocol.to_dict(),
        steps=protocol.step_numbers(),
        scored=scored,
        identifiable=task.identifiable,
        units=plain(units),
        box_prior=None if box is None else [box.low, box.high],
        box_trials=0 if box is None or not np.any(scored) else min(n, BOX_TRIALS),
    )


def _box_prior(task: Task, prior: Any) -> Uniform | None:
    """The box of the exact oracle scored beside the flat one, or None (see :func:`compare`)."""
    if prior is None:  # by default only where it is cheap: D <= 2 (D = 3 is ~5-10 ms an output)
        return task.prior if isinstance(task.prior, Uniform) and task.dim <= 2 else None
    if isinstance(prior, str) and prior == "flat":
        return None
    if isinstance(prior, Uniform):
        return prior
    raise ValueError(
        f"prior must be None (the task's, if uniform), 'flat' (the theorem's oracle only) or a "
        f"trilat.Uniform (the exact box-prior oracle beside the flat one), got {prior!r}"
    )


def _protocol(network: Any, protocol: Any, n_steps: int | None) -> TrialProtocol:
    """The protocol given, else the network's, else the plain one of ``n_steps`` (20)."""
    if protocol is None:
        protocol = getattr(network, "protocol", None)
    if protocol is None:
        return TrialProtocol(stimulus=20 if n_steps is None else positive_int(n_steps, "n_steps"))
    if not isinstance(protocol, TrialProtocol):
        raise ValueError(f"protocol must be a trilat.TrialProtocol, got {protocol!r}")
    if n_steps is not None and positive_int(n_steps, "n_steps") != protocol.stimulus:
        raise ValueError(
            f"n_steps = {n_steps} but the protocol has T = {protocol.stimulus} stimulus steps "
            f"({protocol.describe()}); leave n_steps unset"
        )
    return protocol


def _output_scores(
    task: Task,
    post: Any,
    out: NetworkOutput,
    x_star: np.ndarray,
    protocol: TrialProtocol,
    scored: np.ndarray,
    box: Uniform | None = None,
) -> dict:
    """Output optimality and implied-estimate scores at the scored steps; NaN elsewhere.

    Each scored step ``j`` is compared with the oracle at its time ``t_j``
    (``mu(t_j)``, ``s(t_j)``). Arrays of shape ``(S,)``. With ``box``, also
    the excess cross-entropy over the exact box-prior oracle and the two
    oracles' KL, on the first ``BOX_TRIALS`` trials.
    """
    size = protocol.n_steps
    times = protocol.oracle_times()
    variance = task.prior.variance
    optimal_r2 = np.full(size, np.nan)
    evidence = times >= 1
    err = post.mean[:, times[evidence] - 1] - x_star[:, None, :]
    optimal_r2[evidence] = 1.0 - np.mean(err**2, axis=(0, 2)) / variance
    result = {
        name: np.full(size, np.nan)
        for name in (
            "output_abs_error",
            "excess_cross_entropy",
            "excess_cross_entropy_box",
            "excess_cross_entropy_box_trials",
            "oracle_gap",
            "estimate_rmse",
            "estimate_r2",
        )
    }
    result["saturated"] = np.zeros(size, dtype=np.int64)
    result["optimal_r2"] = optimal_r2
    result["yhat_pairs"] = (np.zeros((len(x_star), 0, task.n_tasks)),) * 2
    if not np.any(scored):
        return result
    idx = np.flatnonzero(scored)
    ti = times[idx] - 1
    mean, std = post.mean[:, ti], post.std[ti]
    logits = out.logits[:, idx]
    z_opt = predict_logits(task, mean, std=std)
    yhat_opt = predict(task, mean, std=std)
    if out.probabilities is None:
        yhat_net = special.expit(logits)
        k = distances_from_logits(task, logits, std=std)
    else:
        yhat_net = out.probabilities[:, idx]
        k = distances(task, yhat_net, std=std)  # warns about saturated outputs
    saturated = ~np.isfinite(logits)
    kl = np.where(saturated, 0.0, bernoulli_kl(z_opt, np.where(saturated, 0.0, logits)))
    kept = np.maximum((~saturated).sum(axis=(0, 2)), 1)
    result["output_abs_error"][idx] = np.mean(np.abs(yhat_net - yhat_opt), axis=(0, 2))
    result["excess_cross_entropy"][idx] = kl.sum(axis=(0, 2)) / kept
    result["saturated"][idx] = saturated.sum(axis=(0, 2))
    result["yhat_pairs"] = (yhat_opt, yhat_net)
    if box is not None:
        m = min(len(x_star), BOX_TRIALS)
        # +-inf (an event impossible in the box) clipped: expit and log_expit give the limit
        z_box = np.clip(predict_logits(task, mean[:m], std=std, prior=box), -1e300, 1e300)
        sat = saturated[:m]
        kl_box = np.where(sat, 0.0, bernoulli_kl(z_box, np.where(sat, 0.0, logits[:m])))
        kept_box = np.maximum((~sat).sum(axis=(0, 2)), 1)
        result["excess_cross_entropy_box"][idx] = kl_box.sum(axis=(0, 2)) / kept_box
        # the flat oracle's excess on the same trials: the two columns side by side
        result["excess_cross_entropy_box_trials"][idx] = kl[:m].sum(axis=(0, 2)) / kept_box
        result["oracle_gap"][idx] = np.mean(bernoulli_kl(z_box, z_opt[:m]), axis=(0, 2))
    if not task.identifiable:  # rank C < D: the outputs do not determine mu(t)
        return result
    mu_hat = recover(task, k)
    valid = np.all(np.isfinite(mu_hat), axis=-1)[..., None]  # (n, K, 1)
    n_valid = np.maximum(valid.sum(axis=0)[:, 0] * task.dim, 1)
    err_mu = np.where(valid, mu_hat - mean, 0.0)
    err_x = np.where(valid, mu_hat - x_star[:, None, :], 0.0)
    no_estimate = valid.sum(axis=0)[:, 0] == 0
    result["estimate_rmse"][idx] = np.where(
        no_estimate, np.nan, np.sqrt((err_mu**2).sum(axis=(0, 2)) / n_valid)
    )
    result["estimate_r2"][idx] = np.where(
        no_estimate, np.nan, 1.0 - (err_x**2).sum(axis=(0, 2)) / n_valid / variance
    )
    return result


def _unit_check(
    task: Task, out: NetworkOutput, x_star: np.ndarray, protocol: TrialProtocol
) -> dict[str, Any]:
    """Does output unit ``i`` answer task row ``i``? At the last scored step.

    ``agreement[i, r]`` is the fraction of trials on which unit ``i``'s answer
    (``Yhat > 1/2``) equals the label of row ``r``; ``1 - agreement`` is its
    agreement with the row's flipped label. The best assignment of units to
    signed rows maximises the total agreement (Hungarian algorithm,
    :func:`scipy.optimize.linear_sum_assignment`, on ``max(a, 1 - a)``, the
    better sign of each pair). A warning is made when it is not the identity
    with positive signs and beats the identity by more than sampling error,
    or when a unit's agreement with its own row is at or below chance (the
    best constant answer's agreement, plus three binomial standard errors).
    """
    from scipy.optimize import linear_sum_assignment

    j = int(np.flatnonzero(protocol.scored_steps())[-1])
    n = len(x_star)
    answers = out.logits[:, j] > 0  # (n, N)
    labels = task.labels(x_star)  # (n, N)
    agreement = (answers[:, :, None] == labels[:, None, :]).mean(axis=0)  # (units, rows)
    signed = np.maximum(agreement, 1.0 - agreement)
    units, rows = linear_sum_assignment(-signed)
    order = rows[np.argsort(units)]
    signs = np.where(agreement[np.arange(task.n_tasks), order] >= 0.5, 1, -1)
    own = np.diag(agreement)
    base = labels.mean(axis=0)
    chance = np.maximum(base, 1.0 - base)
    tolerance = 3.0 * np.sqrt(chance * (1.0 - chance) / n) + 0.5 / n
    best = signed[np.arange(task.n_tasks), order]
    moved = bool(np.any(order != np.arange(task.n_tasks)) or np.any(signs < 0))
    moved = moved and best.sum() - own.sum() > 3.0 * 0.5 * np.sqrt(task.n_tasks / n)
    # a unit at chance under the assignment that holds (the identity, or the one found)
    held = best if moved else own
    assigned = order if moved else np.arange(task.n_tasks)
    rows_chance = chance[assigned]
    at_chance = np.flatnonzero(held <= rows_chance + tolerance[assigned])
    step = int(protocol.step_numbers()[j])
    record: dict[str, Any] = {
        "step": step,
        "agreement": agreement,
        "assignment": order,
        "signs": signs,
        "chance": chance,
        "at_chance": at_chance,
        "identity": not moved and at_chance.size == 0,
    }
    problems = []
    if moved:
        pairs = ", ".join(
            f"unit {i} -> row {int(r)}{'' if sg > 0 else ' (flipped)'}"
            for i, (r, sg) in enumerate(zip(order, signs, strict=True))
        )
        problems.append(
            f"the network's output units do not answer the task's rows in order: at step "
            f"{step} the best assignment is {pairs} (agreement "
            f"{signed[np.arange(task.n_tasks), order].mean():.3f} against "
            f"{own.mean():.3f} for the identity); {_matching_task(task, order, signs)}"
        )
    if at_chance.size:
        problems.append(
            f"output units {at_chance.tolist()} agree with "
            f"{'the rows assigned to them' if moved else 'their own task rows'} at or below "
            f"chance at step {step} (agreement {np.round(held[at_chance], 3).tolist()}, chance "
            f"{np.round(rows_chance[at_chance], 3).tolist()}): untrained, or trained on another "
            f"task"
        )
    record["warning"] = "; ".join(problems)
    return record


def _matching_task(task: Task, order: np.ndarray, signs: np.ndarray) -> str:
    """Name the task whose rows match the units: a constructor, or the reordered rows."""
    C = task.C[order] * signs[:, None]
    b = task.b[order] * signs
    candidates = []
    if task.dim == 2:
        candidates = [
            ("Task.paper_units", Task.paper_units(task.n_tasks)),
            ("Task.evenly_spaced", Task.evenly_spaced(task.n_tasks)),
        ]
    for name, other in candidates:
        if np.allclose(other.C, C, atol=1e-9) and np.allclose(other.b, b, atol=1e-9):
            return f"the matching task is {name}({task.n_tasks}) (with this sigma and prior)"
    flips = np.flatnonzero(signs < 0).tolist()
    text = f"the matching task has rows task.C[{order.tolist()}]"
    return text + (f" with rows {flips} negated (C and b)" if flips else "")


def _output_samples(
    pairs: tuple[np.ndarray, np.ndarray], protocol: TrialProtocol, scored: np.ndarray
) -> dict[str, Any]:
    """A few trials' optimal and network outputs at the first, middle and last scored steps."""
    yhat_opt, yhat_net = pairs
    numbers = protocol.step_numbers()[scored]
    if not numbers.size:
        return {"output_steps": [], "optimal_outputs": [], "network_outputs": []}
    per_step = max(1, _latent_code.PLOT_POINTS // yhat_opt.shape[2])
    chosen = sorted({0, (len(numbers) - 1) // 2, len(numbers) - 1})
    return {
        "output_steps": [int(numbers[k]) for k in chosen],
        "optimal_outputs": [yhat_opt[:per_step, k].ravel() for k in chosen],
        "network_outputs": [yhat_net[:per_step, k].ravel() for k in chosen],
    }
