"""The paper's fixed random mixing ``f``: what a network sees of the evidence, ``f(X(t))``.

The oracle never needs ``f``; it only makes the network's job hard (an
entangled but information-preserving view of ``X(t)``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trilat._checks import as_rng, last_axis, positive_int

__all__ = ["MixingMLP"]


class MixingMLP:
    """The paper's fixed random MLP ``f``: ``D -> 100 -> 100 -> 40``, ReLU, frozen.

    Weights and biases are drawn like PyTorch's ``nn.Linear`` default,
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``. ReLU follows every hidden layer;
    the last layer is linear, so the network sees an entangled but
    information-preserving view of ``X(t)``.

    Parameters
    ----------
    dim : int
        Input dimension D.
    widths : tuple of int
        Layer widths; the last is the observation dimension.
    rng : None, int or Generator
        Seed of the weights.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> f = trilat.MixingMLP(2, rng=0)  # D = 2 -> 100 -> 100 -> 40
    >>> f.out_dim, [w.shape for w in f.weights]
    (40, [(2, 100), (100, 100), (100, 40)])
    >>> f(np.zeros((5, 20, 2))).shape  # observations f(X(t)), shape (n, T, 40)
    (5, 20, 40)
    """

    def __init__(
        self, dim: int, widths: tuple[int, ...] = (100, 100, 40), rng: Any = None
    ) -> None:
        dim = positive_int(dim, "dim")
        widths = tuple(positive_int(w, "widths[i]") for w in widths)
        if not widths:
            raise ValueError("widths must name at least one layer")
        gen = as_rng(rng)
        weights, biases = [], []
        fan_in = dim
        for w in widths:
            bound = 1.0 / math.sqrt(fan_in)
            weights.append(gen.uniform(-bound, bound, (fan_in, w)))
            biases.append(gen.uniform(-bound, bound, w))
            fan_in = w
        self.in_dim = dim
        self.widths = widths
        self.weights = tuple(weights)
        self.biases = tuple(biases)

    @property
    def out_dim(self) -> int:
        """Width of the observations ``f(X)``, ``widths[-1]`` (40 for the paper's MLP)."""
        return self.widths[-1]

    def __call__(self, evidence: Any) -> np.ndarray:
        """``f(X)`` for evidence of shape ``(..., D)``; returns ``(..., widths[-1])``."""
        h = last_axis(evidence, "evidence", self.in_dim, "D, the latent dimension")
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h

    def __repr__(self) -> str:
        return f"MixingMLP(dim={self.in_dim}, widths={self.widths})"
