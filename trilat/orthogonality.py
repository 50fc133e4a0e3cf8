"""Theorem 3.1 part 3: the factor directions in logit space are the columns of ``C``.

For ``N`` rows ``c_i`` uniform on the unit sphere of ``R^D``,
``C^T C ~ (N / D) I`` with off-diagonal cosines ``O(1 / sqrt(N))``
(:func:`orthogonality_scale`); for the paper's evenly spaced D = 2 lines,
``C^T C = (N / 2) I`` exactly for ``N >= 2``. :func:`column_cosines` measures
the cosines of a given ``C``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trilat._checks import as_float_array

__all__ = ["column_cosines", "orthogonality_scale"]


def orthogonality_scale(dim: Any, n_tasks: Any) -> np.ndarray:
    """Root-mean-square cosine between two columns of ``C``: ``sqrt(D / ((D + 2) N))``.

    For ``N`` rows ``c_i`` uniform on the unit sphere of ``R^D``, columns ``j != k``
    have ``E[c_ij^2] = 1/D`` and ``E[c_ij^2 c_ik^2] = 1/(D(D+2))``, so their inner
    product has variance ``N/(D(D+2))`` while each column's squared norm
    concentrates at ``N/D``; the cosine is ``O(1/sqrt(N))`` with this scale.
    ``derivations/recovery.py`` derives
    ``E[cos^2] = D/((D+2)N) + 2D(5D-4)/((D+2)^2 (D+4) N^2) + O(N^-3)``, whose
    leading term is the square of this scale. The cosine is asymptotically
    normal, so its mean absolute value tends to ``sqrt(2/pi)`` times the scale.
    The naive ``1/sqrt(N)`` overstates it by ``sqrt((D+2)/D)``.

    Parameters
    ----------
    dim : int or array_like
        ``D >= 2``.
    n_tasks : int or array_like
        ``N >= 1``, broadcast against ``dim``.

    Returns
    -------
    ndarray
        The scale, broadcast shape of the inputs.
    """
    d = as_float_array(dim, "dim")
    n = as_float_array(n_tasks, "n_tasks")
    if np.any(d < 2) or np.any(n < 1):
        raise ValueError(
            f"orthogonality_scale needs dim >= 2 and n_tasks >= 1, got {dim}, {n_tasks}"
        )
    return np.sqrt(d / ((d + 2.0) * n))


def column_cosines(C: np.ndarray) -> np.ndarray:
    """Cosines between distinct columns of ``C`` (the factor directions of Theorem 3.1 part 3).

    ``cos_jk = (C^T C)_jk / sqrt((C^T C)_jj (C^T C)_kk)`` for the ``D(D-1)/2``
    pairs ``j < k`` in ``numpy.triu_indices`` order.

    Parameters
    ----------
    C : ndarray, shape (N, D)

    Returns
    -------
    ndarray, shape (D(D-1)/2,)
    """
    gram = C.T @ C
    norms = np.sqrt(np.diag(gram))
    j, k = np.triu_indices(C.shape[1], 1)
    return gram[j, k] / (norms[j] * norms[k])
