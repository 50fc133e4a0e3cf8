"""Theorem 3.1 part 2: with a sigmoid-like readout, ``mu(t)`` is affine in the logits.

``Phi^-1(g(z)) ~ alpha z`` turns the exact recovery
``mu = C^+ (s(t) Phi^-1(g(z)) + b)`` into the affine map
``mu ~ s(t) alpha C^+ z + C^+ b``. The constant ``alpha`` depends on how the
approximation is made; every constant here is derived in
``derivations/linearization.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilat._checks import as_float_array, last_axis, positive_scalar
from trilat._stable import probit_expit
from trilat.oracle import logit_scale, posterior_std
from trilat.task import Task, check_task

__all__ = ["AffineMap", "linear_decoder", "linearization_constant"]

METHODS = ("moment", "taylor", "lsq")
# sqrt(2 pi)/4 correctly rounded (derivations/linearization.py); the expression
# math.sqrt(2 * math.pi) / 4 rounds twice and lands one ulp low.
_SQRT_2PI_OVER_4 = 0.6266570686577502


def linearization_constant(
    activation: str = "sigmoid", method: str = "moment", *, half_width: float | None = None
) -> float:
    """Slope ``alpha`` of the approximation ``Phi^-1(g(z)) ~ alpha z``.

    ``g`` is the readout: ``sigmoid(z)``, or for ``tanh`` the probability
    ``(1 + tanh z) / 2 = sigmoid(2z)``.

    - ``"moment"``: match the variance of the logistic distribution,
      ``pi^2 / 3``, to the normal's: ``sqrt(3)/pi`` (sigmoid), ``2 sqrt(3)/pi``
      (tanh, the poster's constant).
    - ``"taylor"``: the slope at 0, ``sigmoid'(0) / phi(0) = sqrt(2 pi)/4``
      (sigmoid), twice that for tanh.
    - ``"lsq"``: the least-squares slope on ``[-a, a]``,
      ``alpha(a) = 3/a^3 * int_0^a z Phi^-1(g(z)) dz``; needs ``half_width=a``.

    Parameters
    ----------
    activation : {"sigmoid", "tanh"}
    method : {"moment", "taylor", "lsq"}
    half_width : float, optional
        ``a > 0``, only for ``method="lsq"``.

    Returns
    -------
    float

    Examples
    --------
    >>> import trilat
    >>> print(f"{trilat.linearization_constant():.6f}")  # sqrt(3)/pi, moment matching
    0.551329
    >>> print(f"{trilat.linearization_constant('tanh'):.6f}")  # 2 sqrt(3)/pi, the poster's
    1.102658
    >>> print(f"{trilat.linearization_constant(method='taylor'):.6f}")  # sqrt(2 pi)/4
    0.626657
    """
    scale = logit_scale(activation)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "lsq" and half_width is not None:
        raise ValueError(f"half_width is only used by method='lsq', got method={method!r}")
    if method == "moment":
        return scale * math.sqrt(3.0) / math.pi
    if method == "taylor":
        return scale * _SQRT_2PI_OVER_4
    if half_width is None:
        raise ValueError(
            "method='lsq' needs half_width=a, the half-width of the fitted range [-a, a]"
        )
    a = positive_scalar(half_width, "half_width")
    from scipy import integrate  # only here: import trilat must not load scipy.integrate

    moment, _ = integrate.quad(
        lambda z: z * float(probit_expit(scale * z)), 0.0, a, epsabs=0.0, epsrel=1e-13, limit=200
    )
    return 3.0 * moment / a**3


@dataclass(frozen=True)
class AffineMap:
    """``mu ~ weight @ z + offset``: ``weight (..., D, N)``, ``offset (D,)``.

    Attributes
    ----------
    weight : ndarray, shape (..., D, N)
        ``s(t) alpha C^+`` from :func:`linear_decoder`, one matrix per time in ``...``.
    offset : ndarray, shape (D,)
        ``C^+ b``, unscaled.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> decoder = trilat.linear_decoder(trilat.Task.evenly_spaced(6), t=1)  # an AffineMap
    >>> decoder(np.zeros((4, 6))).shape  # logits (..., N) -> estimates (..., D)
    (4, 2)
    """

    weight: np.ndarray
    offset: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", as_float_array(self.weight, "weight"))
        object.__setattr__(self, "offset", as_float_array(self.offset, "offset"))

    def __call__(self, z: Any) -> np.ndarray:
        """Apply to logits ``z`` of shape ``(..., N)``; returns ``(..., D)``.

        A time-dependent ``weight`` of shape ``(T, D, N)`` pairs with the time
        axis of ``z`` of shape ``(..., T, N)``.
        """
        z = last_axis(z, "z", self.weight.shape[-1], "N, the number of tasks")
        return (self.weight @ z[..., None])[..., 0] + self.offset


def linear_decoder(
    task: Task,
    t: Any,
    activation: str = "sigmoid",
    method: str = "moment",
    *,
    half_width: float | None = None,
    std: Any = None,
) -> AffineMap:
    """The closed-form affine decoder of ``mu(t)`` from the logits.

    ``mu ~ s(t) alpha C^+ z + C^+ b``, i.e. ``weight = s(t) alpha C^+`` and
    ``offset = C^+ b``, with ``s(t) = sigma / sqrt(t)`` (or ``std``) and
    ``alpha = linearization_constant(activation, method)``.

    The poster writes ``s(t) alpha C^+ (Z + b)``, scaling the offset by the
    constant too; the exact recovery ``C^+ (s(t) Phi^-1(g(z)) + b)`` shows the
    offset is ``C^+ b``, unscaled. The two agree only when ``b = 0``.

    The approximation is accurate only near the boundaries (``|u| <~ 2``): the
    logit of ``Phi(u)`` grows like ``u^2/2`` in the tails, so late in a trial,
    when most outputs are confident, this decoder is far from exact.

    Parameters
    ----------
    task : Task
        Must be identifiable (``rank C = D``).
    t : float or array_like
        Samples seen; an array of shape ``(T,)`` gives one map per time step.
    activation, method, half_width
        As in :func:`linearization_constant`.
    std : float or array_like, optional
        Posterior std ``s(t)`` of another prior, in place of ``sigma/sqrt(t)``.

    Returns
    -------
    AffineMap
        ``weight`` of shape ``t.shape + (D, N)``, ``offset`` of shape ``(D,)``.

    Examples
    --------
    >>> import numpy as np
    >>> import trilat
    >>> task = trilat.Task.evenly_spaced(6)  # D = 2, N = 6
    >>> decoder = trilat.linear_decoder(task, t=[1, 20])  # one map per t
    >>> decoder.weight.shape, decoder.offset.shape
    ((2, 2, 6), (2,))
    >>> mu = np.array([0.05, -0.02])
    >>> z = trilat.predict_logits(task, mu, 1)  # optimal logits, shape (N,)
    >>> np.round(trilat.linear_decoder(task, 1)(z), 3)  # near mu, not equal to it
    array([ 0.044, -0.018])
    """
    task = check_task(task)
    alpha = linearization_constant(activation, method, half_width=half_width)
    s = posterior_std(task, t, std)
    pinv = task.pinv
    return AffineMap(weight=(s * alpha)[..., None, None] * pinv, offset=pinv @ task.b)
