"""A small GRU-based torch module and the same network written out in numpy (test reference)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special


def gru_module(
    torch: Any, obs_dim: int, hidden: int, n_out: int, dtype: Any, seed: int = 0
) -> Any:
    """``nn.GRU(obs_dim, hidden, batch_first=True)`` then ``nn.Linear(hidden, n_out)``."""

    class Gru(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(obs_dim, hidden, batch_first=True)
            self.readout = torch.nn.Linear(hidden, n_out)

        def forward(self, x):
            return self.readout(self.gru(x)[0])

    torch.manual_seed(seed)
    return Gru().to(dtype)


def numpy_gru(module: Any, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's GRU equations (torch.nn.GRU docs), written out in numpy.

    r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
    """
    p = {k: v.detach().double().numpy() for k, v in module.state_dict().items()}
    w_ih, w_hh = p["gru.weight_ih_l0"], p["gru.weight_hh_l0"]
    b_ih, b_hh = p["gru.bias_ih_l0"], p["gru.bias_hh_l0"]
    hidden = w_hh.shape[1]
    h = np.zeros((obs.shape[0], hidden))
    states = []
    for t in range(obs.shape[1]):
        gi = obs[:, t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = special.expit(gi[:, :hidden] + gh[:, :hidden])
        z = special.expit(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        n = np.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
        h = (1 - z) * n + z * h
        states.append(h)
    latents = np.stack(states, axis=1)
    return latents, latents @ p["readout.weight"].T + p["readout.bias"]
