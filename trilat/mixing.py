"""The paper's fixed random mixing ``f``: what a network sees of the evidence, ``f(X(t))``.

The oracle never needs ``f``; it only makes the network's job hard (an
entangled but information-preserving view of ``X(t)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from trilat._checks import as_float_array, as_rng, last_axis, positive_int

__all__ = ["MixingMLP"]


def _numpy(value: Any) -> Any:
    """A tensor (detached, on the CPU) or anything else as it is, for ``numpy.asarray``."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


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
    rng : int, Generator or None, default 0
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

    def __init__(self, dim: int, widths: tuple[int, ...] = (100, 100, 40), rng: Any = 0) -> None:
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

    @classmethod
    def from_weights(cls, weights: Any, biases: Any) -> MixingMLP:
        """An MLP with the given layers, in ``torch.nn.Linear``'s layout.

        ``f(X) = W_L relu(... relu(W_1 X + b_1) ...) + b_L`` with ``W_l`` of
        shape ``(out_l, in_l)`` (``nn.Linear.weight``) and ``b_l`` of shape
        ``(out_l,)``; arrays or tensors (anything ``numpy.asarray`` reads),
        promoted to float64.

        Parameters
        ----------
        weights : sequence of array_like, each (out_l, in_l)
        biases : sequence of array_like, each (out_l,)

        Returns
        -------
        MixingMLP
        """
        weights, biases = list(weights), list(biases)
        if not weights or len(weights) != len(biases):
            raise ValueError(
                f"weights and biases must be non-empty sequences of the same length, got "
                f"{len(weights)} and {len(biases)}"
            )
        ws, bs = [], []
        fan_in = None
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            w = as_float_array(_numpy(w), f"weights[{i}]", ndim=2)
            b = as_float_array(_numpy(b), f"biases[{i}]", ndim=1)
            if b.shape != (w.shape[0],) or (fan_in is not None and w.shape[1] != fan_in):
                raise ValueError(
                    f"layer {i}: weights[{i}] of shape {w.shape} (out, in) and biases[{i}] of "
                    f"shape {b.shape} must be (out, in) and (out,)"
                    + (
                        ""
                        if fan_in is None
                        else f", with in = {fan_in} (the previous layer's out)"
                    )
                )
            ws.append(w.T.copy())  # stored (in, out) for h @ w
            bs.append(b.copy())
            fan_in = w.shape[0]
        mixing = cls.__new__(cls)
        mixing.in_dim = int(ws[0].shape[0])
        mixing.widths = tuple(int(w.shape[1]) for w in ws)
        mixing.weights = tuple(ws)
        mixing.biases = tuple(bs)
        return mixing

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> MixingMLP:
        """The MLP of a ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` layers, from its state dict.

        ``Sequential(Linear, ReLU, Linear, ReLU, Linear)`` has the keys
        ``0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias`` (the paper's
        encoder ``2 -> 100 -> 100 -> 40``); the layers are taken in the order
        of their index, with a ReLU between consecutive ones, as in
        :meth:`from_weights`. Values are tensors or arrays (torch is not
        imported here).

        Parameters
        ----------
        state : mapping of str to array_like
            ``{"<i>.weight": (out, in), "<i>.bias": (out,)}``.

        Returns
        -------
        MixingMLP
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"state must be a mapping of names to weights, got {type(state)}")
        layers: dict[int, dict[str, Any]] = {}
        for key, value in state.items():
            index, _, kind = str(key).partition(".")
            if not index.isdigit() or kind not in ("weight", "bias"):
                raise ValueError(
                    f"state has the key {key!r}; expected the keys of a torch Sequential of "
                    f"Linear layers, '<i>.weight' and '<i>.bias' (e.g. 0.weight, 2.bias)"
                )
            layers.setdefault(int(index), {})[kind] = value
        incomplete = sorted(i for i, d in layers.items() if set(d) != {"weight", "bias"})
        if not layers or incomplete:
            raise ValueError(
                f"state must hold a weight and a bias for each layer; layers {incomplete} "
                f"lack one (keys: {sorted(state)})"
            )
        order = sorted(layers)
        return cls.from_weights(
            [layers[i]["weight"] for i in order], [layers[i]["bias"] for i in order]
        )

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
