"""Sweep figures, drawn with matplotlib (the ``plot`` extra), imported only when a figure is made.

(The figures of ``trilat verify`` are :func:`trilat.verify.verify_figures`,
those of ``trilat compare`` :meth:`trilat.Comparison.plot`.)

Sweep figures take a :class:`trilat.sweep.SweepResult` of a built-in sweep
(:data:`trilat.sweep.SWEEPS`) and average over seeds with its ``summarize()``; each
returns a ``matplotlib.figure.Figure``. :func:`sweep_figure` picks the figure
by the sweep's name and can save it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from trilat._mpl import pyplot as _pyplot

__all__ = [
    "ceiling_figure",
    "linearization_figure",
    "orthogonality_figure",
    "recovery_figure",
    "sweep_figure",
]


def _colors(n: int) -> list[Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def _sorted_groups(summary: np.ndarray, key: str) -> list[tuple[Any, np.ndarray]]:
    return [(v, summary[summary[key] == v]) for v in np.unique(summary[key])]


def _needs(result: Any, values: tuple[str, ...], sweep: str) -> None:
    missing = [v for v in values if v not in result.values]
    if missing:
        raise ValueError(
            f"the {sweep} figure needs the values {list(values)} of the {sweep} sweep; "
            f"this result has {list(result.values)} (missing {missing})"
        )


def orthogonality_figure(result: Any) -> Any:
    """RMS cosine between columns of ``C`` against ``N``, per ``D``, on the derived scale.

    Left: ``sqrt(mean over seeds of mean cos^2)`` (markers, with the max
    ``|cos|`` faint) and ``sqrt(D / ((D+2) N))`` (dashed), log-log. Right: the
    ratio of the two, which tends to 1; error bars are one standard error
    (delta method, ``sem(cos^2) / (2 rms)``).

    Parameters
    ----------
    result : SweepResult
        Of the ``orthogonality`` sweep (any grid over its parameters, any seeds).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> from trilat.sweep import orthogonality, orthogonality_figure, sweep
    >>> result = sweep(orthogonality, {"D": [2, 4], "N": [4, 16]}, seeds=2, progress=False)
    >>> fig = orthogonality_figure(result)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    from trilat.orthogonality import orthogonality_scale

    _needs(result, ("cos_ms", "cos_max"), "orthogonality")
    plt = _pyplot()
    summary = result.summarize(by=("D", "N"))
    groups = _sorted_groups(summary, "D")
    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    for color, (d, rows) in zip(_colors(len(groups)), groups, strict=True):
        rows = np.sort(rows, order="N")
        n = rows["N"].astype(float)
        rms = np.sqrt(rows["cos_ms_mean"])
        scale = orthogonality_scale(d, n)
        ax.plot(n, rows["cos_max_mean"], "x", color=color, alpha=0.35, ms=4)
        ax.plot(n, rms, "o", color=color, ms=4, label=f"D = {d}")
        ax.plot(n, scale, "--", color=color, lw=1)
        sem = rows["cos_ms_sem"] / (2 * rms * scale)
        ax_ratio.errorbar(n, rms / scale, yerr=sem, fmt="o-", color=color, ms=3, lw=0.8, capsize=2)
    n_all = np.unique(summary["N"]).astype(float)
    ax.plot(n_all, 1 / np.sqrt(n_all), ":", color="black", lw=1, label=r"$1/\sqrt{N}$")
    ax.plot([], [], "--", color="gray", lw=1, label=r"$\sqrt{D/((D+2)N)}$ (derived)")
    ax.plot([], [], "x", color="gray", alpha=0.5, label=r"max $|\cos|$")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="N (number of tasks)",
        ylabel=r"RMS $\cos$ between columns of $C$",
        title="Factor directions are nearly orthogonal",
    )
    ax.legend(fontsize=8, ncol=2)
    ax_ratio.axhline(1.0, color="black", lw=0.8)
    ax_ratio.set(
        xscale="log",
        xlabel="N (number of tasks)",
        ylabel=r"RMS $\cos$ / $\sqrt{D/((D+2)N)}$",
        title=f"Measured over derived scale ({int(summary['n'].max())} seeds a point)",
    )
    return fig


