"""Plug any network into trilat: the ``Network`` protocol and its adapters.

A network is anything callable on a batch of inputs ``(n, T, in_dim)`` that
returns a :class:`NetworkOutput`: its latent state ``(n, T, H)`` and its
output logits ``(n, T, N)``, float64 numpy arrays. What it is given depends on
its ``input_kind`` attribute:

- ``"observations"`` (the default, what a trained network sees): ``f(X(t))``,
  the evidence passed through the frozen mixing MLP, ``(n, T, obs_dim)``;
- ``"evidence"``: the raw evidence ``X(t)``, ``(n, T, D)``. Only references
  that are *defined* on the evidence declare this, like
  :class:`OptimalNetwork`, the analytic Bayes-optimal network: it needs
  ``X(t)``, not ``f(X(t))``, and inverting ``f`` would only add error.

Adapters: :func:`from_callable` wraps a numpy function, :func:`from_torch` a
``torch.nn.Module`` (torch is imported inside it only), and
:func:`load_state_dict` loads PyTorch weights without unpickling arbitrary
objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from scipy import special

from trilat._checks import as_float_array, describe, positive_int
from trilat.oracle import Posterior, posterior, predict_logits
from trilat.task import Gaussian, Task, check_task

__all__ = [
    "Network",
    "NetworkOutput",
    "OptimalNetwork",
    "from_callable",
    "from_torch",
    "load_state_dict",
    "read_weights",
]

INPUT_KINDS = ("observations", "evidence")
OUTPUT_KINDS = ("logits", "probability")


@dataclass(frozen=True, eq=False)
class NetworkOutput:
    """What a network returns for ``n`` trials of ``T`` steps.

    Attributes
    ----------
    latents : ndarray, shape (n, T, H)
        The latent (hidden) state after each step, float64.
    logits : ndarray, shape (n, T, N)
        Output logits ``z`` with ``Yhat = sigmoid(z)``, float64. When the
        network gave probabilities they are ``log p - log(1 - p)``, and
        saturated outputs (``p`` exactly 0 or 1) are ``-inf`` / ``+inf``.
    probabilities : ndarray, shape (n, T, N), or None
        The probabilities exactly as the network gave them (``output=
        "probability"``), kept so that nothing is recomputed from the
        logits; ``None`` for a network that gives logits.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> out = trilat.NetworkOutput.from_probabilities(np.zeros((2, 3, 4)), np.full((2, 3, 6), 0.5))
    >>> out.shape, out.logits[0, 0]  # (n, T); probability 1/2 is logit 0
    ((2, 3), array([0., 0., 0., 0., 0., 0.]))
    """

    latents: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray | None = None

    def __post_init__(self) -> None:
        # NaN / inf in latents and logits are refused by compare, which names the trial
        # and step of the first one (tests/test_compare.py); here only their type
        latents = as_float_array(self.latents, "latents", finite=False)
        logits = as_float_array(self.logits, "logits", finite=False)
        for name, arr, axis in (("latents", latents, "H"), ("logits", logits, "N")):
            if arr.ndim != 3:
                raise ValueError(
                    f"network {name} must have shape (n_trials, n_steps, {axis}), got "
                    f"{describe(arr)}"
                )
        if latents.shape[:2] != logits.shape[:2]:
            raise ValueError(
                f"network latents and logits must share (n_trials, n_steps), got latents of "
                f"shape {latents.shape} and logits of shape {logits.shape}"
            )
        object.__setattr__(self, "latents", latents)
        object.__setattr__(self, "logits", logits)
        if self.probabilities is not None:
            p = as_float_array(self.probabilities, "probabilities")
            if p.shape != logits.shape:
                raise ValueError(
                    f"network probabilities must have the logits' shape {logits.shape}, got "
                    f"{describe(p)}"
                )
            object.__setattr__(self, "probabilities", p)

    @classmethod
    def from_probabilities(cls, latents: Any, probabilities: Any) -> NetworkOutput:
        """Wrap outputs given as probabilities ``p in [0, 1]``; logits ``log(p / (1 - p))``.

        The probabilities are kept as given: :func:`trilat.compare` inverts
        them with :func:`trilat.distances`, which reports saturated entries.

        Raises
        ------
        ValueError
            NaN or values outside ``[0, 1]``.
        """
        p = as_float_array(probabilities, "probabilities", finite=False)
        bad = np.isnan(p) | (p < 0) | (p > 1)
        if np.any(bad):
            raise ValueError(
                f"network probabilities must lie in [0, 1]; {int(bad.sum())} of {p.size} entries "
                f"are NaN or outside (first: {p[bad][0]!r}); pass output='logits' if the network "
                f"returns logits"
            )
        with np.errstate(divide="ignore"):
            return cls(latents=latents, logits=special.logit(p), probabilities=p)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_trials, n_steps)``."""
        return self.logits.shape[:2]  # type: ignore[return-value]


