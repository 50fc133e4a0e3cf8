"""The figures of ``trilat verify`` (:mod:`trilat.verify`), drawn with matplotlib (the ``plot`` extra).

:func:`verify_figures` writes one PNG per part of a :class:`trilat.verify.VerifyReport`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from trilat._mpl import pyplot
from trilat.oracle import decodability_ceiling
from trilat.orthogonality import orthogonality_scale

__all__ = ["verify_figures"]


def verify_figures(report: Any, directory: str | os.PathLike[str], *, dpi: int = 130) -> list[Any]:
    """The figures of a ``trilat verify`` report, written as PNGs to ``directory``.

    ``verify_linearization.png``: R^2 of the closed-form and the best affine
    decoder against ``t``, with the share of outputs ``|u| <= 2`` (part 2).
    ``verify_ceiling.png``: the Monte Carlo R^2 of ``mu(t)`` against ``x*``
    with the eq. 7 curve and the check's tolerance band. ``verify_orthogonality.png``:
    max ``|cos|`` between columns of ``C`` against ``N`` (part 3).

    Parameters
    ----------
    report : VerifyReport
    directory : path-like
        Created if missing.
    dpi : int

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import tempfile
    >>> from trilat.verify import VerifyConfig, run_verify, verify_figures
    >>> report = run_verify(VerifyConfig(n_tasks=(1, 6), steps=5, trials=200), progress=False)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> [path.name for path in verify_figures(report, tmp.name, dpi=50)]
    ['verify_ceiling.png', 'verify_linearization.png', 'verify_orthogonality.png']
    >>> tmp.cleanup()
    """
    plt = pyplot()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"verify_ceiling.png": _verify_ceiling(plt, report)}
    if report.part2 is not None:
        figures["verify_linearization.png"] = _verify_linearization(plt, report)
    if report.part3:
        figures["verify_orthogonality.png"] = _verify_orthogonality(plt, report)
    written = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)
        written.append(out / name)
    return written


def _verify_linearization(plt: Any, report: Any) -> Any:
    p = report.part2
    t = np.asarray(p.t)
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    ax.plot(t, p.r2_best_affine, "o-", color="C0", label="best least-squares affine decoder")
    ax.plot(t, p.r2_closed_form, "s-", color="C3",
            label=r"closed form $s(t)\,\frac{\sqrt{3}}{\pi}\,C^+ z + C^+ b$")  # fmt: skip
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set(
        xlabel="t (evidence samples seen)",
        ylabel=r"$R^2$ against the exact $\mu(t)$",
        ylim=(min(-0.1, min(p.r2_closed_form) - 0.1), 1.05),
        title=f"Part 2: decoding μ(t) affinely from the optimal logits (N = {p.n_tasks})",
    )
    share = ax.twinx()
    share.plot(
        t, p.share_linear, "^--", color="gray", ms=4, label=r"share of outputs $|u| \leq 2$"
    )
    share.set(ylabel=r"share of outputs with $|u| \leq 2$", ylim=(0, 1.05))
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=8)
    return fig


def _verify_ceiling(plt: Any, report: Any) -> Any:
    c = report.ceiling
    cfg = report.config
    t = np.asarray(c.t)
    r2, eq7 = np.asarray(c.r2), np.asarray(c.eq7)
    low, high = np.asarray(c.low), np.asarray(c.high)
    dense = np.linspace(1.0, t.max(), 400)
    eq7_dense = decodability_ceiling(cfg.task(cfg.n_tasks[0]), dense)  # the verified prior
    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    ax.plot(dense, eq7_dense, "-", color="black", lw=1.2,
            label=r"eq. 7 ($R^2$ of $\mu(t)$): $1 - s(t)^2/\mathrm{Var}(x^*)$")  # fmt: skip
    ax.plot(t, r2, "o", color="C0", ms=5, label=f"Monte Carlo ({cfg.trials:,} trials)")
    ax.set(
        xlabel="t (evidence samples seen)",
        ylabel=r"$R^2$ of $\mu(t)$ against $x^*$",
        title=f"R² of μ(t) and eq. 7, the ceiling for μ(t) (σ = {cfg.sigma:g}, D = {cfg.dim})",
    )
    ax.legend(fontsize=8, loc="lower right")
    # -inf (no lower bound at tiny n) is clipped to the axes by matplotlib
    ax_d.fill_between(t, np.maximum(low - eq7, -1.0), high - eq7, color="C0", alpha=0.2,
                      label="accepted interval (finite-sample bound)")  # fmt: skip
    ax_d.plot(t, r2 - eq7, "o", color="C0", ms=5, label="Monte Carlo − eq. 7")
    ax_d.axhline(0.0, color="black", lw=0.8)
    ax_d.set(xlabel="t (evidence samples seen)", ylabel=r"$R^2_{\mathrm{MC}} - R^2_{\mathrm{eq.\,7}}$",
             title="Difference from eq. 7, with the tolerance")  # fmt: skip
    ax_d.legend(fontsize=8)
    return fig


def _verify_orthogonality(plt: Any, report: Any) -> Any:
    rows = report.part3
    d = report.config.dim
    n = np.array([r.n_tasks for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    ax.errorbar(n, [r.random_max_cos for r in rows], yerr=[r.random_max_cos_se for r in rows],
                fmt="o", color="C0", capsize=3,
                label="random tasks: mean max |cos| (± 1 se)")  # fmt: skip
    dense = np.geomspace(n.min(), n.max(), 200)
    ax.plot(dense, orthogonality_scale(d, dense), "--", color="C0", lw=1,
            label=r"RMS cosine $\sqrt{D/((D+2)N)}$")  # fmt: skip
    verified = [(r.n_tasks, r.task_max_cos) for r in rows if r.task_passed is not None]
    if verified:
        ax.plot([v[0] for v in verified], [v[1] for v in verified], "s", color="C3",
                label="evenly spaced set: max |cos| (0 up to rounding)")  # fmt: skip
    ax.set(
        xscale="log",
        xlabel="N (number of tasks)",
        ylabel="max |cos| between columns of C",
        ylim=(-0.03, 1.05),
        title=f"Part 3: factor directions become orthogonal (D = {d})",
    )
    ax.set_xticks(n, [f"{int(v)}" for v in n])
    ax.legend(fontsize=8)
    return fig
