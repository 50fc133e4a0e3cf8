"""Measure a network against the Bayes-optimal estimator: ``compare(network, task)``.

- :func:`compare` (``_engine``): simulate, run the network, score its outputs,
  its implied estimate and its latent code against the oracle;
- :class:`Comparison` (``_result``): the result, with strict JSON;
- ``_latent_code``: decodability and the representation metrics of the latents;
- ``_report``: the markdown report (:meth:`Comparison.to_markdown`);
- ``_plots``: the figures (:meth:`Comparison.plot`, the ``plot`` extra);
- ``_cli``: ``trilat compare MODULE:FACTORY``.
"""

from trilat.compare._engine import bernoulli_kl, compare
from trilat.compare._plots import (
    comparison_figures,
    plot_comparison_angles,
    plot_comparison_estimate,
    plot_comparison_generalization,
    plot_comparison_outputs,
)
from trilat.compare._result import Comparison

__all__ = [
    "Comparison",
    "bernoulli_kl",
    "compare",
    "comparison_figures",
    "plot_comparison_angles",
    "plot_comparison_estimate",
    "plot_comparison_generalization",
    "plot_comparison_outputs",
]