@runtime_checkable
class Network(Protocol):
    """Anything :func:`trilat.compare` can measure.

    ``network(inputs)`` with ``inputs (n, T, in_dim)`` returns a
    :class:`NetworkOutput`. Optional attributes, read with ``getattr``:

    - ``input_kind``: ``"observations"`` (default; ``f(X(t))``) or
      ``"evidence"`` (``X(t)`` itself, for analytic references);
    - ``obs_dim``, ``n_tasks``: expected input width and number of outputs,
      checked against the task before anything runs (``None``: unknown).

    Examples
    --------
    Any object with a ``__call__`` of this form is a network; a protocol, so
    nothing needs to be subclassed:

    >>> import numpy as np
    >>> import trilat
    >>> class Silent:
    ...     def __call__(self, inputs):  # (n, T, in_dim) -> latents (n, T, 4), logits (n, T, 6)
    ...         n, T, _ = inputs.shape
    ...         return trilat.NetworkOutput(np.zeros((n, T, 4)), np.zeros((n, T, 6)), None)
    >>> isinstance(Silent(), trilat.Network)
    True
    >>> Silent()(np.zeros((3, 20, 40))).shape  # (n, T)
    (3, 20)
    """

    def __call__(self, inputs: np.ndarray, /) -> NetworkOutput:
        """Latents ``(n, T, H)`` and logits ``(n, T, N)`` for inputs ``(n, T, in_dim)``."""
        ...


def input_kind(network: Any) -> str:
    """The ``input_kind`` of a network, validated (``"observations"`` when absent)."""
    kind = getattr(network, "input_kind", "observations")
    if kind not in INPUT_KINDS:
        raise ValueError(f"network.input_kind must be one of {INPUT_KINDS}, got {kind!r}")
    return kind


def _check_output_kind(output: str) -> str:
    if output not in OUTPUT_KINDS:
        raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {output!r}")
    return output


def _check_input_kind(kind: str) -> str:
    if kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {kind!r}")
    return kind


def _optional_int(x: Any, name: str) -> int | None:
    return None if x is None else positive_int(x, name)


def oracle_posterior(task: Task, evidence: np.ndarray) -> Posterior:
    """The posterior :func:`trilat.compare` measures against.

    The task's own prior when it is Gaussian (the conjugate update is exact);
    for a uniform prior, the flat-prior posterior of Theorem 3.1
    (``mu(t)`` the running mean, ``s(t) = sigma / sqrt(t)``), ignoring the
    truncation to the box.
    """
    prior = task.prior if isinstance(task.prior, Gaussian) else "flat"
    return posterior(task, evidence, prior)


