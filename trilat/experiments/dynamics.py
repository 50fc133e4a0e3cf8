"""Fixed points of a trained RNN's recurrent map and the dimension of its attractor.

A recurrent network updates its state by ``h(t) = F(h(t-1); u(t))``. Under a
constant *fixation input* ``u`` its fixed points solve ``F(h; u) = h``; they
are found, as in Sussillo & Barak (2013), by minimising the speed
``q(h) = 1/2 ||F(h; u) - h||^2`` from many initial states sampled along
trajectories of the task. At a fixed point ``h*`` the Jacobian
``J = dF/dh (h*)`` of this discrete-time map has eigenvalues ``lambda``; a mode
with ``|lambda| = 1`` neither grows nor decays, so a continuous attractor of
dimension ``d`` shows ``d`` eigenvalues at ``lambda = 1`` at every point, and
its fixed points spread over a ``d``-dimensional set. (For a continuous-time
system the same modes are eigenvalues of ``J - I`` near 0.)

The fixation input. The network sees ``u(t) = f(X(t))``; there is no input
that means "no evidence". The default is the observation of evidence at the
centre of the prior, ``u = f(m)`` (``m = 0`` for the paper's box
``[-0.5, 0.5]^D``): the paper's own analysis feeds its networks the fixation
input with the evidence channels at zero, and for boundaries through the
origin ``X = 0`` lies on every boundary, so it favours no answer of any task.
A network that accumulates evidence then holds what it has accumulated, and
the set of states it can hold is the attractor. ``"mean"`` (the average
observation ``E f(X)``), ``"zero"`` (``u = 0``, input switched off) or any
vector are available for comparison. A network trained on a trial with a
fixation channel (:meth:`trilat.TrialProtocol.paper`) gets that channel on,
``[f(m), 1]`` (for the paper's box, ``m = 0``, the input of its fixation
period): the paper's ``analyze.py`` feeds ``[1, 0, 0]`` (fixation on,
stimulus off); its trajectories are those of the whole trial
(:meth:`TrialProtocol.inputs`).

Fixed points and slow points. A trained network's attractor is approximate:
``F(h) = h`` has isolated solutions (64 equations in 64 unknowns), and the
attractor is a sheet of *slow points* around them where ``F(h) - h`` is small
but not zero. :func:`fixed_points` refines its searches to exact fixed points
(Levenberg-Marquardt after Adam) and reads the spectrum there;
:func:`slow_points` stops after a short Adam descent and keeps the points
slower than a few percent of the states' spread per step, whose principal
axes (``FixedPoints.spread``) show the sheet's dimension.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trilat._checks import (
    as_float_array,
    as_rng,
    describe,
    nonnegative_scalar,
    positive_int,
    positive_scalar,
)
from trilat._progress import progress as progress_block
from trilat.experiments._runtime import torch_threads
from trilat.mixing import MixingMLP
from trilat.protocol import TrialProtocol
from trilat.task import Gaussian, Task, simulate

__all__ = [
    "FIXATIONS",
    "FixedPoints",
    "Hold",
    "fixation_input",
    "fixed_points",
    "hold",
    "slow_points",
]

FIXATIONS = ("center", "mean", "zero")


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Fixed points of ``h -> F(h; u)`` and their linearisation.

    Attributes
    ----------
    points : ndarray, shape (K, S)
        The converged points (speed below ``speed_tol``), float64.
    speed : ndarray, shape (K,)
        ``||F(h) - h||`` at each point.
    eigenvalues : ndarray of complex, shape (K, S)
        Eigenvalues of ``dF/dh`` at each point, sorted by ``|lambda - 1|``.
    marginal : ndarray of int, shape (K,)
        How many eigenvalues have ``|lambda - 1| < tol`` at each point.
    dimension : int
        The attractor's dimension: the median of ``marginal`` (0 when no
        point converged).
    spread : ndarray, shape (min(K, S),)
        Fraction of the points' variance along each principal axis; a
        ``d``-dimensional attractor puts it on ``d`` axes.
    tol : float
        Threshold on ``|lambda - 1|``.
    speed_tol : float
        Threshold on the speed for a point to count as fixed.
    fixation : str
        How the input was chosen.
    input : ndarray, shape (obs_dim,) or (obs_dim + 1,)
        The constant input ``u`` (with a fixation channel, ``[u, 1]``).
    n_initial : int
        Initial states tried.
    all_speed : ndarray, shape (n_initial,)
        Final speed of every search, converged or not.
    kind : {"fixed", "slow"}
        Exact fixed points (:func:`fixed_points`) or slow points
        (:func:`slow_points`).

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, fixed_points
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = build("rnn", obs_dim=40, n_tasks=6, hidden=8)  # untrained, for the shapes
    >>> found = fixed_points(
    ...     network, task, mixing=mixing, n_initial=8, n_trials=16, iterations=20, refine=2,
    ...     progress=False,
    ... )
    >>> found.kind, found.fixation, found.input.shape, found.n_initial, found.all_speed.shape
    ('fixed', 'center', (40,), 8, (8,))
    >>> found.points.shape[1], found.eigenvalues.shape[1]  # (K, S) each: S = 8 hidden units
    (8, 8)
    """

    points: np.ndarray
    speed: np.ndarray
    eigenvalues: np.ndarray
    marginal: np.ndarray
    dimension: int
    spread: np.ndarray
    tol: float
    speed_tol: float
    fixation: str
    input: np.ndarray
    n_initial: int
    all_speed: np.ndarray
    kind: str = "fixed"

    @property
    def n_fixed(self) -> int:
        """``K``, the number of converged points."""
        return int(self.points.shape[0])

    @property
    def timescales(self) -> np.ndarray:
        """``-1 / ln|lambda|`` in steps, ``(K, S)``: how long each mode holds its content
        (negative for a growing mode, ``|lambda| > 1``)."""
        with np.errstate(divide="ignore"):
            return -1.0 / np.log(np.abs(self.eigenvalues))

    def summary(self) -> str:
        """One paragraph: points found, speeds, marginal eigenvalues, dimension."""
        what = "fixed points" if self.kind == "fixed" else "slow points"
        if not self.n_fixed:
            return (
                f"no {what} found under the {self.fixation} input: none of "
                f"{self.n_initial} searches reached speed < {self.speed_tol:.2g} (median final "
                f"speed {np.median(self.all_speed):.3g})"
            )
        counts = np.bincount(self.marginal)
        hist = ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c)
        k = min(self.dimension + 2, self.eigenvalues.shape[1])
        lead = np.median(np.abs(self.eigenvalues[:, :k]), axis=0)
        scales = np.median(self.timescales[:, :k], axis=0)
        return (
            f"{self.n_fixed} of {self.n_initial} searches ended at {what} (speed < "
            f"{self.speed_tol:.2g} x spread) under the {self.fixation} input (median speed "
            f"{np.median(self.speed):.2g}); eigenvalues with "
            f"|lambda - 1| < {self.tol:.3g} per point (count: points) {{{hist}}}; attractor "
            f"dimension {self.dimension}; median |lambda| of the {k} leading modes "
            f"{np.round(lead, 4).tolist()} (timescales {np.round(scales, 1).tolist()} steps); "
            f"variance of the points on their first 4 principal axes "
            f"{np.round(self.spread[:4], 3).tolist()}"
        )


