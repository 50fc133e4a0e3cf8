"""The paper's architectures as ``torch.nn`` modules.

Every module maps observations ``(n, T, obs_dim)`` to output logits
``(n, T, N)`` (``Yhat = sigmoid(z)``), reads the input causally (the output at
step ``t`` depends on ``f(X(1..t))`` only), and passes its latent state
``(n, T, hidden)`` through a submodule named ``"latent"`` (an
``nn.Identity``), so that ``trilat.adapters.from_torch(module,
latent="latent")`` captures it with a forward hook. The readout is linear in
that latent state, as Theorem 3.1 part 2 assumes.

- ``"rnn"``: vanilla ReLU RNN, ``h(t) = relu(W_in f(X(t)) + W h(t-1) + b)``,
  ``h(0) = 0`` (the paper's network, with ``dt = tau``);
- ``"gru"``, ``"lstm"``: ``nn.GRU`` / ``nn.LSTM``; the LSTM's latent state is
  its output ``h(t)``, its recurrent state ``(h(t), c(t))``;
- ``"transformer"``: one pre-norm causal self-attention block
  (``nn.TransformerEncoderLayer``, 8 heads, width 64, feed-forward 4 x width,
  no dropout) on a linear embedding of the observations plus sinusoidal
  positional encodings, then a final LayerNorm (GPT-2's layout); the latent
  state is the normalised block output.

The paper's own networks (panvaf/DisentangleRes, ``RNN.py`` and
``transformer.py``), written from their description:

- ``"paper_rnn"`` (:class:`PaperRNN`): ``RNN.py``'s class with leak
  ``dt/tau = 1`` and no network noise, ``h(t) = relu(inp_to_rec(x_t) +
  rec_to_rec(h(t-1)))`` from ``h = 0``, the same layer names and PyTorch's
  default ``nn.Linear`` initialisation (``U(+-1/sqrt(fan_in))`` for each
  layer, unlike ``nn.RNN``'s ``U(+-1/sqrt(hidden))``), the never-trained head
  ``rec_to_out``, and the trained readout apart, ``readout = Sequential(
  Linear(hidden, N))`` (the paper's ``Sequential(Linear, Sigmoid)`` with the
  sigmoid in the loss). :func:`trilat.experiments.save_paper_checkpoint`
  writes it as ``train.py`` does, for ``examples/disentangleres.py``;
- ``"lstm"`` above is the paper's LSTM (``nn.LSTM``, 64 units);
- ``"gpt2"`` (:class:`PaperGPT`): one GPT-2 block as ``transformer.py``'s
  ``GPT2ContinuousInputs`` with ``n_layer = 1``, ``n_embd = 64``, 8 heads:
  ``input_projection``, no positional information (its position embeddings
  are zero and frozen), ``h + attn(ln_1 h)``, ``h + mlp(ln_2 h)`` with a
  4 x width GELU (tanh form) MLP, a final ``ln_f``, GPT-2's initialisation
  (weights ``N(0, 0.02^2)``, the two residual projections ``N(0, 0.02^2 /
  (2 n_layer))``, zero biases), no dropout (``GPT2Config``'s default is 0.1;
  ``transformer.py`` does not say what the paper trained with).

Recurrent modules also expose their one-step map for fixed-point analysis:
``states(observations)`` gives the recurrent state along trajectories
``(n, T, S)`` and ``step(state, inputs)`` the map ``F(state; input)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from trilat._checks import positive_int

__all__ = [
    "ARCHITECTURES",
    "CausalTransformer",
    "PaperGPT",
    "PaperRNN",
    "RecurrentNetwork",
    "build",
]

ARCHITECTURES = ("rnn", "gru", "lstm", "transformer", "paper_rnn", "gpt2")
_CORES = {
    "rnn": lambda i, h: nn.RNN(i, h, nonlinearity="relu", batch_first=True),
    "gru": lambda i, h: nn.GRU(i, h, batch_first=True),
    "lstm": lambda i, h: nn.LSTM(i, h, batch_first=True),
}


class RecurrentNetwork(nn.Module):
    """A single-layer recurrent core, a linear readout, and the latent hook point.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    obs_dim : int
        Width of the observations ``f(X(t))``.
    n_tasks : int
        ``N``, the number of outputs.
    hidden : int
        Units of the recurrent layer.

    Examples
    --------
    >>> import torch
    >>> from trilat.experiments import RecurrentNetwork
    >>> net = RecurrentNetwork("gru", obs_dim=40, n_tasks=6, hidden=8)
    >>> observations = torch.zeros(3, 5, 40)  # (n, T, obs_dim)
    >>> net(observations).shape, net.states(observations).shape  # logits (n, T, N), h (n, T, H)
    (torch.Size([3, 5, 6]), torch.Size([3, 5, 8]))
    """

    def __init__(self, cell: str, obs_dim: int, n_tasks: int, hidden: int = 64) -> None:
        super().__init__()
        if cell not in _CORES:
            raise ValueError(f"cell must be one of {tuple(_CORES)}, got {cell!r}")
        self.cell = cell
        self.obs_dim = positive_int(obs_dim, "obs_dim")
        self.n_tasks = positive_int(n_tasks, "n_tasks")
        self.hidden = positive_int(hidden, "hidden")
        self.core = _CORES[cell](self.obs_dim, self.hidden)
        self.latent = nn.Identity()
        self.readout = nn.Linear(self.hidden, self.n_tasks)

    @property
    def state_size(self) -> int:
        """``S``: ``hidden`` (``2 hidden`` for the LSTM, ``h`` then ``c``)."""
        return 2 * self.hidden if self.cell == "lstm" else self.hidden

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, T, N)`` for observations ``(n, T, obs_dim)``."""
        h, _ = self.core(observations)
        return self.readout(self.latent(h))

    def states(self, observations: torch.Tensor) -> torch.Tensor:
        """The recurrent state after each step, ``(n, T, S)``, from ``state(0) = 0``."""
        if self.cell != "lstm":
            h, _ = self.core(observations)
            return h
        # nn.LSTM returns c(t) only at the last step: step through time.
        n = observations.shape[0]
        state = observations.new_zeros(n, self.state_size)
        out = []
        for t in range(observations.shape[1]):
            state = self.step(state, observations[:, t])
            out.append(state)
        return torch.stack(out, dim=1)

    def step(self, state: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """One step of the recurrent map, ``state(t) = F(state(t-1); f(X(t)))``.

        Parameters
        ----------
        state : Tensor, shape (n, S)
        inputs : Tensor, shape (n, obs_dim) or (obs_dim,)

        Returns
        -------
        Tensor, shape (n, S)
        """
        if inputs.ndim == 1:
            inputs = inputs.expand(state.shape[0], -1)
        u = inputs[:, None, :]
        if self.cell == "lstm":
            h, c = state[:, : self.hidden], state[:, self.hidden :]
            _, (h1, c1) = self.core(u, (h[None].contiguous(), c[None].contiguous()))
            return torch.cat([h1[0], c1[0]], dim=1)
        _, h1 = self.core(u, state[None].contiguous())
        return h1[0]


def sinusoidal_positions(n_steps: int, width: int, *, dtype: Any, device: Any) -> torch.Tensor:
    """``PE[t, 2j] = sin(t / 10000^(2j/width))``, ``PE[t, 2j+1] = cos(...)``, ``(T, width)``."""
    t = torch.arange(1, n_steps + 1, dtype=dtype, device=device)[:, None]
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(0, width, 2, dtype=dtype, device=device) / width
    )
    pe = torch.zeros(n_steps, width, dtype=dtype, device=device)
    pe[:, 0::2] = torch.sin(t * freq)
    pe[:, 1::2] = torch.cos(t * freq[: width // 2])
    return pe


class CausalTransformer(nn.Module):
    """One causal self-attention block with a linear readout.

    ``e(t) = W_e f(X(t)) + PE(t)``; ``z = LayerNorm(Block(e))`` with a causal
    mask (step ``t`` attends to steps ``1..t``); logits ``W_o z(t) + b_o``.

    Parameters
    ----------
    obs_dim : int
    n_tasks : int
    width : int
        Model width (the latent size); must be divisible by ``heads``.
    heads : int
        Attention heads.

    Examples
    --------
    >>> import torch
    >>> from trilat.experiments import CausalTransformer
    >>> net = CausalTransformer(obs_dim=40, n_tasks=6, width=16, heads=2)
    >>> net(torch.zeros(3, 5, 40)).shape  # logits (n, T, N)
    torch.Size([3, 5, 6])
    """

    def __init__(self, obs_dim: int, n_tasks: int, width: int = 64, heads: int = 8) -> None:
        super().__init__()
        self.obs_dim = positive_int(obs_dim, "obs_dim")
        self.n_tasks = positive_int(n_tasks, "n_tasks")
        self.hidden = positive_int(width, "width")
        heads = positive_int(heads, "heads")
        if self.hidden % heads or self.hidden % 2:
            raise ValueError(
                f"width must be even and divisible by heads, got width={width}, heads={heads}"
            )
        self.heads = heads
        self.embed = nn.Linear(self.obs_dim, self.hidden)
        self.block = nn.TransformerEncoderLayer(
            self.hidden,
            heads,
            dim_feedforward=4 * self.hidden,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.norm = nn.LayerNorm(self.hidden)
        self.latent = nn.Identity()
        self.readout = nn.Linear(self.hidden, self.n_tasks)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, T, N)`` for observations ``(n, T, obs_dim)``."""
        steps = observations.shape[1]
        e = self.embed(observations) + sinusoidal_positions(
            steps, self.hidden, dtype=observations.dtype, device=observations.device
        )
        mask = nn.Transformer.generate_square_subsequent_mask(
            steps, device=observations.device, dtype=observations.dtype
        )
        z = self.norm(self.block(e, src_mask=mask, is_causal=True))
        return self.readout(self.latent(z))


class PaperRNN(nn.Module):
    """The paper's vanilla RNN (``RNN.py``, ``dt = tau``, no network noise) and its readout.

    ``h(t) = relu(W_in x(t) + b_in + W h(t-1) + b)``, ``h(0) = 0``; logits
    ``readout(h(t))``. Layers ``inp_to_rec``, ``rec_to_rec``, ``rec_to_out``
    as the paper's (``rec_to_out`` is built, as there, and never trained: the
    loss reads ``readout``).

    Parameters
    ----------
    obs_dim : int
        Input width (41 for the paper's trial: 40 mixed channels and the
        fixation channel).
    n_tasks : int
    hidden : int

    Examples
    --------
    >>> import torch
    >>> from trilat.experiments import PaperRNN
    >>> net = PaperRNN(obs_dim=41, n_tasks=6, hidden=8)
    >>> observations = torch.zeros(3, 22, 41)  # the paper's trial: (n, S, 40 + 1)
    >>> net(observations).shape, net.states(observations).shape  # logits (n, S, N), h (n, S, H)
    (torch.Size([3, 22, 6]), torch.Size([3, 22, 8]))
    """

    cell = "rnn"

    def __init__(self, obs_dim: int, n_tasks: int, hidden: int = 64) -> None:
        super().__init__()
        self.obs_dim = positive_int(obs_dim, "obs_dim")
        self.n_tasks = positive_int(n_tasks, "n_tasks")
        self.hidden = positive_int(hidden, "hidden")
        # created in RNN.py's order, so a seed gives the paper's draws layer by layer
        self.inp_to_rec = nn.Linear(self.obs_dim, self.hidden)
        self.rec_to_rec = nn.Linear(self.hidden, self.hidden)
        self.rec_to_out = nn.Linear(self.hidden, self.n_tasks)
        self.latent = nn.Identity()
        self.readout = nn.Sequential(nn.Linear(self.hidden, self.n_tasks))

    @property
    def state_size(self) -> int:
        return self.hidden

    def step(self, state: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """``h(t) = relu(inp_to_rec(x(t)) + rec_to_rec(h(t-1)))``, ``(n, hidden)``."""
        if inputs.ndim == 1:
            inputs = inputs.expand(state.shape[0], -1)
        return torch.relu(self.inp_to_rec(inputs) + self.rec_to_rec(state))

    def states(self, observations: torch.Tensor) -> torch.Tensor:
        """``h(t)`` after each step, ``(n, T, hidden)``, from ``h(0) = 0``."""
        # nn.RNN's fused kernel with this module's weights: the same map as step() looped
        # (two biases, relu), without a Python loop per step
        h0 = observations.new_zeros(1, observations.shape[0], self.hidden)
        weights = (
            self.inp_to_rec.weight,
            self.rec_to_rec.weight,
            self.inp_to_rec.bias,
            self.rec_to_rec.bias,
        )
        out, _ = torch.rnn_relu(
            observations, h0, weights, True, 1, 0.0, self.training, False, True
        )
        return out

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, T, N)`` for observations ``(n, T, obs_dim)``."""
        return self.readout(self.latent(self.states(observations)))


class PaperGPT(nn.Module):
    """One GPT-2 block on continuous inputs, as the paper's ``transformer.py`` (see the module).

    ``h = input_projection(x)`` (no positional term); ``h += c_proj(attn(ln_1
    h))`` with a causal mask; ``h += mlp_proj(gelu(c_fc(ln_2 h)))``; ``z =
    ln_f(h)``, the latent state; logits ``readout(z)``.

    Parameters
    ----------
    obs_dim, n_tasks : int
    width : int
        ``n_embd`` (64); divisible by ``heads``.
    heads : int
        ``n_head`` (8).

    Examples
    --------
    >>> import torch
    >>> from trilat.experiments import PaperGPT
    >>> net = PaperGPT(obs_dim=40, n_tasks=6, width=16, heads=2)
    >>> net(torch.zeros(3, 5, 40)).shape  # logits (n, T, N)
    torch.Size([3, 5, 6])
    """

    def __init__(self, obs_dim: int, n_tasks: int, width: int = 64, heads: int = 8) -> None:
        super().__init__()
        self.obs_dim = positive_int(obs_dim, "obs_dim")
        self.n_tasks = positive_int(n_tasks, "n_tasks")
        self.hidden = positive_int(width, "width")
        self.heads = positive_int(heads, "heads")
        if self.hidden % self.heads:
            raise ValueError(f"width must be divisible by heads, got width={width}, heads={heads}")
        w = self.hidden
        self.input_projection = nn.Linear(self.obs_dim, w)
        self.ln_1 = nn.LayerNorm(w, eps=1e-5)
        self.c_attn = nn.Linear(w, 3 * w)
        self.c_proj = nn.Linear(w, w)
        self.ln_2 = nn.LayerNorm(w, eps=1e-5)
        self.c_fc = nn.Linear(w, 4 * w)
        self.mlp_proj = nn.Linear(4 * w, w)
        self.ln_f = nn.LayerNorm(w, eps=1e-5)
        self.latent = nn.Identity()
        self.readout = nn.Linear(w, self.n_tasks)
        with torch.no_grad():  # GPT-2's initialisation (n_layer = 1); the readout keeps torch's
            for layer in (self.input_projection, self.c_attn, self.c_fc):
                layer.weight.normal_(0.0, 0.02)
                layer.bias.zero_()
            for layer in (self.c_proj, self.mlp_proj):
                layer.weight.normal_(0.0, 0.02 / math.sqrt(2.0))
                layer.bias.zero_()

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, T, N)`` for observations ``(n, T, obs_dim)``."""
        n, steps, _ = observations.shape
        h = self.input_projection(observations)
        q, k, v = self.c_attn(self.ln_1(h)).split(self.hidden, dim=2)
        shape = (n, steps, self.heads, self.hidden // self.heads)
        q, k, v = (a.reshape(shape).transpose(1, 2) for a in (q, k, v))
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.c_proj(a.transpose(1, 2).reshape(n, steps, self.hidden))
        m = nn.functional.gelu(self.c_fc(self.ln_2(h)), approximate="tanh")
        h = h + self.mlp_proj(m)
        return self.readout(self.latent(self.ln_f(h)))


def build(arch: str, obs_dim: int, n_tasks: int, *, hidden: int = 64, heads: int = 8) -> nn.Module:
    """A fresh network of one of :data:`ARCHITECTURES` (initialised by torch's global RNG).

    Parameters
    ----------
    arch : {"rnn", "gru", "lstm", "transformer", "paper_rnn", "gpt2"}
    obs_dim : int
        Width of the observations (40 for the paper's mixing MLP).
    n_tasks : int
        ``N``.
    hidden : int
        Recurrent units, or the transformer's width.
    heads : int
        Attention heads (transformer only).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from trilat.experiments import ARCHITECTURES, build
    >>> ARCHITECTURES
    ('rnn', 'gru', 'lstm', 'transformer', 'paper_rnn', 'gpt2')
    >>> net = build("lstm", obs_dim=40, n_tasks=6, hidden=8)
    >>> type(net).__name__, net(torch.zeros(3, 5, 40)).shape
    ('RecurrentNetwork', torch.Size([3, 5, 6]))
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    if arch == "transformer":
        return CausalTransformer(obs_dim, n_tasks, width=hidden, heads=heads)
    if arch == "gpt2":
        return PaperGPT(obs_dim, n_tasks, width=hidden, heads=heads)
    if arch == "paper_rnn":
        return PaperRNN(obs_dim, n_tasks, hidden=hidden)
    return RecurrentNetwork(arch, obs_dim, n_tasks, hidden=hidden)
