"""Fit the coefficients of the vectorised Phi and Phi^-1 in ``trilat/kernels/_special.py``.

Run ``python tools/fit_special_functions.py > coefficients.txt`` (a few
minutes; needs mpmath) and paste the printed block over the one in
``trilat/kernels/_special.py``. Every fit is near-minimax (Lawson's iteratively
reweighted least squares; Loeb's linearisation for rationals) at 60 digits,
and is checked after rounding its coefficients to doubles, on a grid four
times denser than the fit, including both ends of its interval.

Each approximation is written so that its rounding errors are damped: a
constant ``K`` (carried as a double pair) plus ``W N(V)/D(V)``, where the
correction ``W N/D`` is small against ``K``; the variable ``V`` is measured from
the middle of the interval (Phi) or from its end (Phi^-1), whichever measured
more accurate. The checks bound the error left by rounding the coefficients
to doubles, at or below the rounding of the evaluation itself.

- Phi(-x), x <= 1/2: ``1/2 - x A(x^2)``.
- Phi(-x), x > 1/2: ``exp(-x^2/2) m(x)``, ``m(x) = e^{x^2/2} Phi(-x)`` in three
  pieces: ``K + v N(v)/D(v)``, ``v = x - c``, ``c`` the middle of [1/2, 9/4] and [9/4, 17/4];
  ``(1/x)(K + w N(w)/D(w))``, ``w = 1/x^2``, ``K = 1/sqrt(2 pi)``, on [17/4, 40].
- exp(r), |r| <= ln2/2: ``1 + r + r^2 E(r)``.
- log(1 + f) = ``f - f^2/2 + s (f^2/2 + s^2 L(s^2))``, ``s = f/(2 + f)``.
- Phi^-1(p), p >= 0.075: ``q (K + q^2 N(v)/D(v))``, ``q = p - 1/2``,
  ``v = 0.425^2 - q^2``, ``K = sqrt(2 pi)``.
- Phi^-1(p), p < 0.075: ``-r (K + v N(v)/D(v))``, ``r = sqrt(-log p)``,
  ``v = r - c`` on [1.6, 5] and [5, 27.3] (27.3 covers the smallest subnormal).
"""

from __future__ import annotations

import itertools

import mpmath as mp

mp.mp.dps = 60

DEG_PHI = 6  # rational degree of each m(x) piece
DEG_INV = 7  # rational degree of each Phi^-1 piece
PHI_EDGES = (0.5, 2.25, 4.25, 40.0)
P_CENTRAL = 0.075
TAIL_EDGES = (1.6, 5.0, 27.3)
SQRT_2PI = mp.sqrt(2 * mp.pi)


def nodes(a, b, n):
    """Chebyshev extrema on [a, b] (both ends included: spurious poles show there)."""
    a, b = mp.mpf(a), mp.mpf(b)
    return [a + (b - a) * (1 - mp.cos(mp.pi * i / (n - 1))) / 2 for i in range(n)]


def solve_weighted(rows, ys, ws):
    m = len(rows[0])
    A = mp.matrix(m, m)
    v = mp.matrix(m, 1)
    for row, y, w in zip(rows, ys, ws, strict=True):
        for i in range(m):
            v[i] += w * row[i] * y
            for j in range(m):
                A[i, j] += w * row[i] * row[j]
    return mp.lu_solve(A, v)


def horner(c, x):
    acc = mp.mpf(0)
    for ci in reversed(c):
        acc = acc * x + ci
    return acc


def fit_poly(xs, fs, deg, iters=20):
    """Polynomial minimising the largest relative error (Lawson)."""
    lw = [mp.mpf(1)] * len(xs)
    for _ in range(iters):
        rows = [[x**k for k in range(deg + 1)] for x in xs]
        c = solve_weighted(rows, fs, [w / f**2 for w, f in zip(lw, fs, strict=True)])
        c = [c[k] for k in range(deg + 1)]
        e = [abs(horner(c, x) / f - 1) for x, f in zip(xs, fs, strict=True)]
        tot = sum(w * ei for w, ei in zip(lw, e, strict=True))
        lw = [w * ei / tot for w, ei in zip(lw, e, strict=True)]
    return c


