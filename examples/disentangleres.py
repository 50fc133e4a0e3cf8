"""The paper's RNN, measured from the checkpoints its own code saves.

``trilat compare examples/disentangleres.py:factory --factory-arg checkpoint=net.pth
--factory-arg readout=readout.pt --factory-arg n_tasks=6``. The checkpoint is
``train.py``'s ``{'state_dict', 'encoder', 'loss_hist'}``; the readout is the
state dict of its ``Sequential(Linear(64, N), Sigmoid())``. The page
docs/comparing.md includes this file.
"""

import torch

import trilat


class RNN(torch.nn.Module):  # the paper's RNN: 64 ReLU units, dt = tau, no network noise
    def __init__(self, n_in=41, n_rec=64, n_out=1):
        super().__init__()
        self.inp_to_rec = torch.nn.Linear(n_in, n_rec)
        self.rec_to_rec = torch.nn.Linear(n_rec, n_rec)
        self.rec_to_out = torch.nn.Linear(n_rec, n_out)  # never trained: the readout is apart

    def forward(self, x):  # x: (batch, T, n_in); h(t) = relu(W_in x(t) + W h(t-1)), h(0) = 0
        h, states = x.new_zeros(x.shape[0], self.rec_to_rec.in_features), []
        for t in range(x.shape[1]):
            h = torch.relu(self.inp_to_rec(x[:, t]) + self.rec_to_rec(h))
            states.append(h)
        states = torch.stack(states, dim=1)
        return self.rec_to_out(states), states


class Network(torch.nn.Module):  # the RNN's states, read out by the trained readout (logits)
    def __init__(self, rnn, readout=None):
        super().__init__()
        self.rnn, self.readout, self.latent = rnn, readout, torch.nn.Identity()

    def forward(self, x):
        h = self.latent(self.rnn(x)[1])  # rec_to_out's output, rnn(x)[0], is ignored
        return h[..., :0] if self.readout is None else self.readout(h)  # no readout: latents only


def factory(checkpoint, readout=None, n_tasks=None):
    state = trilat.read_weights(checkpoint)  # tensors and numeric arrays only, never code
    n_out, n_rec = state["state_dict"]["rec_to_out.weight"].shape
    rnn = RNN(state["state_dict"]["inp_to_rec.weight"].shape[1], n_rec, n_out)
    trilat.load_state_dict(rnn, checkpoint, key="state_dict")
    head = None
    if readout is not None:
        head = torch.nn.Linear(n_rec, trilat.read_weights(readout)["0.weight"].shape[0])
        trilat.load_state_dict(torch.nn.Sequential(head), readout)  # keys 0.weight, 0.bias
    n_tasks = int(n_tasks or head.out_features)  # without a readout, n_tasks= is needed
    name = f"paper RNN {checkpoint} (rec_to_out ignored: never trained), readout {readout}"
    network = trilat.from_torch(Network(rnn, head), latent="latent", n_tasks=n_tasks, name=name)
    task = trilat.Task.paper_units(n_tasks)  # unit k: x2 > tan((k + 1/2) pi / N) x1
    mixing = trilat.MixingMLP.from_state_dict(state["encoder"])  # the frozen 2-100-100-40 MLP
    return network, task, mixing, trilat.TrialProtocol.paper()  # 1 + 20 + 1 steps, 41 inputs
