"""The sympy derivations in ``derivations/`` run, and the package uses what they derive.

Each script is run as ``__main__`` once per session (``runpy``; one more time
as a real subprocess from another directory); its namespace, with the
derivation already checked and cached, is then what the other tests compare
``trilat`` against.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trilat
from trilat import Gaussian, Task

DERIVATIONS = Path(__file__).resolve().parent.parent / "derivations"
# Every test runs the sympy scripts (seconds each) or starts a process.
pytestmark = pytest.mark.slow

SCRIPTS = ("posterior", "recovery", "linearization", "ceiling", "noise")
EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(scope="session")
def run_script():
    """``run_script(name)`` -> (namespace, stdout) of ``python derivations/<name>.py``, cached."""
    done: dict[str, tuple[dict, str]] = {}

    def run(name: str) -> tuple[dict, str]:
        if name not in done:
            out = io.StringIO()
            if str(DERIVATIONS) not in sys.path:
                sys.path.insert(0, str(DERIVATIONS))
            with contextlib.redirect_stdout(out):
                namespace = runpy.run_path(str(DERIVATIONS / f"{name}.py"), run_name="__main__")
            done[name] = (namespace, out.getvalue())
        return done[name]

    return run


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_and_prints_checked_results(run_script, name):
    namespace, out = run_script(name)
    d = namespace["derive"]()
    assert d.results, f"{name}.py derived no results"
    assert "[RESULT]" in out and "latex:" in out and "text :" in out
    # every step was checked when recorded: only definitions/notes/results are unchecked
    kinds = {step.kind for step in d.steps}
    assert kinds <= {"=", "ok", "def", "result", "note"}
    assert sum(step.kind in ("=", "ok") for step in d.steps) >= 10


@pytest.mark.integration
def test_script_runs_as_a_command_from_another_directory(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(DERIVATIONS / "posterior.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "signed distance from an output" in proc.stdout


def test_a_false_step_fails_loudly(run_script):
    sp = pytest.importorskip("sympy")
    run_script("posterior")  # puts derivations/ on sys.path
    from _steps import Derivation

    d = Derivation("sanity")
    x = sp.Symbol("x", real=True)
    with pytest.raises(AssertionError, match="does not hold"):
        d.equal("wrong", sp.sin(x) ** 2, 1 - sp.cos(x))
    with pytest.raises(AssertionError, match="does not hold"):
        d.holds("undecided", "sympy cannot tell", sp.Symbol("y").is_positive)


@pytest.mark.integration
def test_import_trilat_does_not_import_sympy():
    code = "import sys, trilat; assert 'sympy' not in sys.modules, 'sympy imported by trilat'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# -- linearisation constants and the affine decoder ----------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("method", ["moment", "taylor"])
def test_linearization_constant_is_the_derived_value_to_the_last_bit(
    run_script, activation, method
):
    lin, _ = run_script("linearization")
    derived = lin["derived_constants"]()[activation, method]  # raises unless derived == typed
    assert trilat.linearization_constant(activation, method) == float(derived.evalf(30))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("a", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_lsq_constant_matches_the_mpmath_evaluation(run_script, activation, a):
    """The package integrates with scipy's quad (epsrel 1e-13) an integrand good to a few
    ulp; the reference is mpmath's quadrature at 30 digits. Allow 1e-12 relative: ten
    times the requested quadrature tolerance, since quad's error estimate is an estimate."""
    lin, _ = run_script("linearization")
    ref = lin["lsq_constant"](a, activation)
    got = trilat.linearization_constant(activation, "lsq", half_width=a)
    assert abs(got - float(ref)) <= 1e-12 * float(ref)


def _pinv_tol(task: Task) -> float:
    """Relative error of a QR-computed C^+ against the exact one: backward-stable QR and a
    triangular solve give <= p(N, D) cond(C) eps (Higham, ch. 19-20); p = 4 N D is a
    generous polynomial for these sizes."""
    return 4 * task.n_tasks * task.dim * task.condition_number * EPS


TASKS = {
    "evenly spaced N=6, b=0": lambda: Task.evenly_spaced(6),
    "random D=3 N=5, b!=0": lambda: Task.random(3, 5, rng=11, offset_scale=0.3),
    "square D=N=2, b!=0": lambda: Task([[1.0, 0.2], [-0.3, 1.0]], [0.15, -0.05], sigma=0.3),
}


