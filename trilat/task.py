"""The multi-task evidence-accumulation task of Theorem 3.1.

A latent ``x* in R^D`` is drawn from a prior and held fixed over a trial; the
agent sees ``X(t) = x* + sigma * eps(t)``, ``eps(t) ~ N(0, I_D)``, for
``t = 1..T``, and answers ``N`` binary questions ``y_i = 1[c_i^T x* > b_i]``.
With a noise covariance ``Sigma`` (``Task(..., noise_cov=Sigma)``) the
evidence is ``X(t) = x* + L eps(t)``, ``L L^T = Sigma`` (Cholesky).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

from trilat import _philox
from trilat._checks import (
    NotIdentifiableError,
    as_float_array,
    as_rng,
    describe,
    last_axis,
    nonnegative_scalar,
    positive_int,
    positive_scalar,
    trial_range,
)
from trilat.priors import Gaussian, Prior, Uniform

_EPS = float(np.finfo(np.float64).eps)
# Rows whose largest |entry| is in (1e-140, 1e140) have a sum of squares in the
# normal range of float64: their norm is taken directly.
_SAFE_LOW, _SAFE_HIGH = 1e-140, 1e140
# Temporaries of one chunk of simulate(), in bytes (see simulate)
SIMULATE_CHUNK_BYTES = 32 * 2**20

__all__ = [
    "Gaussian",
    "NotIdentifiableError",
    "Task",
    "Trials",
    "Uniform",
    "check_task",
    "simulate",
]


class Task:
    """``N`` linear boundaries ``(c_i, b_i)`` in ``R^D``, the noise ``sigma`` and a prior.

    Label ``i`` of a latent ``x`` is ``y_i = 1[c_i^T x > b_i]``. Scaling a row
    ``(c_i, b_i)`` by a positive number changes no label, so rows are stored
    canonically with ``||c_i|| = 1`` (``b_i`` divided by the same norm).

    Parameters
    ----------
    C : array_like, shape (N, D)
        Boundary normals; finite, no zero row.
    b : array_like, shape (N,)
        Offsets.
    sigma : float, optional
        Noise standard deviation per evidence sample, ``> 0``: isotropic noise
        ``sigma^2 I``, the paper's. Give exactly one of ``sigma`` and ``noise_cov``.
    prior : Uniform or Gaussian
        Prior of ``x*`` used to draw trials (default ``Uniform(-0.5, 0.5)``).
    noise_cov : array_like, shape (D, D), optional
        Covariance ``Sigma`` of one evidence sample's noise, in place of
        ``sigma^2 I`` (anisotropic or correlated noise): finite, symmetric to
        rounding (``|Sigma - Sigma^T| <= 64 eps max|Sigma|``; stored
        symmetrised) and positive definite (its Cholesky factor must exist).
        The flat-prior posterior is then ``N(mu(t), Sigma / t)`` and output
        ``i`` has the scale ``sqrt(c_i^T Sigma c_i / t)``
        (:attr:`noise_scales`). Such a task has no ``sigma``: reading
        :attr:`sigma` raises ``ValueError``, and so does everything that
        assumes isotropic noise (the box and Gaussian priors of the oracle,
        the numba kernels); see :meth:`require_isotropic`.

    Attributes
    ----------
    C, b, sigma, prior, dim (D), n_tasks (N), rank, condition_number
    noise_cov : ndarray, shape (D, D)
        ``Sigma`` (``sigma^2 I`` for an isotropic task).
    noise_scales : ndarray, shape (N,)
        ``sqrt(c_i^T Sigma c_i)``, the noise std along each unit normal
        (``sigma`` for every row of an isotropic task).
    isotropic : bool
        Whether the task was built with ``sigma`` (noise ``sigma^2 I``).
    pinv : ndarray, shape (D, N)
        ``C^+``, from a QR factorisation made once; raises
        :class:`NotIdentifiableError` when ``rank(C) < D``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task([[3.0, 4.0], [0.0, 2.0]], [1.0, 0.0], sigma=0.2)
    >>> task.C, task.b  # each row scaled to unit norm, b with it
    (array([[0.6, 0.8],
           [0. , 1. ]]), array([0.2, 0. ]))
    >>> task.labels([[1.0, 0.0], [0.0, 1.0]])  # y_i = 1[c_i^T x > b_i], shape (n, N)
    array([[ True, False],
           [ True,  True]])
    >>> paper = trilat.Task.evenly_spaced(6)
    >>> np.allclose(paper.C.T @ paper.C, 3 * np.eye(2))  # C^T C = (N/2) I
    True
    >>> noisy = trilat.Task([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], noise_cov=[[0.04, 0.0], [0.0, 0.09]])
    >>> noisy.noise_scales  # sqrt(c_i^T Sigma c_i), the noise std along each normal
    array([0.2, 0.3])
    """

    __slots__ = (
        "_C", "_b", "_chol", "_cond", "_noise_cov", "_noise_scales", "_pinv", "_prior", "_rank",
        "_sigma",
    )  # fmt: skip

    def __init__(
        self,
        C: Any,
        b: Any,
        sigma: float | None = None,
        prior: Prior | None = None,
        *,
        noise_cov: Any = None,
    ) -> None:
        C = as_float_array(C, "C", ndim=2)
        if C.shape[0] == 0 or C.shape[1] == 0:
            raise ValueError(f"C must have at least one row and one column, got {describe(C)}")
        b = as_float_array(b, "b")
        if b.shape != (C.shape[0],):
            raise ValueError(f"b must have shape ({C.shape[0]},) to match C, got {describe(b)}")
        # Each row is scaled by its largest |entry| before its norm is taken, so that
        # sum c^2 neither overflows (entries ~1e200) nor loses digits to subnormals
        # (~1e-160). Rows in the safe range take the plain path, bit for bit as before.
        scale = np.max(np.abs(C), axis=1)
        if np.any(scale == 0):
            raise ValueError(
                f"C has zero rows {np.flatnonzero(scale == 0).tolist()}; a boundary needs a normal"
            )
        safe = (scale > _SAFE_LOW) & (scale < _SAFE_HIGH)
        rescale = np.where(safe, 1.0, scale)
        with np.errstate(over="ignore"):  # an infinite b / |c| is refused below
            C_scaled = C / rescale[:, None]
            b_scaled = b / rescale
        norms = np.linalg.norm(C_scaled, axis=1)
        C, b = C_scaled, b_scaled
        prior = Uniform() if prior is None else prior
        if not isinstance(prior, (Uniform, Gaussian)):
            raise ValueError(f"prior must be trilat.Uniform or trilat.Gaussian, got {prior!r}")
        # Rows already of unit norm up to rounding are kept bit for bit, so that
        # canonicalisation is idempotent: Task(task.C, task.b, ...) == task.
        norms = np.where(np.abs(norms - 1.0) <= (C.shape[1] + 2) * _EPS, 1.0, norms)
        C = C / norms[:, None]
        with np.errstate(over="ignore"):
            b = b / norms
        if not np.all(np.isfinite(b)):
            raise ValueError(
                f"b / |c| must be finite, got {describe(b)} with rows "
                f"{np.flatnonzero(~np.isfinite(b)).tolist()} infinite after normalisation"
            )
        C.setflags(write=False)
        b.setflags(write=False)
        s = np.linalg.svd(C, compute_uv=False)
        dim = C.shape[1]
        rank = int(np.linalg.matrix_rank(C))
        cond = float(s[0] / s[dim - 1]) if rank == dim else math.inf
        sets = object.__setattr__
        sets(self, "_C", C)
        sets(self, "_b", b)
        if noise_cov is None:
            if sigma is None:
                raise ValueError(
                    "give sigma (isotropic noise sigma^2 I) or noise_cov (a D x D covariance)"
                )
            sets(self, "_sigma", positive_scalar(sigma, "sigma"))
            sets(self, "_noise_cov", None)
            sets(self, "_chol", None)
            scales = np.full(C.shape[0], self._sigma)
        else:
            if sigma is not None:
                raise ValueError(
                    f"give sigma or noise_cov, not both (got sigma={sigma!r}); noise_cov = "
                    f"sigma^2 I is the isotropic case"
                )
            cov, chol = _noise_covariance(noise_cov, dim)
            sets(self, "_sigma", None)
            sets(self, "_noise_cov", cov)
            sets(self, "_chol", chol)
            # sqrt(c_i^T Sigma c_i) = ||L^T c_i||: a norm, never the sqrt of a rounded negative
            scales = np.linalg.norm(C @ chol, axis=1)
        scales.setflags(write=False)
        sets(self, "_noise_scales", scales)
        sets(self, "_prior", prior)
        sets(self, "_rank", rank)
        sets(self, "_cond", cond)
        sets(self, "_pinv", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Task is immutable; make a new Task instead of setting {name!r}")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # pickle, copy and deepcopy rebuild through __init__ (slots set one by one would
        # meet __setattr__); canonicalisation is idempotent, so the copy equals bit for bit
        return _rebuild_task, (self._C, self._b, self._sigma, self._prior, self._noise_cov)

    C = property(lambda self: self._C, doc="Unit-norm boundary normals, shape (N, D).")
    b = property(lambda self: self._b, doc="Offsets, shape (N,), in units of the unit normals.")
    prior = property(lambda self: self._prior, doc="Prior of x* used to draw trials.")
    rank = property(lambda self: self._rank, doc="Numerical rank of C.")
    condition_number = property(
        lambda self: self._cond, doc="s_1 / s_D of C (inf when rank(C) < D)."
    )

    @property
    def sigma(self) -> float:
        """Noise std per evidence sample; ``ValueError`` for a task given ``noise_cov``."""
        if self._sigma is None:
            self.require_isotropic("Task.sigma")
        return self._sigma

    @property
    def isotropic(self) -> bool:
        """Whether the noise is ``sigma^2 I`` (the task was built with ``sigma``, not ``noise_cov``)."""
        return self._noise_cov is None

    @property
    def noise_cov(self) -> np.ndarray:
        """``Sigma``, the covariance of one sample's noise, shape ``(D, D)`` (``sigma^2 I`` if isotropic)."""
        if self._noise_cov is None:
            return self._sigma**2 * np.eye(self.dim)
        return self._noise_cov

    @property
    def noise_cholesky(self) -> np.ndarray:
        """Lower-triangular ``L`` with ``L L^T = Sigma``, shape ``(D, D)`` (``sigma I`` if isotropic)."""
        if self._chol is None:
            return self._sigma * np.eye(self.dim)
        return self._chol

    noise_scales = property(
        lambda self: self._noise_scales,
        doc="``sqrt(c_i^T Sigma c_i)``, the noise std along each unit normal, shape (N,).",
    )

    def require_isotropic(self, what: str) -> None:
        """Raise ``ValueError`` naming ``what`` unless the noise is isotropic (``sigma^2 I``).

        For the code that assumes ``sigma^2 I``: a scalar ``sigma``, independent
        coordinates of the posterior (the exact box prior), a scalar precision
        (the conjugate Gaussian prior), the numba kernels.
        """
        if self._noise_cov is not None:
            raise ValueError(
                f"{what} assumes isotropic noise sigma^2 I, but this task has a noise covariance "
                f"noise_cov (D = {self.dim}); with noise_cov, the flat prior's oracle "
                f"(trilat.predict/predict_logits/distances/estimate with prior='flat' and t) is "
                f"supported, with scales sqrt(c_i^T noise_cov c_i / t) (Task.noise_scales)"
            )

    @property
    def dim(self) -> int:
        """D, the dimension of the latent."""
        return self._C.shape[1]

    @property
    def n_tasks(self) -> int:
        """N, the number of boundaries."""
        return self._C.shape[0]

    @property
    def identifiable(self) -> bool:
        """Whether ``rank(C) = D`` (Theorem 3.1's condition)."""
        return self._rank == self.dim

    def require_identifiable(self) -> None:
        """Raise :class:`NotIdentifiableError` unless ``rank(C) = D``."""
        if not self.identifiable:
            raise NotIdentifiableError(
                f"C has rank {self._rank} < D = {self.dim} (N = {self.n_tasks} tasks, condition "
                f"number {self._cond:.3g}): the outputs do not determine mu(t); "
                f"Theorem 3.1 needs a full-rank C with N >= D"
            )

    @property
    def pinv(self) -> np.ndarray:
        """``C^+ = R^-1 Q^T`` from the reduced QR of ``C``, shape ``(D, N)``."""
        if self._pinv is None:
            self.require_identifiable()
            q, r = np.linalg.qr(self._C, mode="reduced")
            # R is upper triangular, so LU with partial pivoting makes no swap and no
            # elimination: this is back substitution. (scipy.linalg.solve_triangular
            # is the same solve, but its threaded trsm took ~15 ms for a 2 x 2 system
            # on a busy 2-core machine.)
            pinv = np.linalg.solve(r, q.T)
            pinv.setflags(write=False)
            object.__setattr__(self, "_pinv", pinv)
        return self._pinv

    def labels(self, x: Any) -> np.ndarray:
        """``y_i = 1[c_i^T x > b_i]`` for latents ``x`` of shape ``(..., D)``, as bool ``(..., N)``."""
        x = last_axis(x, "x", self.dim, "D, the latent dimension")
        return x @ self._C.T > self._b

    @classmethod
    def random(
        cls,
        dim: int,
        n_tasks: int,
        sigma: float = 0.2,
        rng: Any = 0,
        offset_scale: float = 0.0,
        prior: Prior | None = None,
    ) -> Task:
        """``N`` boundaries with normals uniform on the sphere and ``b ~ N(0, offset_scale^2)``.

        ``c_i = g_i / ||g_i||`` with ``g_i ~ N(0, I_D)``; ``b_i`` is the offset of
        the unit row (``b = 0`` by default, as in the paper).

        Parameters
        ----------
        dim : int
            ``D >= 1``.
        n_tasks : int
            ``N >= 1``.
        sigma : float
            Noise std per evidence sample, ``> 0``.
        rng : int, SeedSequence, Generator or None, default 0
            Seed of ``C`` and ``b``.
        offset_scale : float
            Standard deviation of the offsets, ``>= 0``.
        prior : Uniform or Gaussian, optional
            Default ``Uniform(-0.5, 0.5)``.

        Returns
        -------
        Task

        Examples
        --------
        >>> import numpy as np
        >>> import trilat
        >>> task = trilat.Task.random(3, 8, rng=0)  # D = 3, N = 8
        >>> task.C.shape, np.allclose(np.linalg.norm(task.C, axis=1), 1), bool(task.b.any())
        ((8, 3), True, False)
        """
        dim = positive_int(dim, "dim")
        n_tasks = positive_int(n_tasks, "n_tasks")
        offset_scale = nonnegative_scalar(offset_scale, "offset_scale")
        gen = as_rng(rng)
        # b is the offset of the unit row: normalise first, or the constructor would divide
        # b by the Gaussian row's norm and b would no longer be N(0, offset_scale^2).
        C = random_unit_rows(dim, n_tasks, gen)
        b = offset_scale * gen.standard_normal(n_tasks) if offset_scale else np.zeros(n_tasks)
        return cls(C, b, sigma, prior)

    @classmethod
    def evenly_spaced(cls, n_tasks: int, sigma: float = 0.2, prior: Prior | None = None) -> Task:
        """The paper's D = 2 set: lines through the origin at angles ``(k + 1/2) pi / N``.

        ``c_k = (cos theta_k, sin theta_k)``, ``theta_k = (k + 1/2) pi / N``,
        ``b = 0``, so that ``C^T C = (N/2) I`` for ``N >= 2``. The rows are
        the *normals* at these angles; the paper's code puts its *lines* at
        them, in another order: see :meth:`paper_units` for its networks.

        Parameters
        ----------
        n_tasks : int
            ``N >= 1`` (``N = 1`` is not identifiable).
        sigma : float
            Noise std per evidence sample, ``> 0``.
        prior : Uniform or Gaussian, optional
            Default ``Uniform(-0.5, 0.5)``.

        Returns
        -------
        Task

        Examples
        --------
        >>> import numpy as np
        >>> import trilat
        >>> task = trilat.Task.evenly_spaced(4)  # normals at (k + 1/2) pi / N
        >>> np.degrees(np.arctan2(task.C[:, 1], task.C[:, 0]))
        array([ 22.5,  67.5, 112.5, 157.5])
        """
        n_tasks = positive_int(n_tasks, "n_tasks")
        angles = (np.arange(n_tasks) + 0.5) * np.pi / n_tasks
        return cls(
            np.column_stack([np.cos(angles), np.sin(angles)]), np.zeros(n_tasks), sigma, prior
        )

    @classmethod
    def paper_units(cls, n_tasks: int, sigma: float = 0.2, prior: Prior | None = None) -> Task:
        """The units of the paper's code: unit ``k`` answers ``x_2 > tan(phi_k) x_1``.

        ``phi_k = (k + 1/2) pi / N`` is the angle of the *line* (not of its
        normal), and row ``k`` is ``c_k = (-tan phi_k, 1)`` (normalised),
        ``b_k = 0``, so that ``y_k = 1[x_2 - tan(phi_k) x_1 > 0]`` exactly as
        the paper's ``LinearClassification`` task computes it, ``tan``
        included: for ``N = 1``, ``tan(pi/2)`` is ``1.6e16`` in floating
        point, the label is ``x_1 < 0`` and ``c = (-1, 6e-17)``.

        How it differs from :meth:`evenly_spaced`, whose row ``j`` is the
        *normal* at angle ``theta_j = (j + 1/2) pi / N``: the normal of unit
        ``k`` is at ``phi_k + pi/2`` (``phi_k < pi/2``) or ``phi_k - pi/2``,
        so for even ``N`` both give the same set of lines, in another order
        (for ``N = 6`` the paper's units are ``evenly_spaced(6)`` rows
        3, 4, 5, 0, 1, 2, with the same signs); for odd ``N`` the lines
        differ (``N = 1``: here the boundary ``x_1 = 0`` with label
        ``x_1 < 0``; there ``x_2 = 0`` with label ``x_2 > 0``). Use this one
        for networks trained with the paper's code.

        Parameters
        ----------
        n_tasks : int
            ``N >= 1`` (``N = 1`` is not identifiable).
        sigma : float
            Noise std per evidence sample, ``> 0``.
        prior : Uniform or Gaussian, optional
            Default ``Uniform(-0.5, 0.5)``.

        Returns
        -------
        Task
        """
        n_tasks = positive_int(n_tasks, "n_tasks")
        slopes = [math.tan((k + 0.5) * math.pi / n_tasks) for k in range(n_tasks)]
        C = np.column_stack([-np.asarray(slopes), np.ones(n_tasks)])
        return cls(C, np.zeros(n_tasks), sigma, prior)

    @classmethod
    def paper(
        cls,
        dim: int,
        n_tasks: int,
        sigma: float = 0.2,
        rng: Any = 0,
        prior: Prior | None = None,
    ) -> Task:
        """The paper's task family: :meth:`evenly_spaced` for ``D = 2``, else :meth:`random`.

        For ``D = 2`` the rows are the lines at angles ``(k + 1/2) pi / N`` and
        ``rng`` is not used (a Generator is left as it is); otherwise unit
        normals uniform on the sphere with ``b = 0``, drawn from ``rng``.

        Parameters
        ----------
        dim : int
            ``D >= 1``.
        n_tasks : int
            ``N >= 1``.
        sigma : float
            Noise std per evidence sample, ``> 0``.
        rng : int, SeedSequence, Generator or None, default 0
            Seed of ``C`` when ``D != 2``.
        prior : Uniform or Gaussian, optional
            Default ``Uniform(-0.5, 0.5)``.

        Returns
        -------
        Task

        Examples
        --------
        >>> import trilat
        >>> trilat.Task.paper(2, 6).C.shape, trilat.Task.paper(3, 5, rng=0).C.shape  # (N, D)
        ((6, 2), (5, 3))
        """
        if positive_int(dim, "dim") == 2:
            return cls.evenly_spaced(n_tasks, sigma, prior)
        return cls.random(dim, n_tasks, sigma, rng=rng, prior=prior)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python description (for JSON)."""
        prior = {"kind": type(self._prior).__name__, **self._prior.__dict__}
        out = {"C": self._C.tolist(), "b": self._b.tolist(), "sigma": self._sigma, "prior": prior}
        if self._noise_cov is not None:  # isotropic tasks keep their old description
            out["noise_cov"] = self._noise_cov.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        p = dict(d.get("prior", {"kind": "Uniform"}))
        kind = p.pop("kind")
        priors = {"Uniform": Uniform, "Gaussian": Gaussian}
        if kind not in priors:
            raise ValueError(f"prior kind must be one of {sorted(priors)}, got {kind!r}")
        return cls(d["C"], d["b"], d["sigma"], priors[kind](**p), noise_cov=d.get("noise_cov"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return (
            np.array_equal(self._C, other._C)
            and np.array_equal(self._b, other._b)
            and self._sigma == other._sigma
            and self._prior == other._prior
            and (self._noise_cov is None) == (other._noise_cov is None)
            and (self._noise_cov is None or np.array_equal(self._noise_cov, other._noise_cov))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        noise = (
            f"sigma={self._sigma!r}"
            if self._noise_cov is None
            else f"noise_cov={self._noise_cov.tolist()!r}"
        )
        return (
            f"Task(dim={self.dim}, n_tasks={self.n_tasks}, {noise}, "
            f"prior={self._prior!r}, rank={self._rank}, condition_number={self._cond:.4g})"
        )


def _rebuild_task(
    C: np.ndarray, b: np.ndarray, sigma: float | None, prior: Prior, noise_cov: Any
) -> Task:
    """``Task.__reduce__``'s constructor (``noise_cov`` is keyword-only in ``Task``)."""
    return Task(C, b, sigma, prior, noise_cov=noise_cov)


