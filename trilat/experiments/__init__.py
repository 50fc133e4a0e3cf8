"""Train the paper's networks and analyse them (needs the ``torch`` extra).

- :func:`train` trains a vanilla ReLU RNN, GRU, LSTM or one-layer causal
  transformer (:mod:`~trilat.experiments.models`) on batches of the
  multi-task evidence-accumulation task (:mod:`~trilat.experiments.data`)
  and returns a :class:`TrainedNetwork` that plugs straight into
  :func:`trilat.compare`;
- :data:`RECIPES` names optimiser settings: ``"paper"`` (``train.py``'s)
  and ``"trilat"``; :func:`save_paper_checkpoint` writes a ``"paper_rnn"``
  network in the paper's checkpoint format;
- :func:`reference_generalization` runs the paper's out-of-distribution
  analysis (``generalize.py``'s Adam decoder), as its code does
  (``faithful=True``, with its test-set flaw) or corrected;
- :func:`load` reads a saved network back (``weights_only=True``);
- :func:`fixed_points` finds the fixed points of a trained RNN's recurrent
  map and the dimension of its attractor; :func:`slow_points` the sheet of
  slow points around them that forms the approximate attractor; :func:`hold`
  whether the states a trial's evidence left are kept under the fixation input.

This package imports torch; ``import trilat`` does not import it.
"""

from trilat.experiments.data import LOSSES, Batch, make_batch, schedule_targets
from trilat.experiments.dynamics import (
    FIXATIONS,
    FixedPoints,
    Hold,
    fixation_input,
    fixed_points,
    hold,
    slow_points,
)
from trilat.experiments.generalization import (
    ReferenceGeneralization,
    orthant_index,
    orthants,
    paper_decoder_batches,
    reference_generalization,
)
from trilat.experiments.models import (
    ARCHITECTURES,
    CausalTransformer,
    PaperGPT,
    PaperRNN,
    RecurrentNetwork,
    build,
)
from trilat.experiments.training import (
    RECIPES,
    History,
    Recipe,
    TrainedNetwork,
    load,
    save_paper_checkpoint,
    train,
)

__all__ = [
    "ARCHITECTURES",
    "FIXATIONS",
    "LOSSES",
    "RECIPES",
    "Batch",
    "CausalTransformer",
    "FixedPoints",
    "History",
    "Hold",
    "PaperGPT",
    "PaperRNN",
    "Recipe",
    "RecurrentNetwork",
    "ReferenceGeneralization",
    "TrainedNetwork",
    "build",
    "fixation_input",
    "fixed_points",
    "hold",
    "load",
    "make_batch",
    "orthant_index",
    "orthants",
    "paper_decoder_batches",
    "reference_generalization",
    "save_paper_checkpoint",
    "schedule_targets",
    "slow_points",
    "train",
]