def fit_rational(vs, fs, weights, deg, iters=40):
    """N/D, D(0) = 1, minimising max |N/D - f| * weight (Loeb, then Lawson)."""
    qv = [mp.mpf(1)] * len(vs)
    lw = [mp.mpf(1)] * len(vs)
    for it in range(iters):
        rows = [
            [v**k for k in range(deg + 1)] + [-f * v**k for k in range(1, deg + 1)]
            for v, f in zip(vs, fs, strict=True)
        ]
        ws = [lw_i * (w / q) ** 2 for lw_i, w, q in zip(lw, weights, qv, strict=True)]
        c = solve_weighted(rows, fs, ws)
        num = [c[k] for k in range(deg + 1)]
        den = [mp.mpf(1)] + [c[deg + k] for k in range(1, deg + 1)]
        qv = [horner(den, v) for v in vs]
        e = [
            abs(horner(num, v) / q - f) * w for v, f, w, q in zip(vs, fs, weights, qv, strict=True)
        ]
        if it >= 3:
            tot = sum(a * b for a, b in zip(lw, e, strict=True))
            lw = [a * b / tot for a, b in zip(lw, e, strict=True)]
    return num, den


def as_doubles(c):
    return [float(ci) for ci in c]


def check(name, errors, bound):
    worst = max(errors)
    print(f"# {name}: largest relative error {mp.nstr(worst, 3)} (bound {bound:.1e})")
    if not worst < bound:
        raise AssertionError(f"{name}: fit error {worst} >= {bound}")


def mills(x):
    """m(x) = e^{x^2/2} Phi(-x)."""
    return mp.exp(x * x / 2) * mp.erfc(x / mp.sqrt(2)) / 2


def pair(value):
    hi = float(value)
    return (hi, float(value - mp.mpf(hi)))


def phi_pieces():
    out = []
    for a, b in itertools.pairwise(PHI_EDGES[:-1]):
        # centred: |v| <= half the width keeps the correction v N/D smaller than from an end
        # (2.2 ulp against 3.1 ulp measured); its rounded coefficients cost up to 1.3e-16
        c = (mp.mpf(a) + b) / 2
        K = mills(c)
        xs = [x for x in nodes(a, b, 150) if x != c]
        vs = [x - c for x in xs]
        tg = [mills(x) for x in xs]
        fs = [(t - K) / v for t, v in zip(tg, vs, strict=True)]
        num, den = fit_rational(vs, fs, [abs(v) / t for v, t in zip(vs, tg, strict=True)], DEG_PHI)
        num, den = as_doubles(num), as_doubles(den)
        kh, kl = pair(K)
        grid = nodes(a, b, 600)
        errs = [
            abs(
                kh
                + (kl + (x - float(c)) * horner(num, x - float(c)) / horner(den, x - float(c)))
                - mills(x)
            )
            / mills(x)
            for x in grid
        ]
        check(f"m(x) on [{a}, {b}]", errs, 1.5e-16)
        out.append((float(c), (kh, kl), num, den))
    a, b = PHI_EDGES[-2], PHI_EDGES[-1]
    K = 1 / SQRT_2PI
    ws = nodes(1 / mp.mpf(b) ** 2, 1 / mp.mpf(a) ** 2, 150)
    tg = [mills(1 / mp.sqrt(w)) / mp.sqrt(w) for w in ws]
    fs = [(t - K) / w for t, w in zip(tg, ws, strict=True)]
    num, den = fit_rational(ws, fs, [w / t for w, t in zip(ws, tg, strict=True)], DEG_PHI)
    num, den = as_doubles(num), as_doubles(den)
    kh, kl = pair(K)
    grid = nodes(1 / mp.mpf(b) ** 2, 1 / mp.mpf(a) ** 2, 600)
    errs = []
    for w in grid:
        g = mills(1 / mp.sqrt(w)) / mp.sqrt(w)
        errs.append(abs(kh + (kl + w * horner(num, w) / horner(den, w)) - g) / g)
    check(f"x m(x) on [{a}, {b}]", errs, 5e-17)
    out.append((0.0, (kh, kl), num, den))
    return out


def phi_small():
    zs = nodes(0, mp.mpf(1) / 4, 200)

    def f(z):
        if z == 0:
            return 1 / SQRT_2PI
        x = mp.sqrt(z)
        return mp.erf(x / mp.sqrt(2)) / (2 * x)

    c = as_doubles(fit_poly(zs, [f(z) for z in zs], 8))
    # limited by the leading coefficient, 1/sqrt(2 pi) rounded to a double (2^-53 relative)
    errs = [abs(horner(c, z) / f(z) - 1) for z in nodes(0, 0.25, 800)]
    check("erf(x/sqrt 2)/(2x), x <= 1/2", errs, 1.2e-16)
    return c


def exp_poly():
    h = mp.log(2) / 2

    def f(r):
        return mp.mpf(1) / 2 if r == 0 else (mp.exp(r) - 1 - r) / r**2

    rs = nodes(-h, h, 200)
    c = as_doubles(fit_poly(rs, [f(r) for r in rs], 10))
    check("(e^r - 1 - r)/r^2", [abs(horner(c, r) / f(r) - 1) for r in nodes(-h, h, 800)], 1e-17)
    return c


