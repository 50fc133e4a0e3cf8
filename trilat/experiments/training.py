"""Train the paper's networks: Adam on binary cross-entropy, seeded, resumable.

The loss is ``BCEWithLogits(z, target) = mean[log(1 + e^z) - target z]`` over
trials, steps and tasks, with targets laid out by the loss schedule of
:mod:`trilat.experiments.data`. Its minimum over outputs is reached at the
Bayes-optimal ``Yhat_i(t) = P(y_i = 1 | X(1..t))``; on a validation set the
gap to the (flat-prior) oracle's loss is reported as the *excess* loss.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trilat._checks import as_rng, positive_int, positive_scalar
from trilat._progress import progress as progress_block
from trilat.adapters import NetworkOutput, from_torch
from trilat.experiments._runtime import torch_threads
from trilat.experiments.data import VALIDATION_FIRST_TRIAL, check_loss, make_batch
from trilat.experiments.models import ARCHITECTURES, build
from trilat.mixing import MixingMLP
from trilat.oracle import posterior, predict_logits
from trilat.protocol import TrialProtocol
from trilat.task import Task, check_task

__all__ = [
    "RECIPES",
    "History",
    "Recipe",
    "TrainedNetwork",
    "load",
    "save_paper_checkpoint",
    "train",
]

CHECKPOINT_FORMAT = "trilat.experiments.checkpoint/1"
# Draw this many trials per call to the simulator and slice them into batches:
# a pure function of the trial index, so chunking changes no number.
_CHUNK_TRIALS = 4096


@dataclass
class History:
    """What happened during training, one entry per evaluation.

    Attributes
    ----------
    step : list of int
        Optimiser steps done at each evaluation.
    train_loss : list of float
        Mean training loss over the steps since the previous evaluation.
    val_loss : list of float
        Loss on the fixed validation set.
    oracle_loss : float
        The flat-prior oracle's loss on the same validation set; ``val_loss -
        oracle_loss`` is the excess (it can be slightly negative: on the
        uniform box the flat-prior oracle is not exactly optimal).
    best_step : int
        The step whose weights were kept (lowest validation loss).
    stopped_early : bool
        Whether training stopped on a plateau before ``steps``.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import train
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trained = train(
    ...     "rnn", task, steps=2, batch_size=8, n_steps=5, hidden=8, eval_every=1, eval_trials=64,
    ...     progress=False,
    ... )  # two steps: the shapes, not a trained network
    >>> history = trained.history
    >>> history.step, len(history.train_loss), len(history.val_loss), history.stopped_early
    ([1, 2], 2, 2, False)
    """

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    oracle_loss: float = math.nan
    best_step: int = 0
    stopped_early: bool = False

    @property
    def best_val_loss(self) -> float:
        """Validation loss of the kept weights."""
        if not self.step:
            return math.nan
        return self.val_loss[self.step.index(self.best_step)]

    @property
    def excess(self) -> float:
        """``best_val_loss - oracle_loss``, nats per output."""
        return self.best_val_loss - self.oracle_loss

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": list(self.step),
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "oracle_loss": self.oracle_loss,
            "best_step": self.best_step,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(**d)


class TrainedNetwork:
    """A trained network with the task and the mixing ``f`` it was trained on.

    It is a :class:`trilat.adapters.Network`: ``trained(observations)``
    returns a :class:`trilat.NetworkOutput` (latents from the ``"latent"``
    submodule, logits from the readout), and it carries ``mixing``, so
    ``trilat.compare(trained, trained.task)`` feeds it the observations it
    was trained on.

    Attributes
    ----------
    module : torch.nn.Module
    task : Task
    mixing : MixingMLP
    protocol : TrialProtocol or None
        The trial it was trained on (``None``: the evidence alone, ``T``
        steps); :func:`trilat.compare` reads it.
    arch : str
    config : dict
        The training configuration (plain values).
    history : History

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import train
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trained = train(
    ...     "rnn", task, steps=2, batch_size=8, n_steps=5, hidden=8, eval_every=1, eval_trials=64,
    ...     progress=False,
    ... )  # two steps: the shapes, not a trained network
    >>> import numpy as np
    >>> out = trained(np.zeros((3, 5, 40)))  # observations f(X(t)), (n, T, 40)
    >>> out.latents.shape, out.logits.shape  # (n, T, H), (n, T, N)
    ((3, 5, 8), (3, 5, 6))
    >>> trained.arch, trained.protocol, type(trained.mixing).__name__
    ('rnn', None, 'MixingMLP')
    """

    input_kind = "observations"

    def __init__(
        self,
        module: nn.Module,
        task: Task,
        mixing: MixingMLP,
        *,
        arch: str,
        config: dict[str, Any],
        history: History,
    ) -> None:
        self.module = module
        self.task = task
        self.mixing = mixing
        self.arch = arch
        self.config = dict(config)
        self.history = history
        protocol = self.config.get("protocol")
        self.protocol = None if protocol is None else TrialProtocol.from_dict(protocol)
        self._network = from_torch(
            module, latent="latent", obs_dim=self.obs_dim, n_tasks=task.n_tasks
        )

    @property
    def obs_dim(self) -> int:
        """Input width: the mixing's, plus the protocol's extra channels."""
        extra = 0 if self.protocol is None else self.protocol.extra_channels()
        return self.mixing.out_dim + extra

    @property
    def n_tasks(self) -> int:
        return self.task.n_tasks

    def __call__(self, observations: np.ndarray) -> NetworkOutput:
        """Latents ``(n, T, H)`` and logits ``(n, T, N)`` for observations ``(n, T, obs_dim)``."""
        return self._network(observations)

    def save(self, path: Any) -> Path:
        """Write the weights, task, mixing, configuration and history (loadable by :func:`load`)."""
        return _save(Path(path), _final_state(self))

    def __repr__(self) -> str:
        return (
            f"TrainedNetwork(arch={self.arch!r}, hidden={self.config.get('hidden')}, "
            f"n_tasks={self.task.n_tasks}, steps={self.history.best_step}, "
            f"excess={self.history.excess:.3g})"
        )


def _mixing_state(mixing: MixingMLP) -> dict[str, Any]:
    return {
        "in_dim": mixing.in_dim,
        "widths": list(mixing.widths),
        "weights": [torch.from_numpy(np.array(w)) for w in mixing.weights],
        "biases": [torch.from_numpy(np.array(b)) for b in mixing.biases],
    }


def _mixing_from_state(d: dict[str, Any]) -> MixingMLP:
    """Rebuild a :class:`MixingMLP` with exactly the saved weights (float64)."""
    mixing = MixingMLP.__new__(MixingMLP)
    mixing.in_dim = int(d["in_dim"])
    mixing.widths = tuple(int(w) for w in d["widths"])
    mixing.weights = tuple(w.double().numpy() for w in d["weights"])
    mixing.biases = tuple(b.double().numpy() for b in d["biases"])
    return mixing


def _final_state(trained: TrainedNetwork) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": trained.arch,
        "config": dict(trained.config),
        "task": trained.task.to_dict(),
        "mixing": _mixing_state(trained.mixing),
        "model": trained.module.state_dict(),
        "history": trained.history.to_dict(),
        "finished": True,
    }


def _save(path: Path, state: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind
    return path


def _read(path: Any) -> dict[str, Any]:
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path} holds objects other than tensors and plain containers; trilat loads "
            f"checkpoints with weights_only=True and never unpickles arbitrary objects"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a trilat.experiments checkpoint (expected format "
            f"{CHECKPOINT_FORMAT!r}); load plain state dicts with trilat.adapters.load_state_dict"
        )
    return state


def _module_for(arch: Any, config: dict[str, Any], module: nn.Module | None) -> nn.Module:
    if module is not None:
        return module
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"the checkpoint holds a custom architecture {arch!r}; pass module= with the same "
            f"structure to load it"
        )
    return build(
        arch,
        config["obs_dim"],
        config["n_tasks"],
        hidden=config["hidden"],
        heads=config["heads"],
    )


def load(path: Any, *, module: nn.Module | None = None) -> TrainedNetwork:
    """Load a network written by :meth:`TrainedNetwork.save` or a ``train(checkpoint=)`` run.

    The file is read with ``torch.load(weights_only=True)``: tensors and
    plain containers only, never arbitrary pickled objects.

    Parameters
    ----------
    path : str or path-like
    module : torch.nn.Module, optional
        A module of the same structure, needed only for a custom architecture.

    Returns
    -------
    TrainedNetwork
        With the kept (best) weights, in eval mode.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import train
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trained = train(
    ...     "rnn", task, steps=2, batch_size=8, n_steps=5, hidden=8, eval_every=1, eval_trials=64,
    ...     progress=False,
    ... )  # two steps: the shapes, not a trained network
    >>> import os, tempfile
    >>> from trilat.experiments import load
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "rnn.pt")
    >>> path = trained.save(path)  # returns the path written
    >>> again = load(path)
    >>> again.arch, again.config == trained.config
    ('rnn', True)
    >>> tmp.cleanup()
    """
    state = _read(path)
    config = state["config"]
    net = _module_for(state["arch"], config, module)
    weights = state["model"] if state.get("finished") else state["best_model"]
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:
        raise ValueError(f"the weights in {path} do not fit {type(net).__name__}: {exc}") from None
    net.eval()
    return TrainedNetwork(
        net,
        Task.from_dict(state["task"]),
        _mixing_from_state(state["mixing"]),
        arch=state["arch"],
        config=config,
        history=History.from_dict(state["history"]),
    )


SCHEDULES = ("constant", "cosine")
KEEPS = ("best", "last")


@dataclass(frozen=True)
class Recipe:
    """Optimiser settings of a training run, by name (see :data:`RECIPES`).

    Attributes
    ----------
    name : str
    steps : int
        Optimiser steps (batches).
    batch_size : int
    lr : float
        Adam's (peak) learning rate.
    schedule : {"constant", "cosine"}
    patience : int or None
        Early stopping (``None``: never).
    keep : {"best", "last"}
        The weights returned: the lowest validation loss seen, or the last.

    Examples
    --------
    >>> from trilat.experiments import RECIPES
    >>> RECIPES["paper"]  # train.py's settings
    Recipe(name='paper', steps=100000, batch_size=16, lr=0.001, schedule='constant', patience=None, keep='last')
    """

    name: str
    steps: int
    batch_size: int
    lr: float
    schedule: str
    patience: int | None
    keep: str

    def trials(self, steps: int | None = None) -> int:
        """Training trials, ``steps * batch_size``."""
        return (self.steps if steps is None else steps) * self.batch_size


RECIPES = {
    # train.py's defaults: 1e5 batches of 16 (1.6M trials), Adam at a constant 1e-3,
    # the final weights saved (there is no validation set)
    "paper": Recipe("paper", 100_000, 16, 1e-3, "constant", None, "last"),
    # trilat's: larger batches and a cosine decay, which get further per trial on a
    # CPU; the best validation weights kept
    "trilat": Recipe("trilat", 4_000, 64, 2e-3, "cosine", None, "best"),
}
# train()'s defaults without a recipe (before recipes existed)
_LEGACY = Recipe("default", 20_000, 16, 1e-3, "constant", 10, "best")
_UNSET: Any = object()


def _recipe(recipe: str | Recipe | None) -> Recipe:
    if recipe is None:
        return _LEGACY
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {tuple(RECIPES)} or a Recipe, got {recipe!r}")
    return RECIPES[recipe]


def save_paper_checkpoint(trained: TrainedNetwork, checkpoint: Any, readout: Any) -> None:
    """Write a ``"paper_rnn"`` network as the paper's ``train.py`` saves it.

    ``checkpoint`` gets ``{'state_dict': <inp_to_rec, rec_to_rec, rec_to_out>,
    'encoder': <the mixing MLP as Sequential(Linear, ReLU, Linear, ReLU,
    Linear): keys 0.*, 2.*, 4.*>, 'loss_hist': <the training losses>}``
    (float32, as torch's defaults); ``readout`` the state dict of
    ``Sequential(Linear(hidden, N), Sigmoid())`` (keys ``0.weight``,
    ``0.bias``). ``examples/disentangleres.py`` loads the pair.

    Parameters
    ----------
    trained : TrainedNetwork
        Of architecture ``"paper_rnn"``.
    checkpoint, readout : path-like

    Examples
    --------
    >>> import os, tempfile
    >>> import trilat
    >>> from trilat.experiments import save_paper_checkpoint, train
    >>> trained = train(
    ...     "paper_rnn", trilat.Task.paper_units(6), recipe="paper", steps=2, batch_size=8,
    ...     hidden=8, n_steps=5, protocol=trilat.TrialProtocol.paper(5), eval_every=1,
    ...     eval_trials=64, progress=False,
    ... )
    >>> tmp = tempfile.TemporaryDirectory()
    >>> checkpoint = os.path.join(tmp.name, "model.pt")
    >>> readout = os.path.join(tmp.name, "readout.pt")
    >>> save_paper_checkpoint(trained, checkpoint, readout)
    >>> sorted(trilat.read_weights(checkpoint)), sorted(trilat.read_weights(readout))
    (['encoder', 'loss_hist', 'state_dict'], ['0.bias', '0.weight'])
    >>> tmp.cleanup()
    """
    from trilat.experiments.models import PaperRNN

    module = trained.module
    if not isinstance(module, PaperRNN):
        raise ValueError(
            f"trained must hold a 'paper_rnn' network (PaperRNN), got {type(module).__name__}; "
            f"the paper's checkpoint format names that network's layers"
        )
    rnn = {
        k: v.detach().cpu().float()
        for k, v in module.state_dict().items()
        if k.split(".")[0] in ("inp_to_rec", "rec_to_rec", "rec_to_out")
    }
    encoder: dict[str, torch.Tensor] = {}
    for layer, (w, b) in enumerate(
        zip(trained.mixing.weights, trained.mixing.biases, strict=True)
    ):
        # MixingMLP holds (fan_in, fan_out) matrices; nn.Linear.weight is (out, in)
        encoder[f"{2 * layer}.weight"] = torch.from_numpy(np.ascontiguousarray(w.T)).float()
        encoder[f"{2 * layer}.bias"] = torch.from_numpy(np.asarray(b)).float()
    loss_hist = np.asarray(trained.history.train_loss, dtype=np.float64)
    torch.save({"state_dict": rnn, "encoder": encoder, "loss_hist": loss_hist}, checkpoint)
    head = {k: v.detach().cpu().float() for k, v in module.readout.state_dict().items()}
    torch.save(head, readout)


def _check_schedule(schedule: str) -> str:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    return schedule


def _oracle_logits(
    task: Task, evidence: np.ndarray, loss: str, protocol: TrialProtocol | None = None
) -> np.ndarray:
    """The flat-prior oracle's logits, laid out like the targets of ``loss`` (or ``protocol``).

    With a protocol: the oracle at each step's time (:meth:`TrialProtocol.oracle_times`),
    0 at steps without evidence (the prior's answer for boundaries through the
    prior's centre) and at steps whose target is ``1/2``.
    """
    post = posterior(task, evidence)
    z = predict_logits(task, post.mean, std=post.std)
    if protocol is not None:
        z = protocol.expand(z, before=0.0)
        if protocol.scored == "decision":
            z[:, ~protocol.scored_steps()] = 0.0
        return z
    if loss == "decision":
        z[:, :-1, :] = 0.0  # the optimal answer to a target of 1/2
    return z


def train(
    arch: str | nn.Module,
    task: Task,
    *,
    recipe: str | Recipe | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    schedule: str | None = None,
    n_steps: int | None = None,
    hidden: int = 64,
    heads: int = 8,
    loss: str | None = None,
    protocol: TrialProtocol | None = None,
    mixing: MixingMLP | None = None,
    rng: Any = 0,
    progress: bool | None = None,
    patience: int | None = _UNSET,
    keep: str | None = None,
    min_delta: float = 1e-4,
    eval_every: int = 250,
    eval_trials: int = 2048,
    checkpoint: Any = None,
    threads: int | None = 1,
    device: Any = "cpu",
) -> TrainedNetwork:
    """Train a network on the multi-task task with Adam and binary cross-entropy.

    Minimises ``mean[log(1 + e^z) - target z]`` (``BCEWithLogitsLoss``) over
    batches of fresh trials: batch ``k`` is trials ``k B .. (k+1) B - 1`` of
    the run's data seed, observed through the frozen ``mixing``
    (:func:`trilat.experiments.data.make_batch`). Every ``eval_every`` steps
    the loss on a fixed validation set (``eval_trials`` trials far away in
    the same stream) is measured; the weights with the lowest validation
    loss are kept, and training stops early when it has not improved by
    ``min_delta`` for ``patience`` evaluations.

    The paper's experiment is ``train("paper_rnn", Task.paper_units(N),
    recipe="paper", protocol=TrialProtocol.paper())`` (``"lstm"``, ``"gpt2"``
    for its other networks): 22-step trials with a fixation channel, BCE at
    every step towards ``1/2`` and the label at the decision step, batches of
    16, Adam at a constant 1e-3 for 1e5 batches (``steps=`` lowers it), the
    final weights kept, the mixing MLP drawn as PyTorch's default
    ``nn.Linear`` initialisation (as :class:`trilat.MixingMLP` always is).

    Parameters
    ----------
    arch : {"rnn", "gru", "lstm", "transformer", "paper_rnn", "gpt2"} or torch.nn.Module
        An architecture of :mod:`trilat.experiments.models` (built with
        ``hidden`` units), or your own module mapping ``(n, T, obs_dim)`` to
        logits ``(n, T, N)`` with a submodule named ``"latent"``.
    task : Task
    recipe : {"paper", "trilat"} or Recipe, optional
        Named optimiser settings (:data:`RECIPES`): ``steps``, ``batch_size``,
        ``lr``, ``schedule``, ``patience`` and ``keep``; an argument given
        explicitly overrides the recipe's value. Without a recipe: 20000
        steps, batch 16, lr 1e-3, constant, patience 10, keep the best.
    steps : int
        Maximum optimiser steps.
    batch_size : int
        Trials per step (paper: 16).
    lr : float
        Adam's learning rate (paper: 1e-3).
    schedule : {"constant", "cosine"}
        ``"constant"`` (the paper's) or cosine decay from ``lr`` to 0 over
        ``steps``, ``lr(k) = lr (1 + cos(pi k / steps)) / 2``, which removes
        most of the gradient noise of small batches by the end of a short run.
    n_steps : int, optional
        ``T``, evidence samples per trial (paper: 20); default 20, or the
        protocol's ``stimulus``.
    hidden, heads : int
        Units (transformer: width) and attention heads.
    loss : {"every_step", "decision"}
        The target schedule (see :mod:`trilat.experiments.data`):
        ``"every_step"`` trains the outputs towards the Bayes-optimal answer
        at every ``t``; ``"decision"`` is the paper's (labels at ``t = T``,
        ``1/2`` before). Default ``"every_step"``, or the protocol's ``scored``.
    protocol : TrialProtocol, optional
        The trial around the evidence (:class:`trilat.protocol.TrialProtocol`):
        the network reads :meth:`~TrialProtocol.inputs` (``S`` steps, the
        mixed channels then any fixation channel) and is trained with BCE at
        every step towards :meth:`~TrialProtocol.targets` (for
        ``TrialProtocol.paper()``: ``1/2`` on steps 0..20 and the label at the
        decision step 21, as the paper's code). Saved with the network;
        :func:`trilat.compare` uses it.
    mixing : MixingMLP, optional
        The frozen ``f``; default ``MixingMLP(D)`` seeded from ``rng``.
    rng : int, Generator or None, default 0
        Seeds the initial weights (through a scoped ``torch.manual_seed``
        that leaves torch's global generator as it was), the data stream and
        the default mixing.
    progress : bool, optional
        A progress bar with the running loss on stderr; default: when stderr
        is a terminal.
    patience : int or None
        Evaluations without improvement before stopping; ``None``: never stop
        early. With ``schedule="cosine"`` prefer ``None``: the validation loss
        of a small-batch run wanders by more than ``min_delta`` around a
        plateau, and the decaying rate's last steps are the best ones.
    keep : {"best", "last"}
        Return the weights of the lowest validation loss, or the last ones
        (the paper's code saves the last).
    min_delta : float
        Improvement of the validation loss (nats per output) that counts.
    eval_every, eval_trials : int
        Steps between evaluations; validation trials.
    checkpoint : path-like, optional
        Written (atomically) at every evaluation: weights, optimiser state,
        best weights, history. If the file exists, training resumes from it
        (it must be the same run: same arguments and seed, except that a
        constant-rate run may change ``steps`` to be extended) and continues
        exactly as if it had not stopped.
    threads : int or None
        ``torch.set_num_threads`` during training (restored after); a 64-unit
        network on batches of 16 does not gain from more than one thread.
        ``None`` leaves torch's setting alone.
    device : str or torch.device
        Where the network is trained (``"cpu"``; ``"cuda"`` where torch has
        one). The trials are drawn on the CPU in float64 and moved, so every
        device sees the same data stream; float32 kernels differ between
        devices, so results agree to rounding, not bit for bit. The returned
        network is on ``device``.

    Returns
    -------
    TrainedNetwork
        With the best weights, in eval mode.

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import train
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trained = train(
    ...     "rnn", task, steps=2, batch_size=8, n_steps=5, hidden=8, eval_every=1, eval_trials=64,
    ...     progress=False,
    ... )  # two steps: the shapes, not a trained network
    >>> trained.history.step, type(trained.module).__name__
    ([1, 2], 'RecurrentNetwork')
    """
    task = check_task(task)
    custom = isinstance(arch, nn.Module)
    if not custom and arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES} or a torch.nn.Module, got {arch!r}")
    base = _recipe(recipe)
    steps = positive_int(base.steps if steps is None else steps, "steps")
    batch_size = positive_int(base.batch_size if batch_size is None else batch_size, "batch_size")
    lr = positive_scalar(base.lr if lr is None else lr, "lr")
    schedule = base.schedule if schedule is None else schedule
    patience = base.patience if patience is _UNSET else patience
    keep = base.keep if keep is None else keep
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {KEEPS}, got {keep!r}")
    device = torch.device(device)
    if protocol is not None:
        if not isinstance(protocol, TrialProtocol):
            raise ValueError(f"protocol must be a trilat.TrialProtocol, got {protocol!r}")
        if n_steps is not None and n_steps != protocol.stimulus:
            raise ValueError(
                f"n_steps = {n_steps} but the protocol has stimulus = {protocol.stimulus} steps"
            )
        if loss is not None and loss != protocol.scored:
            raise ValueError(
                f"loss = {loss!r} but the protocol scores {protocol.scored!r}; leave loss unset"
            )
        n_steps, loss = protocol.stimulus, protocol.scored
    n_steps = positive_int(20 if n_steps is None else n_steps, "n_steps")
    loss = check_loss("every_step" if loss is None else loss)
    eval_every = positive_int(eval_every, "eval_every")
    eval_trials = positive_int(eval_trials, "eval_trials")
    if patience is not None:
        patience = positive_int(patience, "patience")
    if not (math.isfinite(float(min_delta)) and float(min_delta) >= 0):
        raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    gen = as_rng(rng)
    init_seed, data_seed, mixing_seed = (int(s) for s in gen.integers(0, 2**63 - 1, size=3))
    if mixing is None:
        mixing = MixingMLP(task.dim, rng=mixing_seed)
    elif not isinstance(mixing, MixingMLP) or mixing.in_dim != task.dim:
        raise ValueError(
            f"mixing must be a trilat.MixingMLP taking D = {task.dim}, got {mixing!r}"
        )
    arch_name = type(arch).__name__ if custom else arch
    config = {
        "obs_dim": mixing.out_dim + (0 if protocol is None else protocol.extra_channels()),
        "n_tasks": task.n_tasks,
        "hidden": int(getattr(arch, "hidden", hidden)) if custom else hidden,
        "heads": heads,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "schedule": _check_schedule(schedule),
        "n_steps": n_steps,
        "loss": loss,
        "protocol": None if protocol is None else protocol.to_dict(),
        "patience": patience,
        "keep": keep,
        "recipe": base.name,
        "min_delta": float(min_delta),
        "eval_every": eval_every,
        "eval_trials": eval_trials,
        "init_seed": init_seed,
        "data_seed": data_seed,
    }
    with torch_threads(threads):
        if custom:
            module = arch
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(init_seed)
                module = build(arch, config["obs_dim"], task.n_tasks, hidden=hidden, heads=heads)
        module.to(device)
        run = _Run(module, task, mixing, config, arch_name, checkpoint)
        run.fit(progress)
    module.eval()
    return TrainedNetwork(module, task, mixing, arch=arch_name, config=config, history=run.history)


class _Run:
    """The mutable state of one training run (so that it can be checkpointed)."""

    def __init__(
        self,
        module: nn.Module,
        task: Task,
        mixing: MixingMLP,
        config: dict[str, Any],
        arch: str,
        checkpoint: Any,
    ) -> None:
        self.module = module
        self.task = task
        self.mixing = mixing
        self.config = config
        self.arch = arch
        self.path = None if checkpoint is None else Path(checkpoint)
        first = next(module.parameters())
        self.dtype, self.device = first.dtype, first.device
        self.optimizer = torch.optim.Adam(module.parameters(), lr=config["lr"])
        # the rate is set from the step count before every step (resumes exactly)
        self.criterion = nn.BCEWithLogitsLoss()
        self.history = History()
        self.step = 0
        self.best_state = copy.deepcopy(module.state_dict())
        self.bad_evals = 0
        self.reference = math.inf
        self._chunk: tuple[int, torch.Tensor, torch.Tensor] | None = None
        protocol = config.get("protocol")
        self.protocol = None if protocol is None else TrialProtocol.from_dict(protocol)
        val = make_batch(
            task,
            mixing,
            config["eval_trials"],
            config["n_steps"],
            config["data_seed"],
            first_trial=VALIDATION_FIRST_TRIAL,
            loss=config["loss"],
            protocol=self.protocol,
        )
        self.val_x = self._tensor(val.observations)
        self.val_y = self._tensor(val.targets)
        oracle = _oracle_logits(task, val.evidence, config["loss"], self.protocol)
        self.history.oracle_loss = float(
            self.criterion(torch.from_numpy(oracle), torch.from_numpy(val.targets))
        )
        if self.path is not None and self.path.exists():
            self._resume()

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        # drawn on the CPU (float64), then cast and moved: the same stream on every device
        return torch.as_tensor(a, dtype=self.dtype).to(self.device)

    def _batch(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``k``: trials ``k B .. (k+1) B - 1`` of the data seed."""
        b = self.config["batch_size"]
        per_chunk = max(1, _CHUNK_TRIALS // b)
        first = (k // per_chunk) * per_chunk
        if self._chunk is None or self._chunk[0] != first:
            data = make_batch(
                self.task,
                self.mixing,
                per_chunk * b,
                self.config["n_steps"],
                self.config["data_seed"],
                first_trial=first * b,
                loss=self.config["loss"],
                protocol=self.protocol,
            )
            self._chunk = (first, self._tensor(data.observations), self._tensor(data.targets))
        _, x, y = self._chunk
        i = (k - first) * b
        return x[i : i + b], y[i : i + b]

    def _set_lr(self) -> None:
        cfg = self.config
        lr = cfg["lr"]
        if cfg["schedule"] == "cosine":
            lr *= 0.5 * (1.0 + math.cos(math.pi * self.step / cfg["steps"]))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _validate(self) -> float:
        self.module.eval()
        with torch.no_grad():
            val = float(self.criterion(self.module(self.val_x), self.val_y))
        self.module.train()
        return val

    def fit(self, progress: bool | None) -> None:
        cfg = self.config
        steps, every, patience = cfg["steps"], cfg["eval_every"], cfg["patience"]
        self.module.train()
        running, count = 0.0, 0
        with progress_block(
            steps, f"train {self.arch}", progress, unit="step", initial=self.step
        ) as pbar:
            while self.step < steps and not self.history.stopped_early:
                x, y = self._batch(self.step)
                loss = self.criterion(self.module(x), y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self._set_lr()
                self.optimizer.step()
                self.step += 1
                value = loss.detach().item()
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"training loss became {value} at step {self.step}; lower lr "
                        f"(got {cfg['lr']})"
                    )
                running += value
                count += 1
                pbar.update(1)
                if self.step % every == 0 or self.step == steps:
                    self._evaluate(running / count, patience, cfg["min_delta"])
                    running, count = 0.0, 0
                    pbar.set_postfix(
                        loss=f"{self.history.train_loss[-1]:.4f}",
                        excess=f"{self.history.val_loss[-1] - self.history.oracle_loss:.4f}",
                    )
        if self.config.get("keep", "best") == "best":
            self.module.load_state_dict(self.best_state)

    def _evaluate(self, train_loss: float, patience: int | None, min_delta: float) -> None:
        h = self.history
        val = self._validate()
        best = h.best_val_loss if h.step else math.inf
        h.step.append(self.step)
        h.train_loss.append(train_loss)
        h.val_loss.append(val)
        if val < best:  # keep the best weights whatever the size of the gain
            h.best_step = self.step
            self.best_state = copy.deepcopy(self.module.state_dict())
        # A plateau: no gain of min_delta over the loss at the last real improvement.
        if val < self.reference - min_delta:
            self.reference = val
            self.bad_evals = 0
        else:
            self.bad_evals += 1
            if patience is not None and self.bad_evals >= patience:
                h.stopped_early = True
        if self.path is not None:
            self._checkpoint()

    def _checkpoint(self) -> None:
        _save(
            self.path,
            {
                "format": CHECKPOINT_FORMAT,
                "arch": self.arch,
                "config": dict(self.config),
                "task": self.task.to_dict(),
                "mixing": _mixing_state(self.mixing),
                "model": self.module.state_dict(),
                "best_model": self.best_state,
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "bad_evals": self.bad_evals,
                "reference": self.reference,
                "history": self.history.to_dict(),
                "finished": False,
            },
        )

    def _resume(self) -> None:
        state = _read(self.path)
        if state.get("finished"):
            raise ValueError(
                f"{self.path} holds a finished network (TrainedNetwork.save); load it with "
                f"trilat.experiments.load, or pass another checkpoint path to train"
            )
        saved = {
            "arch": state["arch"],
            "task": Task.from_dict(state["task"]),
            "keep": "best",  # checkpoints from before recipes kept the best weights
            "recipe": "default",
            **state["config"],
        }
        here = {"arch": self.arch, "task": self.task, **self.config}
        # A constant-rate run may be resumed with another budget; a cosine schedule
        # depends on the budget, so there steps must match too.
        free = {"steps"} if self.config["schedule"] == "constant" else set()
        differ = sorted(
            k for k in set(saved) | set(here) if k not in free and saved.get(k) != here.get(k)
        )
        mixing = _mixing_from_state(state["mixing"])
        if (
            not all(
                np.array_equal(a, b)
                for a, b in zip(mixing.weights, self.mixing.weights, strict=False)
            )
            or mixing.widths != self.mixing.widths
        ):
            differ.append("mixing")
        if differ:
            raise ValueError(
                f"{self.path} is a checkpoint of another run: {', '.join(differ)} differ "
                f"(checkpoint: {[saved.get(k) for k in differ if k != 'mixing']}); pass the "
                f"same arguments and seed, or another checkpoint path"
            )
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])  # load_state_dict moves to device
        self.best_state = state["best_model"]
        self.step = int(state["step"])
        self.bad_evals = int(state["bad_evals"])
        self.reference = float(state["reference"])
        self.history = History.from_dict(state["history"])
