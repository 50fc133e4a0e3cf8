"""Rounding-error bounds for the recovery of ``mu`` (Theorem 3.1 part 1), derived, not tuned.

Model (the same as the oracle's accuracy tests): a library function ``f``
evaluated at ``x`` is backward stable, returning ``f(x (1 + d)) (1 + e)`` with
``|d|, |e| <= C_STABLE eps / 2``, so its relative error is at most
``C_STABLE eps (1 + kappa_f(x))`` with ``kappa_f(x) = |x f'(x) / f(x)|``.
``C_STABLE = 4`` covers scipy's rational approximations (<= 2 eps) and the
one or two correctly rounded operations trilat._stable adds around them;
``tests/test_oracle.py`` checks the model at mpmath references (its accuracy tests).

Conditioning used below (checked against mpmath in ``tests/test_oracle.py``):

- ``L(u) = logit Phi(u) = log Phi(u) - log Phi(-u)`` has ``kappa_L <= 2``
  (it grows like ``u^2 / 2``);
- its inverse ``P(z) = Phi^-1(sigmoid(z))`` has ``kappa_P <= 1``.

Every bound is a norm bound on ``||mu_hat - mu||_2`` for one latent.
"""

from __future__ import annotations

import numpy as np
from scipy import special

import trilat

EPS = float(np.finfo(np.float64).eps)
# Smallest subnormal: below the normal range rounding errors are absolute, not relative.
SUBNORMAL = 2.0**-1074
# Where a value is subnormal, an operation errs by up to half a subnormal unit,
# absolutely; the logit and probit maps amplify that by their slopes (<= 4 at 0,
# where u and z are tiny). Bounds add UNDERFLOW_UNITS units per operation.
UNDERFLOW_UNITS = 4.0
# Error constant of a backward-stable double evaluation, in units of eps (c in
# c eps (1 + kappa)). scipy's ndtr/log_ndtr/ndtri/ndtri_exp perturb their
# argument by at most two roundings (u/sqrt 2, and the square in exp(-x^2),
# which is a relative perturbation of u^2/2 by eps/2): <= 1.25 kappa eps. The
# rational approximations and the final operations add <= 2 eps. The
# compositions in trilat._stable add at most two correctly rounded operations
# (a division, log1p / the copysign is exact). Measured worst case over the
# points of tests/test_oracle.py: 1.3 eps (1 + kappa). c = 4 leaves a factor 3.
C_STABLE = 4.0
KAPPA_LOGIT = 2.0
KAPPA_PROBIT = 1.0

# Relative error of the logit -> distance map u -> L(u) -> P(L(u)), in ulps:
# logit_ndtr contributes C (1 + kappa_L), amplified by kappa_P through P;
# probit_expit contributes C (1 + kappa_P). 4 * 3 * 1 + 4 * 2 = 20.
LOGIT_ROUND_TRIP_ULPS = C_STABLE * (1 + KAPPA_LOGIT) * KAPPA_PROBIT + C_STABLE * (1 + KAPPA_PROBIT)

# The model holds for every finite u: scipy's ndtri_exp alone drifts to ~2.8e3 ulps for
# log p in [-5e7, -5e3] (|u| in [100, 1e4]), and probit_expit corrects it with a Newton
# step; the property tests keep that range in their examples.


