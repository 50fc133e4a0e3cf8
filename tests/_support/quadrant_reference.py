"""The expected quadrant r^2 of a least-squares decoder of x* from a noisy linear code.

Shared by tests/test_metrics.py and tests/test_compare.py: the shrinkage of a
fitted decoder puts the quadrant score of an optimal code slightly under eq. 7.
"""

from __future__ import annotations

import numpy as np


def least_squares_quadrant_r2(s2: float) -> float:
    """Expected quadrant r^2 of the least-squares decoder of x* from mu = x* + s eta.

    Prior U[-0.5, 0.5]^2 (Var = 1/12), held-out quadrant (+, +) (the others by
    symmetry). On the three training quadrants L the population fit is
    x_hat = m + B (mu - m), B = Sigma_L (Sigma_L + s^2 I)^-1, with
    m = (-1/12, -1/12) and Sigma_L = [[11, -4], [-4, 11]] / 144. On the held-out
    quadrant (mean (1/4, 1/4), covariance I/48) the error is
    (B - I)(x* - m) + s B eta, so
    MSE = (tr[(B - I)^T (B - I) E_Q[(x*-m)(x*-m)^T]] + s^2 tr(B^T B)) / 2.
    The shrinkage B != I puts this ~1e-3 under eq. 7, 1 - 12 s^2 (which is the
    score of the unbiased decoder mu itself). Finite-sample fitting adds
    ~ (3 / 7500) MSE, ~1e-5 in r^2, neglected.
    """
    sigma_l = np.array([[11.0, -4.0], [-4.0, 11.0]]) / 144
    m = np.full(2, -1 / 12)
    b = sigma_l @ np.linalg.inv(sigma_l + s2 * np.eye(2))
    diff = np.full(2, 0.25) - m
    second_moment = np.eye(2) / 48 + np.outer(diff, diff)
    shrink = (b - np.eye(2)).T @ (b - np.eye(2))
    mse = (np.trace(shrink @ second_moment) + s2 * np.trace(b.T @ b)) / 2
    return 1 - 12 * mse
