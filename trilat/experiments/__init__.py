"""Train the paper's networks and analyse them (needs the ``torch`` extra).

- :func:`train` trains a vanilla ReLU RNN, GRU, LSTM or one-layer causal
  transformer (:mod:`~trilat.experiments.models`) on batches of the
  multi-task evidence-accumulation task (:mod:`~trilat.experiments.data`)
  and returns a :class:`TrainedNetwork` that plugs straight into
  :func:`trilat.compare`;
- :func:`load` reads a saved network back (``weights_only=True``);
- :func:`fixed_points` finds the fixed points of a trained RNN's recurrent
  map and the dimension of its attractor; :func:`slow_points` the sheet of
  slow points around them that forms the approximate attractor.

This package imports torch; ``import trilat`` does not import it.
"""

from trilat.experiments.data import LOSSES, Batch, make_batch, schedule_targets
from trilat.experiments.dynamics import (
    FIXATIONS,
    FixedPoints,
    fixation_input,
    fixed_points,
    slow_points,
)
from trilat.experiments.models import ARCHITECTURES, CausalTransformer, RecurrentNetwork, build
from trilat.experiments.training import History, TrainedNetwork, load, train

__all__ = [
    "ARCHITECTURES",
    "FIXATIONS",
    "LOSSES",
    "Batch",
    "CausalTransformer",
    "FixedPoints",
    "History",
    "RecurrentNetwork",
    "TrainedNetwork",
    "build",
    "fixation_input",
    "fixed_points",
    "load",
    "make_batch",
    "schedule_targets",
    "slow_points",
    "train",
]
