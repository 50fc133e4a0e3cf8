"""Training batches of the multi-task evidence-accumulation task.

A batch is ``n`` trials from :func:`trilat.simulate`: the latent ``x*`` drawn
from the task's prior, the evidence ``X(t) = x* + sigma eps(t)``, the
observations ``f(X(t))`` of a frozen :class:`trilat.MixingMLP`, and the
targets ``y_i = 1[c_i^T x* > b_i]`` laid out over time by a loss schedule:

- ``"every_step"``: the labels are the target at every step ``t = 1..T``.
  The loss-minimising output at step ``t`` is then ``P(y_i = 1 | X(1..t))``,
  the Bayes-optimal output of Theorem 3.1 *at every step*, which is what
  :func:`trilat.compare` measures step by step.
- ``"decision"``: the paper's schedule. The labels are the target at the
  decision step ``t = T`` only; before it the target is ``0.5`` (the neutral
  answer), and the loss still applies at every step. Outputs before ``T`` are
  trained towards ``1/2``, so only the decision step is comparable with the
  oracle; the network must still carry ``mu(t)`` in its state to answer at
  ``T``. The minimum of the loss includes ``log 2`` per output before ``T``.

Every trial is a pure function of the seed and its index (counter-based
simulation), so the ``k``-th batch of a training run is trials
``k * batch_size .. (k + 1) * batch_size - 1`` of one seed: a run resumed
from a checkpoint sees exactly the batches it would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import positive_int
from trilat.mixing import MixingMLP
from trilat.protocol import TrialProtocol
from trilat.task import Task, check_task, simulate

__all__ = ["LOSSES", "Batch", "make_batch", "schedule_targets"]

LOSSES = ("every_step", "decision")
# Validation trials start here in the training seed's stream: far beyond any
# training run (2^62 trials), so the two never share a trial.
VALIDATION_FIRST_TRIAL = 2**62


@dataclass(frozen=True, eq=False)
class Batch:
    """Trials ready for training.

    Attributes
    ----------
    observations : ndarray, shape (n, T, obs_dim)
        ``f(X(t))``, what the network sees (``(n, S, obs_dim [+ 1])`` with a
        protocol).
    targets : ndarray, shape (n, T, N)
        Targets in ``{0, 1/2, 1}`` laid out by the loss schedule.
    labels : ndarray of bool, shape (n, N)
        ``y_i = 1[c_i^T x* > b_i]``.
    x_star : ndarray, shape (n, D)
    evidence : ndarray, shape (n, T, D)

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import make_batch
    >>> task = trilat.Task.evenly_spaced(6)
    >>> batch = make_batch(task, trilat.MixingMLP(2), n_trials=4, n_steps=5, rng=0)
    >>> batch.observations.shape, batch.targets.shape, batch.labels.shape
    ((4, 5, 40), (4, 5, 6), (4, 6))
    >>> batch.x_star.shape, batch.evidence.shape
    ((4, 2), (4, 5, 2))
    """

    observations: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    x_star: np.ndarray
    evidence: np.ndarray


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def schedule_targets(labels: Any, n_steps: int, loss: str = "every_step") -> np.ndarray:
    """Lay labels ``(n, N)`` out over ``T`` steps: ``(n, T, N)`` targets.

    ``"every_step"``: ``target(t) = y`` for every ``t``. ``"decision"``:
    ``target(t) = 1/2`` for ``t < T`` and ``y`` at ``t = T``.

    Parameters
    ----------
    labels : array_like of bool or {0, 1}, shape (n, N)
    n_steps : int
        ``T``.
    loss : {"every_step", "decision"}

    Returns
    -------
    ndarray, shape (n, T, N), float64

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.experiments import schedule_targets
    >>> labels = np.array([[True, False]])  # (n, N)
    >>> schedule_targets(labels, 3, "decision")[0]  # (T, N): 1/2, then y at t = T
    array([[0.5, 0.5],
           [0.5, 0.5],
           [1. , 0. ]])
    """
    loss = check_loss(loss)
    n_steps = positive_int(n_steps, "n_steps")
    y = np.asarray(labels)
    if y.ndim != 2 or not (y.dtype == bool or np.isin(y, (0, 1)).all()):
        raise ValueError(
            f"labels must be a (n, N) array of booleans or 0/1, got shape {y.shape} and dtype "
            f"{y.dtype}"
        )
    y = y.astype(np.float64)
    targets = np.repeat(y[:, None, :], n_steps, axis=1)
    if loss == "decision":
        targets[:, :-1, :] = 0.5
    return targets


def make_batch(
    task: Task,
    mixing: MixingMLP,
    n_trials: int,
    n_steps: int = 20,
    rng: Any = 0,
    *,
    first_trial: int = 0,
    loss: str = "every_step",
    protocol: TrialProtocol | None = None,
) -> Batch:
    """Trials ``first_trial`` to ``first_trial + n - 1`` of a seed, observed through ``f``.

    ``x* ~ prior``, ``X(t) = x* + sigma eps(t)``, observations ``f(X(t))``,
    targets :func:`schedule_targets` of ``y = 1[C x* > b]``.

    Parameters
    ----------
    task : Task
    mixing : MixingMLP
        The frozen ``f``; its input dimension must be ``task.dim``.
    n_trials, n_steps : int
        ``n`` and ``T``.
    rng : int, SeedSequence or None, default 0
        The seed of the trial stream (see :func:`trilat.simulate`).
    first_trial : int
        Index of the first trial in the stream.
    loss : {"every_step", "decision"}
        Ignored with a ``protocol`` (whose ``scored`` says the same).
    protocol : TrialProtocol, optional
        The trial around the evidence (:class:`trilat.protocol.TrialProtocol`):
        then ``observations`` are :meth:`~TrialProtocol.inputs` ``(n, S,
        obs_dim [+ 1])`` and ``targets`` :meth:`~TrialProtocol.targets`
        ``(n, S, N)``; ``n_steps`` must be its ``stimulus``.

    Returns
    -------
    Batch

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat.experiments import make_batch
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> batch = make_batch(task, mixing, n_trials=4, n_steps=5, rng=0)
    >>> batch.observations.shape  # f(X(t)), (n, T, 40)
    (4, 5, 40)
    >>> bool(((batch.x_star @ task.C.T - task.b > 0) == batch.labels).all())  # y = 1[C x* > b]
    True

    The paper's trial: a fixation step, the evidence, a decision step, a fixation
    channel, targets 1/2 before the decision:

    >>> batch = make_batch(task, mixing, 4, 5, protocol=trilat.TrialProtocol.paper(5))
    >>> batch.observations.shape, np.unique(batch.targets[:, :-1])  # (n, S, 40 + 1)
    ((4, 7, 41), array([0.5]))
    """
    task = check_task(task)
    if not isinstance(mixing, MixingMLP):
        raise ValueError(f"mixing must be a trilat.MixingMLP, got {type(mixing).__name__}")
    if mixing.in_dim != task.dim:
        raise ValueError(
            f"mixing takes D = {mixing.in_dim} inputs but the task has D = {task.dim}"
        )
    trials = simulate(task, n_trials, n_steps, rng, first_trial=first_trial)
    labels = task.labels(trials.x_star)
    if protocol is not None:
        if protocol.stimulus != n_steps:
            raise ValueError(
                f"n_steps = {n_steps} but the protocol has {protocol.stimulus} stimulus steps"
            )
        return Batch(
            observations=protocol.inputs(trials.evidence, mixing),
            targets=protocol.targets(labels),
            labels=labels,
            x_star=trials.x_star,
            evidence=trials.evidence,
        )
    return Batch(
        observations=mixing(trials.evidence),
        targets=schedule_targets(labels, n_steps, loss),
        labels=labels,
        x_star=trials.x_star,
        evidence=trials.evidence,
    )