@pytest.mark.parametrize("task_name", list(TASKS))
@pytest.mark.parametrize(
    "activation,method,half_width",
    [
        ("sigmoid", "moment", None),
        ("tanh", "moment", None),
        ("sigmoid", "taylor", None),
        ("tanh", "lsq", 3.0),
    ],
)
def test_linear_decoder_is_the_derived_affine_map(
    run_script, task_name, activation, method, half_width
):
    sp = pytest.importorskip("sympy")
    lin, _ = run_script("linearization")
    task = TASKS[task_name]()
    t = np.array([1.0, 4.0, 20.0])
    dec = trilat.linear_decoder(task, t, activation, method, half_width=half_width)
    alpha = trilat.linearization_constant(activation, method, half_width=half_width)
    tol = _pinv_tol(task)
    for k, t_k in enumerate(t):
        s = sp.Rational(task.sigma) / sp.sqrt(sp.Rational(t_k))
        weight, offset = lin["decoder_map"](task.C, task.b, s, sp.Rational(alpha))
        w_ref = np.array(weight.evalf(30).tolist(), dtype=np.float64)
        o_ref = np.array(offset.evalf(30).tolist(), dtype=np.float64)[:, 0]
        # s(t) and alpha enter as one product each: a few eps on top of C^+'s error
        assert np.abs(dec.weight[k] - w_ref).max() <= (tol + 4 * EPS) * np.abs(w_ref).max()
        # offset = C^+ b: each entry errs by <= tol * ||C^+||_max * ||b||_1 (+ summation)
        pinv_ref = w_ref / float(s * sp.Rational(alpha))
        scale = np.abs(pinv_ref).max() * np.abs(task.b).sum()
        assert np.abs(dec.offset - o_ref).max() <= (tol + task.n_tasks * EPS) * scale


def test_poster_offset_is_wrong_exactly_when_b_is_not_orthogonal_to_C(run_script):
    """The poster's s alpha C^+ (z + b) minus the correct map is (s alpha - 1) C^+ b."""
    sp = pytest.importorskip("sympy")
    lin, _ = run_script("linearization")
    n_, dim = sp.symbols("N D", integer=True, positive=True)
    Cp, b = sp.MatrixSymbol("C^+", dim, n_), sp.MatrixSymbol("b", n_, 1)
    s, alpha = lin["s_t"], lin["alpha"]
    assert lin["derive"]().results["poster_offset_error"] == (s * alpha - 1) * Cp * b

    task = TASKS["random D=3 N=5, b!=0"]()
    dec = trilat.linear_decoder(task, 1, "tanh")
    s_alpha = task.sigma * trilat.linearization_constant("tanh")
    poster_offset = s_alpha * task.pinv @ task.b
    gap = poster_offset - dec.offset
    np.testing.assert_allclose(gap, (s_alpha - 1) * dec.offset, rtol=8 * EPS, atol=0)
    assert np.linalg.norm(gap) > 0.5 * np.linalg.norm(dec.offset)  # s alpha = 0.22 here

    zero_b = TASKS["evenly spaced N=6, b=0"]()
    assert np.all(trilat.linear_decoder(zero_b, 1).offset == 0)


def test_decoder_error_bound_holds_and_is_below_the_uniform_bound(run_script):
    """||mu_lin - mu|| <= s ||C^+|| ||h(z) - alpha z|| <= s ||C^+|| sqrt(N) E(max |z|).

    mu_lin - mu is computed in floating point: allow the rounding of C^+ (z and b are
    exact inputs) on top of the exact-arithmetic bound, 64 eps relative to the
    magnitudes involved."""
    lin, _ = run_script("linearization")
    task = TASKS["random D=3 N=5, b!=0"]()
    rng = np.random.default_rng(5)
    mu = rng.uniform(-0.5, 0.5, (200, task.dim))
    for t in (1, 20):
        z = trilat.predict_logits(task, mu, t)
        mu_lin = trilat.linear_decoder(task, t)(z)
        err = np.linalg.norm(mu_lin - mu, axis=-1)
        bound = lin["decoder_error_bound"](task, z, t)
        slack = 64 * EPS * task.condition_number * (1 + np.linalg.norm(mu, axis=-1))
        assert np.all(err <= bound + slack)
        assert np.max(err / bound) > 0.3  # not vacuous: the bound is within a small factor
        a = float(np.abs(z).max())
        uniform = lin["uniform_decoder_error_bound"](task, a, t)
        assert np.all(bound <= uniform * (1 + 1e-12))


# -- posterior, outputs and inversion ------------------------------------------------------


