"""No NaN through the public API (issue 12 item 4).

Every public callable (``trilat.__all__``, ``trilat.kernels.__all__``,
``trilat.metrics.__all__``, ``trilat.experiments.__all__`` when torch is
installed; functions, class constructors and ``__call__``) is scanned with
``inspect.signature``; each parameter that may carry a user array (annotated
``Any`` / an array type and not in ``NOT_ARRAYS``) must have an entry in
``EXAMPLES``, so a new public function fails here until it is covered. Each
array argument is then fed NaN (and, where ``REFUSE_INF`` says infinities mean
nothing, +inf) and must raise ``ValueError`` naming it.
"""

from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pytest

import trilat
import trilat.kernels
import trilat.metrics

MODULES = [trilat, trilat.kernels, trilat.metrics]
if importlib.util.find_spec("torch") is not None:
    import trilat.experiments

    MODULES.append(trilat.experiments)

# Parameters that never hold a user array: objects, seeds, paths, options.
NOT_ARRAYS = {
    "rng", "network", "module", "path", "map_location", "device", "mixing", "fn", "latent",
    "progress", "task", "arch", "checkpoint", "kwargs", "output", "prior", "scheme", "split",
    "classifier", "activation", "method", "loss", "key", "strict", "threads", "self",
    "readout",
}  # fmt: skip
# Result records (returned by trilat, not built from user arrays) and non-array classes.
EXEMPT_CLASSES = {
    "CCGP", "Comparison", "Decodability", "FactorAngles", "Generalization", "Parallelism",
    "Posterior", "Trials", "NotIdentifiableError", "Network", "RoundTrip", "FixedPoints",
    "History", "Batch", "CausalTransformer", "RecurrentNetwork", "TrainedNetwork",
    "ReferenceGeneralization", "PaperRNN", "PaperGPT", "Recipe", "Hold",
    "Gaussian", "Uniform",
    "Outputs",  # the record kernels.predict returns; kernels.invert checks it (test below)
}  # fmt: skip

TASK = trilat.Task.evenly_spaced(3)
RNG = np.random.default_rng(0)
LATENTS = RNG.normal(size=(64, 5))
FACTORS = RNG.uniform(-0.5, 0.5, size=(64, 2))
T = np.array([1.0, 2.0])
MU = np.full((2, 2), 0.1)
YHAT = np.full((2, 3), 0.3)
Z = np.full((2, 3), 0.4)


def _decoder():
    return trilat.linear_decoder(TASK, 2.0)


def _mixing():
    return trilat.MixingMLP(2, rng=0)


def _outputs():
    return trilat.kernels.predict(TASK, MU, T)


