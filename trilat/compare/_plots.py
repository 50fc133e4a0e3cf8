"""Figures of :func:`trilat.compare`: a network against the Bayes-optimal estimator.

Each function takes a :class:`trilat.compare.Comparison` (fresh, or read back
with ``Comparison.from_json``) and returns a ``matplotlib.figure.Figure``;
:func:`comparison_figures` writes all four as PNG files. matplotlib (the
``plot`` extra) is imported only when a figure is made. The ``Comparison``
is annotated ``Any``: its ``plot`` method calls this module, which therefore
does not import it back (no circle, not even for type checking).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trilat._mpl import pyplot as _pyplot

__all__ = [
    "comparison_figures",
    "plot_comparison_angles",
    "plot_comparison_estimate",
    "plot_comparison_generalization",
    "plot_comparison_outputs",
]


def _network_title(c: Any, what: str) -> str:
    name = c.network if len(c.network) <= 90 else c.network[:87] + "..."
    return f"{what}\n{name}"


def plot_comparison_outputs(c: Any) -> Any:
    """Network outputs against the Bayes-optimal outputs, and the two output scores against t.

    Left: ``Yhat_i(t)`` against ``Yhat*_i(t) = Phi(k_i(t)/s(t))`` for a few
    trials at early, middle and last steps (on the diagonal: optimal). Right:
    ``mean |Yhat - Yhat*|`` and the excess cross-entropy
    ``mean KL(Bern(Yhat*) || Bern(Yhat))`` against ``t``, log scale.

    Parameters
    ----------
    c : Comparison

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import trilat
    >>> from trilat.compare import plot_comparison_outputs
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> fig = plot_comparison_outputs(result)  # a matplotlib Figure
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.8), layout="constrained")
    s = c.samples
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.8, len(s["output_steps"])))
    plain = len(c.steps) == c.n_steps
    for step, opt, net, color in zip(
        s["output_steps"], s["optimal_outputs"], s["network_outputs"], colors, strict=True
    ):
        t = int(c.t[c.index(step)])
        label = f"t = {t}" if plain else f"step {step} (t = {t})"
        left.scatter(opt, net, s=5, alpha=0.4, color=color, lw=0, label=label, rasterized=True)
    left.plot([0, 1], [0, 1], color="k", lw=1, ls="--", label="optimal: y = x")
    left.set(
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        aspect="equal",
        xlabel="Bayes-optimal output Ŷ*ᵢ(t) = Φ(kᵢ(t)/s(t))  (probability)",
        ylabel="network output Ŷᵢ(t)  (probability)",
        title="each point: one trial, one task",
    )
    left.legend(loc="upper left", markerscale=3, frameon=False)

    curves = (
        (c.output_abs_error, "o", "mean |Ŷ − Ŷ*|  (probability)"),
        (c.excess_cross_entropy, "s", "excess cross-entropy KL(Ŷ* ‖ Ŷ)  (nats)"),
    )
    logscale = any(np.any(np.asarray(y) > 0) for y, _, _ in curves)
    for y, marker, label in curves:
        y = np.asarray(y, dtype=float)
        zeros = int(np.sum(y == 0))
        if logscale and zeros:
            label += f":\n  exactly 0 at {zeros} of {y.size} steps (not drawn)"
        right.plot(
            c.steps,
            np.where(y > 0, y, np.nan) if logscale else y,
            marker=marker,
            ms=4,
            label=label,
        )
    right.set(
        yscale="log" if logscale else "linear",
        xlabel=_step_label(c),
        ylabel="mean over trials and tasks",
        title="distance from the optimal outputs",
        xlim=(c.steps[0] - 0.5, c.steps[-1] + 0.5),
    )
    right.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=9, loc="best", framealpha=0.9)
    fig.suptitle(_network_title(c, "Outputs against the Bayes-optimal outputs"), fontsize=10)
    return fig


def _step_label(c: Any) -> str:
    if len(c.steps) == c.n_steps:
        return "t  (evidence samples seen)"
    return "step  (the t-th stimulus step is t; after it the evidence stops)"