def _center(task: Task) -> np.ndarray:
    prior = task.prior
    if isinstance(prior, Gaussian):
        return np.full(task.dim, prior.mean)
    return np.full(task.dim, 0.5 * (prior.low + prior.high))


def fixation_input(
    fixation: Any, task: Task, mixing: MixingMLP, *, n_steps: int = 20, rng: Any = 0
) -> tuple[str, np.ndarray]:
    """The constant input ``u`` of the fixed-point analysis, shape ``(obs_dim,)``.

    ``"center"``: ``f(m)``, ``m`` the centre of the prior; ``"mean"``: the
    average observation over 4096 simulated trials; ``"zero"``: ``0``; an
    array: itself.

    Parameters
    ----------
    fixation : {"center", "mean", "zero"} or array_like of shape (obs_dim,)
    task : Task
        Its prior (for ``"center"`` and ``"mean"``).
    mixing : MixingMLP
    n_steps : int
        ``T`` of the trials averaged by ``"mean"``.
    rng : int or Generator, default 0
        Seed of those trials.

    Returns
    -------
    name : str
        ``fixation`` (``"given"`` for an array).
    input : ndarray, shape (obs_dim,)

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> from trilat.experiments import fixation_input
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> name, u = fixation_input("center", task, mixing)  # f(0), the prior's centre
    >>> name, u.shape, bool(np.allclose(u, mixing(np.zeros((1, 2)))[0]))
    ('center', (40,), True)
    """
    if isinstance(fixation, str):
        if fixation == "center":
            return fixation, np.asarray(mixing(_center(task)), dtype=np.float64)
        if fixation == "mean":
            trials = simulate(task, 4096, n_steps, rng)
            return fixation, mixing(trials.evidence).mean(axis=(0, 1))
        if fixation == "zero":
            return fixation, np.zeros(mixing.out_dim)
        raise ValueError(f"fixation must be one of {FIXATIONS} or an array, got {fixation!r}")
    u = as_float_array(fixation, "fixation", ndim=1)
    if u.shape != (mixing.out_dim,):
        raise ValueError(f"fixation must have shape ({mixing.out_dim},), got {describe(u)}")
    return "given", u