class OptimalNetwork:
    """The analytic Bayes-optimal network: the reference that scores perfectly.

    Outputs the oracle's logits ``log Phi(u) - log Phi(-u)``,
    ``u = (C mu(t) - b) / s(t)``, from the posterior of
    :func:`oracle_posterior`; its latent state is one of

    - ``"distances"``: ``k(t) = C mu(t) - b``, shape ``(n, T, N)``, affine in
      ``mu(t)`` (the disentangled code of Theorem 3.1);
    - ``"posterior_mean"``: ``mu(t)`` itself, ``(n, T, D)``;
    - ``"logits"``: the output logits, ``(n, T, N)``, affine in ``mu(t)`` only
      near the boundaries (the logit of ``Phi(u)`` grows like ``u^2/2``).

    It reads the evidence ``X(t)`` (``input_kind = "evidence"``), not the
    mixed observations ``f(X(t))``: the oracle is defined on the evidence.

    Parameters
    ----------
    task : Task
    latent : {"distances", "posterior_mean", "logits"}

    Examples
    --------
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trials = trilat.simulate(task, n_trials=5, n_steps=20, rng=0)
    >>> network = trilat.OptimalNetwork(task)  # latent="distances": k = C mu(t) - b
    >>> out = network(trials.evidence)  # reads the evidence X(t) itself
    >>> out.latents.shape, out.logits.shape
    ((5, 20, 6), (5, 20, 6))
    """

    input_kind = "evidence"
    LATENTS = ("distances", "posterior_mean", "logits")

    def __init__(
        self, task: Task, latent: Literal["distances", "posterior_mean", "logits"] = "distances"
    ) -> None:
        task = check_task(task)
        if latent not in self.LATENTS:
            raise ValueError(f"latent must be one of {self.LATENTS}, got {latent!r}")
        self.task = task
        self.latent = latent
        self.obs_dim = task.dim
        self.n_tasks = task.n_tasks

    def __call__(self, evidence: np.ndarray) -> NetworkOutput:
        """Outputs for evidence of shape ``(n, T, D)``."""
        post = oracle_posterior(self.task, evidence)
        if post.std is None:  # noise covariance: a scale per output, from t (oracle.posterior)
            logits = predict_logits(self.task, post.mean, post.t)
        else:
            logits = predict_logits(self.task, post.mean, std=post.std)
        if self.latent == "distances":
            latents = post.mean @ self.task.C.T - self.task.b
        elif self.latent == "posterior_mean":
            latents = post.mean
        else:
            latents = logits
        return NetworkOutput(latents=latents, logits=logits)

    def __repr__(self) -> str:
        return f"OptimalNetwork(D={self.task.dim}, N={self.task.n_tasks}, latent={self.latent!r})"


class _CallableNetwork:
    """A numpy function ``fn(inputs) -> (latents, outputs)`` as a :class:`Network`."""

    def __init__(
        self,
        fn: Callable[[np.ndarray], Any],
        output: str,
        obs_dim: int | None,
        n_tasks: int | None,
        input_kind: str,
    ) -> None:
        self.fn = fn
        self.output = output
        self.obs_dim = obs_dim
        self.n_tasks = n_tasks
        self.input_kind = input_kind

    def __call__(self, inputs: np.ndarray) -> NetworkOutput:
        result = self.fn(inputs)
        if isinstance(result, NetworkOutput):
            return result
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError(
                f"the network function must return a tuple (latents, {self.output}) or a "
                f"trilat.NetworkOutput, got {type(result).__name__}"
            )
        latents, outputs = result
        if self.output == "probability":
            return NetworkOutput.from_probabilities(latents, outputs)
        return NetworkOutput(latents=latents, logits=outputs)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"from_callable({name}, output={self.output!r})"


