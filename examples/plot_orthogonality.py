"""
Orthogonality against N, with a sweep
=====================================

Theorem 3.1 part 3: the factor directions in logit space are the columns of
``C``. For random unit rows, ``C^T C ~ (N/D) I`` and the cosine between two
columns is of order ``sqrt(D / ((D + 2) N))``. This runs a small grid with
:func:`trilat.sweep.sweep` (serially here; pass ``executor=`` for a process
pool or a Dask client, with identical numbers).
"""

import matplotlib.pyplot as plt
import numpy as np

import trilat
from trilat.sweep import sweep


def cosines(config: dict, rng: np.random.Generator) -> dict:
    """Mean square cosine between the columns of C for one random task."""
    task = trilat.Task.random(config["D"], config["N"], rng=rng)
    cols = task.C / np.linalg.norm(task.C, axis=0)
    gram = cols.T @ cols
    off = gram[~np.eye(config["D"], dtype=bool)]
    return {"mean_sq_cos": float(np.mean(off**2))}


grid = {"D": [2, 4, 8], "N": [8, 16, 32, 64, 128, 256, 512]}
result = sweep(cosines, grid, seeds=100)  # D = 2 has one pair per task: many seeds
table = result.to_array()

fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
for D in grid["D"]:
    rows = table[table["D"] == D]
    n = np.array(grid["N"])
    # the root of the mean square over seeds (a mean of roots would be biased low)
    rms = np.array([np.sqrt(rows["mean_sq_cos"][rows["N"] == N].mean()) for N in n])
    line = ax.loglog(n, rms, "o", label=f"D = {D}")[0]
    ax.loglog(n, np.sqrt(D / ((D + 2) * n)), "-", color=line.get_color(), lw=0.8)
ax.loglog(n, 1 / np.sqrt(n), "k--", lw=0.8, label="1/√N")
ax.set(xlabel="N (tasks)", ylabel="RMS cosine between columns of C")
ax.legend(title="lines: √(D/((D+2)N))", fontsize=8)
plt.show()
