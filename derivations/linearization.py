"""Theorem 3.1 part 2: ``Phi^-1(g(z)) ~ alpha z``, the affine decoder, and its error bound.

Derives, checking every step:

1. the readouts: sigmoid ``g(z) = 1/(1 + e^-z)`` and the tanh readout
   ``(1 + tanh z)/2 = sigmoid(2z)``; ``h(z) = Phi^-1(sigmoid(z))`` is odd;
2. moment matching: the logistic distribution has variance ``pi^2/3``, so
   ``alpha = sqrt(3)/pi`` (sigmoid) and ``2 sqrt(3)/pi`` (tanh, the poster's);
3. the slope at 0: ``sqrt(2 pi)/4`` (sigmoid) and twice that (tanh);
4. the least-squares slope on ``[-a, a]``,
   ``alpha(a) = 3/a^3 int_0^a z h(z) dz``, set up and solved symbolically and
   evaluated with mpmath; ``alpha_tanh(a) = 2 alpha_sigmoid(2a)``;
5. the largest error ``E(a) = max_{|z| <= a} |h(z) - alpha z|`` for each
   constant (mpmath), and the error it implies in ``mu``:
   ``||mu_lin - mu|| <= s(t) ||C^+||_2 ||h(z) - alpha z||_2
   <= s(t) ||C^+||_2 sqrt(N) E(a)``; for the paper's evenly spaced lines
   ``||C^+||_2 sqrt(N) = sqrt(2)`` whatever N;
6. the affine decoder ``mu ~ s(t) alpha C^+ z + C^+ b``, and that the poster's
   ``s(t) alpha C^+ (z + b)`` differs from it by ``(s(t) alpha - 1) C^+ b``:
   right only when ``C^+ b = 0`` (for ``N = D``: ``b = 0``).

Run ``python derivations/linearization.py``. Import it by path for the
constants (:data:`CONSTANTS`, :func:`lsq_constant`), the error functions
(:func:`max_linearization_error`) and the bounds the property tests call
(:func:`decoder_error_bound`, :func:`uniform_decoder_error_bound`).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared helper sits next to us
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import mpmath as mp
import numpy as np
import sympy as sp
from _linearization_numerics import (
    _SCALE,
    ACTIVATIONS,
    CONSTANTS,
    _max_error,
    decoder_error_bound,
    lsq_constant,
    max_linearization_error,
    slope,
    uniform_decoder_error_bound,
)
from _steps import Derivation, Phi_inv, PhiInvOf, phi

__all__ = [
    "ACTIVATIONS",
    "CONSTANTS",
    "HALF_WIDTHS",
    "decoder_error_bound",
    "decoder_map",
    "derive",
    "derived_constants",
    "lsq_constant",
    "max_linearization_error",
    "report_tables",
    "slope",
    "uniform_decoder_error_bound",
]

# The table printed by the script and checked by the tests.
HALF_WIDTHS = (1, 2, 4, 8)

z = sp.Symbol("z", real=True)  # a logit
a = sp.Symbol("a", positive=True)  # half-width of the fitted range
alpha = sp.Symbol("alpha", positive=True)  # the slope
s_t = sp.Symbol("s", positive=True)  # the posterior std s(t)


def _sigmoid(x: Any) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def decoder_map(C: Any, b: Any, s: Any, alpha_value: Any) -> tuple[sp.Matrix, sp.Matrix]:
    """The derived affine decoder ``(weight, offset) = (s alpha C^+, C^+ b)``, exactly.

    ``C`` (N x D) and ``b`` (N,) are taken as exact rationals (every float is
    one), ``C^+ = (C^T C)^-1 C^T`` in rational arithmetic, then substituted
    into the derived expressions. ``s`` and ``alpha_value`` may be sympy
    expressions or numbers.
    """
    r = derive().results
    Cm = sp.Matrix([[sp.Rational(float(v)) for v in row] for row in np.asarray(C)])
    bm = sp.Matrix([sp.Rational(float(v)) for v in np.asarray(b)])
    pinv = (Cm.T * Cm).inv() * Cm.T
    weight = pinv * r["decoder_weight_scale"].subs({s_t: s, alpha: alpha_value})
    return weight, pinv * bm


# --------------------------------------------------------------------------------------------
# the derivation
# --------------------------------------------------------------------------------------------


@functools.cache
def derive() -> Derivation:
    """Run the derivation; every step is checked. ``results`` holds ``moment``,
    ``taylor`` (dicts by activation, sympy), ``lsq_alpha_of_a`` (the symbolic
    formula), ``lsq_series`` (its expansion in a), ``error_table``,
    ``decoder_weight_scale`` (``s alpha``) and ``poster_offset_error``.
    """
    d = Derivation("Linearisation Phi^-1(g(z)) ~ alpha z and the affine decoder")
    _readouts(d)
    _moment(d)
    _taylor(d)
    _lsq(d)
    _errors(d)
    _decoder(d)
    return d


def _readouts(d: Derivation) -> None:
    d.equal(
        "tanh readout as a probability",
        (1 + sp.tanh(z)) / 2,
        _sigmoid(2 * z),
        simplifier=lambda e: sp.simplify(e.rewrite(sp.exp)),
        show=("(1 + tanh z)/2", _sigmoid(2 * z)),
    )
    d.equal(
        "sigmoid(-z) = 1 - sigmoid(z)",
        _sigmoid(-z),
        1 - _sigmoid(z),
    )
    h = Phi_inv(_sigmoid(z))
    d.define("the function to linearise", sp.Function("h")(z), PhiInvOf(_sigmoid(z)))
    x = sp.Symbol("x", real=True)
    d.equal(
        "erfinv is odd: erf(-erfinv(x)) = -x, and erf is one-to-one",
        sp.erf(-sp.erfinv(x)),
        -x,
        show=(sp.erf(-sp.erfinv(x)), -x),
    )

    def odd_erfinv(e: Any) -> Any:
        e = sp.simplify(e)
        e = e.replace(
            lambda q: isinstance(q, sp.erfinv) and q.args[0].could_extract_minus_sign(),
            lambda q: -sp.erfinv(-q.args[0]),
        )
        return sp.simplify(e)

    d.equal(
        "h is odd: Phi^-1(sigmoid(-z)) = Phi^-1(1 - sigmoid(z)) = -h(z)",
        h.subs(z, -z),
        -h,
        simplifier=odd_erfinv,
        show=(sp.Function("h")(-z), -sp.Function("h")(z)),
    )
    d.note(
        "So exact recovery reads k = s(t) h(z) for a sigmoid output and s(t) h(2z) for a tanh "
        "output tanh(z); Theorem 3.1 part 2 replaces h(z) by alpha z."
    )


def _moment(d: Derivation) -> None:
    f = sp.diff(_sigmoid(z), z)
    d.equal(
        "sigmoid is the CDF of the logistic distribution: density f = sigmoid (1 - sigmoid)",
        f,
        _sigmoid(z) * (1 - _sigmoid(z)),
        show=("f(z) = d sigmoid/dz", _sigmoid(z) * (1 - _sigmoid(z))),
    )
    d.equal("f is even", f.subs(z, -z), f, show=("f(-z)", "f(z)"))
    y = sp.Symbol("y", positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    series = sp.piecewise_fold(sp.Sum((-1) ** (n + 1) * n * y**n, (n, 1, sp.oo)).doit())
    branch, condition = series.args[0]
    if condition != (y < 1):
        raise AssertionError(f"unexpected convergence condition {condition}")
    d.equal(
        "for z > 0, y = e^-z < 1: f = y/(1+y)^2 = sum_n (-1)^(n+1) n y^n",
        branch,
        y / (1 + y) ** 2,
        show=(sp.Sum((-1) ** (n + 1) * n * y**n, (n, 1, sp.oo)), y / (1 + y) ** 2),
    )
    zp = sp.Symbol("z", positive=True)
    term = sp.integrate(zp**2 * n * sp.exp(-n * zp), (zp, 0, sp.oo))
    d.equal(
        "term by term (the terms' absolute integrals sum to a finite 2 sum 1/n^2)",
        term,
        2 / n**2,
        show=(sp.Integral(z**2 * n * sp.exp(-n * z), (z, 0, sp.oo)), 2 / n**2),
    )
    variance = 2 * sp.Sum((-1) ** (n + 1) * term, (n, 1, sp.oo)).doit()
    d.equal(
        "logistic variance 2 int_0^oo z^2 f(z) dz",
        variance,
        sp.pi**2 / 3,
        show=("Var(logistic)", sp.pi**2 / 3),
    )
    d.note(
        "Moment matching: Phi(alpha z) is the CDF of N(0, 1/alpha^2); match 1/alpha^2 to the "
        "variance of the distribution whose CDF is g. For the tanh readout g(z) = sigmoid(2z) "
        "is the CDF of L/2, variance pi^2/12."
    )
    moment = {}
    for activation, var in (("sigmoid", variance), ("tanh", variance / 4)):
        sol = [r for r in sp.solve(sp.Eq(1 / alpha**2, var), alpha) if r.is_positive]
        moment[activation] = sol[0]
        target = sp.sqrt(3) / sp.pi * _SCALE[activation]
        d.equal(f"moment matching, {activation}", sol[0], target, show=("alpha", target))
    d.results["moment"] = moment


def _taylor(d: Derivation) -> None:
    h = Phi_inv(_sigmoid(z))
    slope0 = sp.simplify(sp.diff(h, z).subs(z, 0))
    target = sp.sqrt(2 * sp.pi) / 4
    d.equal(
        "slope at 0: h'(0) = sigmoid'(0) / phi(Phi^-1(1/2)) = (1/4) / phi(0)",
        slope0,
        target,
        show=(sp.Subs(sp.Derivative(sp.Function("h")(z), z), z, 0), target),
    )
    d.equal(
        "sigmoid'(0) / phi(0)",
        sp.Rational(1, 4) / phi(0),
        target,
        show=("(1/4) sqrt(2 pi)", target),
    )
    slope_tanh = sp.simplify(sp.diff(h.subs(z, 2 * z), z).subs(z, 0))
    d.equal(
        "tanh readout: d/dz h(2z) at 0",
        slope_tanh,
        2 * target,
        show=(sp.Subs(sp.Derivative(sp.Function("h")(2 * z), z), z, 0), 2 * target),
    )
    d.results["taylor"] = {"sigmoid": target, "tanh": 2 * target}
    ser = sp.series(h, z, 0, 5).removeO()
    h3 = sp.simplify(ser.coeff(z, 3))
    d.equal(
        "Taylor series h(z) = h'(0) z + h3 z^3 + O(z^5)",
        h3,
        sp.sqrt(2 * sp.pi) * (sp.pi - 4) / 192,
        show=("h3", sp.sqrt(2 * sp.pi) * (sp.pi - 4) / 192),
    )
    d.holds(
        "h3 < 0: h bends below its tangent for z > 0 (the logit of Phi(u) grows like u^2/2)",
        "sqrt(2 pi) (pi - 4)/192 < 0",
        bool(h3.is_negative),
    )
    d.results["taylor_h3"] = h3


def _lsq(d: Derivation) -> None:
    H = sp.Function("h")
    loss = sp.Integral((H(z) - alpha * z) ** 2, (z, -a, a))
    dloss = sp.diff(loss, alpha).doit()
    d.equal(
        "dL/dalpha for L(alpha) = int_{-a}^{a} (h(z) - alpha z)^2 dz",
        sp.expand(dloss),
        sp.expand(-2 * sp.Integral(z * H(z), (z, -a, a)) + 4 * alpha * a**3 / 3),
        simplifier=lambda e: sp.simplify(e.doit()),
        show=(
            sp.Derivative(sp.Symbol("L"), alpha),
            -2 * sp.Integral(z * H(z), (z, -a, a)) + 4 * alpha * a**3 / 3,
        ),
    )
    sol = sp.solve(sp.Eq(-2 * sp.Symbol("I") + 4 * alpha * a**3 / 3, 0), alpha)[0]
    d.equal(
        "stationary point (L is convex in alpha: d2L/dalpha2 = 4a^3/3 > 0)",
        sol,
        3 * sp.Symbol("I") / (2 * a**3),
        show=("alpha(a)", 3 * sp.Integral(z * H(z), (z, -a, a)) / (2 * a**3)),
    )
    formula = 3 * sp.Integral(z * H(z), (z, 0, a)) / a**3
    d.result(
        "z h(z) is even (h odd), so",
        "alpha(a)",
        formula,
        key="lsq_alpha_of_a",
    )
    h1, h3 = d.results["taylor"]["sigmoid"], d.results["taylor_h3"]
    small = sp.expand(3 * sp.integrate(z * (h1 * z + h3 * z**3), (z, 0, a)) / a**3)
    d.equal(
        "small a: alpha(a) = h'(0) + (3/5) h3 a^2 + O(a^4), decreasing from the slope at 0",
        small,
        h1 + sp.Rational(3, 5) * h3 * a**2,
    )
    d.results["lsq_series"] = h1 + sp.Rational(3, 5) * h3 * a**2
    w = sp.Symbol("w", positive=True)
    lhs = 3 * sp.Integral(z * H(2 * z), (z, 0, a)) / a**3
    rhs = 2 * (3 * sp.Integral(w * H(w), (w, 0, 2 * a)) / (2 * a) ** 3)
    d.equal(
        "tanh readout: substitute w = 2z",
        lhs.transform(2 * z, w)
        if hasattr(lhs, "transform")
        else sp.Integral(w / 2 * H(w) / 2, (w, 0, 2 * a)) * 3 / a**3,
        rhs,
        simplifier=lambda e: sp.simplify(e.doit()),
        show=("alpha_tanh(a)", "2 alpha_sigmoid(2a)"),
    )
    table = {}
    for a_ in (0.5, *HALF_WIDTHS):
        table[a_] = (lsq_constant(a_, "sigmoid"), lsq_constant(a_, "tanh"))
        with mp.workdps(30):
            gap = abs(table[a_][1] - 2 * lsq_constant(2 * a_, "sigmoid"))
        if gap > mp.mpf(10) ** -25:
            raise AssertionError(
                f"alpha_tanh({a_}) != 2 alpha_sigmoid({2 * a_}) numerically: {gap}"
            )
    with mp.workdps(30):
        small_a = lsq_constant(0.01, "sigmoid")
        series_value = sp.N(d.results["lsq_series"].subs(a, sp.Rational(1, 100)), 30)
        gap_small = abs(small_a - mp.mpf(str(series_value)))
    d.holds(
        "mpmath at a = 0.01 matches the small-a series to O(a^4)",
        f"|alpha(0.01) - series| = {mp.nstr(gap_small, 3)} < 1e-8",
        gap_small < mp.mpf("1e-8"),
    )
    lines = [f"{'a':>5} {'alpha_sigmoid(a)':>22} {'alpha_tanh(a)':>22}"]
    for a_, (sig, tnh) in table.items():
        lines.append(f"{a_:>5} {mp.nstr(sig, 17):>22} {mp.nstr(tnh, 17):>22}")
    d.holds(
        "alpha(a) evaluated by mpmath quadrature (30 digits); alpha_tanh(a) = 2 alpha_sigmoid(2a) to 1e-25",
        "\n           " + "\n           ".join(lines),
        True,
    )
    d.results["lsq_table"] = table


def _errors(d: Derivation) -> None:
    d.note(
        "Largest error E(a) = max_{|z| <= a} |h_g(z) - alpha z| (odd, so z in [0, a]): the "
        "endpoint and every interior zero of h_g'(z) - alpha, located by root finding; "
        "h_g'(z) = sigmoid'(z)/phi(h(z)). For the tanh readout E_tanh(a; alpha) = "
        "E_sigmoid(2a; alpha/2)."
    )
    f = _sigmoid(z) * (1 - _sigmoid(z))
    d.equal(
        "logistic score: f'/f = 1 - 2 sigmoid = -tanh(z/2)",
        sp.diff(f, z) / f,
        -sp.tanh(z / 2),
        simplifier=lambda e: sp.simplify(e.rewrite(sp.exp)),
        show=("f'(z)/f(z)", -sp.tanh(z / 2)),
    )
    H = sp.Function("h")
    d.equal(
        "normal score along h: d/dz (-log phi(h(z))) = h h'",
        sp.diff(-sp.log(phi(H(z))), z),
        H(z) * sp.diff(H(z), z),
        show=(sp.Derivative(-sp.log(sp.Function("phi")(H(z))), z), H(z) * sp.diff(H(z), z)),
    )
    d.note(
        "With h' = f/phi(h): (log h')' = -tanh(z/2) + h h', so h'' < 0 iff h h' < tanh(z/2); at "
        "u = h(z) > 0 (sigmoid(z) = Phi(u), tanh(z/2) = 2 Phi(u) - 1) this reads "
        "u Phi(u) Phi(-u) / phi(u) < 2 Phi(u) - 1."
    )
    with mp.workdps(30):
        us = [mp.mpf(j) / 8 for j in range(1, 8 * 12 + 1)]
        # h'' < 0 on z > 0  <=>  u Phi(u)(1 - Phi(u)) / phi(u) < 2 Phi(u) - 1 at u = h(z) > 0
        gap = min((2 * mp.ncdf(u) - 1) - u * mp.ncdf(u) * mp.ncdf(-u) / mp.npdf(u) for u in us)
    d.holds(
        "h is concave on z > 0 (so at most one interior extremum): checked on u = h(z) in (0, 12]",
        f"min over the grid of (2 Phi(u) - 1) - u Phi(u) Phi(-u)/phi(u) = {mp.nstr(gap, 3)} > 0",
        gap > 0,
    )
    methods = ("moment", "taylor", "lsq")
    table: dict[tuple[str, str], dict[float, float]] = {}
    for activation in ACTIVATIONS:
        for method in methods:
            table[activation, method] = {
                a_: max_linearization_error(a_, activation, method) for a_ in HALF_WIDTHS
            }
    for method in methods:
        for a_ in HALF_WIDTHS:
            tanh_err = table["tanh", method][a_]
            al = slope("tanh", method, a_ if method == "lsq" else None)
            sig_err = float(_max_error(float(2 * a_), 1, mp.nstr(al / 2, 35), 64))
            if abs(tanh_err - sig_err) > 1e-14 * max(1.0, sig_err):
                raise AssertionError(f"E_tanh({a_}) != E_sigmoid({2 * a_}; alpha/2) for {method}")
    header = f"{'readout':>8} {'alpha':>7} " + " ".join(
        f"{'a = ' + str(a_):>11}" for a_ in HALF_WIDTHS
    )
    lines = [header]
    for (activation, method), row in table.items():
        lines.append(
            f"{activation:>8} {method:>7} " + " ".join(f"{row[a_]:>11.4g}" for a_ in HALF_WIDTHS)
        )
    d.holds(
        "E(a) = max |h_g(z) - alpha z| over |z| <= a (lsq: alpha fitted on the same [-a, a]); "
        "tanh rows equal the sigmoid error at 2a with alpha/2",
        "\n           " + "\n           ".join(lines),
        True,
    )
    d.results["error_table"] = table


def _decoder(d: Derivation) -> None:
    n_, dim = sp.symbols("N D", integer=True, positive=True)
    Cp = sp.MatrixSymbol("C^+", dim, n_)
    hz = sp.MatrixSymbol("h(z)", n_, 1)
    zv = sp.MatrixSymbol("z", n_, 1)
    b = sp.MatrixSymbol("b", n_, 1)
    s = s_t
    exact = Cp * (s * hz + b)
    d.define("exact recovery from the logits (posterior.py, recovery.py)", sp.Symbol("mu"), exact)
    linear = Cp * (s * alpha * zv + b)
    affine = s * alpha * Cp * zv + Cp * b
    d.equal(
        "replace h(z) by alpha z: the affine decoder",
        linear,
        affine,
        simplifier=lambda e: sp.expand(e).doit(),
        show=("mu_lin", affine),
    )
    d.results["decoder_weight_scale"] = s * alpha
    d.equal(
        "its error, exactly",
        affine - exact,
        s * Cp * (alpha * zv - hz),
        simplifier=lambda e: sp.expand(e).doit(),
        show=("mu_lin - mu", s * Cp * (alpha * zv - hz)),
    )
    d.note(
        "Hence ||mu_lin - mu|| <= s ||C^+||_2 ||h(z) - alpha z||_2 (operator norm; equality when "
        "the residual lies along C^+'s top right-singular vector) <= s ||C^+||_2 sqrt(N) "
        "max_i |h(z_i) - alpha z_i| (Cauchy-Schwarz) <= s ||C^+||_2 sqrt(N) E(a) when every "
        "|z_i| <= a. ||C^+||_2 = 1/sigma_min(C). These are decoder_error_bound and "
        "uniform_decoder_error_bound."
    )
    Nn = sp.Symbol("N", integer=True, positive=True)
    gram_inv = (Nn / 2 * sp.eye(2)).inv()
    d.equal(
        "evenly spaced lines: C^T C = (N/2) I, so C^+ (C^+)^T = (C^T C)^-1 = (2/N) I",
        gram_inv,
        2 / Nn * sp.eye(2),
        show=("C^+ (C^+)^T", (2 / Nn) * sp.Identity(2)),
    )
    d.equal(
        "and ||C^+||_2 sqrt(N) = sqrt(2/N) sqrt(N), whatever N",
        sp.sqrt(2 / Nn) * sp.sqrt(Nn),
        sp.sqrt(2),
        show=("||C^+||_2 sqrt(N)", sp.sqrt(2)),
    )
    d.note(
        "In terms of the distances: z_i = logit Phi(u_i), u_i = k_i/s(t). At fixed mu the u_i "
        "grow like sqrt(t), and h(z) - alpha z ~ -alpha u^2/2 in the tails: the error "
        "s(t) * O(u^2) = O(k^2/s(t)) grows with t, so the closed-form decoder degrades late in a "
        "trial while the exact recovery does not."
    )
    poster = s * alpha * Cp * (zv + b)
    diff = d.equal(
        "the poster's s alpha C^+ (z + b) minus the affine decoder",
        poster - affine,
        (s * alpha - 1) * Cp * b,
        simplifier=lambda e: sp.expand(e).doit(),
        show=("poster - mu_lin", (s * alpha - 1) * Cp * b),
    )
    d.results["poster_offset_error"] = diff
    d.note(
        "So the poster's map is right only when (s alpha - 1) C^+ b = 0: for all t only if "
        "C^+ b = (C^T C)^-1 C^T b = 0, i.e. C^T b = 0 (b orthogonal to the columns of C); "
        "otherwise at the single t where s(t) alpha = 1."
    )
    C2 = sp.Matrix(2, 2, sp.symbols("c1:5", real=True))
    b2 = sp.Matrix(sp.symbols("b1:3", real=True))
    sols = sp.solve(list(C2.inv() * b2), list(b2), dict=True)
    d.holds(
        "N = D (square, invertible C): C^+ b = C^-1 b = 0 forces b = 0",
        f"solve(C^-1 b = 0, b) = {sols}",
        sols == [{b2[0]: 0, b2[1]: 0}],
    )
    d.note(
        "At z = 0 (every output 1/2: mu on every boundary, C mu = b) the exact answer is "
        "mu = C^+ b; the affine decoder returns C^+ b, the poster's s alpha C^+ b."
    )
    d.equal(
        "affine decoder at z = 0",
        affine.subs(zv, sp.ZeroMatrix(n_, 1)),
        Cp * b,
        simplifier=lambda e: sp.expand(e).doit(),
        show=("mu_lin(0)", Cp * b),
    )


def report_tables() -> str:
    """The implied bound on ||mu_lin - mu|| for the paper's setting (evenly spaced, sigma = 0.2)."""
    d = derive()
    lines = [
        "Implied bound on ||mu_lin - mu|| for the evenly spaced lines (any N): "
        "sqrt(2) s(t) E(a), sigma = 0.2",
        f"{'readout':>8} {'alpha':>7} {'t':>3} "
        + " ".join(f"{'a = ' + str(a_):>11}" for a_ in HALF_WIDTHS),
    ]
    for (activation, method), row in d.results["error_table"].items():
        for t_ in (1, 20):
            s_ = 0.2 / np.sqrt(t_)
            lines.append(
                f"{activation:>8} {method:>7} {t_:>3} "
                + " ".join(f"{np.sqrt(2) * s_ * row[a_]:>11.4g}" for a_ in HALF_WIDTHS)
            )
    return "\n".join(lines)


def derived_constants() -> dict[tuple[str, str], sp.Expr]:
    """The constants as derived (not as typed in :data:`CONSTANTS`): runs :func:`derive`."""
    r = derive().results
    out = {}
    for method in ("moment", "taylor"):
        for activation in ACTIVATIONS:
            out[activation, method] = r[method][activation]
            if sp.simplify(out[activation, method] - CONSTANTS[activation, method]) != 0:
                raise AssertionError(
                    f"CONSTANTS[{activation!r}, {method!r}] is not the derived value"
                )
    return out


if __name__ == "__main__":
    derived_constants()
    print(derive().report())
    print()
    print(report_tables())