def _noise_covariance(noise_cov: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Sigma, L)``: ``noise_cov`` validated and symmetrised, and its Cholesky factor."""
    cov = as_float_array(noise_cov, "noise_cov", ndim=2)
    if cov.shape != (dim, dim):
        raise ValueError(f"noise_cov must have shape ({dim}, {dim}) (D x D), got {describe(cov)}")
    asym = float(np.max(np.abs(cov - cov.T)))
    # symmetric to rounding: a covariance assembled in floating point (A A^T, V L V^T)
    # may differ from its transpose by a few ulps of its largest entry
    if asym > 64 * _EPS * float(np.max(np.abs(cov))):
        raise ValueError(
            f"noise_cov must be symmetric, got max |noise_cov - noise_cov^T| = {asym:.3g} "
            f"with max |noise_cov| = {float(np.max(np.abs(cov))):.3g}"
        )
    cov = 0.5 * (cov + cov.T)  # exact for an exactly symmetric matrix
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        chol = None
    if chol is None or not np.all(np.isfinite(chol)) or np.any(np.diag(chol) <= 0):
        low = float(np.linalg.eigvalsh(cov)[0])
        raise ValueError(
            f"noise_cov must be positive definite (a Cholesky factor must exist), got smallest "
            f"eigenvalue {low:.3g}"
        )
    cov.setflags(write=False)
    chol.setflags(write=False)
    return cov, chol


def check_task(task: Any, *, identifiable: bool = False) -> Task:
    """``task`` itself when it is a :class:`Task`; otherwise a ``ValueError`` naming its type.

    With ``identifiable=True``, also :meth:`Task.require_identifiable`.
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a trilat.Task, got {type(task).__name__}")
    if identifiable:
        task.require_identifiable()
    return task


