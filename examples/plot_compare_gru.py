"""
Comparing an untrained GRU with the oracle
==========================================

``examples/gru.py`` defines a small PyTorch GRU and the factory that
``trilat compare examples/gru.py:factory`` reads. Here the same factory runs
from Python (needs the ``torch`` extra). Untrained, the GRU's hidden state
already carries ``mu(t)`` (a random reservoir), while its outputs say nothing
about ``x*``.
"""

import runpy
from pathlib import Path

import matplotlib.pyplot as plt

import trilat

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
factory = runpy.run_path(str(here / "gru.py"))["factory"]
network, task, mixing = factory()
result = trilat.compare(network, task, mixing=mixing, n_trials=1000, rng=0)
print(result.to_markdown())

# %%
# What the outputs imply about ``x*`` (trilateration of the network's own
# outputs) against what its hidden state holds (a cross-validated decoder).
fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
ax.plot(result.t, result.ceiling, "k-", label="eq. 7: r² of μ(t)")
ax.plot(result.t, result.optimal_r2, "k:", label="oracle r², same trials")
ax.plot(result.t, result.estimate_r2, "o-", label="implied by the GRU's outputs")
ax.plot(result.t, result.latent_r2_xstar, "s-", label="decoded from its hidden state")
ax.set(xlabel="t (samples seen)", ylabel="r² against x*")
ax.legend(fontsize=8)
plt.show()
