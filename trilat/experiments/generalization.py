"""The paper's out-of-distribution generalisation analysis (``generalize.py``), re-implemented.

panvaf/DisentangleRes (commit 4f7ba78), ``generalize.py``: for each quadrant
``q`` of ``x*`` held out, a linear decoder ``Linear(64, D)`` reads ``x*`` from
the network's state at the decision step. It is trained by Adam (lr 1e-3) on
batches of 16 fresh trials whose ``x*`` lies in the other three quadrants,
for 3000 batches (N <= 3), 2000 (N = 6) or 1000 (N >= 12), never to
convergence, and tested on 40 fresh batches: ``r^2 = 1 - MSE / Var(U[-1/2,
1/2])`` with ``Var = 1/12``, MSE over trials and coordinates. Five fits per
quadrant; the figure shows the median and quartiles of the 20 scores. The
decoder's error is collected at its last test point, after ``99 (n/100) + 1``
batches (the test runs every ``n/100`` batches, and the errors are kept when
``round(100 i / n) == 99``); this module trains exactly that many.

The test trials of the paper's code are not the held-out quadrant's when
``q`` is 2 or 4. The test environment is built with ``quad_num=quad_test``,
a numpy scalar from ``enumerate(quads)``; ``tasks.DenoiseQuads`` then keeps
one row ``QUADS[q - 1] = [+-1/2, +-1/2]`` where it expects an array of rows,
``quad = self.quads[np.random.choice(self.quads.shape[0])]`` picks one of
that row's two *entries*, a scalar ``+-1/2``, and ``stim = rng.rand(2) * quad``
lies in quadrant 1 or 3. For ``q = 1`` and ``q = 3`` the row's entries are
equal and the test set is right; for ``q = 2`` (row ``[-1/2, 1/2]``) and
``q = 4`` (``[1/2, -1/2]``) it is half quadrant 1, half quadrant 3: trials
from the quadrants the decoder was trained on. ``faithful=True`` reproduces
that draw; ``faithful=False`` tests on the held-out quadrant. For ``D > 2``
(``DenoiseQuadsHighDim``) the same indexing makes every test set lie in the
all-positive or the all-negative orthant.

:func:`trilat.metrics.regression_generalization` remains trilat's reference
metric (closed-form ridge, penalty chosen by cross-validation inside the
training quadrants). The two differ in the decoder: an Adam decoder stopped
after a few thousand small batches is an implicitly regularised,
unconverged least-squares fit, so its scores are lower than the converged
ridge's on codes that generalise, and not comparable number for number.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from trilat._checks import as_float_array, as_rng, positive_int, positive_scalar
from trilat.experiments._runtime import torch_threads
from trilat.protocol import TrialProtocol
from trilat.task import Task

__all__ = [
    "FLAW",
    "ReferenceGeneralization",
    "orthant_index",
    "orthants",
    "paper_decoder_batches",
    "reference_generalization",
]

# Var(U[-1/2, 1/2]), the r^2 baseline (generalize.py estimates it from 1e5 draws)
_VAR = 1.0 / 12.0
FLAW = (
    "faithful=True reproduces generalize.py (panvaf/DisentangleRes 4f7ba78): the test "
    "environment gets quad_num as a scalar, so DenoiseQuads keeps one row of QUADS and draws "
    "x* = rand(D) * (one entry of that row); held-out quadrants 2 and 4 are tested on "
    "quadrants 1 and 3 (trained on), and for D > 2 every test set is the all-positive or "
    "all-negative orthant"
)


def orthants(dim: int) -> np.ndarray:
    """The sign patterns of the orthants, ``(2^D, D)``, in the paper's order for ``D = 2``.

    ``D = 2``: ``QUADS / (1/2)`` of ``tasks.DenoiseQuads``, quadrants 1..4 =
    ``(+,+), (-,+), (-,-), (+,-)``. ``D > 2``: ``itertools.product((1, -1),
    repeat=D)`` (the all-positive orthant first, the all-negative last).

    Parameters
    ----------
    dim : int
        ``D >= 1``.

    Returns
    -------
    ndarray, shape (2^D, D)
        Signs ``+1`` / ``-1``, one orthant per row.

    Examples
    --------
    >>> from trilat.experiments import orthants
    >>> orthants(2)  # quadrants 1..4
    array([[ 1.,  1.],
           [-1.,  1.],
           [-1., -1.],
           [ 1., -1.]])
    >>> orthants(3).shape
    (8, 3)
    """
    dim = positive_int(dim, "dim", minimum=2)
    if dim == 2:
        return np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    return np.array(list(itertools.product((1.0, -1.0), repeat=dim)))


def orthant_index(x: Any) -> np.ndarray:
    """The row of :func:`orthants` holding each point, ``(n,)`` for ``x`` of shape ``(n, D)``.

    Parameters
    ----------
    x : array_like, shape (n, D)
        Points; the signs of their coordinates name the orthant.

    Returns
    -------
    ndarray of int, shape (n,)
        Rows of ``orthants(D)``.

    Examples
    --------
    >>> import numpy as np
    >>> from trilat.experiments import orthant_index
    >>> orthant_index(np.array([[0.1, 0.2], [-0.1, 0.2], [-0.1, -0.3], [0.3, -0.1]]))
    array([0, 1, 2, 3])
    """
    x = as_float_array(x, "x", ndim=2)
    signs = orthants(x.shape[1])
    match = (np.sign(x)[:, None, :] == signs[None]).all(axis=2)
    return np.where(match.any(axis=1), match.argmax(axis=1), -1)


def paper_decoder_batches(n_tasks: int) -> int:
    """``generalize.py``'s decoder budget: 3000 batches for N <= 3, 2000 below 12, else 1000.

    Parameters
    ----------
    n_tasks : int
        ``N``.

    Returns
    -------
    int

    Examples
    --------
    >>> from trilat.experiments import paper_decoder_batches
    >>> [paper_decoder_batches(n) for n in (2, 6, 24)]
    [3000, 2000, 1000]
    """
    n_tasks = positive_int(n_tasks, "n_tasks")
    return 3000 if n_tasks <= 3 else 2000 if n_tasks < 12 else 1000


@dataclass
class ReferenceGeneralization:
    """Scores of the paper's generalisation analysis (see the module).

    Attributes
    ----------
    scores : ndarray, shape (Q, n_fits)
        ``r^2`` per held-out orthant and fit: ``Q`` rows in the order of
        ``settings["held_out"]`` (by default every orthant, in :func:`orthants` order).
    median, q25, q75 : float
        Over all ``Q n_fits`` scores (the paper's point and error bar).
    angles : ndarray, shape (Q, n_fits, D (D - 1) / 2)
        Angles (degrees, in ``[0, 180]``) between the decoder's columns (the
        read-out directions of ``x*_i`` and ``x*_j`` in latent space), pairs
        ``i < j`` in order.
    angle_median : float
    faithful : bool
    tested : list of list of int
        The orthants the test trials of each hold-out actually fell in.
    test_x_star : ndarray, shape (Q, n_fits, n_test, D)
    note : str
        What was measured, and with ``faithful=True`` the flaw reproduced.
    settings : dict

    Examples
    --------
    >>> import trilat
    >>> from trilat.experiments import build, reference_generalization
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = trilat.from_torch(build("rnn", 40, 6, hidden=8), latent="latent")  # untrained
    >>> result = reference_generalization(
    ...     network, task, mixing=mixing, protocol=trilat.TrialProtocol(stimulus=5),
    ...     n_fits=2, n_batches=5, n_test_batches=2, batch_size=8,
    ... )
    >>> result.scores.shape, result.angles.shape, result.test_x_star.shape  # Q = 4 quadrants
    ((4, 2), (4, 2, 1), (4, 2, 16, 2))
    >>> result.faithful, result.tested  # corrected: each hold-out tested on its own quadrant
    (False, [[0], [1], [2], [3]])
    """

    scores: np.ndarray
    median: float
    q25: float
    q75: float
    angles: np.ndarray
    angle_median: float
    faithful: bool
    tested: list[list[int]]
    test_x_star: np.ndarray = field(repr=False)
    note: str
    settings: dict[str, Any]

    def summary(self) -> str:
        """One line: median [quartiles], angle, which test set."""
        kind = "faithful (paper's test set)" if self.faithful else "corrected (held-out orthant)"
        return (
            f"reference generalisation, {kind}: r^2 median {self.median:.3f} "
            f"[{self.q25:.3f}, {self.q75:.3f}] over {self.scores.size} fits; decoder angle "
            f"{self.angle_median:.1f} deg"
        )


def _draw_x_star(
    gen: np.random.Generator, n: int, signs: np.ndarray, rows: np.ndarray, faithful_row: bool
) -> np.ndarray:
    """``x* = U(0,1)^D * (1/2) s`` with ``s`` a sign row drawn from ``rows``.

    ``faithful_row``: ``rows`` is one row and each trial's multiplier is one of
    its entries (the paper's scalar ``quad``), the same for every coordinate.
    Both branches consume the same draws, so a hold-out whose faithful and
    corrected test sets coincide (quadrants 1 and 3) gets the same trials.
    """
    dim = signs.shape[1]
    u = gen.random((n, dim))
    entry = gen.integers(0, dim, size=n)
    row = gen.integers(0, len(rows), size=n)
    if faithful_row:
        return u * (0.5 * signs[rows[0]][entry])[:, None]
    return u * 0.5 * signs[rows[row]]


def reference_generalization(
    network: Any,
    task: Task,
    *,
    mixing: Any,
    protocol: TrialProtocol,
    faithful: bool = False,
    n_fits: int = 5,
    rng: Any = 0,
    n_batches: int | None = None,
    n_test_batches: int = 40,
    batch_size: int = 16,
    lr: float = 1e-3,
    step: int | None = None,
    chunk: int = 4096,
    threads: int | None = 1,
    held_out: Sequence[int] | None = None,
    standardize: bool = False,
) -> ReferenceGeneralization:
    """The paper's generalisation analysis on ``network``, faithful to its code or corrected.

    For each orthant ``o`` held out (quadrants 1..4 for ``D = 2``), ``n_fits``
    times: a fresh ``Linear(H, D)`` (PyTorch's default initialisation, float32)
    is trained by Adam (``lr``) to minimise ``mean (W h + c - x*)^2`` on
    batches of ``batch_size`` fresh trials with ``x*`` uniform in the other
    orthants (``x* = U(0,1)^D * s/2``, ``s`` a training orthant's signs),
    ``h`` the latent state at ``step``; it is tested on ``n_test_batches``
    fresh batches: ``r^2 = 1 - mean (W h + c - x*)^2 / (1/12)``. Trials are
    ``X(t) = x* + sigma eps(t)`` laid out by ``protocol`` and observed through
    ``mixing``, as :func:`trilat.compare` feeds the network.

    Parameters
    ----------
    network : callable
        A :class:`trilat.adapters.Network` (what a factory returns for
        ``compare``): ``network(inputs).latents`` of shape ``(n, S, H)``.
    task : Task
        Its ``sigma`` and ``dim`` (the boundaries play no part).
    mixing : callable
        ``f``, as for :func:`trilat.compare`.
    protocol : TrialProtocol
    faithful : bool
        Test as ``generalize.py`` does (its test set, see :data:`FLAW`), or
        on the held-out orthant (default).
    n_fits : int
        Decoders per held-out orthant (paper: 5).
    rng : None, int or Generator
        Seeds the trials and the decoders' initialisation.
    n_batches : int, optional
        The decoder's budget; default :func:`paper_decoder_batches` of
        ``task.n_tasks``. The errors are taken after ``99 (n_batches // 100)
        + 1`` batches, the paper's last test point (``n_batches`` if below 100).
    n_test_batches, batch_size : int
        Paper: 40 and 16.
    lr : float
        Paper: 1e-3.
    step : int, optional
        The step number whose latent state is decoded; default the last
        scored step (the paper's decision step 21).
    chunk : int
        Trials per call to the network.
    threads : int or None
        torch's threads during the call (restored after): a 64 x 2 decoder on
        batches of 16 only loses to thread synchronisation. ``None``: as set.
    held_out : sequence of int, optional
        The orthants held out, as rows of :func:`orthants` (default: all
        ``2^D``; for ``D = 10`` that is 1024 hold-outs, so pass a subset).
        Each hold-out's trials and decoders come from its own stream, so a
        subset scores exactly as the same rows of the run over all orthants.
    standardize : bool
        Feed the decoder ``(h - m) / s``, ``m`` the mean of its training
        latents and ``s`` their RMS distance from it (one scalar), in place of
        ``h``. The paper's analysis (default ``False``) is not invariant to a
        rescaling of the state: a ReLU network whose input weights and biases
        are multiplied by ``a > 0`` and whose readout weights are divided by
        ``a`` computes the same outputs with states ``a h``, and the Adam
        decoder, stopped early at a fixed rate, scores it differently (a
        trained RNN at N = 24, 2 fits of the paper's 1000 batches: 0.87 at
        ``a = 1``, -0.28 at ``a = 4``, 0.89 at ``a = 1/4``). Standardised, the
        score is unchanged by ``h -> a h + c`` for any ``a > 0`` and shift
        ``c``: bit for bit when ``c = 0`` and ``a`` is a power of 2, otherwise
        up to the float32 rounding of the decoder's inputs. The standardised
        states have unit mean squared norm: a convention, on which the
        level of the score depends (as the paper's depends on the network's
        own scale).

    Returns
    -------
    ReferenceGeneralization
        ``scores`` and ``angles`` have one row per held-out orthant, in the
        order of ``held_out``.

    Examples
    --------
    A tiny run on an untrained network (the paper's budget is
    :func:`paper_decoder_batches` batches of 16 trials per fit):

    >>> import trilat
    >>> from trilat.experiments import build, reference_generalization
    >>> task, mixing = trilat.Task.evenly_spaced(6), trilat.MixingMLP(2)
    >>> network = trilat.from_torch(build("rnn", 40, 6, hidden=8), latent="latent")  # untrained
    >>> result = reference_generalization(
    ...     network, task, mixing=mixing, protocol=trilat.TrialProtocol(stimulus=5),
    ...     n_fits=2, n_batches=5, n_test_batches=2, batch_size=8,
    ... )
    >>> result.scores.shape  # (Q, n_fits)
    (4, 2)
    >>> result.note
    'corrected: each hold-out is tested on its own orthant'
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a trilat.Task, got {type(task).__name__}")
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize must be a bool, got {standardize!r}")
    if not isinstance(protocol, TrialProtocol):
        raise ValueError(f"protocol must be a trilat.TrialProtocol, got {protocol!r}")
    if not callable(mixing):
        raise ValueError(f"mixing must be callable on evidence (n, S, D), got {mixing!r}")
    dim = task.dim
    n_fits = positive_int(n_fits, "n_fits")
    budget = paper_decoder_batches(task.n_tasks) if n_batches is None else n_batches
    budget = positive_int(budget, "n_batches")
    n_train = 99 * (budget // 100) + 1 if budget >= 100 else budget
    n_test_batches = positive_int(n_test_batches, "n_test_batches")
    batch_size = positive_int(batch_size, "batch_size")
    lr = positive_scalar(lr, "lr")
    chunk = positive_int(chunk, "chunk")
    if step is None:
        step = int(protocol.step_numbers()[protocol.scored_steps()][-1])
    index = protocol.index(step)
    if protocol.oracle_times()[index] == 0:
        raise ValueError(f"step = {step} is a fixation step: no evidence seen yet")
    # one independent stream per hold-out and fit: faithful and corrected runs of
    # the same seed train the same decoders on the same trials
    seed = int(as_rng(rng).integers(0, 2**63 - 1))
    signs = orthants(dim)
    rows = _held_out_rows(held_out, len(signs))

    def latents(x_star: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        out = []
        for start in range(0, len(x_star), chunk):
            xs = x_star[start : start + chunk]
            noise = gen.standard_normal((len(xs), protocol.stimulus, dim))
            evidence = xs[:, None, :] + task.sigma * noise
            h = np.asarray(network(protocol.inputs(evidence, mixing)).latents)
            if h.ndim != 3 or h.shape[1] != protocol.n_steps:
                raise ValueError(
                    f"network(inputs).latents must have shape (n, {protocol.n_steps}, H), got "
                    f"{h.shape}"
                )
            out.append(h[:, index])
        return np.concatenate(out)

    with torch_threads(threads):
        scores, angles, test_x, tested = _fit_all(
            latents,
            seed,
            signs,
            rows,
            n_fits,
            n_train,
            n_test_batches,
            batch_size,
            lr,
            faithful,
            bool(standardize),
        )
    q25, med, q75 = (float(v) for v in np.percentile(scores, [25, 50, 75]))
    note = FLAW if faithful else "corrected: each hold-out is tested on its own orthant"
    return ReferenceGeneralization(
        scores=scores,
        median=med,
        q25=q25,
        q75=q75,
        angles=angles,
        angle_median=float(np.median(angles)) if angles.size else math.nan,
        faithful=bool(faithful),
        tested=tested,
        test_x_star=test_x,
        note=note,
        settings={
            "n_batches": budget,
            "n_trained_batches": n_train,
            "n_test_batches": n_test_batches,
            "batch_size": batch_size,
            "lr": lr,
            "step": step,
            "n_fits": n_fits,
            "held_out": rows.tolist(),
            "standardize": bool(standardize),
        },
    )


def _standardizer(h: np.ndarray) -> tuple[np.ndarray, float]:
    """The training latents' mean and RMS distance from it; refuses constant latents.

    Not :func:`trilat.metrics._linear.normalise`: its scale sums over the samples (what a
    closed-form ridge penalty needs), so the inputs an Adam decoder at a fixed rate sees
    would shrink with the number of training trials; this one is per sample (the
    standardised states have unit mean squared norm). Any fixed convention makes the
    score invariant; its level depends on the convention chosen.
    """
    centre = h.mean(axis=0)
    spread = float(np.sqrt(np.mean(np.sum((h - centre) ** 2, axis=1))))
    if not spread > 0:
        raise ValueError("the latents do not vary over the training trials: nothing to decode")
    return centre, spread


def _held_out_rows(held_out: Any, n_orthants: int) -> np.ndarray:
    if held_out is None:
        return np.arange(n_orthants)
    rows = np.asarray(held_out)
    if (
        rows.ndim != 1
        or rows.size == 0
        or not np.issubdtype(rows.dtype, np.integer)
        or rows.min() < 0
        or rows.max() >= n_orthants
        or len(np.unique(rows)) != rows.size
    ):
        raise ValueError(
            f"held_out must be distinct orthant rows in 0..{n_orthants - 1} (a 1-D sequence of "
            f"ints), got {held_out!r}"
        )
    return rows.astype(np.int64)


def _fit_all(
    latents: Any,
    seed: int,
    signs: np.ndarray,
    held_out: np.ndarray,
    n_fits: int,
    n_train: int,
    n_test_batches: int,
    batch_size: int,
    lr: float,
    faithful: bool,
    standardize: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]]]:
    """The decoders of every hold-out and fit: scores, angles, test ``x*``, orthants tested.

    Hold-out ``o`` (a row of ``signs``) and fit ``f`` draw from stream ``o n_fits + f`` of
    the seed, whichever orthants are held out.
    """
    n_orthants, dim = signs.shape
    n_held = len(held_out)
    scores = np.full((n_held, n_fits), np.nan)
    n_pairs = dim * (dim - 1) // 2
    angles = np.full((n_held, n_fits, n_pairs), np.nan)
    n_test = n_test_batches * batch_size
    test_x = np.zeros((n_held, n_fits, n_test, dim))
    tested: list[list[int]] = []
    pairs = list(itertools.combinations(range(dim), 2))
    streams = np.random.SeedSequence(seed).spawn(n_orthants * n_fits)
    for row, o in enumerate(held_out):
        train_rows = np.array([r for r in range(n_orthants) if r != o])
        for fit in range(n_fits):
            train_seq, test_seq, init_seq = streams[o * n_fits + fit].spawn(3)
            gen = np.random.default_rng(train_seq)
            x_train = _draw_x_star(gen, n_train * batch_size, signs, train_rows, False)
            raw = np.asarray(latents(x_train, gen), dtype=np.float64)
            centre, spread = _standardizer(raw) if standardize else (0.0, 1.0)
            h_train = torch.as_tensor((raw - centre) / spread, dtype=torch.float32)
            y_train = torch.as_tensor(x_train, dtype=torch.float32)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(init_seq.generate_state(1, np.uint64)[0] >> np.uint64(1)))
                decoder = nn.Linear(h_train.shape[1], dim)
            opt = torch.optim.Adam(decoder.parameters(), lr=lr)
            for k in range(n_train):
                sl = slice(k * batch_size, (k + 1) * batch_size)
                loss = ((decoder(h_train[sl]) - y_train[sl]) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            gen = np.random.default_rng(test_seq)
            x_test = _draw_x_star(gen, n_test, signs, np.array([o]), faithful)
            test_x[row, fit] = x_test
            h_test = (np.asarray(latents(x_test, gen), dtype=np.float64) - centre) / spread
            with torch.no_grad():
                pred = decoder(torch.as_tensor(h_test, dtype=torch.float32))
            err = pred.double().numpy() - x_test
            scores[row, fit] = 1.0 - float(np.mean(err**2)) / _VAR
            w = decoder.weight.detach().double().numpy()  # (D, H): row i reads x*_i
            for p, (i, j) in enumerate(pairs):
                cos = w[i] @ w[j] / (np.linalg.norm(w[i]) * np.linalg.norm(w[j]))
                angles[row, fit, p] = math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))
        tested.append(sorted({int(i) for i in orthant_index(test_x[row].reshape(-1, dim))}))
    return scores, angles, test_x, tested
