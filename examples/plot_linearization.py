"""
Linearisation: R² of the closed-form decoder per t
==================================================

Theorem 3.1 part 2: ``Phi^-1(sigmoid(z)) ~ alpha z``, so ``mu(t)`` is
approximately the affine map ``s(t) alpha C^+ z + C^+ b`` of the optimal
logits. The approximation holds near the boundaries only; as ``s(t)`` shrinks
the outputs become confident and the closed form fails, while the best affine
map fitted to the same logits stays good.
"""

import matplotlib.pyplot as plt
import numpy as np

import trilat

task = trilat.Task.evenly_spaced(6, sigma=0.2)
T = 20
trials = trilat.simulate(task, n_trials=4000, n_steps=T, rng=0)
post = trilat.posterior(task, trials.evidence)
z = trilat.predict_logits(task, post.mean, post.t)  # (n, T, N)
closed = trilat.linear_decoder(task, post.t)(z)  # (n, T, D)


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    """R² pooled over coordinates: 1 - SSE / SST."""
    return 1 - ((pred - true) ** 2).sum() / ((true - true.mean(axis=0)) ** 2).sum()


r2_closed, r2_best = [], []
for i in range(T):
    mu, zt = post.mean[:, i], z[:, i]
    design = np.column_stack([zt, np.ones(len(zt))])
    coef = np.linalg.lstsq(design, mu, rcond=None)[0]  # the best affine map, in sample
    r2_closed.append(r2(closed[:, i], mu))
    r2_best.append(r2(design @ coef, mu))

fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
ax.plot(post.t, r2_closed, "o-", label="closed form s(t) α C⁺ z + C⁺ b")
ax.plot(post.t, r2_best, "s-", label="best affine map of z")
ax.axhline(0, color="k", lw=0.6)
ax.set(xlabel="t (samples seen)", ylabel="R² against μ(t)", ylim=(-1, 1.05))
ax.legend()
plt.show()
