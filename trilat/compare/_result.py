"""The result of :func:`trilat.compare`: tables, strict JSON and figures."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from trilat._json import dumps, plain, unplain
from trilat.compare import _plots, _report
from trilat.task import Task

__all__ = ["Comparison"]


def _array_fields() -> tuple[str, ...]:
    return (
        "t",
        "posterior_std",
        "ceiling",
        "output_abs_error",
        "excess_cross_entropy",
        "excess_cross_entropy_box",
        "excess_cross_entropy_box_trials",
        "oracle_gap",
        "saturated",
        "estimate_rmse",
        "estimate_r2",
        "optimal_r2",
        "latent_r2_mu",
        "latent_r2_xstar",
        "latent_alpha",
        "steps",
        "scored",
    )


@dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare`.

    Per-step arrays have shape ``(S,)``, one entry per step of the trial
    (:class:`trilat.TrialProtocol`; ``S = T`` for the plain protocol):
    ``steps`` holds the step numbers (the ``t``-th stimulus step is ``t``),
    ``t`` the oracle's time at each step (0 before any evidence, ``T`` held
    after it), ``scored`` whether the outputs are compared with the oracle
    there. Output and implied-estimate entries are NaN at unscored steps (and
    everywhere for a network without outputs); the implied estimate is NaN
    when ``identifiable`` is false (``rank C < D``):

    - ``posterior_std``: ``s(t)``; ``ceiling``: eq. 7, ``1 - s(t)^2 / Var(x*)``,
      the r^2 of ``mu(t)`` against ``x*`` (:func:`trilat.decodability_ceiling`);
    - ``output_abs_error``: mean ``|Yhat_net - Yhat_opt|`` over trials and tasks;
    - ``excess_cross_entropy``: mean ``KL(Bern(Yhat_opt) || Bern(Yhat_net))``,
      nats per output (saturated outputs left out);
    - ``excess_cross_entropy_box``: the same over the exact box-prior oracle
      (the truncated-normal posterior of the uniform prior ``box_prior``,
      ``[low, high]``), on the first ``box_trials`` trials, beside
      ``excess_cross_entropy_box_trials``, the flat oracle's on the same
      trials; ``oracle_gap``:
      ``KL(box oracle || flat oracle)`` on the same trials, what the theorem's
      flat prior itself loses (NaN throughout when ``box_prior`` is None);
    - ``saturated``: how many outputs were exactly 0 or 1;
    - ``estimate_rmse``: RMS over trials and coordinates of
      ``mu_hat_net - mu(t)``, in units of ``x*``;
    - ``estimate_r2``: ``1 - mean (mu_hat_net - x*)^2 / Var(x*)``;
      ``optimal_r2``: the same for the oracle's ``mu(t)`` (the ceiling's
      Monte Carlo estimate);
    - ``latent_r2_mu``, ``latent_r2_xstar``: cross-validated R^2 of a ridge
      decoder of ``mu(t)`` / ``x*`` from the latent state at step ``t``;
      ``latent_alpha``: the median over folds and targets of their relative
      ridge penalties (``alpha``, the setting: ``None`` when each was chosen
      by cross-validation inside its training set).

    ``code`` holds the representation metrics at ``latent_step`` (plain
    dictionaries of :mod:`trilat.metrics` results, or ``{"error": message}``
    for a metric undefined on these latents); ``reference_code`` the same
    metrics on the optimal code ``k(t) = C mu(t) - b`` of the same trials,
    with the same folds: what a perfect network scores, sampling error
    included; ``factor_angles`` is the decoder fitted on all trials,
    ``factor_angles_folds`` the median over the held-out-quadrant decoders
    (the paper's measure). ``units`` is the check that output unit ``i``
    answers task row ``i`` at the last scored step (``agreement`` (units,
    rows), the best ``assignment`` and its ``signs``, ``warning``; empty
    without outputs). ``protocol`` is the trial (:meth:`TrialProtocol.to_dict`).
    ``samples`` holds the points the figures draw.

    Attributes
    ----------
    network, mixing, output_kind : str
        Descriptions of the network, of the mixing ``f`` and of its outputs.
    task : Task
    n_trials, n_steps, seed, latent_step, latent_dim : int
        ``n``, ``T``, the seed, the step of ``code`` and ``H``.
    alpha : float or None
        The ridge penalty setting (``None``: cross-validated).
    t : ndarray, shape (S,)
    steps : ndarray of int, shape (S,)
    scored : ndarray of bool, shape (S,)
    posterior_std, ceiling, output_abs_error, excess_cross_entropy : ndarray, shape (S,)
    saturated : ndarray of int, shape (S,)
    estimate_rmse, estimate_r2, optimal_r2 : ndarray, shape (S,)
    latent_r2_mu, latent_r2_xstar, latent_alpha : ndarray, shape (S,)
    code, reference_code, samples, protocol, units : dict
    identifiable : bool

    Examples
    --------
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> result.steps, bool(result.scored.all()), result.identifiable
    (array([1, 2, 3, 4, 5]), True, True)
    >>> sorted(result.code)[:3]  # the metrics of the latent code at latent_step
    ['ccgp', 'decodability', 'factor_angles']
    >>> again = trilat.Comparison.from_json(result.to_json())  # a lossless round trip
    >>> bool((again.ceiling == result.ceiling).all())
    True
    """

    network: str
    task: Task
    mixing: str
    n_trials: int
    n_steps: int
    seed: int
    latent_step: int
    alpha: float | None
    latent_dim: int
    output_kind: str
    t: np.ndarray
    posterior_std: np.ndarray
    ceiling: np.ndarray
    output_abs_error: np.ndarray
    excess_cross_entropy: np.ndarray
    saturated: np.ndarray
    estimate_rmse: np.ndarray
    estimate_r2: np.ndarray
    optimal_r2: np.ndarray
    latent_r2_mu: np.ndarray
    latent_r2_xstar: np.ndarray
    latent_alpha: np.ndarray
    code: dict[str, Any]
    reference_code: dict[str, Any]
    samples: dict[str, Any]
    protocol: dict[str, Any]
    steps: np.ndarray
    scored: np.ndarray
    identifiable: bool
    units: dict[str, Any]
    excess_cross_entropy_box: np.ndarray | None = None
    excess_cross_entropy_box_trials: np.ndarray | None = None
    oracle_gap: np.ndarray | None = None
    box_prior: list[float] | None = None
    box_trials: int = 0

    def __post_init__(self) -> None:
        nan = np.full(np.shape(self.t), np.nan)  # no box oracle: NaN at every step
        for name in ("excess_cross_entropy_box", "excess_cross_entropy_box_trials", "oracle_gap"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, nan.copy())

    def index(self, step: int) -> int:
        """The position of step number ``step`` in the per-step arrays."""
        return int(np.flatnonzero(np.asarray(self.steps) == step)[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python description; non-finite floats become ``"inf"``, ``"-inf"``, ``"nan"``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Task) else plain(value)
        return out

    def to_json(self, indent: int | None = None) -> str:
        """Strict JSON (no ``NaN``/``Infinity`` literals); read back by :meth:`from_json`."""
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        box_arrays = ("excess_cross_entropy_box", "excess_cross_entropy_box_trials", "oracle_gap")
        d = dict(d)
        if "box_prior" not in d:  # written before the box prior: the flat oracle only
            d.update(box_prior=None, box_trials=0)
            for name in box_arrays:
                d[name] = ["nan"] * len(d.get("t", []))
        if set(d) != names:
            raise ValueError(
                f"not a Comparison: missing {sorted(names - set(d))}, unexpected "
                f"{sorted(set(d) - names)}"
            )
        values = dict(d)
        values["task"] = Task.from_dict(d["task"])
        for name in _array_fields():
            dtype = {"saturated": np.int64, "steps": np.int64, "scored": bool}.get(
                name, np.float64
            )
            values[name] = np.asarray(unplain(d[name]), dtype=dtype)
        values["code"] = unplain(d["code"])
        values["reference_code"] = unplain(d["reference_code"])
        values["samples"] = unplain(d["samples"])
        values["units"] = unplain(d["units"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Comparison:
        """Read what :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(text))

    def to_markdown(self) -> str:
        """The report: a per-step table and a table of the latent code metrics."""
        return _report.markdown(self)

    def plot(self, path: Any) -> list[Path]:
        """Write the figures as PNG files into the directory ``path``; returns their paths.

        ``outputs.png`` (network against optimal outputs), ``estimate.png``
        (implied estimate against ``t`` with eq. 7, the r^2 of ``mu(t)``),
        ``generalization.png`` (decoded against true ``x*`` on held-out
        quadrants) and ``angles.png`` (factor angles against their null).
        Needs matplotlib (the ``plot`` extra).
        """
        return _plots.comparison_figures(self, Path(path))