@dataclass(frozen=True)
class Trials:
    """Simulated trials: ``x_star (n, D)`` and ``evidence (n, T, D)``, ``X(t) = x* + sigma eps(t)``.

    Attributes
    ----------
    x_star : ndarray, shape (n, D)
        The latent of each trial, drawn from the task's prior.
    evidence : ndarray, shape (n, T, D)
        ``X(t)`` for ``t = 1..T``: ``evidence[:, t - 1]``.
    first_trial : int
        Index of the first trial in the stream of trials of this seed.

    Examples
    --------
    >>> import trilat
    >>> trials = trilat.simulate(trilat.Task.evenly_spaced(6), n_trials=4, n_steps=20, rng=0)
    >>> trials.x_star.shape, trials.evidence.shape, trials.n_trials, trials.n_steps
    ((4, 2), (4, 20, 2), 4, 20)
    """

    x_star: np.ndarray
    evidence: np.ndarray
    first_trial: int = field(default=0)

    @property
    def n_trials(self) -> int:
        """``n``, the number of trials."""
        return self.evidence.shape[0]

    @property
    def n_steps(self) -> int:
        """``T``, evidence samples per trial."""
        return self.evidence.shape[1]


def simulate(
    task: Task, n_trials: int, n_steps: int, rng: Any = 0, *, first_trial: int = 0
) -> Trials:
    """Draw trials: ``x* ~ prior``, ``X(t) = x* + sigma eps(t)``, ``t = 1..T``.

    With ``task.noise_cov`` (``Sigma``), ``X(t) = x* + L eps(t)`` with ``L``
    its Cholesky factor, from the same ``eps(t)`` (so a diagonal ``Sigma``
    scales each coordinate of the isotropic stream, and an isotropic task's
    numbers are what they always were).

    Every number is a pure function of the seed and the trial's index
    (counter-based Philox4x64-10, normals by ``Phi^-1`` of 53-bit uniforms),
    so trials ``first_trial .. first_trial + n_trials - 1`` are the same
    whether drawn alone or inside a larger batch, and the numba kernels of
    :mod:`trilat.kernels` draw exactly these numbers for the same seed.

    Parameters
    ----------
    task : Task
    n_trials : int
        ``n``, number of trials.
    n_steps : int
        ``T``, evidence samples per trial.
    rng : int, SeedSequence, Generator or None, default 0
        The seed. A ``Generator`` is advanced by two draws (the key).
    first_trial : int
        Index of the first trial, to draw any range of a seed's trials.

    Returns
    -------
    Trials
        ``x_star`` of shape ``(n, D)``, ``evidence`` of shape ``(n, T, D)``.

    Examples
    --------
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6)
    >>> trials = trilat.simulate(task, n_trials=5, n_steps=20, rng=0)
    >>> trials.x_star.shape, trials.evidence.shape  # (n, D), (n, T, D)
    ((5, 2), (5, 20, 2))
    >>> later = trilat.simulate(task, n_trials=2, n_steps=20, rng=0, first_trial=3)
    >>> bool((later.evidence == trials.evidence[3:]).all())  # trials 3 and 4 again
    True
    """
    task = check_task(task)
    n_trials = positive_int(n_trials, "n_trials", minimum=0)
    n_steps = positive_int(n_steps, "n_steps")
    first_trial = trial_range(first_trial, n_trials)
    key = _philox.key_from_rng(rng)
    steps = np.arange(n_steps + 1, dtype=np.uint64)
    x_star = np.empty((n_trials, task.dim))
    evidence = np.empty((n_trials, n_steps, task.dim))
    # Draw in chunks of trials: Philox's temporaries are ~20 words per uniform, so
    # one pass over all trials peaked at ~8x the output; chunks of at most 1/16 of
    # the trials (and SIMULATE_CHUNK_BYTES of temporaries) keep the peak within
    # ~1.5x. Each number depends only on (seed, trial, step, d): bit-identical.
    per_trial = 8 * 24 * (n_steps + 1) * 4 * (-(-task.dim // 4))
    chunk = max(1, min(-(-n_trials // 16), SIMULATE_CHUNK_BYTES // per_trial))
    for lo in range(0, n_trials, chunk):
        hi = min(n_trials, lo + chunk)
        trials = np.arange(first_trial + lo, first_trial + hi, dtype=np.uint64)
        u = _philox.uniforms(key, trials, steps, task.dim)
        x_star[lo:hi] = task.prior.quantile(u[:, 0, :])
        if task.isotropic:
            noise = task.sigma * scipy.special.ndtri(u[:, 1:, :])
        else:  # eps L^T, row by row: each sample's noise is L eps
            noise = scipy.special.ndtri(u[:, 1:, :]) @ task.noise_cholesky.T
        np.add(x_star[lo:hi, None, :], noise, out=evidence[lo:hi])
    return Trials(x_star=x_star, evidence=evidence, first_trial=first_trial)


def random_unit_rows(dim: int, n_tasks: int, rng: Any = 0) -> np.ndarray:
    """The normals of :meth:`Task.random`: ``c_i = g_i / ||g_i||``, ``g_i ~ N(0, I_D)``.

    Uniform on the unit sphere of ``R^D``. For callers that need many random
    ``C`` and no :class:`Task` (which factorises ``C``), e.g. ``trilat verify``'s
    orthogonality part; ``Task.random(dim, n_tasks, rng=r).C`` equals
    ``random_unit_rows(dim, n_tasks, r)`` bit for bit.

    Parameters
    ----------
    dim, n_tasks : int
        ``D >= 1`` and ``N >= 1``.
    rng : int, SeedSequence, Generator or None, default 0
        Seed (a Generator is advanced by the draw).

    Returns
    -------
    ndarray, shape (N, D)

    Examples
    --------
    >>> import numpy as np
    >>> C = random_unit_rows(3, 5, rng=0)
    >>> C.shape, bool(np.allclose(np.linalg.norm(C, axis=1), 1.0))
    ((5, 3), True)
    """
    dim = positive_int(dim, "dim")
    n_tasks = positive_int(n_tasks, "n_tasks")
    gen = as_rng(rng)
    g = gen.standard_normal((n_tasks, dim))
    while np.any(np.linalg.norm(g, axis=1) == 0):  # measure zero, but never a zero row
        g = gen.standard_normal((n_tasks, dim))
    return g / np.linalg.norm(g, axis=1, keepdims=True)
