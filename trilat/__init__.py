"""trilat: check Theorem 3.1 of Vafidis, Bhargava & Rangel (ICLR 2025).

The Bayes-optimal multi-task estimator in closed form (the reference oracle),
its linearisation, and the task model. See ``trilat.kernels`` for the numba
Monte Carlo kernels and ``trilat.metrics`` for representation metrics.
"""

from trilat._checks import NotIdentifiableError
from trilat._version import __version__
from trilat.adapters import (
    Network,
    NetworkOutput,
    OptimalNetwork,
    from_callable,
    from_torch,
    load_state_dict,
    read_weights,
)
from trilat.compare import Comparison, compare
from trilat.linearization import AffineMap, linear_decoder, linearization_constant
from trilat.metrics import (
    CCGP,
    Decodability,
    FactorAngles,
    Generalization,
    Parallelism,
    ccgp,
    decodability,
    factor_angles,
    parallelism,
    participation_ratio,
    regression_generalization,
)
from trilat.mixing import MixingMLP
from trilat.oracle import (
    Posterior,
    bayes_decodability,
    decodability_ceiling,
    distances,
    distances_from_logits,
    estimate,
    estimate_from_logits,
    oracle_gap,
    posterior,
    posterior_mean,
    posterior_std,
    predict,
    predict_logits,
    recover,
)
from trilat.protocol import TrialProtocol
from trilat.task import (
    Gaussian,
    Task,
    Trials,
    Uniform,
    simulate,
)

__all__ = [
    "CCGP",
    "AffineMap",
    "Comparison",
    "Decodability",
    "FactorAngles",
    "Gaussian",
    "Generalization",
    "MixingMLP",
    "Network",
    "NetworkOutput",
    "NotIdentifiableError",
    "OptimalNetwork",
    "Parallelism",
    "Posterior",
    "Task",
    "TrialProtocol",
    "Trials",
    "Uniform",
    "__version__",
    "bayes_decodability",
    "ccgp",
    "compare",
    "decodability",
    "decodability_ceiling",
    "distances",
    "distances_from_logits",
    "estimate",
    "estimate_from_logits",
    "factor_angles",
    "from_callable",
    "from_torch",
    "linear_decoder",
    "linearization_constant",
    "load_state_dict",
    "oracle_gap",
    "parallelism",
    "participation_ratio",
    "posterior",
    "posterior_mean",
    "posterior_std",
    "predict",
    "predict_logits",
    "read_weights",
    "recover",
    "regression_generalization",
    "simulate",
]
