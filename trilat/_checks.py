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

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task(np.array([[1.0, 0.0], [2.0, 0.0]]), np.zeros(2), sigma=0.2)  # C (N, D)
    >>> try:  # two parallel boundaries: rank(C) = 1 < D = 2
    ...     task.require_identifiable()
    ... except trilat.NotIdentifiableError as error:
    ...     print(str(error)[:20])
    C has rank 1 < D = 2
    """


def describe(x: Any) -> str:
    """Short description of an argument for error messages."""
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.ndim == 0:
        return f"value {arr.item()!r}"
    return f"shape {arr.shape} and dtype {arr.dtype}"


def as_float_array(
    x: Any, name: str, *, ndim: int | None = None, finite: bool = True, allow_inf: bool = False
) -> np.ndarray:
    """Return ``x`` as a float64 array, rejecting what cannot be one.

    Integers and float32 are promoted to float64 (never computed in float32);
    complex, object and string input raise ``ValueError``. NaN is refused
    unless ``finite=False`` (the caller then checks the values itself);
    ``+-inf`` too, unless ``allow_inf=True`` (arguments where an infinity means
    something, e.g. the distance of a saturated output).
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
    if finite and allow_inf:
        if np.any(np.isnan(arr)):
            raise ValueError(
                f"{name} must not contain NaN, got {int(np.count_nonzero(np.isnan(arr)))} NaN "
                f"entries in {describe(arr)}"
            )
    elif finite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} must be finite, got {bad} NaN or infinite entries in {describe(arr)}"
        )
    return arr


def last_axis(
    x: Any, name: str, size: int, what: str, *, finite: bool = True, allow_inf: bool = False
) -> np.ndarray:
    """``x`` as a float64 array of shape ``(..., size)``; ``what`` names the axis in the message."""
    arr = as_float_array(x, name, finite=finite, allow_inf=allow_inf)
    if arr.ndim == 0 or arr.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}) ({what}), got {describe(arr)}")
    return arr


def real_scalar(x: Any, name: str) -> float:
    """A finite real number as a float: ints, floats, numpy reals and 0-d real arrays.

    Strings (``"0.2"``), booleans and complex numbers are refused: ``float()``
    would accept the first two, hiding a mistake.
    """
    value = x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"{name} must be a finite real number, got {x!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {x!r}")
    return value


def _finite_scalar(x: Any, name: str, *, zero_allowed: bool) -> float:
    expected = f"{name} must be a finite number {'>=' if zero_allowed else '>'} 0, got {x!r}"
    try:
        value = real_scalar(x, name)
    except ValueError as exc:
        raise ValueError(expected) from exc
    if value < 0 or (value == 0 and not zero_allowed):
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


def seed(rng: Any, name: str = "rng") -> Any:
    """Validate a seed: an int ``>= 0`` (not a bool), a ``SeedSequence`` or a ``Generator``.

    ``None`` (fresh entropy) is accepted where a caller passes it on purpose;
    every public function defaults to a fixed seed instead. Returns ``rng``.
    """
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence)):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)) and rng >= 0:
        return rng
    raise ValueError(
        f"{name} must be an int seed >= 0, a SeedSequence or a numpy.random.Generator "
        f"(or None for fresh entropy), got {rng!r}"
    )


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """An int seed ``>= 0``, a ``SeedSequence``, a ``Generator`` or ``None`` -> ``Generator``."""
    rng = seed(rng, name)
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def trial_range(first_trial: Any, n_trials: int) -> int:
    """``first_trial`` as an int such that trials ``first_trial .. + n_trials - 1`` fit in
    the 64-bit trial counter (``< 2^64``): a counter that wraps would silently repeat trials."""
    first = positive_int(first_trial, "first_trial", minimum=0)
    if first + n_trials > 2**64:
        raise ValueError(
            f"first_trial + n_trials must be <= 2**64 (the trial counter is 64-bit), got "
            f"first_trial={first} and n_trials={n_trials}"
        )
    return first