def recovery_figure(result: Any) -> Any:
    """Trilateration round-trip error against ``cond(C)``, and identifiability against ``N/D``.

    Left: relative error ``max|mu_hat - mu| / max|mu|`` (mean over seeds)
    against the condition number reached, log-log, with ``cond(C) eps``.
    Right: fraction of identifiable tasks (``rank C = D``) against ``N/D``
    for finite target ``cond``; ``cond = inf`` builds rank ``D - 1`` on purpose.

    Parameters
    ----------
    result : SweepResult
        Of the ``recovery`` sweep (any grid over its parameters, any seeds).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> from trilat.sweep import recovery, recovery_figure, sweep
    >>> result = sweep(recovery, {"D": [2], "N": [2, 4], "cond": [1.0, 1e6]}, seeds=2, progress=False)
    >>> fig = recovery_figure(result)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    _needs(result, ("err_rel", "cond_actual", "identifiable"), "recovery")
    plt = _pyplot()
    summary = result.summarize(by=("D", "N", "cond"))
    groups = _sorted_groups(summary, "D")
    fig, (ax, ax_id) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    eps = np.finfo(np.float64).eps
    markers, sizes = (
        iter("osD^v" * 4),
        iter([11, 8, 5, 3, 2] * 4),
    )  # overlapping points stay visible
    for color, (d, rows) in zip(_colors(len(groups)), groups, strict=True):
        ok = np.isfinite(rows["err_rel_mean"]) & np.isfinite(rows["cond_actual_mean"])
        rows_ok = np.sort(rows[ok], order="cond_actual_mean")
        ax.plot(
            rows_ok["cond_actual_mean"],
            np.maximum(rows_ok["err_rel_mean"], eps / 4),  # an exact 0 would vanish on log axes
            "o",
            color=color,
            ms=4,
            alpha=0.8,
            label=f"D = {d}",
        )
        finite = np.isfinite(rows["cond"])
        by_n = _sorted_groups(rows[finite], "N")
        ax_id.plot(
            [n / d for n, _ in by_n],
            [r["identifiable_mean"].mean() for _, r in by_n],
            next(markers),
            color=color,
            ms=next(sizes),
            mfc="none",
            mew=1.5,
            label=f"D = {d}",
        )
    conds = summary["cond_actual_mean"][np.isfinite(summary["cond_actual_mean"])]
    if conds.size:
        c = np.geomspace(max(conds.min(), 1.0), conds.max(), 50)
        ax.plot(c, c * eps, "--", color="black", lw=1, label=r"cond$(C)\,\varepsilon$")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="condition number of C",
        ylabel=r"relative error of $\hat\mu = C^+(k + b)$",
        title="Round trip through the optimal outputs",
    )
    ax.legend(fontsize=8)
    ax_id.axvspan(ax_id.get_xlim()[0], 1.0, color="gray", alpha=0.12, lw=0)
    ax_id.axvline(1.0, color="gray", lw=0.8, ls=":")
    ax_id.set(
        xscale="log",
        xlabel="N / D",
        ylabel="fraction identifiable (rank C = D)",
        ylim=(-0.05, 1.05),
        title="Identifiable iff N >= D (finite cond)",
    )
    ax_id.legend(fontsize=8)
    return fig


def linearization_figure(result: Any) -> Any:
    """Unexplained variance ``1 - R^2`` of the closed-form affine decoder against ``s(t)``.

    ``s(t) = sigma / sqrt(t)`` sets how far outputs sit from their boundaries
    (``u = k / s``), so curves for different ``sigma`` fall on one another.
    Left: ``1 - R^2`` of ``s(t) alpha C^+ z + C^+ b`` (filled) and of the best
    affine map of the same logits (hollow), log-log. Right: fraction of
    outputs in the linear range ``|u| < 2``.

    Parameters
    ----------
    result : SweepResult
        Of the ``linearization`` sweep (any grid over its parameters, any seeds).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> from trilat.sweep import linearization, linearization_figure, sweep
    >>> result = sweep(linearization, {"t": [1, 5], "sigma": [0.2], "n_trials": [200]}, seeds=2, progress=False)
    >>> fig = linearization_figure(result)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    _needs(result, ("r2_closed_form", "r2_best_affine", "frac_linear"), "linearization")
    plt = _pyplot()
    summary = result.summarize(by=("sigma", "t"))
    groups = _sorted_groups(summary, "sigma")
    fig, (ax, ax_frac) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    for color, (sigma, rows) in zip(_colors(len(groups)), groups, strict=True):
        s = sigma / np.sqrt(rows["t"].astype(float))
        order = np.argsort(s)
        s, rows = s[order], rows[order]
        ax.plot(
            s, 1 - rows["r2_closed_form_mean"], "o-", color=color, ms=4, label=f"σ = {sigma:g}"
        )
        ax.plot(s, 1 - rows["r2_best_affine_mean"], "o--", mfc="none", color=color, ms=4, lw=0.8)
        ax_frac.plot(s, rows["frac_linear_mean"], "o-", color=color, ms=4, label=f"σ = {sigma:g}")
    ax.plot([], [], "o-", color="gray", label="closed form")
    ax.plot([], [], "o--", mfc="none", color="gray", label="best affine fit")
    ax.axhline(1.0, color="black", lw=0.6, ls=":")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"posterior std $s(t) = \sigma/\sqrt{t}$",
        ylabel=r"$1 - R^2$ against exact $\mu$",
        title=r"Linearisation $\Phi^{-1}(\mathrm{sigmoid}\,z) \approx \alpha z$",
    )
    ax.legend(fontsize=8, ncol=2)
    ax_frac.set(
        xscale="log",
        xlabel=r"posterior std $s(t) = \sigma/\sqrt{t}$",
        ylabel=r"fraction of outputs with $|u| < 2$",
        ylim=(0, 1),
        title="Outputs in the linear range",
    )
    ax_frac.legend(fontsize=8)
    return fig


