"""Hypothesis strategies for property tests of Theorem 3.1, and of your own estimators.

Theorem 3.1 is stated for every full-rank ``C`` with ``N >= D``, every
``sigma > 0`` and every ``t >= 1``; these strategies generate exactly those
cases, so a test can be written the way the theorem is stated. Every strategy
is built from bounded integers and floats and constructs its cases directly
(a full-rank ``C`` of bounded condition number is assembled, not found by
rejection), so hypothesis shrinks a failure to a small readable case: ``C``
made of identity blocks, ``b = 0``, ``t = 1``, ``mu = 0``. ``dim`` and
``n_tasks`` take an int or a strategy; every strategy composes with
:mod:`hypothesis.strategies`.

Needs hypothesis, which comes with the ``test`` extra:
``pip install 'trilat[test]'``. ``import trilat`` never imports it.

Example, to paste into your own test file (replace ``my_estimator``, which
maps output logits ``(..., N)`` and ``t`` to an estimate of ``mu(t)``, with yours)::

    import numpy as np
    from hypothesis import given

    import trilat
    from trilat import testing as tt

    def my_estimator(task, z, t):
        return trilat.recover(task, trilat.distances_from_logits(task, z, t))

    @given(tt.cases(max_condition=100.0))
    def test_my_estimator_recovers_mu(case):
        task, mu, t = case
        z = trilat.predict_logits(task, mu, t)  # the Bayes-optimal outputs, as logits
        mu_hat = my_estimator(task, z, t)
        # your accuracy target; the oracle itself is exact to rounding (~1e-13 here)
        target = 1e-9 * task.condition_number * (1 + np.linalg.norm(mu) + np.abs(task.b).max())
        assert np.linalg.norm(mu_hat - mu) <= target
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any

try:
    import hypothesis.extra.numpy as hnp
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as exc:  # pragma: no cover - exercised with hypothesis hidden
    raise ImportError(
        "trilat.testing needs hypothesis, which is part of trilat's test extra: "
        "pip install 'trilat[test]' (or pip install hypothesis)"
    ) from exc

import numpy as np

from trilat.task import Gaussian, Task, Uniform

__all__ = [
    "boundaries",
    "box_cases",
    "box_latents",
    "cases",
    "latents",
    "logits",
    "noise_covariances",
    "orthogonal_matrices",
    "probabilities",
    "task_from",
    "tasks",
    "times",
]

Strategy = st.SearchStrategy
IntOrStrategy = int | Strategy
FloatOrStrategy = float | Strategy

MAX_DIM = 4  # default largest D: big enough for every structure, small enough to read
MAX_EXTRA_TASKS = 6  # default N ranges over D .. D + 6


def _ints(value: IntOrStrategy | None, name: str, default: Strategy, minimum: int) -> Strategy:
    """An int or a strategy of ints, as a strategy; ``None`` gives ``default``."""
    if value is None:
        return default
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(f"{name} must be an int >= {minimum} or a strategy, got {value!r}")
    return st.just(int(value))


def _floats(value: FloatOrStrategy | None, name: str, default: Strategy) -> Strategy:
    """A positive float or a strategy of them, as a strategy; ``None`` gives ``default``."""
    if value is None:
        return default
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
        raise InvalidArgument(f"{name} must be a float > 0 or a strategy, got {value!r}")
    return st.just(float(value))


@functools.cache
def _unit(low: float = -1.0, high: float = 1.0) -> Strategy:
    # No subnormals: they shrink nowhere useful and only slow BLAS down.
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _normalize_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@functools.cache
def _float_arrays(shape: int | tuple[int, ...], low: float, high: float) -> Strategy:
    return hnp.arrays(np.float64, shape, elements=_unit(low, high))


def orthogonal_matrices(dim: IntOrStrategy) -> Strategy:
    """Orthogonal ``D x D`` matrices (rotations and reflections).

    ``Q`` of the QR factorisation of a matrix with entries in ``[-1, 1]``,
    with column signs fixed so that ``diag(R) >= 0``. Shrinks to the identity
    (the QR of the zero matrix has ``Q = I``).

    Parameters
    ----------
    dim : int or strategy of int
        ``D >= 1``.

    Returns
    -------
    strategy of ndarray, shape (D, D)

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.orthogonal_matrices(3))
    ... def test_orthogonal(Q):
    ...     assert np.allclose(Q.T @ Q, np.eye(3), rtol=0, atol=1e-12)
    >>> test_orthogonal()  # passes: nothing printed
    """
    dims = _ints(dim, "dim", st.integers(1, MAX_DIM), 1)

    @st.composite
    def draw_orthogonal(draw: Callable) -> np.ndarray:
        d = draw(dims)
        a = draw(_float_arrays((d, d), -1.0, 1.0))
        q, r = np.linalg.qr(a)
        signs = np.where(np.diag(r) < 0, -1.0, 1.0)
        return q * signs

    return draw_orthogonal()


def noise_covariances(
    dim: IntOrStrategy,
    *,
    max_condition: float = 100.0,
    min_std: float = 0.01,
    max_std: float = 2.0,
    diagonal: bool = False,
) -> Strategy:
    """Noise covariances ``Sigma`` for ``Task(..., noise_cov=Sigma)``: symmetric positive definite.

    ``Sigma = Q diag(lam) Q^T`` (symmetrised exactly, ``(M + M^T) / 2``) with
    ``Q`` from :func:`orthogonal_matrices` (the identity when
    ``diagonal=True``) and ``lam_j = std^2 r_j``, ``std`` drawn from
    ``[min_std, max_std]`` and each ``r_j`` from ``[1 / max_condition, 1]``:
    so the condition number ``max lam / min lam <= max_condition`` by
    construction (to rounding: the computed ``Sigma``'s eigenvalues are
    within ``~D eps std^2`` of ``lam``). Shrinks towards ``Q = I``.

    Parameters
    ----------
    dim : int or strategy of int
        ``D >= 1``.
    max_condition : float
        Bound on ``cond(Sigma)``, ``>= 1``.
    min_std, max_std : float
        Range of ``sqrt(lam_max)``, ``0 < min_std <= max_std``.
    diagonal : bool
        Anisotropic but uncorrelated noise (``Sigma`` diagonal).

    Returns
    -------
    strategy of ndarray, shape (D, D)

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> import trilat
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.noise_covariances(dim=3, max_condition=10.0))
    ... def test_spd(cov):
    ...     lam = np.linalg.eigvalsh(cov)
    ...     assert cov.shape == (3, 3) and lam.min() > 0 and lam.max() / lam.min() <= 10 * (1 + 1e-12)
    ...     task = trilat.Task(np.eye(3), np.zeros(3), noise_cov=cov)
    ...     assert np.allclose(task.noise_scales**2, np.diag(cov), rtol=1e-14, atol=0)
    >>> test_spd()  # passes: nothing printed
    """
    if not (isinstance(max_condition, (int, float)) and 1 <= max_condition < math.inf):
        raise InvalidArgument(f"max_condition must be a finite number >= 1, got {max_condition!r}")
    if not (isinstance(min_std, (int, float)) and isinstance(max_std, (int, float))) or not (
        0 < min_std <= max_std < math.inf
    ):
        raise InvalidArgument(
            f"noise_covariances needs 0 < min_std <= max_std < inf, got {min_std!r}, {max_std!r}"
        )
    dims = _ints(dim, "dim", st.integers(1, MAX_DIM), 1)

    @st.composite
    def draw_covariance(draw: Callable) -> np.ndarray:
        d = draw(dims)
        q = np.eye(d) if diagonal else draw(orthogonal_matrices(d))
        std = draw(_unit(float(min_std), float(max_std)))
        ratios = draw(_float_arrays(d, 1.0 / float(max_condition), 1.0))
        m = (q * (std**2 * ratios)) @ q.T
        return 0.5 * (m + m.T)

    return draw_covariance()


def _condition(C: np.ndarray) -> float:
    """``s_1 / s_D`` of ``C`` (``inf`` with a zero row, which no Task accepts)."""
    norms = np.linalg.norm(C, axis=1)
    if np.any(norms == 0):
        return math.inf
    s = np.linalg.svd(C / norms[:, None], compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else math.inf


# Strategies are cached by their arguments: building one inside a draw costs more
# (validation) than drawing from it.
@functools.cache
def _full_rank(dim: int, n_tasks: int, max_condition: float) -> Strategy:
    """Unit rows, rank ``D``, ``cond(C) <= max_condition``, constructed (not rejected).

    ``E`` stacks ``D x D`` identities (``cond(E) = sqrt(ceil(N/D) / floor(N/D))
    <= sqrt 2``); ``A = E + F`` with ``F`` drawn from ``[-2, 2]``, which
    reaches every direction. If ``A`` (rows normalised) is worse conditioned
    than allowed, it is moved towards ``E``: ``(1 - lam) A + lam E`` with the
    smallest ``lam`` (to 2^-40, by bisection) that meets the bound, so drawn
    condition numbers fill the whole range up to ``max_condition``.
    Shrinks to ``F = 0``: ``C = E``.
    """
    m, r = divmod(n_tasks, dim)
    # A hair inside the bound, so that Task's own normalisation (a few ulps) keeps it.
    target = max_condition * (1.0 - 1e-9)
    stacked = np.concatenate([np.eye(dim)] * (m + (r > 0)))[:n_tasks]

    def build(free: np.ndarray) -> np.ndarray:
        a = stacked + free
        a[~a.any(axis=1)] = stacked[~a.any(axis=1)]
        if _condition(a) > target:
            lo, hi = 0.0, 1.0  # cond at hi always meets the bound (hi = 1 is E)
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if _condition((1 - mid) * a + mid * stacked) <= target:
                    hi = mid
                else:
                    lo = mid
            a = (1 - hi) * a + hi * stacked
        return _normalize_rows(a)

    return _float_arrays((n_tasks, dim), -2.0, 2.0).map(build)


@functools.cache
def _rank_deficient(dim: int, n_tasks: int) -> Strategy:
    """Unit rows with ``rank(C) < D`` exactly (also in floating point).

    ``rank = min(N, D - 1)`` free columns of small integers; every other
    column is ``0`` or ``+-2^k`` times a free one, which stays an exact
    multiple after the rows are normalised (scaling by a power of two is
    exact), so the numerical rank is the intended one. Columns are then
    permuted. When ``N < D`` every ``C`` is rank deficient.
    """

    @st.composite
    def draw_deficient(draw: Callable) -> np.ndarray:
        rank = draw(st.integers(1, min(n_tasks, dim - 1)))
        free = draw(hnp.arrays(np.float64, (n_tasks, rank), elements=st.integers(-3, 3)))
        free[~free.any(axis=1), 0] = 1.0  # a boundary needs a normal: no zero row
        columns = [free[:, j] for j in range(rank)]
        for _ in range(dim - rank):
            source = draw(st.integers(0, rank - 1))
            factor = draw(st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5]))
            columns.append(factor * free[:, source])
        order = draw(st.permutations(range(dim)))
        return _normalize_rows(np.column_stack(columns)[:, order])

    return draw_deficient()


def boundaries(
    dim: IntOrStrategy | None = None,
    n_tasks: IntOrStrategy | None = None,
    *,
    full_rank: bool = True,
    max_condition: float = 100.0,
    max_offset: float = 1.0,
) -> Strategy:
    """Boundaries ``(C, b)``: unit normals ``c_i`` (rows of ``C``) and offsets ``b_i``.

    Label ``i`` of a latent ``x`` is ``1[c_i^T x > b_i]``. With
    ``full_rank=True`` (Theorem 3.1's condition) ``rank(C) = D``, ``N >= D``
    and ``cond(C) = s_1/s_D <= max_condition``, guaranteed by construction:
    a free draw is moved towards stacked identity blocks just far enough to
    meet the bound (never found by rejection). With ``full_rank=False``, ``rank(C) < D`` (including
    ``N < D``), the non-identifiable case.

    Parameters
    ----------
    dim : int or strategy of int, optional
        ``D``; default 1 to 4 (2 to 4 when ``full_rank=False``).
    n_tasks : int or strategy of int, optional
        ``N``; default ``D`` to ``D + 6`` (full rank) or 1 to ``D + 4``. A full-rank
        draw with ``N < D`` raises ``InvalidArgument``.
    full_rank : bool
    max_condition : float
        Bound on ``cond(C)`` for full-rank draws, ``>= 1.5``.
    max_offset : float
        ``b_i`` is drawn from ``[-max_offset, max_offset]``; 0 gives ``b = 0``
        (the paper's boundaries through the origin).

    Returns
    -------
    strategy of (ndarray, ndarray)
        ``C`` of shape ``(N, D)`` with unit rows, ``b`` of shape ``(N,)``.

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.boundaries(dim=2, n_tasks=3, max_condition=10.0))
    ... def test_full_rank(boundaries):
    ...     C, b = boundaries  # C (N, D) with unit rows, b (N,)
    ...     assert C.shape == (3, 2) and b.shape == (3,)
    ...     assert np.allclose(np.linalg.norm(C, axis=1), 1.0)
    ...     assert np.linalg.cond(C) <= 10.0 * (1 + 1e-9)
    >>> test_full_rank()  # passes: nothing printed
    """
    if not (isinstance(max_condition, (int, float)) and max_condition >= 1.5):
        # cond(C) >= 1 always; stacked identities, the fallback, reach sqrt 2.
        raise InvalidArgument(f"max_condition must be a number >= 1.5, got {max_condition!r}")
    if not (isinstance(max_offset, (int, float)) and 0 <= max_offset < math.inf):
        raise InvalidArgument(f"max_offset must be a finite number >= 0, got {max_offset!r}")
    dims = _ints(dim, "dim", st.integers(1 if full_rank else 2, MAX_DIM), 1)

    @st.composite
    def draw_boundaries(draw: Callable) -> tuple[np.ndarray, np.ndarray]:
        d = draw(dims)
        if full_rank:
            n = draw(_ints(n_tasks, "n_tasks", st.integers(d, d + MAX_EXTRA_TASKS), 1))
            if n < d:
                raise InvalidArgument(
                    f"full_rank=True needs n_tasks >= dim, got n_tasks={n} with dim={d}"
                )
            # a copy, so that hypothesis prints C itself rather than how it was mapped
            C = draw(_full_rank(d, n, float(max_condition))).copy()
        else:
            if d < 2:
                raise InvalidArgument(
                    f"full_rank=False needs dim >= 2 (a nonzero row in D = 1 has rank 1), got {d}"
                )
            n = draw(_ints(n_tasks, "n_tasks", st.integers(1, d + MAX_EXTRA_TASKS - 2), 1))
            C = draw(_rank_deficient(d, n)).copy()
        if max_offset == 0:
            b = np.zeros(n)
        else:
            b = draw(_float_arrays(n, -float(max_offset), float(max_offset)))
        return C, b

    return draw_boundaries()


def tasks(
    dim: IntOrStrategy | None = None,
    n_tasks: IntOrStrategy | None = None,
    *,
    sigma: FloatOrStrategy | None = None,
    prior: Uniform | Gaussian | Strategy | None = None,
    full_rank: bool = True,
    max_condition: float = 100.0,
    max_offset: float = 1.0,
    noise_cov: bool | Strategy = False,
) -> Strategy:
    """:class:`trilat.Task` instances: boundaries from :func:`boundaries`, a noise ``sigma``.

    A falsifying example prints as the call that rebuilds it,
    ``task_from(boundaries=(C, b), sigma=..., prior=...)`` (or
    ``noise_cov=...`` in place of ``sigma``).

    Parameters
    ----------
    dim, n_tasks, full_rank, max_condition, max_offset
        As in :func:`boundaries`.
    sigma : float or strategy of float, optional
        Noise std per sample; default from ``[0.01, 2]``.
    prior : Uniform, Gaussian or a strategy of them, optional
        Default ``Uniform(-0.5, 0.5)``, the paper's.
    noise_cov : bool or strategy of ndarray
        ``True``: correlated noise, ``Sigma`` from :func:`noise_covariances`
        (``cond(Sigma) <= 100``) in place of ``sigma``; a strategy: its
        ``(D, D)`` draws (it must match the drawn ``D``). Not with ``sigma``.

    Returns
    -------
    strategy of Task

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.tasks(dim=2, sigma=0.2, max_offset=0.0))
    ... def test_identifiable(task):
    ...     assert task.dim == 2 and task.n_tasks >= 2 and task.identifiable
    ...     assert task.sigma == 0.2 and not task.b.any()
    >>> test_identifiable()  # passes: nothing printed
    """
    if noise_cov is not False and sigma is not None:
        raise InvalidArgument("give sigma or noise_cov, not both")
    sigmas = _floats(sigma, "sigma", _unit(0.01, 2.0))
    if prior is None:
        priors = st.just(Uniform())
    elif isinstance(prior, st.SearchStrategy):
        priors = prior
    elif isinstance(prior, (Uniform, Gaussian)):
        priors = st.just(prior)
    else:
        raise InvalidArgument(f"prior must be a Uniform, a Gaussian or a strategy, got {prior!r}")
    pairs = boundaries(
        dim, n_tasks, full_rank=full_rank, max_condition=max_condition, max_offset=max_offset
    )

    if noise_cov is not False:
        if noise_cov is not True and not isinstance(noise_cov, st.SearchStrategy):
            raise InvalidArgument(f"noise_cov must be a bool or a strategy, got {noise_cov!r}")

        def with_noise(pair: tuple[np.ndarray, np.ndarray]) -> Strategy:
            covs = noise_covariances(pair[0].shape[1]) if noise_cov is True else noise_cov
            return st.builds(task_from, boundaries=st.just(pair), noise_cov=covs, prior=priors)

        return pairs.flatmap(with_noise)
    # builds() makes hypothesis print a falsifying task as the call that rebuilds it.
    return st.builds(task_from, boundaries=pairs, sigma=sigmas, prior=priors)


def task_from(
    boundaries: tuple[Any, Any],
    sigma: float | None = None,
    prior: Uniform | Gaussian | None = None,
    *,
    noise_cov: Any = None,
) -> Task:
    """``Task(C, b, sigma, prior, noise_cov=noise_cov)`` from a pair ``boundaries = (C, b)``.

    What :func:`tasks` calls, so that a falsifying example hypothesis prints,
    ``task_from(boundaries=(array(...), array(...)), sigma=..., prior=...)``,
    can be pasted back as code.

    Parameters
    ----------
    boundaries : (array_like, array_like)
        ``C`` of shape ``(N, D)`` and ``b`` of shape ``(N,)``.
    sigma : float
    prior : Uniform or Gaussian, optional
        Default ``Uniform(-0.5, 0.5)``.

    Returns
    -------
    Task

    Examples
    --------
    >>> import numpy as np
    >>> from trilat import testing as tt
    >>> tt.task_from(boundaries=(np.eye(2), np.zeros(2)), sigma=0.2)
    Task(dim=2, n_tasks=2, sigma=0.2, prior=Uniform(low=-0.5, high=0.5), rank=2, condition_number=1)
    """
    C, b = boundaries
    return Task(C, b, sigma, prior, noise_cov=noise_cov)


def latents(
    task: Task | IntOrStrategy,
    *,
    shape: int | tuple[int, ...] | Strategy = (),
    max_abs: float = 1.0,
) -> Strategy:
    """Latents ``mu`` (or ``x*``) of shape ``shape + (D,)``, entries in ``[-max_abs, max_abs]``.

    Parameters
    ----------
    task : Task, or int or strategy of int
        The task (for its ``D``) or ``D`` itself.
    shape : int, tuple or strategy of tuples
        Batch shape in front of the latent axis, e.g. ``(n, T)``; default a
        single latent.
    max_abs : float
        Bound on every coordinate.

    Returns
    -------
    strategy of ndarray, shape ``shape + (D,)``

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.latents(2, shape=(5, 20), max_abs=0.5))
    ... def test_shape(mu):
    ...     assert mu.shape == (5, 20, 2) and np.abs(mu).max() <= 0.5
    >>> test_shape()  # passes: nothing printed
    """
    if not (isinstance(max_abs, (int, float)) and 0 < max_abs < math.inf):
        raise InvalidArgument(f"max_abs must be a finite number > 0, got {max_abs!r}")
    if task is None:
        raise InvalidArgument("latents needs a Task, or D as an int or a strategy, got None")
    dims = st.just(task.dim) if isinstance(task, Task) else _ints(task, "task", st.nothing(), 1)
    shapes = shape if isinstance(shape, st.SearchStrategy) else st.just(shape)

    @st.composite
    def draw_latents(draw: Callable) -> np.ndarray:
        d = draw(dims)
        batch = draw(shapes)
        batch = (batch,) if isinstance(batch, (int, np.integer)) else tuple(batch)
        return draw(_float_arrays((*batch, d), -float(max_abs), float(max_abs)))

    return draw_latents()


def times(
    *,
    min_value: float = 1.0,
    max_value: float = 1000.0,
    integer: bool = True,
    shape: int | tuple[int, ...] | None = None,
) -> Strategy:
    """Sample counts ``t >= 1`` (``t`` evidence samples seen).

    Parameters
    ----------
    min_value, max_value : float
        Range, ``1 <= min_value <= max_value``.
    integer : bool
        Integers (the paper's) or any float in the range (the oracle accepts both).
    shape : int or tuple, optional
        ``None`` gives a scalar; otherwise an array of counts, e.g. ``(T,)``.

    Returns
    -------
    strategy of int, float or ndarray

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.times(max_value=100.0, shape=(20,)))
    ... def test_counts(t):
    ...     assert t.shape == (20,) and (t >= 1).all() and (t == np.round(t)).all()
    >>> test_counts()  # passes: nothing printed
    """
    if not (1 <= min_value <= max_value < math.inf):
        raise InvalidArgument(
            f"times needs 1 <= min_value <= max_value < inf, got {min_value!r}, {max_value!r}"
        )
    if integer:
        elements = st.integers(math.ceil(min_value), math.floor(max_value))
    else:
        elements = _unit(float(min_value), float(max_value))
    if shape is None:
        return elements
    return hnp.arrays(np.float64, shape, elements=elements)


def probabilities(shape: int | tuple[int, ...] | Strategy, *, saturated: bool = False) -> Strategy:
    """Output probabilities ``Yhat`` in ``(0, 1)``, including the deep tails.

    Parameters
    ----------
    shape : int, tuple or strategy of tuples
        E.g. ``(N,)`` or ``(n, T, N)``.
    saturated : bool
        Whether exact 0 and 1 may appear (saturated outputs, whose distances
        are infinite).

    Returns
    -------
    strategy of ndarray

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.probabilities((2, 6)))
    ... def test_open_interval(p):
    ...     assert p.shape == (2, 6) and ((0 < p) & (p < 1)).all()
    >>> test_open_interval()  # passes: nothing printed
    """
    elements = st.floats(
        0.0, 1.0, exclude_min=not saturated, exclude_max=not saturated, allow_nan=False
    )
    return hnp.arrays(np.float64, shape, elements=elements)


def logits(shape: int | tuple[int, ...] | Strategy, *, max_abs: float = 700.0) -> Strategy:
    """Logits ``z`` of sigmoid outputs, finite, in ``[-max_abs, max_abs]``.

    Parameters
    ----------
    shape : int, tuple or strategy of tuples
    max_abs : float
        Bound on ``|z|``; the default reaches where ``sigmoid(z)`` underflows.

    Returns
    -------
    strategy of ndarray

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.logits((4, 6)))
    ... def test_finite(z):
    ...     assert z.shape == (4, 6) and np.isfinite(z).all() and np.abs(z).max() <= 700
    >>> test_finite()  # passes: nothing printed
    """
    if not (isinstance(max_abs, (int, float)) and 0 < max_abs < math.inf):
        raise InvalidArgument(f"max_abs must be a finite number > 0, got {max_abs!r}")
    return hnp.arrays(np.float64, shape, elements=_unit(-max_abs, max_abs))


def cases(
    dim: IntOrStrategy | None = None,
    n_tasks: IntOrStrategy | None = None,
    *,
    max_condition: float = 100.0,
    max_abs: float = 1.0,
    max_t: float = 1000.0,
    **task_options: Any,
) -> Strategy:
    """Whole cases of the theorem, ``(task, mu, t)``: an identifiable task, a latent, a count.

    Parameters
    ----------
    dim, n_tasks, max_condition
        As in :func:`boundaries` (full rank).
    max_abs : float
        As in :func:`latents`.
    max_t : float
        Largest integer ``t``.
    **task_options
        Passed to :func:`tasks` (``sigma``, ``prior``, ``max_offset``,
        ``noise_cov``; the default ``max_offset=0.45`` makes every boundary
        cross the default box; ``cases(noise_cov=True)`` draws correlated noise).

    Returns
    -------
    strategy of (Task, ndarray of shape (D,), int)

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> import trilat
    >>> from hypothesis import given, settings
    >>> from trilat import testing as tt
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.cases(max_condition=100.0))
    ... def test_round_trip(case):
    ...     task, mu, t = case
    ...     z = trilat.predict_logits(task, mu, t)
    ...     mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, t))
    ...     assert np.allclose(mu_hat, mu, rtol=0, atol=1e-6)
    >>> test_round_trip()  # passes: nothing printed
    """
    dims = _ints(dim, "dim", st.integers(1, MAX_DIM), 1)

    def cases_of_dim(d: int) -> Strategy:
        task_strategy = tasks(d, n_tasks, max_condition=max_condition, **task_options)
        parts = st.tuples(task_strategy, latents(d, max_abs=max_abs), times(max_value=max_t))
        return parts.map(lambda case: Case(case))

    return dims.flatmap(cases_of_dim)


class Case(tuple):
    """``(task, mu, t)`` that prints as code: ``(task_from(boundaries=(array([...]), ...),
    sigma=..., prior=...), array([...]), t)``, every float to the digit that round-trips.

    hypothesis prints a falsifying value through ``_repr_pretty_``; a Task's own
    repr is a summary that cannot be pasted back.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        task, mu, t = self
        with np.printoptions(floatmode="unique", threshold=sys.maxsize):
            noise = f"sigma={task.sigma!r}" if task.isotropic else f"noise_cov={task.noise_cov!r}"
            source = (
                f"task_from(boundaries=({task.C!r}, {task.b!r}), {noise}, prior={task.prior!r})"
            )
            return f"({source}, {np.asarray(mu)!r}, {t!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def box_latents(
    task: Task, *, shape: int | tuple[int, ...] | Strategy = (), margin: float = 0.0
) -> Strategy:
    """Latents ``mu`` inside the task's uniform box ``[low + margin, high - margin]^D``.

    Faces and corners are drawn often (hypothesis favours the ends of a float
    range), which is where the box prior's exact outputs differ from the flat ones.

    Parameters
    ----------
    task : Task
        With a :class:`trilat.Uniform` prior.
    shape : int, tuple or strategy of tuples
        Batch shape in front of the latent axis.
    margin : float
        Distance kept from every face, ``0 <= margin < (high - low)/2``.

    Returns
    -------
    strategy of ndarray, shape ``shape + (D,)``

    Examples
    --------
    A property test, run here on 10 fixed examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> import trilat
    >>> from trilat import testing as tt
    >>> task = trilat.Task.evenly_spaced(3)
    >>> @settings(max_examples=10, database=None, derandomize=True)
    ... @given(tt.box_latents(task, shape=4, margin=0.1))
    ... def test_inside(mu):
    ...     assert mu.shape == (4, 2) and np.all(np.abs(mu) <= 0.4)
    >>> test_inside()  # passes: nothing printed
    """
    if not isinstance(task, Task) or not isinstance(task.prior, Uniform):
        raise InvalidArgument(f"box_latents needs a Task with a Uniform prior, got {task!r}")
    low, high = task.prior.low, task.prior.high
    if not (isinstance(margin, (int, float)) and 0 <= margin < (high - low) / 2):
        raise InvalidArgument(f"margin must be in [0, (high - low)/2), got {margin!r}")
    shapes = shape if isinstance(shape, st.SearchStrategy) else st.just(shape)

    @st.composite
    def draw_latents(draw: Callable) -> np.ndarray:
        batch = draw(shapes)
        batch = (batch,) if isinstance(batch, (int, np.integer)) else tuple(batch)
        return draw(_float_arrays((*batch, task.dim), low + margin, high - margin))

    return draw_latents()