def fixed_points(
    network: Any,
    task: Task | None = None,
    *,
    mixing: MixingMLP | None = None,
    protocol: TrialProtocol | None = None,
    fixation: Any = "center",
    n_initial: int = 128,
    n_trials: int = 256,
    n_steps: int | None = None,
    noise: float = 0.05,
    iterations: int = 2000,
    lr: float = 1e-2,
    refine: int = 10,
    speed_tol: float = 1e-5,
    tol: float | None = None,
    rng: Any = 0,
    progress: bool | None = None,
    threads: int | None = 1,
) -> FixedPoints:
    """Fixed points of ``F(h; u) = h`` under the fixation input, and their spectra.

    Minimises ``q(h) = 1/2 ||F(h; u) - h||^2`` (float64) from ``n_initial``
    states sampled along ``n_trials`` simulated trajectories, each perturbed
    by Gaussian noise of ``noise`` times the states' RMS spread: Adam for
    ``iterations`` steps, then ``refine`` damped Gauss-Newton
    (Levenberg-Marquardt) steps ``dh = -(A^T A + lambda I)^-1 A^T (F(h) - h)``,
    ``A = dF/dh - I``, which converge quickly onto a manifold of fixed points
    where ``A`` is singular along the manifold. Points with
    ``||F(h) - h|| < speed_tol * RMS spread`` count as fixed. At each,
    the eigenvalues of ``dF/dh`` are computed and those with
    ``|lambda - 1| < tol`` counted.

    Parameters
    ----------
    network : TrainedNetwork or torch.nn.Module
        A recurrent network exposing ``step(state, inputs)`` and
        ``states(observations)`` (as :class:`~trilat.experiments.models.RecurrentNetwork`);
        a :class:`~trilat.experiments.TrainedNetwork` brings its task and mixing.
    task : Task, optional
        Default ``network.task``.
    mixing : MixingMLP, optional
        Default ``network.mixing``.
    protocol : TrialProtocol, optional
        The trial the network was trained on; default ``network.protocol``
        (``None`` for a network trained on the evidence steps alone; pass
        ``TrialProtocol(stimulus=T)`` to analyse a protocol-trained network
        on those). The trajectories that seed the searches run through the
        whole trial, and with a fixation channel the constant input is
        ``[u, 1]``: the channel on, stimulus at ``u``.
    fixation : {"center", "mean", "zero"} or array_like
        The constant input to the mixed channels (see the module docstring);
        default ``f`` of the prior's centre.
    n_initial, n_trials : int
        Searches, and the trials whose states seed them.
    n_steps : int, optional
        ``T`` of those trials (default: the training ``T`` or the protocol's
        ``stimulus``, else 20).
    noise : float
        Perturbation of the initial states, in units of the states' RMS spread.
    iterations, lr : int, float
        Adam steps and learning rate (in units of the RMS spread).
    refine : int
        Levenberg-Marquardt steps after Adam.
    speed_tol : float
        Relative speed below which a point is fixed.
    tol : float, optional
        Threshold on ``|lambda - 1|``; default ``1 - exp(-2/T)``: the modes
        whose timescale ``-1 / ln|lambda|`` is at least ``T/2`` steps, which
        keep at least ``e^-2`` (14%) of what they hold over a whole trial and
        so carry evidence from its start to the decision. (A trained
        network's other modes decay within a few steps; an exact continuous
        attractor has ``|lambda - 1| = 0``. :attr:`FixedPoints.eigenvalues`
        holds the spectrum for any other threshold.)
    rng : int, Generator or None, default 0
        Seeds the trials, the choice of initial states and their noise.
    progress : bool, optional
        Progress bar; default: when stderr is a terminal.
    threads : int or None
        ``torch.set_num_threads`` for the search (restored after).

    Returns
    -------
    FixedPoints

    Raises
    ------
    ValueError
        A network without a recurrent map (the transformer), or bad arguments.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, fixed_points
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = build("rnn", obs_dim=40, n_tasks=6, hidden=8)  # untrained, for the shapes
    >>> found = fixed_points(
    ...     network, task, mixing=mixing, n_initial=8, n_trials=16, iterations=20, refine=2,
    ...     progress=False,
    ... )
    >>> found.kind, found.all_speed.shape  # the final speed of each of the 8 searches
    ('fixed', (8,))
    """
    module, task, mixing, protocol, steps = _recurrent_setup(
        network, task, mixing, protocol, n_steps
    )
    n_initial = positive_int(n_initial, "n_initial")
    n_trials = positive_int(n_trials, "n_trials")
    iterations = positive_int(iterations, "iterations", minimum=0)
    refine = positive_int(refine, "refine", minimum=0)
    lr = positive_scalar(lr, "lr")
    speed_tol = positive_scalar(speed_tol, "speed_tol")
    noise = nonnegative_scalar(noise, "noise")
    tol = 1.0 - math.exp(-2.0 / steps) if tol is None else positive_scalar(tol, "tol")
    gen = as_rng(rng)
    trial_seed = int(gen.integers(0, 2**63 - 1))
    kind, u_np = _constant_input(fixation, task, mixing, protocol, steps, trial_seed)

    dtype = torch.float64
    with _frozen_float64(module), torch_threads(threads):
        u = torch.as_tensor(u_np, dtype=dtype)
        traj = _trajectories(module, task, mixing, protocol, n_trials, steps, trial_seed)
        traj = traj.reshape(-1, module.state_size)
        scale = float(torch.sqrt(((traj - traj.mean(0)) ** 2).sum(1).mean()))
        if not scale > 0:
            raise ValueError(
                "the network's states do not vary along trajectories; nothing to analyse"
            )
        pick = torch.as_tensor(gen.integers(0, traj.shape[0], size=n_initial))
        kick = torch.as_tensor(gen.standard_normal((n_initial, traj.shape[1])), dtype=dtype)
        h0 = traj[pick] + noise * scale / math.sqrt(traj.shape[1]) * kick
        h = _search(module, u, h0, scale, iterations, lr, refine, progress)
        with torch.no_grad():
            speed = torch.linalg.vector_norm(module.step(h, u) - h, dim=1).numpy()
        fixed = speed < speed_tol * scale
        points = h[torch.as_tensor(fixed)]
        jac = _jacobians(module, u, points).numpy()

    points_np = points.numpy()
    eig = np.linalg.eigvals(jac) if len(jac) else np.zeros((0, points_np.shape[1]), complex)
    order = np.argsort(np.abs(eig - 1), axis=1)
    eig = np.take_along_axis(eig, order, axis=1)
    marginal = np.count_nonzero(np.abs(eig - 1) < tol, axis=1)
    if len(points_np) > 1:
        centred = points_np - points_np.mean(0)
        sv = np.linalg.svd(centred, compute_uv=False) ** 2
        spread = sv / sv.sum() if sv.sum() > 0 else np.zeros_like(sv)
    else:
        spread = np.zeros(0)
    return FixedPoints(
        points=points_np,
        speed=speed[fixed],
        eigenvalues=eig,
        marginal=marginal,
        dimension=int(np.median(marginal)) if len(marginal) else 0,
        spread=spread,
        tol=tol,
        speed_tol=speed_tol,
        fixation=kind,
        input=u_np,
        n_initial=n_initial,
        all_speed=speed,
    )


