"""Input validation shared by the whole package.

Every public function validates its arguments here so that bad input fails
early, with one kind of message: the argument's name, what it was (shape or
value) and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class NotIdentifiableError(ValueError):
    """The boundaries do not determine the latent: ``rank(C) < D``.

    Theorem 3.1 needs a full-rank ``C`` with ``N >= D``; without it ``mu(t)``
    cannot be recovered from the outputs, whatever the estimator.
    """


def describe(x: Any) -> str:
    """Short description of an argument for error messages."""
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.ndim == 0:
        return f"value {arr.item()!r}"
    return f"shape {arr.shape} and dtype {arr.dtype}"


def as_float_array(
    x: Any, name: str, *, ndim: int | None = None, finite: bool = True
) -> np.ndarray:
    """Return ``x`` as a float64 array, rejecting what cannot be one.

    Integers and float32 are promoted to float64 (never computed in float32);
    complex, object and string input raise ``ValueError``.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(
            f"{name} must be an array of real numbers, got {type(x).__name__}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got {describe(arr)}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {describe(arr)}")
    if finite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} must be finite, got {bad} NaN or infinite entries in {describe(arr)}"
        )
    return arr


def last_axis(x: Any, name: str, size: int, what: str, *, finite: bool = True) -> np.ndarray:
    """``x`` as a float64 array of shape ``(..., size)``; ``what`` names the axis in the message."""
    arr = as_float_array(x, name, finite=finite)
    if arr.ndim == 0 or arr.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}) ({what}), got {describe(arr)}")
    return arr


def _finite_scalar(x: Any, name: str, *, zero_allowed: bool) -> float:
    expected = f"{name} must be a finite number {'>=' if zero_allowed else '>'} 0, got {x!r}"
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(expected) from exc
    if not np.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        raise ValueError(expected)
    return value


def positive_scalar(x: Any, name: str) -> float:
    """A finite float strictly greater than 0."""
    return _finite_scalar(x, name, zero_allowed=False)


def nonnegative_scalar(x: Any, name: str) -> float:
    """A finite float ``>= 0``."""
    return _finite_scalar(x, name, zero_allowed=True)


def positive_int(x: Any, name: str, *, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (bools and floats are refused)."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x!r}")
    if x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x!r}")
    return int(x)


def times(t: Any, name: str = "t") -> np.ndarray:
    """Validate sample counts: finite, strictly positive (fractional allowed)."""
    arr = as_float_array(t, name, finite=False)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} counts evidence samples and must be finite and > 0, got {describe(arr)}"
            + (
                f" with minimum {np.nanmin(arr)!r}"
                if arr.size and not np.all(np.isnan(arr))
                else ""
            )
        )
    return arr


def as_rng(rng: Any) -> np.random.Generator:
    """``None``, an int seed, a ``SeedSequence`` or a ``Generator`` -> ``Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise ValueError(
        f"rng must be None, an int seed, a SeedSequence or a numpy.random.Generator, got {rng!r}"
    )