def plot_comparison_estimate(c: Any) -> Any:
    """The implied estimate ``mu_hat(t) = C^+ (s(t) Phi^-1(Yhat) + b)`` against ``t``.

    Left: ``r^2 = 1 - MSE / Var(x*)`` against ``x*`` of the network's implied
    estimate, of the oracle's ``mu(t)`` and of ``x*`` decoded from the latent
    state, beside eq. 7, ``1 - s(t)^2 / Var(x*)``, the r^2 of ``mu(t)``
    (:func:`trilat.decodability_ceiling`). Right: the RMSE of ``mu_hat(t) - mu(t)`` beside ``s(t)`` and
    the prior's standard deviation.

    Parameters
    ----------
    c : Comparison

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import trilat
    >>> from trilat.compare import plot_comparison_estimate
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> fig = plot_comparison_estimate(result)  # a matplotlib Figure
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.8), layout="constrained")
    left.plot(
        c.steps, c.ceiling, color="k", lw=2, ls="--", label="eq. 7: r² of μ(t), 1 − s(t)²/Var(x*)"
    )
    left.plot(c.steps, c.optimal_r2, color="0.55", marker=".", label="oracle μ(t), these trials")
    left.plot(
        c.steps,
        c.estimate_r2,
        color="C0",
        marker="o",
        ms=4,
        label="network, implied μ̂(t) from its outputs",
    )
    left.plot(
        c.steps,
        c.latent_r2_xstar,
        color="C1",
        marker="s",
        ms=4,
        label="network, x* decoded from its latent (CV)",
    )
    low = np.nanmin(np.concatenate([c.ceiling, c.estimate_r2, c.latent_r2_xstar, c.optimal_r2]))
    if low < -1.0:
        left.text(
            0.02,
            0.02,
            f"values below −1 are off the axis (lowest {low:.3g})",
            transform=left.transAxes,
            fontsize=8,
            color="0.3",
        )
    left.set(
        xlabel=_step_label(c),
        ylabel="r² against x*  (1 − MSE / Var(x*))",
        title="how well x* is known",
        ylim=(max(low, -1.0) - 0.03, 1.01),
        xlim=(c.steps[0] - 0.5, c.steps[-1] + 0.5),
    )
    left.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    left.grid(alpha=0.3)
    left.legend(fontsize=9, loc="best", framealpha=0.9)

    right.plot(
        c.steps,
        c.posterior_std,
        color="k",
        lw=2,
        ls="--",
        label="posterior std s(t) = σ/√t (oracle's uncertainty)",
    )
    right.axhline(
        np.sqrt(c.task.prior.variance),
        color="0.5",
        lw=1,
        ls=":",
        label="prior std √Var(x*) (knowing nothing)",
    )
    right.plot(
        c.steps,
        c.estimate_rmse,
        color="C0",
        marker="o",
        ms=4,
        label="RMSE of μ̂(t) − μ(t)  (network)",
    )
    right.set(
        yscale="log",
        xlabel=_step_label(c),
        ylabel="per coordinate, in units of x*",
        title="implied estimate against the optimal estimate",
        xlim=(c.steps[0] - 0.5, c.steps[-1] + 0.5),
    )
    right.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    right.grid(alpha=0.3, which="both")
    right.legend(frameon=False, fontsize=9)
    fig.suptitle(
        _network_title(c, "What the network's outputs imply about x* (trilateration)"), fontsize=10
    )
    return fig


def plot_comparison_generalization(c: Any) -> Any:
    """``x*`` decoded from the latent state on held-out quadrants against the true ``x*``.

    One panel per coordinate of ``x*``; each colour is one fold of the quadrant
    scheme of :func:`trilat.metrics.regression_generalization` (decoder fitted
    on the other quadrants, at ``c.latent_step``).

    Parameters
    ----------
    c : Comparison

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import trilat
    >>> from trilat.compare import plot_comparison_generalization
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> fig = plot_comparison_generalization(result)  # a matplotlib Figure
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    held = c.samples.get("heldout") or {}
    dim = c.task.dim
    region = "quadrant" if dim == 2 else "orthant"
    fig, axes = plt.subplots(1, dim, figsize=(4.6 * dim, 5.2), layout="constrained", squeeze=False)
    gen = c.code.get("generalization", {})
    if not held:
        axes[0, 0].text(
            0.5,
            0.5,
            f"no quadrant generalisation:\n{gen.get('error', '')}",
            ha="center",
            va="center",
            wrap=True,
        )
        return fig
    true, decoded = np.asarray(held["true"]), np.asarray(held["decoded"])
    fold, splits = np.asarray(held["fold"]), np.asarray(held["splits"])
    lo = min(true.min(), decoded.min())
    hi = max(true.max(), decoded.max())
    colors = plt.get_cmap("tab10")
    for j, ax in enumerate(axes[0]):
        for k, signs in enumerate(splits):
            sel = fold == k
            label = "held out: " + ", ".join(
                f"x*{i + 1} {'>' if s > 0 else '<'} 0" for i, s in enumerate(signs)
            )
            ax.scatter(
                true[sel, j],
                decoded[sel, j],
                s=5,
                alpha=0.5,
                lw=0,
                color=colors(k % 10),
                label=label,
                rasterized=True,
            )
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="perfect: y = x")
        ax.set(
            xlim=(lo, hi),
            ylim=(lo, hi),
            aspect="equal",
            xlabel=f"true x*{j + 1}",
            ylabel=f"decoded x*{j + 1} (decoder fit on the other {region}s)",
        )
        ax.grid(alpha=0.3)
    axes[0, 0].legend(frameon=False, fontsize=8, markerscale=3, loc="upper left")
    ref = c.reference_code.get("generalization", {})
    ceiling = float(c.ceiling[c.index(c.latent_step)])
    summary = (
        f"r² median {gen['median']:.3f} (network), {ref.get('median', float('nan')):.3f} "
        f"(optimal code k(t)); eq. 7 (r² of μ(t)) {ceiling:.3f}"
    )
    fig.suptitle(
        _network_title(
            c, f"{region.capitalize()} generalisation at t = {c.latent_step}: {summary}"
        ),
        fontsize=10,
    )
    return fig