# name -> (callable factory, valid keyword arguments, {array argument: refuse inf?})
EXAMPLES = {
    "Task": (lambda: trilat.Task, dict(C=np.eye(2), b=np.zeros(2), sigma=0.2), {"C": True, "b": True}),
    "Task[noise_cov]": (lambda: trilat.Task, dict(C=np.eye(2), b=np.zeros(2), noise_cov=np.array([[0.04, 0.01], [0.01, 0.09]])), {"noise_cov": True}),
    "AffineMap": (lambda: trilat.AffineMap, dict(weight=np.eye(2, 3), offset=np.zeros(2)), {"weight": True, "offset": True}),
    "AffineMap.__call__": (_decoder, dict(z=Z), {"z": True}),
    "OptimalNetwork.__call__": (lambda: trilat.OptimalNetwork(TASK), dict(evidence=np.zeros((2, 3, 2))), {"evidence": True}),
    "MixingMLP.__call__": (_mixing, dict(evidence=MU), {"evidence": True}),
    "NetworkOutput": (lambda: trilat.NetworkOutput, dict(latents=np.zeros((2, 3, 4)), logits=np.zeros((2, 3, 3)), probabilities=np.full((2, 3, 3), 0.5)), {"probabilities": True}),
    "decodability_ceiling": (lambda: trilat.decodability_ceiling, dict(task=TASK, t=T, std=None), {"t": True}),
    "decodability_ceiling[std]": (lambda: trilat.decodability_ceiling, dict(task=TASK, std=T), {"std": True}),
    "distances": (lambda: trilat.distances, dict(task=TASK, yhat=YHAT, t=T[:, None]), {"yhat": True, "t": True}),
    "distances[std]": (lambda: trilat.distances, dict(task=TASK, yhat=YHAT, std=T[:, None]), {"std": True}),
    "distances_from_logits[std]": (lambda: trilat.distances_from_logits, dict(task=TASK, z=Z, std=T[:, None]), {"std": True}),
    "estimate[std]": (lambda: trilat.estimate, dict(task=TASK, yhat=YHAT, std=T[:, None]), {"std": True}),
    "linear_decoder[std]": (lambda: trilat.linear_decoder, dict(task=TASK, t=None, std=T), {"std": True}),
    "posterior_std[std]": (lambda: trilat.posterior_std, dict(task=TASK, t=None, std=T), {"std": True}),
    "predict[std]": (lambda: trilat.predict, dict(task=TASK, mu=MU, std=T[:, None]), {"std": True}),
    "predict_logits[std]": (lambda: trilat.predict_logits, dict(task=TASK, mu=MU, std=T[:, None]), {"std": True}),
    "kernels.predict[std]": (lambda: trilat.kernels.predict, dict(task=TASK, mu=MU, std=T), {"std": True}),
    "kernels.invert[std]": (lambda: trilat.kernels.invert, dict(task=TASK, outputs=_outputs(), std=T), {"std": True}),
    "distances_from_logits": (lambda: trilat.distances_from_logits, dict(task=TASK, z=Z, t=T[:, None]), {"z": True, "t": True}),
    "estimate": (lambda: trilat.estimate, dict(task=TASK, yhat=YHAT, t=T[:, None]), {"yhat": True, "t": True}),
    "linear_decoder": (lambda: trilat.linear_decoder, dict(task=TASK, t=T), {"t": True}),
    "posterior": (lambda: trilat.posterior, dict(task=TASK, evidence=np.zeros((2, 3, 2))), {"evidence": True}),
    "posterior_std": (lambda: trilat.posterior_std, dict(task=TASK, t=T), {"t": True}),
    "predict": (lambda: trilat.predict, dict(task=TASK, mu=MU, t=T[:, None]), {"mu": True, "t": True}),
    "predict_logits": (lambda: trilat.predict_logits, dict(task=TASK, mu=MU, t=T[:, None]), {"mu": True, "t": True}),
    "recover": (lambda: trilat.recover, dict(task=TASK, k=Z), {"k": False}),  # +-inf: saturated
    "bayes_decodability": (lambda: trilat.bayes_decodability, dict(task=TASK, t=T), {"t": True}),
    "bayes_decodability[std]": (lambda: trilat.bayes_decodability, dict(task=TASK, std=T), {"std": True}),
    "estimate_from_logits": (lambda: trilat.estimate_from_logits, dict(task=TASK, z=Z, t=T[:, None]), {"z": True, "t": True}),
    "estimate_from_logits[std]": (lambda: trilat.estimate_from_logits, dict(task=TASK, z=Z, std=T[:, None]), {"std": True}),
    "oracle_gap": (lambda: trilat.oracle_gap, dict(task=TASK, mu=MU, t=T[:, None]), {"mu": True, "t": True}),
    "oracle_gap[std]": (lambda: trilat.oracle_gap, dict(task=TASK, mu=MU, std=T[:, None]), {"std": True}),
    "posterior_mean": (lambda: trilat.posterior_mean, dict(task=TASK, mu=MU, t=T[:, None]), {"mu": True, "t": True}),
    "posterior_mean[std]": (lambda: trilat.posterior_mean, dict(task=TASK, mu=MU, std=T[:, None]), {"std": True}),
    "ccgp": (lambda: trilat.ccgp, dict(latents=LATENTS, factors=FACTORS, center=0.0), {"latents": True, "factors": True, "center": True}),
    "decodability": (lambda: trilat.decodability, dict(latents=LATENTS, targets=FACTORS), {"latents": True, "targets": True}),
    "factor_angles": (lambda: trilat.factor_angles, dict(weight=RNG.normal(size=(2, 5)), n_null=10), {"weight": True}),
    "parallelism": (lambda: trilat.parallelism, dict(latents=LATENTS, factors=FACTORS, center=0.0), {"latents": True, "factors": True, "center": True}),
    "participation_ratio": (lambda: trilat.participation_ratio, dict(latents=LATENTS), {"latents": True}),
    "regression_generalization": (lambda: trilat.regression_generalization, dict(latents=LATENTS, factors=FACTORS, prior_variance=1 / 12, center=0.0), {"latents": True, "factors": True, "prior_variance": True, "center": True}),
    "r2_per_target": (lambda: trilat.metrics.r2_per_target, dict(targets=FACTORS, predictions=FACTORS), {"targets": True, "predictions": True}),
    "ridge": (lambda: trilat.metrics.ridge, dict(latents=LATENTS, targets=FACTORS, alpha=np.array([1e-3, 1e-2])), {"latents": True, "targets": True, "alpha": True}),
    "ridge_alpha": (lambda: trilat.metrics.ridge_alpha, dict(latents=LATENTS, targets=FACTORS), {"latents": True, "targets": True}),
    "kernels.ndtr": (lambda: trilat.kernels.ndtr, dict(x=Z), {"x": False}),
    "kernels.ndtri": (lambda: trilat.kernels.ndtri, dict(p=YHAT), {"p": True}),
    "kernels.predict": (lambda: trilat.kernels.predict, dict(task=TASK, mu=MU, t=T), {"mu": True, "t": True}),
    "kernels.recover": (lambda: trilat.kernels.recover, dict(task=TASK, k=Z), {"k": True}),
    "kernels.invert": (lambda: trilat.kernels.invert, dict(task=TASK, outputs=_outputs(), t=T), {"t": True}),
    "schedule_targets": (lambda: trilat.experiments.schedule_targets, dict(labels=np.zeros((2, 3)), n_steps=4), {"labels": True}),
    "orthant_index": (lambda: trilat.experiments.orthant_index, dict(x=np.full((2, 2), 0.1)), {"x": True}),
    "fixation_input": (lambda: trilat.experiments.fixation_input, dict(fixation=np.zeros(40), task=TASK, mixing=trilat.MixingMLP(2, rng=0)), {"fixation": True}),
}  # fmt: skip
# Parameters that take an array only as one of several forms, covered by another entry:
# fixed_points / slow_points / hold pass ``fixation`` to fixation_input, ``std`` is ``t``'s twin.
# NetworkOutput's latents and logits: compare refuses NaN / inf in them naming the trial
# and step (tests/test_compare.py::test_nan_and_wrong_returns_are_reported).
COVERED_ELSEWHERE = {
    ("fixed_points", "fixation"),
    ("hold", "fixation"),
    ("slow_points", "kwargs"),
    ("NetworkOutput", "latents"),
    ("NetworkOutput", "logits"),
}