def test_posterior_matches_the_derived_conjugate_update(run_script):
    sp = pytest.importorskip("sympy")
    post, _ = run_script("posterior")
    task = Task.random(2, 3, sigma=0.3, rng=2)
    prior = Gaussian(mean=0.1, std=0.4)
    evidence = np.random.default_rng(3).normal(0.2, 0.3, (4, 6, 2))
    got_g = trilat.posterior(task, evidence, prior=prior)
    got_f = trilat.posterior(task, evidence)
    g_mean, g_var = post["gaussian_posterior"]()
    f_mean, f_var = post["flat_posterior"]()
    sym = (post["S"], post["t"], post["sigma"], post["m0"], post["s0"])
    mean_g = sp.lambdify(sym, g_mean, "numpy")
    var_g = sp.lambdify(sym, g_var, "numpy")
    S = np.cumsum(evidence, axis=1)
    t = np.arange(1, 7, dtype=float)
    args = (t[:, None], task.sigma, prior.mean, prior.std)
    # the two evaluation orders differ by a few roundings of O(1) quantities
    np.testing.assert_allclose(
        got_g.mean, mean_g(S, *args), rtol=0, atol=16 * EPS * (1 + np.abs(S).max())
    )
    np.testing.assert_allclose(got_g.std**2, var_g(0, *args)[:, 0], rtol=8 * EPS)
    np.testing.assert_allclose(
        got_f.mean, sp.lambdify(sym[:2], f_mean)(S, t[:, None]), rtol=4 * EPS
    )
    np.testing.assert_allclose(
        got_f.std**2, sp.lambdify(sym[1:3], f_var)(t, task.sigma), rtol=4 * EPS
    )


def test_outputs_and_distances_match_the_derived_formulas(run_script):
    """Yhat = Phi(k/s) and k = s Phi^-1(Yhat), evaluated from the derived sympy expressions
    at 30 digits; trilat's predict/distances are good to a few ulp (conditioning of Phi at
    |u| <= 3 is <= 1 + u^2, so 32 eps relative covers it)."""
    sp = pytest.importorskip("sympy")
    post, _ = run_script("posterior")
    r = post["derive"]().results
    task = Task.evenly_spaced(4, sigma=0.25)
    mu = np.array([[0.1, -0.2], [0.3, 0.05]])
    t = 3
    s = task.sigma / np.sqrt(t)
    yhat = trilat.predict(task, mu, t)
    k = mu @ task.C.T - task.b
    for idx in np.ndindex(k.shape):
        ref = r["yhat"].subs({post["k"]: sp.Float(k[idx], 30), post["s"]: sp.Float(s, 30)})
        assert abs(yhat[idx] - float(ref.evalf(30))) <= 32 * EPS * float(ref.evalf(30))
        back = r["distance"].subs({post["Y"]: sp.Float(yhat[idx], 30), post["s"]: sp.Float(s, 30)})
        got = trilat.distances(task, yhat[idx][None].repeat(4), t)[0]
        assert abs(got - float(back.evalf(30))) <= 32 * EPS * abs(float(back.evalf(30)))


# -- geometry of C -------------------------------------------------------------------------


def test_evenly_spaced_tasks_have_the_derived_gram_matrix(run_script):
    rec, _ = run_script("recovery")
    gram = rec["derive"]().results["evenly_spaced_gram"]
    for n in range(2, 51):
        C = Task.evenly_spaced(n).C
        expected = np.array(gram.subs(rec["N"], n).tolist(), dtype=np.float64)
        # the rounding bound derived in recovery.py (angles, cos/sin, N-term dot products)
        tol = (22 * n + n**2) * EPS / 2
        assert np.abs(C.T @ C - expected).max() <= tol, n


def test_random_tasks_have_the_derived_cosine_scale(run_script):
    """E[cos^2] between columns of C from Task.random against D/((D+2)N) + O(N^-2) term.

    Per-task statistic: mean cos^2 over the column pairs (independent across tasks);
    allow 4 standard errors (false-failure probability 6e-5). The O(N^-3) remainder,
    ~D^2/N^3 ~ 7e-5 at D = 3, N = 50, is under one standard error (~2e-4)."""
    rec, _ = run_script("recovery")
    two_term = rec["derive"]().results["cosine_ms_two_term"]
    dim, n, reps = 3, 50, 2000
    rng = np.random.default_rng(123)
    stats = np.empty(reps)
    iu = np.triu_indices(dim, 1)
    for r in range(reps):
        C = Task.random(dim, n, rng=rng).C
        g = C.T @ C
        d = np.sqrt(np.diag(g))
        stats[r] = ((g / d[:, None] / d[None, :])[iu] ** 2).mean()
    expected = float(two_term.subs({rec["D"]: dim, rec["N"]: n}))
    se = stats.std(ddof=1) / np.sqrt(reps)
    assert abs(stats.mean() - expected) <= 4 * se
    assert abs(stats.mean() - 1 / n) > 10 * se  # the naive 1/N is clearly not the constant


