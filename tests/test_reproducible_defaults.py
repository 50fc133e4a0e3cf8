"""Reproducible by default (issue 12 item 7): no function or method of trilat draws
from fresh entropy unless asked; every ``rng`` parameter has a fixed default seed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import trilat


def trilat_modules():
    for info in pkgutil.walk_packages(trilat.__path__, "trilat."):
        try:
            yield importlib.import_module(info.name)
        except ImportError:  # an optional extra (torch, matplotlib) absent here
            continue


def callables_of(module):
    for _, obj in inspect.getmembers(module):
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield obj.__qualname__, obj
        elif inspect.isclass(obj):
            for _, member in inspect.getmembers(obj):
                func = getattr(member, "__func__", member)
                if inspect.isfunction(func) and func.__module__ == module.__name__:
                    yield func.__qualname__, func


def test_no_rng_parameter_defaults_to_fresh_entropy():
    seen, bad = 0, []
    for module in trilat_modules():
        for name, func in callables_of(module):
            try:
                parameters = inspect.signature(func).parameters
            except (TypeError, ValueError):
                continue
            for pname in ("rng", "seed"):
                p = parameters.get(pname)
                if p is None:
                    continue
                seen += 1
                if p.default is None:
                    bad.append(f"{module.__name__}.{name}({pname}=None)")
    assert seen > 20, "the scan found too few rng parameters: is it still scanning?"
    assert bad == [], "rng must default to a fixed seed: " + ", ".join(sorted(set(bad)))


@pytest.mark.slow
def test_fixed_and_slow_points_are_reproducible_without_a_seed():
    """Two calls without rng give the same points (the README's counts varied 4, 5, 9, 11)."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from trilat.experiments import fixed_points, slow_points

    class LinearRNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            gen = np.random.default_rng(1)
            q, _ = np.linalg.qr(gen.standard_normal((8, 8)))
            lam = np.r_[1.0, 1.0, gen.uniform(-0.5, 0.6, 6)]
            self.A = torch.nn.Parameter(torch.tensor(q @ np.diag(lam) @ q.T))
            self.B = torch.nn.Parameter(torch.tensor(gen.standard_normal((8, 40)) / 7.0))
            self.state_size = 8

        def step(self, h, u):
            return h @ self.A.T + (u @ self.B.T if u.ndim > 1 else self.B @ u)

        def states(self, obs):
            h = obs.new_zeros(obs.shape[0], self.state_size)
            out = []
            for t in range(obs.shape[1]):
                h = self.step(h, obs[:, t])
                out.append(h)
            return torch.stack(out, 1)

    rnn, task, mixing = LinearRNN(), trilat.Task.evenly_spaced(3), trilat.MixingMLP(2, rng=5)
    for find in (fixed_points, slow_points):
        runs = [
            find(
                rnn, task, mixing=mixing, fixation="zero", n_initial=16, n_trials=32, iterations=30
            )
            for _ in range(2)
        ]
        np.testing.assert_array_equal(runs[0].points, runs[1].points)