def plot_comparison_angles(c: Any) -> Any:
    """Angles between the readout directions of the factors of ``x*``, against random directions.

    The decoder is the quadrant scheme's all-sample ridge decoder at
    ``c.latent_step``; the null histogram is the angle between random
    Gaussian vectors of the latent space (:func:`trilat.metrics.factor_angles`).

    Parameters
    ----------
    c : Comparison

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import trilat
    >>> from trilat.compare import plot_comparison_angles
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> fig = plot_comparison_angles(result)  # a matplotlib Figure
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.6), layout="constrained")
    fa = c.code.get("factor_angles", {})
    if "angles" not in fa:
        ax.text(
            0.5,
            0.5,
            f"no factor angles:\n{fa.get('error', '')}",
            ha="center",
            va="center",
            wrap=True,
        )
        return fig
    null = np.asarray(fa["null"])
    if null.size:
        ax.hist(
            null,
            bins=40,
            range=(0, 180),
            density=True,
            color="0.8",
            label=f"null: random directions in R^{c.latent_dim}",
        )
    ax.axvline(90, color="k", ls="--", lw=1.5, label="orthogonal (Theorem 3.1, part 3)")
    ref = c.reference_code.get("factor_angles", {})
    if "angles" in ref:
        for i, a in enumerate(np.atleast_1d(ref["angles"])):
            ax.axvline(
                a,
                color="C2",
                lw=2,
                alpha=0.8,
                ls=":",
                label=f"optimal code k(t): median {float(np.median(ref['angles'])):.1f}°"
                if i == 0
                else None,
            )
    for i, a in enumerate(np.atleast_1d(fa["angles"])):
        ax.axvline(
            a,
            color="C0",
            lw=2.5,
            label=f"network: median {float(fa['median']):.1f}°" if i == 0 else None,
        )
    ax.set(
        xlim=(0, 180),
        xticks=range(0, 181, 30),
        xlabel="angle between the readout directions of two factors of x*  (degrees)",
        ylabel="density of the null (1/degree)",
    )
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    fig.suptitle(
        _network_title(c, f"Factor angles of the x* decoder at t = {c.latent_step}"), fontsize=10
    )
    return fig


def comparison_figures(c: Any, directory: Path) -> list[Path]:
    """Write ``outputs.png``, ``estimate.png``, ``generalization.png``, ``angles.png``.

    Parameters
    ----------
    c : Comparison
    directory : path-like
        Created if missing.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import pytest
    >>> plt = pytest.importorskip("matplotlib.pyplot")
    >>> import trilat
    >>> from trilat.compare import comparison_figures
    >>> task = trilat.Task.evenly_spaced(6)
    >>> result = trilat.compare(trilat.OptimalNetwork(task), task, n_trials=200, n_steps=5)
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = comparison_figures(result, tmp.name)
    >>> [path.name for path in paths]
    ['outputs.png', 'estimate.png', 'generalization.png', 'angles.png']
    >>> tmp.cleanup()
    """
    plt = _pyplot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fn in (
        ("outputs.png", plot_comparison_outputs),
        ("estimate.png", plot_comparison_estimate),
        ("generalization.png", plot_comparison_generalization),
        ("angles.png", plot_comparison_angles),
    ):
        fig = fn(c)
        path = directory / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