# -- eq. 7 ---------------------------------------------------------------------------------


def test_eq7_is_the_r2_of_the_posterior_mean_under_simulation(run_script):
    """trilat.simulate + trilat.posterior against the derived r^2(t) = 1 - s(t)^2/Var(x*).

    1 - mean((x* - mu)^2)/V with V exact has standard error sd((x* - mu)^2)/(sqrt(n) V);
    allow 4 (false-failure probability 6e-5 per time step, 3e-4 over the five)."""
    sp = pytest.importorskip("sympy")
    ceil, _ = run_script("ceiling")
    r2 = ceil["derive"]().results["r2_eq7"]
    task = Task.evenly_spaced(6, sigma=0.2)
    trials = trilat.simulate(task, 20000, 20, rng=4)
    mu = trilat.posterior(task, trials.evidence).mean
    sq = (mu - trials.x_star[:, None, :]) ** 2  # (n, T, D)
    var = task.prior.variance
    for t in (1, 2, 5, 10, 20):
        per_trial = sq[:, t - 1, :].mean(axis=-1)
        got = 1 - per_trial.mean() / var
        se = per_trial.std(ddof=1) / np.sqrt(per_trial.size) / var
        want = float(
            r2.subs(
                {ceil["sigma"]: sp.Rational(1, 5), ceil["t"]: t, ceil["V"]: sp.Rational(1, 12)}
            )
        )
        assert abs(got - want) <= 4 * se, (t, got, want, se)


def test_gaussian_prior_r2_is_the_shrinkage_weight(run_script):
    sp = pytest.importorskip("sympy")
    ceil, _ = run_script("ceiling")
    post, _ = run_script("posterior")
    r2_g = ceil["derive"]().results["r2_gaussian"]
    w = post["derive"]().results["gaussian_weight"]
    sub = {ceil["t"]: post["t"], ceil["sigma"]: post["sigma"], ceil["s0"]: post["s0"]}
    assert sp.simplify(r2_g.subs(sub) - w) == 0
    # the Bayes (truncated-Gaussian) mean beats the best affine map of mu, which beats eq. 7
    sub = {ceil["t"]: 1, ceil["sigma"]: sp.Rational(1, 5), ceil["V"]: sp.Rational(1, 12)}
    results = ceil["derive"]().results
    affine = float(results["r2_best_affine_flat"].subs(sub))
    assert ceil["bayes_r2_uniform"](1, 0.2) > affine > float(results["r2_eq7"].subs(sub))


def test_decodability_ceiling_is_the_derived_eq7(run_script):
    """trilat.decodability_ceiling against the derived r^2(t) evaluated at 30 digits, for a
    uniform prior (eq. 7) and, through the conjugate std, a Gaussian one (r^2_G). 1 - s^2/V
    takes four roundings of O(1) numbers, each <= eps/2 relative to s^2/V: the absolute error
    is <= 2 eps (1 + s^2/V)."""
    sp = pytest.importorskip("sympy")
    ceil, _ = run_script("ceiling")
    results = ceil["derive"]().results
    steps = [1, 2, 3, 7, 20, 1000]
    prior = trilat.Uniform(-1.0, 2.0)
    task = Task.evenly_spaced(3, sigma=0.3, prior=prior)
    got = trilat.decodability_ceiling(task, steps)
    variance = results["uniform_variance"].subs({ceil["low"]: -1, ceil["high"]: 2})
    assert float(variance) == prior.variance
    for t, g in zip(steps, got, strict=True):
        sub = {ceil["sigma"]: sp.Rational(3, 10), ceil["t"]: t, ceil["V"]: variance}
        want = results["r2_eq7"].subs(sub).evalf(30)
        assert abs(g - float(want)) <= 2 * EPS * (1 + float(1 - want))
    gaussian = trilat.Gaussian(0.1, 0.4)
    task_g = Task.evenly_spaced(3, sigma=0.3, prior=gaussian)
    evidence = np.zeros((1, steps[-1], 2))
    std = trilat.posterior(task_g, evidence, prior=gaussian).std[np.array(steps) - 1]
    got_g = trilat.decodability_ceiling(task_g, std=std)
    for t, g in zip(steps, got_g, strict=True):
        sub = {ceil["sigma"]: sp.Rational(3, 10), ceil["t"]: t, ceil["s0"]: sp.Rational(2, 5)}
        want = results["r2_gaussian"].subs(sub).evalf(30)
        # the conjugate std carries a few more roundings (1/sqrt of a sum): 8 eps
        assert abs(g - float(want)) <= 8 * EPS * (1 + float(1 - want))


