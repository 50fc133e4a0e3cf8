"""Validation, splits and result records shared by the representation metrics.

Every metric takes plain arrays: ``latents`` of shape ``(n, H)`` (one time
step of a network's state, or any representation) and ``factors`` of shape
``(n, D)`` (the ground truth ``x*``). Conditions are the orthants of factor
space around ``center``: factor ``j`` of sample ``i`` is on the positive side
when ``factors[i, j] > center[j]``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from trilat._checks import as_float_array, as_rng, describe, nonnegative_scalar, positive_int
from trilat._threads import limit_threads

# Fewest samples a fitted or scored subset may hold, unless the caller says otherwise.
MIN_SAMPLES = 10
# Orthant codes are bit patterns in an int64.
MAX_ORTHANT_DIM = 62
# Up to this many latent units the fits are small enough that one BLAS thread is fastest.
ONE_THREAD_MAX_WIDTH = 1024

_F = TypeVar("_F", bound=Callable[..., Any])


def small_fits_on_one_thread(fn: _F) -> _F:
    """Run a metric with BLAS/OpenMP on one thread when its latents are at most
    ``ONE_THREAD_MAX_WIDTH`` wide (:func:`trilat._threads.limit_threads`).

    The metrics fit tens to hundreds of ridge or classifier problems of size
    ``H``; threaded BLAS gains nothing on them and contends on a loaded
    machine: the five metrics on 3000 x 150 latents took 1.8 to 10.9 s with
    two BLAS threads on 2 busy cores, 0.33 to 0.47 s with one. Wider latents
    keep the machine's threads, which pay off on their larger Gram matrices.
    """

    @functools.wraps(fn)
    def run(latents: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            shape = np.shape(latents)
        except ValueError:  # ragged input: the metric's own check names it
            shape = ()
        small = len(shape) < 2 or shape[-1] <= ONE_THREAD_MAX_WIDTH
        with limit_threads(1 if small else None):
            return fn(latents, *args, **kwargs)

    return run  # type: ignore[return-value]


class MetricResult:
    """``to_dict()`` for the frozen result records: arrays become lists (for JSON)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy of every field: arrays as nested lists, numpy scalars as Python."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def frozen(arr: Any, dtype: Any = np.float64) -> np.ndarray:
    """``arr`` as a read-only array for a result record."""
    out = np.asarray(arr, dtype=dtype)
    out = out.view()
    out.setflags(write=False)
    return out


def check_latents(latents: Any, name: str = "latents") -> np.ndarray:
    """``latents`` as a finite float64 array of shape ``(n, H)`` with ``n >= 2``."""
    arr = as_float_array(latents, name)
    if arr.ndim == 3:
        raise ValueError(
            f"{name} must be 2-D (n, H); got {describe(arr)}. Take one time step first, "
            f"e.g. {name}[:, t - 1]"
        )
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n, H) with n >= 2 samples and H >= 1, got {describe(arr)}"
        )
    return arr


def check_factors(
    factors: Any, n: int, name: str = "factors", *, other: str = "latents"
) -> np.ndarray:
    """``factors`` as finite float64 ``(n, D)`` (a 1-D array is one factor), none constant."""
    arr = as_float_array(factors, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, D) or (n,), got {describe(arr)}")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} samples (shape {arr.shape}) but {other} has {n}; "
            f"both must hold the same trials in the same order"
        )
    constant = np.flatnonzero(np.all(arr == arr[0], axis=0))
    if constant.size:
        j = int(constant[0])
        raise ValueError(
            f"{name} column {j} is constant (every value {arr[0, j]!r}); a constant factor "
            f"has no variance to decode, split or classify"
        )
    return arr


def check_dichotomy_inputs(
    latents: Any, factors: Any, metric: str, why: str
) -> tuple[np.ndarray, np.ndarray]:
    """``latents (n, H)`` and ``factors (n, D)`` checked, with ``D >= 2``: metrics of one
    factor's sign across the conditions of the others (``why`` says what needs them)."""
    h = check_latents(latents)
    f = check_factors(factors, h.shape[0])
    if f.shape[1] < 2:
        raise ValueError(
            f"{metric} needs factors with D >= 2 columns ({why}), got shape {f.shape}"
        )
    return h, f