def _recurrent_setup(
    network: Any,
    task: Task | None,
    mixing: MixingMLP | None,
    protocol: TrialProtocol | None,
    n_steps: int | None,
) -> tuple[Any, Task, MixingMLP, TrialProtocol | None, int]:
    """The module with a recurrent map, and the task, mixing, protocol and ``T`` it was
    trained on (defaults from a :class:`~trilat.experiments.TrainedNetwork`)."""
    module = getattr(network, "module", network)
    if not (hasattr(module, "step") and hasattr(module, "states")):
        raise ValueError(
            f"{type(module).__name__} has no recurrent map: the analysis needs a module with "
            f"step(state, inputs) and states(observations) (the 'rnn', 'gru' and 'lstm' "
            f"architectures; a transformer has none)"
        )
    task = getattr(network, "task", None) if task is None else task
    mixing = getattr(network, "mixing", None) if mixing is None else mixing
    if not isinstance(task, Task):
        raise ValueError(f"task must be a trilat.Task (or come with the network), got {task!r}")
    if not isinstance(mixing, MixingMLP):
        raise ValueError(
            f"mixing must be a trilat.MixingMLP (or come with the network), got {mixing!r}"
        )
    config = getattr(network, "config", {})
    protocol = getattr(network, "protocol", None) if protocol is None else protocol
    if protocol is not None and not isinstance(protocol, TrialProtocol):
        raise ValueError(f"protocol must be a trilat.TrialProtocol, got {protocol!r}")
    default_steps = config.get("n_steps", 20) if protocol is None else protocol.stimulus
    steps = positive_int(n_steps if n_steps is not None else default_steps, "n_steps")
    if protocol is not None and steps != protocol.stimulus:
        raise ValueError(
            f"n_steps = {steps} but the protocol has stimulus = {protocol.stimulus} steps"
        )
    return module, task, mixing, protocol, steps


