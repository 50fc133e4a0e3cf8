"""
Eq. 7: the R² of μ(t) against x*
================================

``r²(t) = 1 - s(t)² / Var(x*)`` is the R² of the posterior mean itself
(:func:`trilat.decodability_ceiling`), not a bound on every decoder: one
fitted in distribution shrinks towards the prior and does better at small t.
"""

import matplotlib.pyplot as plt
import numpy as np

import trilat

task = trilat.Task.evenly_spaced(6, sigma=0.2)
T = 20
trials = trilat.simulate(task, n_trials=20_000, n_steps=T, rng=0)
mu = trilat.posterior(task, trials.evidence).mean  # (n, T, D)
x = trials.x_star[:, None, :]  # (n, 1, D)
var = x.var(axis=0).mean()
t = np.arange(1, T + 1)
mc = 1 - ((mu - x) ** 2).mean(axis=(0, 2)) / var
s2 = trilat.posterior_std(task, t) ** 2
shrunk = (1 / 12) / (1 / 12 + s2)  # best affine function of mu(t): Var / (Var + s²)

fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
ax.plot(t, trilat.decodability_ceiling(task, t), "-", label="eq. 7: 1 − s(t)²/Var(x*)")
ax.plot(t, mc, "o", ms=4, label="Monte Carlo R² of μ(t)")
ax.plot(t, shrunk, "--", label="best affine function of μ(t)")
ax.set(xlabel="t (samples seen)", ylabel="R² against x*")
ax.legend()
plt.show()
