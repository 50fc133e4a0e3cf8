"""Priors of the latent ``x*``: the paper's uniform box and an isotropic Gaussian.

Each has ``variance`` and ``mean`` (per coordinate), ``quantile(u)`` (the
inverse CDF, through which :func:`trilat.simulate` draws ``x*`` from
counter-based uniforms) and ``sample(n, dim, rng)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special

from trilat._checks import as_rng, positive_int, positive_scalar, real_scalar

__all__ = ["Gaussian", "Prior", "Uniform"]


@dataclass(frozen=True)
class Uniform:
    """Uniform prior on the box ``[low, high]^D`` (the paper's ``U[-0.5, 0.5]^D``).

    Its per-coordinate mean is ``(low + high) / 2`` and its variance
    ``(high - low)^2 / 12``.

    Parameters
    ----------
    low, high : float
        Finite, ``low < high``.

    Examples
    --------
    >>> import trilat
    >>> prior = trilat.Uniform()  # the paper's U[-0.5, 0.5]^D
    >>> prior.mean, round(prior.variance, 6)  # (low + high) / 2, (high - low)^2 / 12
    (0.0, 0.083333)
    >>> prior.sample(3, 2, rng=0).shape  # (n, D)
    (3, 2)
    >>> task = trilat.Task.evenly_spaced(6, prior=trilat.Uniform(-1.0, 1.0))
    """

    low: float = -0.5
    high: float = 0.5

    def __post_init__(self) -> None:
        try:
            low, high = real_scalar(self.low, "low"), real_scalar(self.high, "high")
        except ValueError:
            low, high = math.nan, math.nan
        if not low < high:
            raise ValueError(
                f"Uniform needs finite low < high, got low={self.low!r}, high={self.high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def mean(self) -> float:
        """Per-coordinate mean ``(low + high) / 2``, the centre of the box."""
        return 0.5 * (self.low + self.high)

    @property
    def variance(self) -> float:
        """Per-coordinate variance ``(high - low)^2 / 12``."""
        return (self.high - self.low) ** 2 / 12.0

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms on (0, 1) to draws: ``low + (high - low) u``."""
        return self.low + (self.high - self.low) * u

    def sample(self, n: int, dim: int, rng: Any = 0) -> np.ndarray:
        """``n`` draws of ``x*``, shape ``(n, dim)``."""
        return self.quantile(
            as_rng(rng).random((positive_int(n, "n", minimum=0), positive_int(dim, "dim")))
        )


@dataclass(frozen=True)
class Gaussian:
    """Isotropic Gaussian prior ``N(mean, std^2 I)``; the posterior is its conjugate update.

    Parameters
    ----------
    mean : float
        Per-coordinate mean, finite.
    std : float
        Per-coordinate standard deviation, ``> 0``.

    Examples
    --------
    >>> import trilat
    >>> prior = trilat.Gaussian(0.0, 0.3)
    >>> round(prior.variance, 6), prior.sample(3, 2, rng=0).shape
    (0.09, (3, 2))
    >>> task = trilat.Task.evenly_spaced(6, prior=prior)  # simulate draws x* from it
    """

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        mean = real_scalar(self.mean, "Gaussian mean")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", positive_scalar(self.std, "Gaussian std"))

    @property
    def variance(self) -> float:
        """Per-coordinate variance ``std^2``."""
        return self.std**2

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms on (0, 1) to draws: ``mean + std Phi^-1(u)``."""
        return self.mean + self.std * scipy.special.ndtri(u)

    def sample(self, n: int, dim: int, rng: Any = 0) -> np.ndarray:
        """``n`` draws of ``x*``, shape ``(n, dim)``."""
        return self.quantile(
            as_rng(rng).random((positive_int(n, "n", minimum=0), positive_int(dim, "dim")))
        )


Prior = Uniform | Gaussian
