"""A small PyTorch GRU for ``trilat compare examples/gru.py:factory --out out/``.

Untrained, so the report shows how far a random network is from the
Bayes-optimal estimator; load your trained weights where marked. The page
docs/comparing.md includes this file, and plot_compare_gru.py runs it.
"""

import torch

import trilat


class GRU(torch.nn.Module):
    def __init__(self, obs_dim=40, hidden=64, n_tasks=6):
        super().__init__()
        self.gru = torch.nn.GRU(obs_dim, hidden, batch_first=True)
        self.readout = torch.nn.Linear(hidden, n_tasks)

    def forward(self, x):  # x: (batch, T, obs_dim), the observations f(X(t))
        return self.readout(self.gru(x)[0])  # logits: (batch, T, n_tasks)


def factory():
    torch.manual_seed(0)
    module = GRU()
    # trilat.load_state_dict(module, "gru.pt")  # your trained weights (weights_only=True)
    task = trilat.Task.evenly_spaced(6)  # D = 2, N = 6, sigma = 0.2: the paper's task
    mixing = trilat.MixingMLP(2, rng=0)  # the f(X) your network was trained on
    return trilat.from_torch(module, latent="gru"), task, mixing
