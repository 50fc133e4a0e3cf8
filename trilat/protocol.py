"""Trial protocols: the steps a network runs around the evidence, and which of them are scored.

The oracle of Theorem 3.1 knows one clock, ``t = 1..T``, the number of
evidence samples seen. A trained network runs on a trial of its own: the
paper's code shows a fixation step before the evidence and a decision step
after it, with a fixation channel that tells the network when to answer. A
:class:`TrialProtocol` describes such a trial:

- its periods, in order: ``fixation`` steps (no evidence yet), ``stimulus``
  steps (one evidence sample each, ``T = stimulus``), ``delay`` steps and
  ``decision`` steps (the evidence has stopped);
- the inputs of each step: the stimulus channels are ``X(t)`` during the
  stimulus and ``0`` otherwise, all passed through the mixing ``f`` (so a step
  without evidence sees ``f(0)``), then, optionally, a fixation channel
  appended after the mixed channels: ``1`` until the decision period, ``0``
  during it;
- the oracle's time of each step: ``t = 0`` during fixation (no evidence:
  the prior), ``t`` at the ``t``-th stimulus step, and ``T`` during the delay
  and decision periods (the evidence stops, so the posterior holds ``mu(T)``);
- the steps scored against the oracle: ``"every_step"`` (trilat's training
  target: the label at every step, whose minimiser is the Bayes-optimal
  output at every step with evidence) or ``"decision"`` (the paper's: target
  ``1/2`` before the decision period, the label during it, so only the
  decision steps answer the oracle's question).

Steps are numbered so that the first stimulus step is 1: a stimulus step's
number is ``t``, the samples seen; fixation steps are ``0, -1, ...`` counting
back, delay and decision steps ``T + 1, T + 2, ...``. With one fixation step
(the paper's) the numbers are the paper's 0-based indices ``0..21``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from trilat._checks import as_float_array, describe, positive_int

__all__ = ["PERIODS", "SCORINGS", "TrialProtocol"]

PERIODS = ("fixation", "stimulus", "delay", "decision")
SCORINGS = ("every_step", "decision")


@dataclass(frozen=True)
class TrialProtocol:
    """The steps of one trial around the evidence, the extra input channels, the scored steps.

    A trial has ``S = fixation + stimulus + delay + decision`` steps. Step
    ``j`` (0-based) has the oracle time

    ``t_j = 0`` (fixation), ``j - fixation + 1`` (stimulus), ``T = stimulus``
    (delay, decision),

    and the network input ``[f(u_j), fix_j]``: ``u_j = X(t_j)`` at stimulus
    steps and ``0`` at the others, ``fix_j = 1`` before the decision period
    and ``0`` during it (only with ``fixation_channel=True``).

    Parameters
    ----------
    fixation, stimulus, delay, decision : int
        Steps per period; ``stimulus = T >= 1``, the others ``>= 0``.
    fixation_channel : bool
        Append a fixation channel after the mixed channels (the paper's).
    scored : {"every_step", "decision"}
        ``"every_step"``: every step with evidence (``t >= 1``) is compared
        with the oracle; ``"decision"``: only the decision steps (needs
        ``decision >= 1``).

    Examples
    --------
    ``TrialProtocol()`` is trilat's own trial: ``T = 20`` stimulus steps, each
    scored. ``TrialProtocol.paper()`` is the paper's: 1 fixation step, 20
    stimulus steps, 1 decision step, a fixation channel, scored at the
    decision step.

    >>> import trilat
    >>> protocol = trilat.TrialProtocol.paper()
    >>> protocol.n_steps, protocol.periods()[:2], protocol.periods()[-1]
    (22, ['fixation', 'stimulus'], 'decision')
    >>> protocol.oracle_times()[[0, 1, 20, 21]]  # t of steps 0, 1, 20, 21
    array([ 0,  1, 20, 20])
    >>> protocol.scored_steps().nonzero()[0]  # scored: the decision step only
    array([21])
    """

    fixation: int = 0
    stimulus: int = 20
    delay: int = 0
    decision: int = 0
    fixation_channel: bool = False
    scored: str = "every_step"

    def __post_init__(self) -> None:
        for name in ("fixation", "delay", "decision"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name, minimum=0))
        object.__setattr__(self, "stimulus", positive_int(self.stimulus, "stimulus"))
        if not isinstance(self.fixation_channel, (bool, np.bool_)):
            raise ValueError(f"fixation_channel must be a bool, got {self.fixation_channel!r}")
        object.__setattr__(self, "fixation_channel", bool(self.fixation_channel))
        if self.scored not in SCORINGS:
            raise ValueError(f"scored must be one of {SCORINGS}, got {self.scored!r}")
        if self.scored == "decision" and self.decision == 0:
            raise ValueError(
                "scored='decision' needs decision >= 1 decision steps, got decision=0; use "
                "scored='every_step' or add a decision period"
            )

    @classmethod
    def paper(cls, stimulus: int = 20) -> TrialProtocol:
        """The paper's trial (``train.py``'s defaults, 100 ms steps): 22 steps.

        Step 0 is fixation, steps 1..20 the stimulus, step 21 the decision;
        the fixation channel is 1 on steps 0..20 and 0 on step 21, appended
        after the 40 mixed channels (41 inputs); the decision step's stimulus
        channels are 0 before mixing (the network sees ``f(0)``); the loss
        targets ``1/2`` before the decision step, so only it is scored.
        """
        return cls(
            fixation=1,
            stimulus=stimulus,
            delay=0,
            decision=1,
            fixation_channel=True,
            scored="decision",
        )

    @property
    def n_steps(self) -> int:
        """``S``, the steps of one trial."""
        return self.fixation + self.stimulus + self.delay + self.decision

    @property
    def is_plain(self) -> bool:
        """Whether the trial is the evidence alone (``S = T``, no extra channel, all scored)."""
        return (
            self.n_steps == self.stimulus
            and not self.fixation_channel
            and self.scored == "every_step"
        )

    def periods(self) -> list[str]:
        """The period of each step, a list of ``S`` names from :data:`PERIODS`."""
        counts = (self.fixation, self.stimulus, self.delay, self.decision)
        return [name for name, k in zip(PERIODS, counts, strict=True) for _ in range(k)]

    def step_numbers(self) -> np.ndarray:
        """Step numbers, shape ``(S,)``: ``j - fixation + 1`` (the first stimulus step is 1)."""
        return np.arange(self.n_steps, dtype=np.int64) - self.fixation + 1

    def oracle_times(self) -> np.ndarray:
        """The oracle's ``t`` at each step, shape ``(S,)``: 0, then ``1..T``, then ``T`` held."""
        return np.clip(self.step_numbers(), 0, self.stimulus)

    def scored_steps(self) -> np.ndarray:
        """Which steps are compared with the oracle, bool ``(S,)``."""
        if self.scored == "decision":
            return np.array([p == "decision" for p in self.periods()])
        return self.oracle_times() >= 1

    def fixation_signal(self) -> np.ndarray:
        """The fixation channel, shape ``(S,)``: 1 before the decision period, 0 during it."""
        return np.array([0.0 if p == "decision" else 1.0 for p in self.periods()])

    def index(self, step: int) -> int:
        """The 0-based position of step number ``step``; ``ValueError`` outside the trial."""
        numbers = self.step_numbers()
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise ValueError(f"step must be an int step number, got {step!r}")
        if not numbers[0] <= step <= numbers[-1]:
            raise ValueError(
                f"step must be in {int(numbers[0])}..{int(numbers[-1])} (the steps of this "
                f"trial: {self.describe()}), got {step}"
            )
        return int(step - numbers[0])

    def expand(self, per_time: Any, before: Any = np.nan) -> np.ndarray:
        """Lay values indexed by oracle time ``t = 1..T`` (axis 1) out over the trial's steps.

        ``out[:, j] = per_time[:, t_j - 1]`` for ``t_j >= 1`` and ``before`` for
        fixation steps (``t_j = 0``).

        Parameters
        ----------
        per_time : array_like, shape (n, T, ...)
        before : float
            The value at fixation steps.

        Returns
        -------
        ndarray, shape (n, S, ...)
        """
        a = np.asarray(per_time)
        if a.ndim < 2 or a.shape[1] != self.stimulus:
            raise ValueError(
                f"per_time must have shape (n, T = {self.stimulus}, ...), got {describe(a)}"
            )
        t = self.oracle_times()
        out = a[:, np.maximum(t, 1) - 1]
        if np.any(t == 0):
            out = out.astype(np.result_type(out.dtype, np.asarray(before).dtype), copy=True)
            out[:, t == 0] = before
        return out

    def stimulus_channels(self, evidence: Any) -> np.ndarray:
        """The raw stimulus channels of each step, shape ``(n, S, D)``: ``X(t)`` or 0."""
        x = as_float_array(evidence, "evidence", ndim=3)
        if x.shape[1] != self.stimulus:
            raise ValueError(
                f"evidence must have T = {self.stimulus} steps for this protocol "
                f"({self.describe()}), got {describe(x)}"
            )
        out = np.zeros((x.shape[0], self.n_steps, x.shape[2]))
        out[:, self.fixation : self.fixation + self.stimulus] = x
        return out

    def inputs(self, evidence: Any, mixing: Callable[[np.ndarray], Any]) -> np.ndarray:
        """The network's inputs, shape ``(n, S, obs_dim [+ 1])``: ``[f(u_j), fix_j]``.

        ``u_j`` is :meth:`stimulus_channels` (``X(t)`` during the stimulus, 0
        elsewhere), ``f = mixing`` is applied at every step (a step without
        evidence sees ``f(0)``), and the fixation channel, when the protocol
        has one, is appended last.

        Parameters
        ----------
        evidence : array_like, shape (n, T, D)
        mixing : callable
            ``f``, mapping ``(n, S, D)`` to ``(n, S, obs_dim)``.

        Returns
        -------
        ndarray, shape (n, S, obs_dim + fixation_channel)
        """
        raw = self.stimulus_channels(evidence)
        mixed = as_float_array(mixing(raw), "mixing(stimulus channels)", ndim=3)
        if mixed.shape[:2] != raw.shape[:2]:
            raise ValueError(
                f"mixing must map stimulus channels of shape {raw.shape} to shape "
                f"({raw.shape[0]}, {raw.shape[1]}, obs_dim), got {mixed.shape}"
            )
        if not self.fixation_channel:
            return mixed
        fix = np.broadcast_to(self.fixation_signal()[None, :, None], (len(mixed), self.n_steps, 1))
        return np.concatenate([mixed, fix], axis=2)

    def extra_channels(self) -> int:
        """Channels appended after the mixed ones (1 with a fixation channel, else 0)."""
        return int(self.fixation_channel)

    def targets(self, labels: Any) -> np.ndarray:
        """Training targets ``(n, S, N)`` for labels ``(n, N)``.

        ``"every_step"``: the label at every step. ``"decision"``: ``1/2``
        before the decision period and the label during it (the paper's).
        """
        y = np.asarray(labels)
        if y.ndim != 2 or not (y.dtype == bool or np.isin(y, (0, 1)).all()):
            raise ValueError(
                f"labels must be a (n, N) array of booleans or 0/1, got shape {y.shape} and "
                f"dtype {y.dtype}"
            )
        out = np.repeat(y.astype(np.float64)[:, None, :], self.n_steps, axis=1)
        if self.scored == "decision":
            out[:, ~self.scored_steps()] = 0.5
        return out

    def describe(self) -> str:
        """One line: the periods with their step numbers, the channel, the scoring."""
        numbers = self.step_numbers()
        parts, j = [], 0
        for name, k in zip(
            PERIODS, (self.fixation, self.stimulus, self.delay, self.decision), strict=True
        ):
            if k:
                first, last = int(numbers[j]), int(numbers[j + k - 1])
                parts.append(f"{name} {first}" if k == 1 else f"{name} {first}..{last}")
            j += k
        channel = ", fixation channel appended" if self.fixation_channel else ""
        return f"{self.n_steps} steps ({', '.join(parts)}){channel}; scored: {self.scored}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON and checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialProtocol:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)
