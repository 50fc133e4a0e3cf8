"""Representation metrics: is a latent state an abstract, disentangled code of ``x*``?

All metrics take plain arrays, ``latents`` of shape ``(n, H)`` (take a time
index first) and ``factors`` of shape ``(n, D)``, are deterministic under a
seed (``rng``: an int or a ``numpy.random.Generator``) and return small frozen
dataclasses with a ``to_dict()`` for JSON.

- :func:`decodability`: cross-validated ridge ``R^2`` (in distribution).
- :func:`regression_generalization`: out-of-distribution ``r^2`` on held-out
  quadrants/orthants (Vafidis, Bhargava & Rangel, ICLR 2025, appendix A.2) or
  random half-spaces (Johnston & Fusi, Nat. Commun. 2023).
- :func:`ccgp`: cross-condition generalisation of the factors' signs
  (Bernardi et al., Cell 2020; Johnston & Fusi's classification variant).
- :func:`parallelism`: cosine between decoders fitted on two halves
  (Johnston & Fusi) and the parallelism score (Bernardi et al.).
- :func:`factor_angles`: angles between the factor directions of a decoder,
  against random directions (orthogonality, Theorem 3.1 part 3).
- :func:`participation_ratio`: the dimensionality of the representation.
- :func:`ridge`: the ridge decoder they all fit, for predictions of one's
  own, :func:`ridge_alpha`, the penalty it chooses, and
  :func:`r2_per_target`, the ``R^2`` that decodability and regression
  generalisation score with.

Every ridge penalty is relative to the scale of the training latents:
``alpha`` stands for ``alpha * tr(H_c^T H_c) / H``, ``H_c`` the centred
training latents and ``H`` the number of their units that are not constant
(dead units count for nothing). By default (``alpha=None``) it is chosen per target from
the log grid ``RIDGE_ALPHAS`` (``1e-8`` to ``10``) by leave-one-out
cross-validation inside each training set, never on held-out data, and every
result reports the penalties it used; ``alpha=`` fixes it. Every metric is
therefore invariant under a rescaling of the latents and the addition of a
constant, and under a rotation of the latent space; decodability, regression
generalisation and least-squares CCGP are invariant under any invertible
linear map of it up to the ridge penalty (exactly at ``alpha=0``): they
measure linear abstraction, not the alignment of factors with individual
units, which axis-aligned disentanglement scores (DCI, MIG) measure instead.
"""

from trilat.metrics._linear import RIDGE_ALPHAS
from trilat.metrics.abstraction import CCGP, Parallelism, ccgp, parallelism
from trilat.metrics.decoding import (
    Decodability,
    decodability,
    r2_per_target,
    ridge,
    ridge_alpha,
)
from trilat.metrics.generalization import Generalization, regression_generalization
from trilat.metrics.geometry import FactorAngles, factor_angles, participation_ratio

__all__ = [
    "CCGP",
    "RIDGE_ALPHAS",
    "Decodability",
    "FactorAngles",
    "Generalization",
    "Parallelism",
    "ccgp",
    "decodability",
    "factor_angles",
    "parallelism",
    "participation_ratio",
    "r2_per_target",
    "regression_generalization",
    "ridge",
    "ridge_alpha",
]