def check_center(center: Any, dim: int) -> np.ndarray:
    """The split point of each factor, shape ``(D,)`` (a scalar is broadcast)."""
    c = as_float_array(center, "center")
    if c.ndim == 0:
        return np.full(dim, float(c))
    if c.shape != (dim,):
        raise ValueError(f"center must be a number or have shape ({dim},), got {describe(c)}")
    return c


def check_alpha(alpha: Any) -> float | None:
    """Relative ridge penalty: ``None`` (cross-validated) or a finite number ``>= 0``."""
    return None if alpha is None else nonnegative_scalar(alpha, "alpha")


def check_min_samples(min_samples: Any) -> int:
    return positive_int(min_samples, "min_samples", minimum=2)


def positive_sides(factors: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``factors > center``, shape ``(n, D)`` bool: the side of each factor's split."""
    return factors > center


def orthant_codes(sides: np.ndarray, columns: Any = None) -> np.ndarray:
    """Bit pattern of the sides, ``sum_k sides[:, columns[k]] 2^k``, shape ``(n,)`` int64."""
    if columns is not None:
        sides = sides[:, columns]
    if sides.shape[1] > MAX_ORTHANT_DIM:
        raise ValueError(
            f"factors have D = {sides.shape[1]} > {MAX_ORTHANT_DIM} dimensions; orthant "
            f"schemes need 2^D conditions and cannot index them"
        )
    weights = np.left_shift(np.int64(1), np.arange(sides.shape[1], dtype=np.int64))
    return sides.astype(np.int64) @ weights


def code_signs(codes: np.ndarray, dim: int) -> np.ndarray:
    """Inverse of :func:`orthant_codes`: ``+1``/``-1`` per factor, shape ``(len(codes), dim)``."""
    bits = (np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(dim, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int64)


def choose_held_out(
    candidates: np.ndarray, n_total: int, cap: int, rng: Any, *, what: str
) -> np.ndarray:
    """Which conditions to hold out, one a fold, sorted.

    All ``n_total`` conditions when ``n_total <= cap`` (then every one of them
    must be a candidate, i.e. hold enough samples); otherwise ``cap`` of the
    candidates drawn uniformly without replacement by ``rng``.
    """
    if n_total <= cap:
        if candidates.size < n_total:
            raise ValueError(
                f"{what}: only {candidates.size} of the {n_total} conditions hold enough samples; "
                f"D is too large for this scheme at n, or lower min_samples"
            )
        return np.sort(candidates)
    if candidates.size < cap:
        raise ValueError(
            f"{what}: {n_total} conditions, of which only {candidates.size} hold enough samples "
            f"for {cap} folds; D is too large for this scheme at n (use more samples, fewer "
            f"folds or the halfspace scheme)"
        )
    return np.sort(as_rng(rng).choice(candidates, size=cap, replace=False))


def random_normals(dim: int, count: int, rng: Any, *, exclude: int | None = None) -> np.ndarray:
    """``count`` unit normals uniform on the sphere of ``R^dim``, shape ``(count, dim)``.

    With ``exclude=j`` the normals are uniform on the sphere of the other
    ``dim - 1`` coordinates (``v_j = 0``): a split orthogonal to factor ``j``.
    """
    gen = as_rng(rng)
    free = [k for k in range(dim) if k != exclude]
    out = np.zeros((count, dim))
    for i in range(count):
        v = gen.standard_normal(len(free))
        while not np.any(v):  # measure zero
            v = gen.standard_normal(len(free))
        out[i, free] = v / np.linalg.norm(v)
    return out


def halfspace_splits(
    f: np.ndarray, center: np.ndarray, count: int, min_samples: int, rng: Any, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random hyperplanes through ``center`` (Johnston & Fusi's splits).

    Returns the unit normals ``v``, shape ``(count, D)``, uniform on the sphere,
    and the positive sides ``(f - center) @ v > 0``, bool ``(n, count)``; each
    half of each split must hold ``min_samples`` samples.
    """
    normals = random_normals(f.shape[1], count, rng)
    side = (f - center) @ normals.T > 0
    for k in range(count):
        positive = int(side[:, k].sum())
        require_size(positive, min_samples, f"{what}: the positive half of split {k}")
        require_size(len(f) - positive, min_samples, f"{what}: the negative half of split {k}")
    return normals, side


def require_size(count: int, min_samples: int, what: str) -> None:
    if count < min_samples:
        raise ValueError(
            f"{what} holds {count} samples, fewer than min_samples={min_samples}; "
            f"too few samples per fold (use more samples or fewer folds)"
        )