def log_poly():
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)

    def f(z):
        if z == 0:
            return mp.mpf(2) / 3
        s = mp.sqrt(z)
        return (2 * mp.atanh(s) / s - 2) / z

    zs = nodes(0, smax**2, 100)
    c = as_doubles(fit_poly(zs, [f(z) for z in zs], 6))
    check(
        "(2 atanh(s)/s - 2)/s^2",
        [abs(horner(c, z) / f(z) - 1) for z in nodes(0, smax**2, 400)],
        1e-15,
    )
    return c


def probit_of_log(L):
    """x > 0 with Phi(-x) = exp(-L)."""
    x0 = mp.sqrt(2 * L - mp.log(4 * mp.pi * L)) if L > 2 else mp.mpf(1)
    return mp.findroot(lambda x: mp.log(mp.erfc(x / mp.sqrt(2)) / 2) + L, x0)


def probit(p):
    p = mp.mpf(p)
    return mp.findroot(
        lambda x: mp.erfc(-x / mp.sqrt(2)) / 2 - p, mp.sqrt(2) * mp.erfinv(2 * p - 1)
    )


def inverse_central():
    qmax = mp.mpf(1) / 2 - mp.mpf(P_CENTRAL)
    zmax = qmax**2
    qs = [q for q in nodes(-qmax, 0, 120) if q != 0] + [-(mp.mpf(10) ** -8)]
    zs = [q * q for q in qs]
    tg = [probit(q + mp.mpf(1) / 2) / q for q in qs]
    fs = [(t - SQRT_2PI) / z for t, z in zip(tg, zs, strict=True)]
    vs = [zmax - z for z in zs]
    num, den = fit_rational(vs, fs, [z / t for z, t in zip(zs, tg, strict=True)], DEG_INV)
    num, den = as_doubles(num), as_doubles(den)
    kh, kl = pair(SQRT_2PI)
    errs = []
    for q in [q for q in nodes(-qmax, 0, 300) if q != 0]:
        z = q * q
        v = float(zmax) - z
        g = kh + (kl + z * horner(num, v) / horner(den, v))
        x = probit(q + mp.mpf(1) / 2)
        errs.append(abs(q * g - x) / abs(x))
    check(f"Phi^-1 on [{P_CENTRAL}, 1/2]", errs, 5e-17)
    return float(zmax), (kh, kl), num, den


def inverse_tails():
    out = []
    for a, b in itertools.pairwise(TAIL_EDGES):
        a_, b_ = mp.mpf(a), mp.mpf(b)
        K = probit_of_log(a_**2) / a_
        rs = [r for r in nodes(a_, b_, 120) if r != a_] + [a_ + mp.mpf(10) ** -8]
        vs = [r - a_ for r in rs]
        tg = [probit_of_log(r * r) / r for r in rs]
        fs = [(t - K) / v for t, v in zip(tg, vs, strict=True)]
        num, den = fit_rational(vs, fs, [v / t for v, t in zip(vs, tg, strict=True)], DEG_INV)
        num, den = as_doubles(num), as_doubles(den)
        kh, kl = pair(K)
        errs = []
        for r in nodes(a_, b_, 300):
            v = r - a
            g = kh + (kl + v * horner(num, v) / horner(den, v))
            errs.append(abs(g - probit_of_log(r * r) / r) * r / probit_of_log(r * r))
        check(f"Phi^-1(exp(-r^2))/r on r in [{a}, {b}]", errs, 5e-17)
        out.append((float(a), (kh, kl), num, den))
    return out


def main() -> None:
    def tup(c):
        return "(" + ", ".join(repr(x) for x in c) + ("," if len(c) == 1 else "") + ")"

    print("# --- generated by tools/fit_special_functions.py ---")
    print(f"PHI_SMALL = {tup(phi_small())}")
    print(f"EXP_POLY = {tup(exp_poly())}")
    names = ("PHI_B1", "PHI_B2", "PHI_C")
    for name, (c, k, num, den) in zip(names, phi_pieces(), strict=True):
        print(f"{name} = ({c!r}, {tup(k)}, {tup(num)}, {tup(den)})")
    print(f"PHI_EDGES = {tup(PHI_EDGES)}")
    print(f"LOG_POLY = {tup(log_poly())}")
    zmax, k, num, den = inverse_central()
    print(f"INV_CENTRAL = ({zmax!r}, {tup(k)}, {tup(num)}, {tup(den)})")
    for name, (a, k, num, den) in zip(("INV_T1", "INV_T2"), inverse_tails(), strict=True):
        print(f"{name} = ({a!r}, {tup(k)}, {tup(num)}, {tup(den)})")
    print(f"P_CENTRAL = {P_CENTRAL!r}")
    print("# --- end of generated block ---")


if __name__ == "__main__":
    main()