def _constant_input(
    fixation: Any,
    task: Task,
    mixing: MixingMLP,
    protocol: TrialProtocol | None,
    steps: int,
    seed: int,
) -> tuple[str, np.ndarray]:
    """:func:`fixation_input`, with the fixation channel on when the protocol has one."""
    kind, u = fixation_input(fixation, task, mixing, n_steps=steps, rng=seed)
    if protocol is not None and protocol.fixation_channel:
        u = np.append(u, 1.0)
    return kind, u


def _trajectories(
    module: Any,
    task: Task,
    mixing: MixingMLP,
    protocol: TrialProtocol | None,
    n_trials: int,
    steps: int,
    seed: int,
) -> torch.Tensor:
    """States ``(n_trials, S, state_size)`` along simulated trials, float64, through the
    whole trial of ``protocol`` (its fixation, stimulus, delay and decision steps)."""
    evidence = simulate(task, n_trials, steps, seed).evidence
    observed = mixing(evidence) if protocol is None else protocol.inputs(evidence, mixing)
    with torch.no_grad():
        return module.states(torch.as_tensor(observed, dtype=torch.float64))


@contextlib.contextmanager
def _frozen_float64(module: Any) -> Iterator[None]:
    """The module in float64 and eval mode, parameters frozen; all restored on exit."""
    original = next(module.parameters()).dtype
    was_training = module.training
    grad_flags = [p.requires_grad for p in module.parameters()]
    module.to(torch.float64).eval()
    try:
        for p in module.parameters():
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(module.parameters(), grad_flags, strict=True):
            p.requires_grad_(flag)
        module.to(original).train(was_training)


