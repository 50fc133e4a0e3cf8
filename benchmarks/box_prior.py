"""The exact box-prior outputs against the flat formula, per element: ``python benchmarks/box_prior.py``.

Times ``trilat.predict_logits(task, mu, std=s, prior=task.prior)`` (the exact
outputs under the uniform prior, :mod:`trilat.box`) and the flat formula on the
elements of verify's prior gap (the paper's task, D = 2, N = 6, sigma = 0.2,
``mu(t)`` of trials drawn from the box, t = 1..20), best of ``--repeat`` runs.
``--module PATH`` times another version of ``trilat/box.py`` (e.g. an older
commit's, written out with ``git show COMMIT:trilat/box.py > PATH``) through
its ``box_log_probabilities``, on the same elements.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

import trilat


def best_time(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials (x 20 steps x 6 outputs)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--module", default=None, help="path of another trilat/box.py to time")
    args = parser.parse_args()
    task = trilat.Task.paper(2, 6, sigma=0.2, rng=0)
    post = trilat.posterior(task, trilat.simulate(task, args.trials, 20, rng=0).evidence)
    mu, s = post.mean, post.std
    n = mu.shape[0] * mu.shape[1] * task.n_tasks
    flat = best_time(lambda: trilat.predict_logits(task, mu, std=s), args.repeat)
    if args.module is None:
        exact = best_time(
            lambda: trilat.predict_logits(task, mu, std=s, prior=task.prior), args.repeat
        )
        name = "trilat.box (installed)"
    else:
        spec = importlib.util.spec_from_file_location("box_under_test", args.module)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        box = task.prior
        exact = best_time(
            lambda: module.box_log_probabilities(task.C, task.b, mu, s, box.low, box.high).logits,
            args.repeat,
        )
        name = args.module
    print(f"{n} elements (D = 2, N = 6, t = 1..20, mu(t) from the box prior)")
    print(f"  flat formula        {flat / n * 1e6:8.3f} us per element")
    print(f"  exact box outputs   {exact / n * 1e6:8.1f} us per element   ({name})")


if __name__ == "__main__":
    main()