def norm(x: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """2-norm along ``axis`` without underflow: ``m ||x / m||``, ``m = max |x|``.

    ``np.linalg.norm`` squares its entries, which flushes subnormal-sized ones to 0.
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    safe = np.where(m > 0, m, 1.0)
    return np.squeeze(m, axis=axis) * np.linalg.norm(x / safe, axis=axis)


def upper_mills(u: np.ndarray) -> np.ndarray:
    """``Phi(u) / phi(u)``, finite for every ``u`` (``sqrt(pi/2) erfcx(-u/sqrt 2)``)."""
    return np.sqrt(np.pi / 2.0) * special.erfcx(-np.asarray(u) / np.sqrt(2.0))


def _solve_error(task: trilat.Task, eta: np.ndarray, w_norm: np.ndarray) -> np.ndarray:
    """Bound on ``||mu_hat - mu||`` when ``recover`` receives ``w = C mu + e``, ``|e_i| <= eta_i``.

    ``mu_hat - mu = C^+ e + (P - C^+) w + (matvec rounding)`` with ``P`` the
    computed ``C^+ = R^-1 Q^T``:

    - ``||C^+ e|| <= ||C^+||_2 ||eta||_2``;
    - Householder QR is backward stable, ``C + dC = Q R`` with
      ``||dC||_F <= N D eps ||C||_F``, and the triangular solves add
      ``D eps kappa`` relative; with ``||(C + dC)^+ - C^+|| <= sqrt 2 ||C^+||^2 ||dC||``
      and ``||C||_F <= sqrt D ||C||_2``, ``||P - C^+|| <= 2 N D eps kappa ||C^+||``
      (the 2 covers ``sqrt 2`` and the solve, for ``D >= 1``);
    - ``fl(P w)`` errs by ``<= N eps/2 |P| |w|``, in norm ``<= N eps/2 sqrt D ||P|| ||w||``.
    """
    pinv_norm = 1.0 / np.linalg.svd(task.C, compute_uv=False)[-1]
    n, d = task.n_tasks, task.dim
    kappa = task.condition_number
    solve = EPS * (2.0 * n * d * kappa + 0.5 * n * np.sqrt(d)) * w_norm
    return pinv_norm * (norm(eta) + solve)


def _forward_terms(task: trilat.Task, mu: np.ndarray, s: np.ndarray):
    """``a_i = ||mu|| + |b_i|``, ``y_i = c_i^T mu - b_i``, ``c_i^T mu``, ``u_i = y_i / s``.

    ``fl(C mu - b)`` is a sum of ``D + 1`` terms: its error is at most
    ``(D + 1) eps/2 (|c_i|^T |mu| + |b_i|) <= (D + 1) eps/2 a_i`` since ``||c_i|| = 1``.
    """
    mu = np.asarray(mu, dtype=np.float64)
    c_mu = mu @ task.C.T
    y = c_mu - task.b
    a = norm(mu)[..., None] + np.abs(task.b)
    return a, y, c_mu, y / np.asarray(s)[..., None]


def logit_path_bound(task: trilat.Task, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Bound on ``||recover(distances_from_logits(predict_logits(mu))) - mu||``, shape ``mu.shape[:-1]``.

    Per boundary, the error of ``w_i = k_i + b_i`` against ``c_i^T mu``:
    the forward ``C mu - b`` (``(D + 1) eps/2 a_i``), the logit -> distance map
    (``LOGIT_ROUND_TRIP_ULPS eps |y_i|``), dividing and multiplying by ``s``
    (``eps |y_i|``) and adding ``b`` (``eps/2 |c_i^T mu|``); then
    :func:`_solve_error`. Plus an absolute underflow term per operation.
    """
    a, y, c_mu, _ = _forward_terms(task, mu, s)
    eta = EPS * (
        0.5 * (task.dim + 1) * a + (LOGIT_ROUND_TRIP_ULPS + 1.0) * np.abs(y) + 0.5 * np.abs(c_mu)
    )
    eta = eta + UNDERFLOW_UNITS * (task.dim + 6) * SUBNORMAL
    return _solve_error(task, eta, norm(c_mu) + norm(eta))


def probability_path_bound(task: trilat.Task, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Bound on ``||recover(distances(predict(mu))) - mu||`` where no output saturates.

    ``predict`` returns ``Phi(u)`` with relative error ``C eps (1 + kappa_Phi)``,
    ``kappa_Phi = |u| phi(u) / Phi(u)``; ``Phi^-1`` at ``p`` has slope
    ``1 / phi(u)``, so ``u`` moves by ``C eps (Phi(u)/phi(u) + |u|)``, and
    ``ndtri`` adds ``C eps (|u| + Phi(u)/phi(u))`` of its own: per boundary
    ``|k_i error| <= 2 C eps s (Phi(u_i)/phi(u_i) + |u_i|)``. ``Phi/phi`` is
    the conditioning of ``Phi^-1`` at ``p``: ``~ 1/|u|`` in the lower tail,
    ``~ 1/phi(u)`` in the upper one, where ``Phi`` saturates at ``u ~ 8.3``.
    Plus the forward ``C mu - b``, the product by ``s`` and adding ``b``.
    """
    a, y, c_mu, u = _forward_terms(task, mu, s)
    s_col = np.asarray(s)[..., None]
    eta = EPS * (
        0.5 * (task.dim + 1) * a
        + 2.0 * C_STABLE * s_col * (upper_mills(u) + np.abs(u))
        + np.abs(y)
        + 0.5 * np.abs(c_mu)
    )
    eta = eta + UNDERFLOW_UNITS * (task.dim + 6) * SUBNORMAL
    return _solve_error(task, eta, norm(c_mu) + norm(eta))


def decoder_rounding(
    task: trilat.Task, mu: np.ndarray, z: np.ndarray, s: np.ndarray, alpha: float
) -> np.ndarray:
    """Rounding allowance for comparing ``linear_decoder(task, t)(z) - mu`` with an exact bound.

    The derivation bounds ``||mu_lin(z) - mu*(z)||`` in exact arithmetic, with
    ``mu*(z) = C^+ (s h(z) + b)`` the exact recovery from ``z``; a test holds the
    computed logits ``z = predict_logits(mu)`` and the true ``mu`` instead:

    - ``z`` errs by ``dz_i <= L'(u_i) du_i + C (1 + kappa_L) eps |z_i|``, with
      ``du_i <= ((D + 1) a_i / (2 s) + |u_i| / 2) eps`` from ``(C mu - b) / s`` and
      ``L'(u) <= |u| + 1.6``; ``h' <= 1`` so ``||mu*(z) - mu|| <= s ||C^+|| ||dz||``;
    - ``weight = s alpha C^+`` and ``offset = C^+ b`` carry the error of the
      computed ``C^+`` (``2 N D eps cond(C) ||C^+||``, see :func:`_solve_error`)
      and the products add ``(N + 2) sqrt(D) eps ||C^+||`` times
      ``s alpha ||z|| + ||b||``.
    """
    a, _, _, u = _forward_terms(task, mu, s)
    s_col = np.asarray(s)[..., None]
    du = EPS * ((task.dim + 1) * a / (2 * s_col) + 0.5 * np.abs(u))
    dz = (np.abs(u) + 1.6) * du + C_STABLE * (1 + KAPPA_LOGIT) * EPS * np.abs(z)
    pinv_norm = 1.0 / np.linalg.svd(task.C, compute_uv=False)[-1]
    n, d = task.n_tasks, task.dim
    products = EPS * (2 * n * d * task.condition_number + (n + 2) * np.sqrt(d))
    scale = np.asarray(s) * alpha * norm(z) + norm(task.b, axis=None)
    return pinv_norm * (np.asarray(s) * norm(dz) + products * scale)


def renormalisation_ulps(dim: int) -> float:
    """Relative change, in eps, of a row ``(c, b)`` that Task divides by its computed norm.

    ``||c||`` is a sum of ``D`` squares and a square root: relative error
    ``<= (D/2 + 1) eps``; the divisions add ``eps/2``. A row ``c`` divided by
    ``||c|| (1 + r)`` is ``c / ||c||`` scaled by ``1 - r``: labels are unchanged,
    ``c`` and ``b`` move by ``(D/2 + 2) eps`` of their size.
    """
    return dim / 2.0 + 2.0


def equivalent_task_bounds(
    task: trilat.Task,
    mu: np.ndarray,
    task2: trilat.Task,
    mu2: np.ndarray,
    s: float,
    row_err: np.ndarray,
    offset_err: np.ndarray,
    latent_err: np.ndarray,
):
    """Tolerances for comparing ``task`` at ``mu`` with an equivalent ``task2`` at ``mu2``.

    ``task2 = (C_T + E, b_T + beta)``, ``||e_i|| <= row_err_i``, ``|beta_i| <= offset_err_i``,
    with ``(C_T, b_T)`` the exact transform of ``task``, and ``mu2 = T(mu) + delta``,
    ``||delta|| <= latent_err``; exactly, ``C_T T(mu) - b_T = C mu - b`` (rows of ``C_T`` unit).
    Since ``(c_T + e)^T (T mu + delta) - (b_T + beta) = c_T^T T mu - b_T + c_T^T delta
    + e^T mu2 - beta``, returns

    - ``dy (..., N)``: how far the computed ``c2_i^T mu2 - b2_i`` may be from the computed
      ``c_i^T mu - b_i``: ``row_err_i ||mu2|| + latent_err + offset_err_i`` plus both forward
      roundings, ``(D + 1) eps/2 (||x|| + |b_i|)`` each;
    - ``dz (..., N)``: the logits' tolerance, ``L'(u) dy / s + 24 eps |z|`` with
      ``L'(u) <= |u| + 1.6`` (inverse Mills ratio) and 12 ulps per logit (``C (1 + kappa_L)``),
      plus, for logits in the subnormal range, where errors are absolute, 8 subnormal
      units per logit (``logit_ndtr`` near 0 divides by ``Phi(-|u|) >= 1/4`` and adds;
      say four units each);
    - ``recover_tol(w_norm)``: for ``recover`` of the same distances with both tasks,
      ``2 ||C^+||^2 ||E||_F ||w|| + ||C^+|| ||beta||`` (Wedin:
      ``||A^+ - B^+|| <= sqrt 2 ||A^+|| ||B^+|| ||A - B||``, and ``||C2^+|| <= sqrt 2 ||C^+||``
      while ``||E|| ||C^+|| <= 0.29``) plus both solves' rounding (:func:`_solve_error`).
    """
    _, _, _, u = _forward_terms(task, mu, s)
    half = 0.5 * EPS * (task.dim + 1)
    mu_norm = norm(mu)[..., None]
    mu2_norm = norm(mu2)[..., None]
    forward = half * (mu_norm + np.abs(task.b)) + half * (mu2_norm + np.abs(task2.b))
    forward = forward + 2 * (task.dim + 1) * SUBNORMAL  # each operation may underflow
    dy = row_err * mu2_norm + np.asarray(latent_err)[..., None] + offset_err + forward
    z = trilat.predict_logits(task, mu, std=s)
    dz = (np.abs(u) + 1.6) * dy / s + 2 * C_STABLE * (1 + KAPPA_LOGIT) * EPS * np.abs(z)
    dz = dz + 16 * SUBNORMAL
    pinv_norm = 1.0 / np.linalg.svd(task.C, compute_uv=False)[-1]
    assert pinv_norm * norm(row_err, axis=None) <= 0.29

    def recover_tol(w_norm: np.ndarray) -> np.ndarray:
        perturbation = 2 * pinv_norm**2 * norm(row_err, axis=None) * w_norm
        perturbation = perturbation + pinv_norm * norm(offset_err, axis=None)
        return perturbation + 2 * _solve_error(task, np.zeros(task.n_tasks), w_norm)

    return dy, dz, recover_tol


def complement_aware_bound(task: trilat.Task, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Bound on ``||mu_hat - mu||`` when outputs are held as ``Phi(-|u|)`` and a sign (kernels).

    The lower tail never saturates: by the argument of :func:`probability_path_bound`
    with ``Phi(-|u|)`` in place of ``Phi(u)``, ``|k_i error| <= 2 C eps s
    (Phi(-|u_i|)/phi(u_i) + |u_i|)``, where ``Phi(-|u|)/phi(u) <= 1.26`` (it is ``~ 1/|u|``
    in the tail). Beyond ``|u| = 37.5`` the kernels go through ``log Phi(-|u|)`` and
    ``ndtri_exp``, the logit path's model (``LOGIT_ROUND_TRIP_ULPS``); both terms are
    charged everywhere. Plus the forward ``C mu - b``, the product by ``s``, adding ``b``
    and the solve, as in the other bounds.
    """
    a, y, c_mu, u = _forward_terms(task, mu, s)
    s_col = np.asarray(s)[..., None]
    eta = EPS * (
        0.5 * (task.dim + 1) * a
        + 2.0 * C_STABLE * s_col * (upper_mills(-np.abs(u)) + np.abs(u))
        + (LOGIT_ROUND_TRIP_ULPS + 1.0) * np.abs(y)
        + 0.5 * np.abs(c_mu)
    )
    eta = eta + UNDERFLOW_UNITS * (task.dim + 6) * SUBNORMAL
    return _solve_error(task, eta, norm(c_mu) + norm(eta))
