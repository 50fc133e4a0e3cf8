"""
Quick start: the round trip
===========================

Simulate the paper's task, compute the Bayes-optimal outputs as logits, and
recover the posterior mean ``mu(t)`` from them by trilateration (Theorem 3.1,
part 1). The README shows the lines between the markers verbatim; a test keeps
them equal.
"""

# quick start
import numpy as np

import trilat

task = trilat.Task.evenly_spaced(6, sigma=0.2)  # the paper's D = 2 task with N = 6
trials = trilat.simulate(task, n_trials=1000, n_steps=20, rng=0)  # x* and X(1..T)
post = trilat.posterior(task, trials.evidence)  # mu(t), the running mean; s(t) = sigma/sqrt(t)
yhat = trilat.predict(task, post.mean, post.t)  # optimal outputs Phi((C mu - b)/s(t))
z = trilat.predict_logits(task, post.mean, post.t)  # the same, as logits, never saturated
mu_hat = trilat.recover(task, trilat.distances_from_logits(task, z, post.t))  # trilateration
print(np.abs(mu_hat - post.mean).max())  # ~1e-16: mu(t) is recovered exactly (part 1)
mu_lin = trilat.linear_decoder(task, post.t)(z)  # part 2: the closed-form affine decoder
# end of quick start

# %%
# The exact recovery lies on the diagonal; the closed-form affine decoder of
# part 2 bends away from it where the outputs are confident (late in a trial).
import matplotlib.pyplot as plt  # noqa: E402  (after the quick start, which stands alone)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
for ax, t in zip(axes, (1, 20), strict=True):
    true = post.mean[:, t - 1, 0]
    ax.plot(true, mu_hat[:, t - 1, 0], ".", ms=3, label="trilateration (exact)")
    ax.plot(true, mu_lin[:, t - 1, 0], ".", ms=3, alpha=0.5, label="closed-form affine decoder")
    ax.axline((0, 0), slope=1, color="k", lw=0.8)
    ax.set(title=f"t = {t}", xlabel="mu_1(t)", ylabel="decoded mu_1(t)")
axes[0].legend(loc="upper left", fontsize=8)
plt.show()