@dataclass(frozen=True, eq=False)
class Hold:
    """What the fixation input does to the states a trial's evidence left.

    ``h`` is the recurrent state as :meth:`step` carries it: the hidden units,
    or ``[h, c]`` for an LSTM (whose cell state ``c`` is unbounded and
    weighs in the spread as much as its units' outputs).

    Attributes
    ----------
    steps : ndarray of int, shape (K,)
        Steps ``k = 1..K`` after the last evidence step.
    spread : ndarray, shape (K,)
        ``RMS_i ||h_i(T+k) - mean_j h_j(T+k)|| / RMS_i ||h_i(T) - mean_j h_j(T)||``:
        the spread of the states across trials, relative to that at the last
        evidence step ``T``. 1 holds what the trials left (an attractor); below
        1 forgets it (the states collapse); above 1 expands it (unstable).
    drift : ndarray, shape (K,)
        ``RMS_i ||h_i(T+k) - h_i(T)||`` in units of the spread at ``T``: 0 for
        an exact attractor.
    fixation : str
        How the input was chosen.
    input : ndarray, shape (obs_dim,) or (obs_dim + 1,)
        The constant input ``u`` (with a fixation channel, ``[u, 1]``).
    n_trials : int
        Trials whose end states were held.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, hold
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = build("rnn", obs_dim=40, n_tasks=6, hidden=8)  # untrained, for the shapes
    >>> held = hold(network, task, mixing=mixing, n_hold=5, n_trials=16)
    >>> held.steps.tolist(), held.spread.shape, held.drift.shape
    ([1, 2, 3, 4, 5], (5,), (5,))
    """

    steps: np.ndarray
    spread: np.ndarray
    drift: np.ndarray
    fixation: str
    input: np.ndarray
    n_trials: int

    def summary(self) -> str:
        """One sentence: the spread and drift after the last step held."""
        k = int(self.steps[-1])
        return (
            f"after {k} steps under the {self.fixation} input the states of {self.n_trials} "
            f"trials spread {self.spread[-1]:.3g} times as wide as at the end of the evidence "
            f"(1: held, < 1: forgotten, > 1: unstable), each moved {self.drift[-1]:.3g} spreads (RMS)"
        )


def hold(
    network: Any,
    task: Task | None = None,
    *,
    mixing: MixingMLP | None = None,
    protocol: TrialProtocol | None = None,
    fixation: Any = "center",
    n_trials: int = 256,
    n_steps: int | None = None,
    n_hold: int | None = None,
    rng: Any = 0,
    threads: int | None = 1,
) -> Hold:
    """Run the fixation input on from the states a trial's evidence left: are they held?

    From the state ``h_i(T)`` after the last evidence step of each of
    ``n_trials`` simulated trials, ``h_i(T+k) = F(h_i(T+k-1); u)`` for
    ``k = 1..n_hold`` under the constant fixation input ``u`` (as
    :func:`fixed_points`), in float64. A network that stores its estimate in
    an attractor keeps the states' spread across trials (ratio 1) and each
    state where it is (drift 0); a leaky one lets them collapse, an unstable
    one blows them apart: ``spread ~ |lambda|^k`` along the leading mode. This
    needs no fixed point, and says what a search that finds none cannot.

    Parameters
    ----------
    network, task, mixing, protocol, fixation, n_steps, threads
        As :func:`fixed_points`.
    n_trials : int
        Trials whose end states are held.
    n_hold : int, optional
        Steps to hold; default ``T``.
    rng : int, Generator or None, default 0
        Seeds the trials.

    Returns
    -------
    Hold

    Raises
    ------
    ValueError
        A network without a recurrent map, or bad arguments.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, hold
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = build("rnn", obs_dim=40, n_tasks=6, hidden=8)
    >>> held = hold(network, task, mixing=mixing, n_trials=32)
    >>> len(held.spread)  # T = 20 steps held by default
    20
    """
    module, task, mixing, protocol, steps = _recurrent_setup(
        network, task, mixing, protocol, n_steps
    )
    n_trials = positive_int(n_trials, "n_trials", minimum=2)
    n_hold = positive_int(steps if n_hold is None else n_hold, "n_hold")
    trial_seed = int(as_rng(rng).integers(0, 2**63 - 1))
    kind, u_np = _constant_input(fixation, task, mixing, protocol, steps, trial_seed)
    last = steps - 1 if protocol is None else protocol.fixation + protocol.stimulus - 1
    with _frozen_float64(module), torch_threads(threads), torch.no_grad():
        h0 = _trajectories(module, task, mixing, protocol, n_trials, steps, trial_seed)[:, last]
        u = torch.as_tensor(u_np, dtype=torch.float64)
        spread0 = _rms(h0 - h0.mean(0))
        if not spread0 > 0:
            raise ValueError("the states at the end of the evidence do not vary; nothing to hold")
        spread, drift = np.empty(n_hold), np.empty(n_hold)
        h = h0
        for k in range(n_hold):
            h = module.step(h, u)
            spread[k] = _rms(h - h.mean(0)) / spread0
            drift[k] = _rms(h - h0) / spread0
    return Hold(
        steps=np.arange(1, n_hold + 1),
        spread=spread,
        drift=drift,
        fixation=kind,
        input=u_np,
        n_trials=n_trials,
    )


