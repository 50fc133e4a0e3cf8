"""
Metrics on the optimal code
===========================

The representation metrics of :mod:`trilat.metrics` on the Bayes-optimal
network's own state: the distances ``k = C mu(t) - b`` (affine in ``mu(t)``)
and the logits (not affine in it). A linear decoder trained on three quadrants
of ``x*`` extends to the fourth from the distances, at the eq. 7 ceiling; from
the logits it bends with their curvature.
"""

import matplotlib.pyplot as plt
import numpy as np

import trilat

task = trilat.Task.evenly_spaced(6, sigma=0.2)  # default task, N = 6
T = 20
trials = trilat.simulate(task, n_trials=10_000, n_steps=T, rng=0)
mu = trilat.posterior(task, trials.evidence).mean[:, -1]  # mu(T)
logits = trilat.predict_logits(task, mu, T)  # optimal logits
k = trilat.distances_from_logits(task, logits, T)  # optimal distances k = C mu - b

eq7 = trilat.decodability_ceiling(task, T)  # eq. 7: 1 - s(T)^2 / Var(x*), the R^2 of mu(T)
print(f"eq. 7 {eq7:.4f}")
scores = {}
for name, latents in [("distances k", k), ("logits z", logits)]:
    gen = trilat.regression_generalization(latents, trials.x_star, "quadrant")
    angle = trilat.factor_angles(gen.weight, rng=0).angles[0]
    q25, q75 = gen.quartiles
    scores[name] = gen
    print(
        f"{name:12s} quadrant r^2 {gen.median:.4f} [{q25:.4f}, {q75:.4f}]  angle {angle:.2f} deg"
    )

# %%
# The fold scores of quadrant generalisation, against the ceiling.
fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
for i, gen in enumerate(scores.values()):
    folds = np.ravel(gen.scores)
    ax.plot(np.full(folds.shape, i) + np.linspace(-0.1, 0.1, folds.size), folds, "o")
ax.axhline(eq7, color="k", ls="--", lw=0.8, label="eq. 7")
ax.set_xticks(range(len(scores)), list(scores))
ax.set(ylabel="held-out quadrant r² of x*")
ax.legend()
plt.show()