def _is_array_parameter(p: inspect.Parameter) -> bool:
    if p.name in NOT_ARRAYS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
        return False
    annotation = str(p.annotation)
    return "Any" in annotation or "ndarray" in annotation or "ArrayLike" in annotation


def public_callables():
    """(name, callable) for every public function, constructor and __call__."""
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                if name in EXEMPT_CLASSES or issubclass(obj, BaseException):
                    continue
                yield name, obj
                if "__call__" in vars(obj):
                    yield f"{name}.__call__", obj.__call__
            elif callable(obj):
                qual = f"kernels.{name}" if module is trilat.kernels else name
                yield qual, obj


def array_parameters():
    pairs = []
    for name, obj in public_callables():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        for p in params.values():
            if _is_array_parameter(p):
                pairs.append((name, p.name))
    return sorted(set(pairs))


COVERED: dict[str, set[str]] = {}
for _key, (_, _, _arrays) in EXAMPLES.items():
    COVERED.setdefault(_key.split("[")[0], set()).update(_arrays)


def test_every_array_argument_of_the_public_api_is_in_the_table():
    missing = [
        (name, arg)
        for name, arg in array_parameters()
        if (name, arg) not in COVERED_ELSEWHERE and arg not in COVERED.get(name, set())
    ]
    assert missing == [], f"add these public array arguments to EXAMPLES: {missing}"


CASES = [
    (name, arg, value)
    for name, (_, _, arrays) in EXAMPLES.items()
    for arg, refuse_inf in arrays.items()
    for value in ([np.nan, np.inf] if refuse_inf else [np.nan])
]


@pytest.mark.parametrize("name,arg,bad", CASES, ids=[f"{n}-{a}-{v}" for n, a, v in CASES])
def test_nan_is_refused_naming_the_argument(name, arg, bad):
    if name in ("schedule_targets", "fixation_input", "OptimalNetwork.__call__"):
        pytest.importorskip("torch")
    factory, kwargs, _ = EXAMPLES[name]
    func = factory()
    factory()(**kwargs)  # the example itself is valid
    value = np.array(kwargs[arg], dtype=float, copy=True)
    value.flat[0] = bad
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        func(**{**kwargs, arg: value})


def test_kernels_invert_refuses_nan_in_its_outputs_record():
    outputs = _outputs()
    tail = outputs.tail.copy()
    tail.flat[0] = np.nan
    with pytest.raises(ValueError, match=r"outputs\.tail"):
        trilat.kernels.invert(TASK, trilat.kernels.Outputs(tail, outputs.upper), T)