def _rms(x: torch.Tensor) -> float:
    """``sqrt(mean_i ||x_i||^2)`` over the rows."""
    return float(torch.sqrt((x**2).sum(1).mean()))


def slow_points(
    network: Any,
    task: Task | None = None,
    *,
    speed_tol: float = 0.02,
    iterations: int = 300,
    **kwargs: Any,
) -> FixedPoints:
    """Slow points of ``h -> F(h; u)``: ``||F(h) - h|| < speed_tol * spread`` after a short descent.

    :func:`fixed_points` with ``refine=0``, ``iterations`` Adam steps on
    ``q(h) = 1/2 ||F(h; u) - h||^2`` and a loose ``speed_tol`` (relative to the
    RMS spread of the states along trajectories): the descent reaches the
    slow manifold quickly across it and slides along it only slowly, so the
    points kept trace the approximate attractor instead of collapsing onto
    its few exact fixed points (Sussillo & Barak, 2013). The eigenvalues are
    those of ``dF/dh`` at the slow points; ``spread`` gives the fraction of
    their variance on each principal axis.

    Parameters
    ----------
    network, task
        As :func:`fixed_points`.
    speed_tol : float
        Speed below which a point is kept, relative to the states' RMS spread.
    iterations : int
        Adam steps.
    **kwargs
        Any other argument of :func:`fixed_points` (``fixation``, ``n_initial``,
        ``rng``, ...).

    Returns
    -------
    FixedPoints

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, slow_points
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = build("rnn", obs_dim=40, n_tasks=6, hidden=8)  # untrained, for the shapes
    >>> found = slow_points(
    ...     network, task, mixing=mixing, n_initial=8, n_trials=16, iterations=20, progress=False
    ... )
    >>> found.kind, found.n_initial
    ('slow', 8)
    """
    if "refine" in kwargs:
        raise ValueError("slow_points does not refine; call fixed_points for exact fixed points")
    found = fixed_points(
        network, task, speed_tol=speed_tol, iterations=iterations, refine=0, **kwargs
    )
    return dataclasses.replace(found, kind="slow")


def _jacobians(module: Any, u: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``dF/dh`` at each point, ``(K, S, S)``: one Jacobian of the batch sum."""
    if not len(points):
        return torch.zeros(0, points.shape[1], points.shape[1], dtype=points.dtype)
    full = torch.autograd.functional.jacobian(lambda x: module.step(x, u).sum(0), points)
    return full.permute(1, 0, 2)  # (S, K, S) -> (K, S, S)


def _search(
    module: Any,
    u: torch.Tensor,
    h0: torch.Tensor,
    scale: float,
    iterations: int,
    lr: float,
    refine: int,
    progress: bool | None,
) -> torch.Tensor:
    """Minimise ``sum_k 1/2 ||F(h_k) - h_k||^2``: Adam, then Levenberg-Marquardt per point."""
    h = h0.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=lr * scale / math.sqrt(h.shape[1]))
    with progress_block(iterations + refine, "fixed points", progress) as pbar:
        for _ in range(iterations):
            q = 0.5 * ((module.step(h, u) - h) ** 2).sum()
            opt.zero_grad(set_to_none=True)
            q.backward()
            opt.step()
            pbar.update(1)
        h = h.detach()
        eye = torch.eye(h.shape[1], dtype=h.dtype)
        damping = torch.full((h.shape[0],), 1e-3, dtype=h.dtype)
        with torch.no_grad():
            r = module.step(h, u) - h
        for _ in range(refine):
            a = _jacobians(module, u, h) - eye
            with torch.no_grad():
                at = a.transpose(1, 2)
                lhs = at @ a + damping[:, None, None] * eye
                dh = -torch.linalg.solve(lhs, (at @ r[:, :, None]))[:, :, 0]
                trial = h + dh
                r_trial = module.step(trial, u) - trial
                better = (r_trial**2).sum(1) < (r**2).sum(1)
                h = torch.where(better[:, None], trial, h)
                r = torch.where(better[:, None], r_trial, r)
                damping = torch.where(better, damping / 3, damping * 4).clamp(1e-12, 1e6)
            pbar.update(1)
    return h.detach()