# -- anisotropic and correlated noise (derivations/noise.py) -------------------------------

NOISE_COV = np.array([[0.04, 0.018], [0.018, 0.09]])


def test_noise_covariance_scales_and_outputs_are_the_derived_ones(run_script):
    """``Task.noise_scales / sqrt(t)`` and ``predict`` against the derived
    ``s_i(t) = sqrt(c_i^T Sigma c_i / t)`` and ``Phi(k_i / s_i)``, evaluated at 30 digits.

    Tolerance: the scale through a Cholesky factor errs by at most
    ``~ (D + 1) eps tr(Sigma) / lam_min`` relative (tests/test_noise_cov.py derives it;
    3.4e-14 here); ``predict`` moves by ``phi(u) |u|`` times that plus its own few eps.
    """
    sp = pytest.importorskip("sympy")
    noise, _ = run_script("noise")
    r = noise["derive"]().results
    base = Task.evenly_spaced(6)
    task = Task(base.C, base.b, noise_cov=NOISE_COV)
    lam = np.linalg.eigvalsh(NOISE_COV)
    rel = 4 * EPS * np.trace(NOISE_COV) / lam[0]
    mu = np.array([0.07, -0.03])
    for t in (1.0, 3.0, 20.0):
        yhat = trilat.predict(task, mu, t)
        for i, c in enumerate(task.C):
            subs = {sp.Symbol("c_1", real=True): sp.Float(c[0], 30),
                    sp.Symbol("c_2", real=True): sp.Float(c[1], 30),
                    sp.Symbol("Sigma_11"): sp.Float(NOISE_COV[0, 0], 30),
                    sp.Symbol("Sigma_12"): sp.Float(NOISE_COV[0, 1], 30),
                    sp.Symbol("Sigma_22"): sp.Float(NOISE_COV[1, 1], 30),
                    noise["t"]: sp.Float(t, 30)}  # fmt: skip
            s_ref = r["scale"].subs(subs).evalf(30)
            assert abs(task.noise_scales[i] / np.sqrt(t) - float(s_ref)) <= rel * float(s_ref)
            k_ref = sp.Float(float(c @ mu), 30)  # c^T mu to one rounding (b = 0)
            y_ref = float(r["yhat"].subs({noise["k"]: k_ref, noise["s"]: s_ref}).evalf(30))
            u = float(k_ref / s_ref)
            slack = np.exp(-(u**2) / 2) / np.sqrt(2 * np.pi) * (abs(u) * rel + 2 * EPS)
            assert abs(yhat[i] - y_ref) <= slack + 4 * EPS * y_ref


def test_noise_covariance_posterior_is_the_derived_one(run_script):
    sp = pytest.importorskip("sympy")
    noise, _ = run_script("noise")
    r = noise["derive"]().results
    task = Task(np.eye(2), np.zeros(2), noise_cov=NOISE_COV)
    evidence = np.random.default_rng(4).normal(size=(3, 2))
    post = trilat.posterior(task, evidence)
    names = {"Sigma_11": NOISE_COV[0, 0], "Sigma_12": NOISE_COV[0, 1], "Sigma_22": NOISE_COV[1, 1]}
    for k, t in enumerate(post.t):
        subs = {sp.Symbol(n): sp.Float(v, 30) for n, v in names.items()}
        subs[noise["t"]] = sp.Float(t, 30)
        cov_ref = np.array(r["posterior_cov"].subs(subs).evalf(30).tolist(), dtype=np.float64)
        assert np.array_equal(post.cov[k], cov_ref)  # one correctly rounded division each
        S = np.cumsum(evidence, axis=0)[k]
        mean_subs = {sp.Symbol("S_1", real=True): sp.Float(S[0], 30),
                     sp.Symbol("S_2", real=True): sp.Float(S[1], 30), noise["t"]: sp.Float(t, 30)}  # fmt: skip
        mean_ref = np.array(r["posterior_mean"].subs(mean_subs).evalf(30).tolist(), dtype=float)
        assert np.array_equal(post.mean[k], mean_ref[:, 0])