def from_callable(
    fn: Callable[[np.ndarray], Any],
    *,
    output: Literal["logits", "probability"] = "logits",
    obs_dim: int | None = None,
    n_tasks: int | None = None,
    input_kind: Literal["observations", "evidence"] = "observations",
) -> Network:
    """A numpy function as a :class:`Network`.

    ``fn(inputs)`` takes ``(n, T, in_dim)`` and returns ``(latents, outputs)``,
    ``latents (n, T, H)`` and ``outputs (n, T, N)``: logits ``z`` with
    ``Yhat = sigmoid(z)``, or probabilities with ``output="probability"``
    (exact 0 and 1 are saturated and reported as such by
    :func:`trilat.compare`). Anything array-like is converted to float64.

    Parameters
    ----------
    fn : callable
    output : {"logits", "probability"}
    obs_dim, n_tasks : int, optional
        Expected input width and number of outputs, checked against the task
        before the network runs.
    input_kind : {"observations", "evidence"}
        Feed ``f(X(t))`` (default) or the raw evidence ``X(t)``.

    Returns
    -------
    Network

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> def fn(observations):  # (n, T, 40) -> latents (n, T, 8), logits (n, T, 6)
    ...     return observations[..., :8], observations[..., :6]
    >>> network = trilat.from_callable(fn)
    >>> out = network(np.zeros((3, 20, 40)))
    >>> out.latents.shape, out.logits.shape
    ((3, 20, 8), (3, 20, 6))
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    return _CallableNetwork(
        fn,
        _check_output_kind(output),
        _optional_int(obs_dim, "obs_dim"),
        _optional_int(n_tasks, "n_tasks"),
        _check_input_kind(input_kind),
    )


class _TorchNetwork:
    """A ``torch.nn.Module`` as a :class:`Network` (see :func:`from_torch`)."""

    def __init__(
        self,
        module: Any,
        latent: str | Callable[[Any], Any],
        output: str,
        batch_size: int,
        device: Any,
        obs_dim: int | None,
        n_tasks: int | None,
        input_kind: str,
    ) -> None:
        self.module = module
        self.latent = latent
        self.output = output
        self.batch_size = batch_size
        self.device = device
        self.obs_dim = obs_dim
        self.n_tasks = n_tasks
        self.input_kind = input_kind

    def __call__(self, inputs: np.ndarray) -> NetworkOutput:
        from trilat._torch import run_module

        latents, outputs = run_module(
            self.module,
            inputs,
            latent=self.latent,
            output=self.output,
            batch_size=self.batch_size,
            device=self.device,
        )
        if self.output == "probability":
            return NetworkOutput.from_probabilities(latents, outputs)
        return NetworkOutput(latents=latents, logits=outputs)

    name: str | None = None

    def __repr__(self) -> str:
        if self.name is not None:
            return self.name
        return (
            f"from_torch({type(self.module).__name__}, latent={self.latent!r}, "
            f"output={self.output!r})"
        )


def from_torch(
    module: Any,
    latent: str | Callable[[Any], Any],
    *,
    output: Literal["logits", "probability"] = "logits",
    batch_size: int = 512,
    device: Any = None,
    obs_dim: int | None = None,
    n_tasks: int | None = None,
    input_kind: Literal["observations", "evidence"] = "observations",
    name: str | None = None,
) -> Network:
    """A ``torch.nn.Module`` as a :class:`Network`.

    The module takes a ``(batch, T, obs_dim)`` tensor and returns its outputs
    ``(batch, T, N)`` (logits ``z`` with ``Yhat = sigmoid(z)``, or
    probabilities with ``output="probability"``), either as a tensor or as
    the first element of a tuple. The latent state ``(batch, T, H)`` is the
    output of the submodule named ``latent`` (captured by a forward hook; a
    tuple output such as ``nn.GRU``'s ``(output, h_n)`` gives its first
    element), or ``latent(module_output)`` when ``latent`` is a function.

    Runs under ``torch.no_grad()`` in batches of ``batch_size`` trials, on the
    module's device (or ``device``) in the dtype of its parameters, with the
    module in eval mode (its previous mode is restored afterwards); results
    are moved to the CPU as float64 numpy arrays. The torch side lives in
    ``trilat._torch``, imported by this call (never by ``import trilat``).

    Parameters
    ----------
    module : torch.nn.Module
    latent : str or callable
        Name of a submodule (as in ``module.named_modules()``) that runs once
        per forward pass, or a function of the module's output.
    output : {"logits", "probability"}
    batch_size : int
    device : torch.device or str, optional
    obs_dim, n_tasks : int, optional
        Expected input width and number of outputs, checked against the task
        before the network runs.
    input_kind : {"observations", "evidence"}
    name : str, optional
        What the report calls the network (default ``from_torch(<class>, ...)``).

    Returns
    -------
    Network

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> import numpy as np
    >>> import trilat
    >>> class GRU(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.gru = torch.nn.GRU(40, 16, batch_first=True)
    ...         self.readout = torch.nn.Linear(16, 6)
    ...     def forward(self, x):  # (batch, T, 40) -> logits (batch, T, 6)
    ...         return self.readout(self.gru(x)[0])
    >>> network = trilat.from_torch(GRU(), latent="gru")  # the GRU's output is the latent state
    >>> out = network(np.zeros((3, 20, 40)))
    >>> out.latents.shape, out.logits.shape, out.logits.dtype
    ((3, 20, 16), (3, 20, 6), dtype('float64'))
    """
    if not (callable(module) and hasattr(module, "named_modules")):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(latent, str):
        names = [name for name, _ in module.named_modules() if name]
        if latent not in names:
            raise ValueError(
                f"latent={latent!r} is not a submodule of {type(module).__name__}; its "
                f"submodules are {names}"
            )
    elif not callable(latent):
        raise ValueError(
            f"latent must be a submodule name or a function of the output, got {latent!r}"
        )
    from trilat._torch import warn_sequence_first

    warn_sequence_first(module)
    network = _TorchNetwork(
        module,
        latent,
        _check_output_kind(output),
        positive_int(batch_size, "batch_size"),
        device,
        _optional_int(obs_dim, "obs_dim"),
        _optional_int(n_tasks, "n_tasks"),
        _check_input_kind(input_kind),
    )
    if name is not None:
        network.name = str(name)
    return network


def load_state_dict(
    module: Any,
    path: Any,
    *,
    key: str | None = None,
    strict: bool = True,
    map_location: Any = None,
) -> Any:
    """Load PyTorch weights into ``module`` without unpickling arbitrary objects.

    :func:`read_weights` (``torch.load(path, weights_only=True)``: tensors,
    plain containers and numeric numpy arrays only; a pickled class or
    function is refused), then a check that the result is a mapping of names
    to tensors, then ``module.load_state_dict``.

    Parameters
    ----------
    module : torch.nn.Module
    path : str or path-like
        A file written by ``torch.save(module.state_dict(), path)``.
    key : str, optional
        Entry of a checkpoint dictionary holding the state dict (e.g.
        ``"state_dict"``).
    strict : bool
        Passed to ``module.load_state_dict``: with ``True`` any unexpected or
        missing key is an error that lists them; with ``False`` they are
        skipped, and a warning lists them.
    map_location : optional
        Passed to ``torch.load``; default: the CPU.

    Returns
    -------
    torch.nn.Module
        ``module``, with the weights loaded.

    Raises
    ------
    ValueError
        The file holds anything but tensors in plain containers, or its names
        do not match the module's (with ``strict=True``).

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> import os, tempfile
    >>> import trilat
    >>> module = torch.nn.Linear(4, 2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "weights.pt")
    ...     torch.save(module.state_dict(), path)
    ...     fresh = trilat.load_state_dict(torch.nn.Linear(4, 2), path)  # weights_only=True
    >>> bool(torch.equal(fresh.weight, module.weight))
    True
    """
    from trilat._torch import load_weights

    return load_weights(module, path, key=key, strict=strict, map_location=map_location)


def read_weights(path: Any, *, key: str | None = None, map_location: Any = None) -> Any:
    """Read a PyTorch weights file without unpickling arbitrary objects.

    ``torch.load(path, weights_only=True)`` with numeric numpy arrays allowed
    besides tensors and plain containers (the paper's ``train.py`` saves its
    loss history as one); anything else is refused with a ``ValueError``.

    Parameters
    ----------
    path : str or path-like
    key : str, optional
        Return this entry of the saved dictionary (e.g. ``"encoder"``).
    map_location : optional
        Passed to ``torch.load``; default: the CPU.

    Returns
    -------
    object
        What was saved (or its entry ``key``): typically a dict of tensors.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> import os, tempfile
    >>> import numpy as np
    >>> import trilat
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "model.pt")
    >>> torch.save({"encoder": {"w": torch.ones(2, 3)}, "losses": np.zeros(4)}, path)
    >>> trilat.read_weights(path, key="encoder")["w"].shape
    torch.Size([2, 3])
    >>> torch.save({"f": print}, path)  # a function is not data: refused
    >>> trilat.read_weights(path)
    Traceback (most recent call last):
        ...
    ValueError: ...
    >>> tmp.cleanup()
    """
    from trilat._torch import read_weights as _read

    return _read(path, key=key, map_location=map_location)