def ceiling_figure(result: Any) -> Any:
    """Decodability of ``x*`` against ``s(t)^2 / Var(x*)``, beside eq. 7 (the r^2 of ``mu(t)``).

    Left: eq. 7 ``1 - s^2/Var`` (line), the Monte Carlo r^2 of ``mu(t)``
    recovered from the oracle's outputs (markers, one standard error bars),
    the best affine map of ``mu(t)`` and the uniform prior's Bayes posterior
    mean (the true ceiling, above eq. 7: eq. 7 is the ceiling for ``mu(t)``
    only); ``s^2/Var`` collapses ``t`` and ``sigma``. Right:
    the measured unexplained variance ``1 - r^2`` over eq. 7's ``s^2/Var``,
    which should be 1.

    Parameters
    ----------
    result : SweepResult
        Of the ``ceiling`` sweep (any grid over its parameters, any seeds).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> from trilat.sweep import ceiling, ceiling_figure, sweep
    >>> result = sweep(ceiling, {"t": [1, 5], "sigma": [0.2], "n_trials": [200]}, seeds=2, progress=False)
    >>> fig = ceiling_figure(result)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    _needs(result, ("r2_eq7", "r2_mu", "r2_bayes", "r2_linear"), "ceiling")
    plt = _pyplot()
    summary = result.summarize(by=("sigma", "t"))
    x = 1 - summary["r2_eq7_mean"]  # s^2 / Var(x*)
    fig, (ax, ax_z) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    grid = np.geomspace(x.min(), x.max(), 200)
    ax.plot(
        grid,
        1 - grid,
        "-",
        color="black",
        lw=1.2,
        label=r"eq. 7 ($r^2$ of $\mu$): $1 - s^2/\mathrm{Var}(x^*)$",
    )
    groups = _sorted_groups(summary, "sigma")
    for color, (sigma, rows) in zip(_colors(len(groups)), groups, strict=True):
        xr = 1 - rows["r2_eq7_mean"]
        ax.errorbar(
            xr, rows["r2_mu_mean"], yerr=rows["r2_mu_sem"], fmt="o", color=color, ms=4,
            label=f"Monte Carlo, σ = {sigma:g}",
        )  # fmt: skip
        ax.plot(xr, rows["r2_bayes_mean"], "s", mfc="none", color=color, ms=5)
        # eq. 7 predicts the unexplained variance s^2/Var exactly: plot the measured over it
        ax_z.errorbar(
            xr, (1 - rows["r2_mu_mean"]) / xr, yerr=rows["r2_mu_sem"] / xr, fmt="o", color=color,
            ms=4, capsize=2, label=f"σ = {sigma:g}",
        )  # fmt: skip
    order = np.argsort(x)
    ax.plot(
        x[order],
        summary["r2_linear_mean"][order],
        ":",
        color="gray",
        lw=1,
        label="best affine map of μ",
    )
    ax.plot([], [], "s", mfc="none", color="gray", label="Bayes (uniform prior)")
    ax.set(
        xscale="log",
        xlabel=r"$s(t)^2 / \mathrm{Var}(x^*) = 12\sigma^2/t$",
        ylabel=r"$r^2$ of decoding $x^*$",
        ylim=(max(-1.0, float(np.nanmin(summary["r2_mu_mean"])) - 0.05), 1.02),
        title="Eq. 7 is the r² of μ(t); knowing the prior beats it (clipped at -1)",
    )
    ax.legend(fontsize=7)
    ax_z.axhline(1.0, color="black", lw=0.8)
    ax_z.set(
        xscale="log",
        xlabel=r"$s(t)^2 / \mathrm{Var}(x^*)$",
        ylabel=r"$(1 - r^2_{\mathrm{MC}}) \,/\, (s^2/\mathrm{Var})$",
        title=f"Monte Carlo over eq. 7 ({int(summary['n'].max())} seeds a point, ±1 s.e.)",
    )
    ax_z.legend(fontsize=8)
    return fig


_FIGURES: dict[str, Callable[[Any], Any]] = {
    "recovery": recovery_figure,
    "orthogonality": orthogonality_figure,
    "linearization": linearization_figure,
    "ceiling": ceiling_figure,
}


def sweep_figure(
    name: str, result: Any, path: str | os.PathLike[str] | None = None, *, dpi: int = 110
) -> Any:
    """The figure of built-in sweep ``name``, saved to ``path`` when given.

    Parameters
    ----------
    name : {"recovery", "orthogonality", "linearization", "ceiling"}
    result : SweepResult
    path : path, optional
        Image file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import os, tempfile
    >>> from trilat.sweep import orthogonality, sweep, sweep_figure
    >>> result = sweep(orthogonality, {"D": [2, 4], "N": [4, 16]}, seeds=2, progress=False)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "orthogonality.png")
    >>> fig = sweep_figure("orthogonality", result, path, dpi=50)
    >>> os.path.exists(path)
    True
    >>> plt.close(fig)
    >>> tmp.cleanup()
    """
    if name not in _FIGURES:
        raise ValueError(f"no figure for sweep {name!r}; figures exist for {sorted(_FIGURES)}")
    fig = _FIGURES[name](result)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