def box_cases(
    dim: IntOrStrategy | None = None,
    n_tasks: IntOrStrategy | None = None,
    *,
    max_condition: float = 20.0,
    max_t: float = 1000.0,
    margin: float = 0.0,
    **task_options: Any,
) -> Strategy:
    """Cases ``(task, mu, t)`` of the uniform box prior: an identifiable task, ``mu`` in the box.

    What the box-prior inversion ``mu -> predict_logits(prior=box) ->
    estimate_from_logits(prior=box)`` is stated for: it returns a preimage
    of the logits, and ``mu`` itself for ``D = 1`` (for ``D >= 2`` the map
    can fold, see :func:`trilat.estimate_from_logits`). The prior is the task's
    (``Uniform(-0.5, 0.5)`` unless ``prior=`` gives another :class:`Uniform`).

    Parameters
    ----------
    dim : int or strategy of int, optional
        ``D``; default 1 to 3 (where the box prior's outputs are computed by
        quadrature, not quasi-Monte Carlo).
    n_tasks, max_condition
        As in :func:`boundaries` (full rank).
    max_t : float
        Largest integer ``t``.
    margin : float
        As in :func:`box_latents`.
    **task_options
        Passed to :func:`tasks` (``sigma``, ``prior``, ``max_offset``; the
        default ``max_offset=0.45`` makes every boundary cross the default box).

    Returns
    -------
    strategy of (Task, ndarray of shape (D,), int)

    Examples
    --------
    The box-prior inversion returns a preimage of the logits, run here on 5 fixed
    examples (in a test file, drop the settings):

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> import trilat
    >>> from trilat import testing as tt
    >>> @settings(max_examples=5, database=None, derandomize=True, deadline=None)
    ... @given(tt.box_cases(dim=2, n_tasks=3))
    ... def test_round_trip(case):
    ...     task, mu, t = case
    ...     z = trilat.predict_logits(task, mu, t, prior=task.prior)
    ...     mu_hat = trilat.estimate_from_logits(task, z, t, prior=task.prior)
    ...     z_hat = trilat.predict_logits(task, mu_hat, t, prior=task.prior)
    ...     assert np.max(np.abs(z_hat - z) / (1 + np.abs(z))) <= 1e-9
    >>> test_round_trip()  # passes: nothing printed
    """
    dims = _ints(dim, "dim", st.integers(1, 3), 1)
    # |b| < 1/2 <= |c|_1 / 2: every boundary crosses the box [-1/2, 1/2]^D (one that
    # misses it gives the same output for every mu, and says nothing about it)
    task_options.setdefault("max_offset", 0.45)
    task_strategy = tasks(dims, n_tasks, max_condition=max_condition, **task_options)

    @st.composite
    def draw_case(draw: Callable) -> tuple[Task, np.ndarray, int]:
        task = draw(task_strategy)
        if not isinstance(task.prior, Uniform):
            raise InvalidArgument(f"box_cases needs a Uniform prior, got {task.prior!r}")
        return task, draw(box_latents(task, margin=margin)), draw(times(max_value=max_t))

    return draw_case()
