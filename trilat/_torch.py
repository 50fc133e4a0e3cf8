"""The torch side of :func:`trilat.from_torch` and :func:`trilat.load_state_dict`.

Imported by :mod:`trilat.adapters` only when one of them is called, so that
``import trilat`` never imports torch (the ``torch`` extra). It returns numpy
arrays and never imports :mod:`trilat.adapters` back: the network object and
its :class:`trilat.NetworkOutput` are built there.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from trilat._checks import as_float_array

__all__ = ["load_weights", "on_device", "run_module", "warn_sequence_first"]


def _first_tensor(value: Any, what: str) -> Any:
    """A tensor, or the first element of a tuple (``nn.GRU`` returns ``(output, h_n)``)."""
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{what} must be a tensor or a tuple starting with one, got {value!r}")
    return value


def _placement(module: Any, device: Any) -> tuple[Any, Any]:
    """The device (``device``, else the parameters') and the floating dtype of the module."""
    params = list(module.parameters())
    dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
    if device is not None:
        return torch.device(device), dtype
    return (params[0].device if params else torch.device("cpu")), dtype


def run_module(
    module: Any,
    inputs: np.ndarray,
    *,
    latent: str | Callable[[Any], Any],
    output: str,
    batch_size: int,
    device: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Latents ``(n, T, H)`` and outputs ``(n, T, N)`` of ``module`` on ``inputs (n, T, in_dim)``.

    The forward passes of :func:`trilat.from_torch`'s network, as float64 numpy
    arrays (``output`` names what the outputs are, for messages); the network
    wraps them in a :class:`trilat.NetworkOutput`.
    """
    x = as_float_array(inputs, "inputs", ndim=3)
    device, dtype = _placement(module, device)
    captured: list[Any] = []
    handle = None
    if isinstance(latent, str):
        modules = dict(module.named_modules())
        handle = modules[latent].register_forward_hook(
            lambda _m, _i, out: captured.append(_first_tensor(out, f"{latent!r} output"))
        )
    was_training = module.training
    latents, outputs = [], []
    try:
        module.eval()
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                batch = torch.as_tensor(x[start : start + batch_size])
                try:
                    result = module(batch.to(device=device, dtype=dtype))
                except RuntimeError as exc:
                    raise ValueError(
                        f"{type(module).__name__} failed on inputs of shape "
                        f"{tuple(batch.shape)}{_input_width_hint(module)}: {exc}"
                    ) from exc
                if isinstance(latent, str):
                    if len(captured) != 1:
                        raise ValueError(
                            f"submodule {latent!r} ran {len(captured)} times in one "
                            f"forward pass; name a submodule that runs once, or pass "
                            f"latent= a function of the module's output"
                        )
                    hidden = captured.pop()
                else:
                    hidden = _first_tensor(latent(result), "latent(output)")
                logits = _first_tensor(result, "the module's output")
                latents.append(_to_numpy(hidden, "latents", batch.shape))
                outputs.append(_to_numpy(logits, output, batch.shape))
    finally:
        if handle is not None:
            handle.remove()
        module.train(was_training)
    latents_np = np.concatenate(latents) if latents else np.zeros((0, x.shape[1], 0))
    outputs_np = np.concatenate(outputs) if outputs else np.zeros((0, x.shape[1], 0))
    return latents_np, outputs_np


def _input_width_hint(module: Any) -> str:
    """Where the first layer declares its input width, say so (for shape errors)."""
    for name, sub in module.named_modules():
        for attr in ("input_size", "in_features"):
            width = getattr(sub, attr, None)
            if isinstance(width, int):
                label = name or "the module"
                return f" (its first layer {label!r}, {type(sub).__name__}, takes {attr}={width})"
    return ""


def _to_numpy(tensor: Any, name: str, batch_shape: Any) -> np.ndarray:
    n, steps = int(batch_shape[0]), int(batch_shape[1])
    if tensor.ndim != 3 or tuple(tensor.shape[:2]) != (n, steps):
        raise ValueError(
            f"the module's {name} must have shape (batch, T, features) = ({n}, {steps}, ...) for "
            f"an input of shape {tuple(batch_shape)}, got {tuple(tensor.shape)}; recurrent "
            f"layers need batch_first=True"
        )
    return tensor.detach().to(device="cpu").double().numpy()


def warn_sequence_first(module: Any) -> None:
    """Recurrent layers must read ``(batch, T, features)``; a sequence-first one cannot be told
    apart by shapes (it returns ``(batch, T, H)`` too, with time and batch swapped)."""
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.RNNBase) and not sub.batch_first:
            warnings.warn(
                f"submodule {name!r} ({type(sub).__name__}) has batch_first=False, but trilat "
                f"feeds (batch, T, features); unless the module transposes its input, it will "
                f"read the trials as time steps",
                UserWarning,
                stacklevel=3,
            )


def _numpy_globals() -> list[Any]:
    """What ``torch.load(weights_only=True)`` needs to rebuild plain numeric numpy arrays.

    The paper's ``train.py`` saves its loss history as a numpy array; the
    array's constructor, ``ndarray``, ``dtype`` and the numeric dtype classes
    build data, never call arbitrary code (object arrays stay refused: their
    elements need globals that are not on this list).
    """
    reconstruct = getattr(np, "_core", np.core).multiarray._reconstruct
    kinds = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16]
    kinds += [np.uint32, np.uint64, np.float16, np.float32, np.float64]
    return [reconstruct, np.ndarray, np.dtype, *(type(np.dtype(k)) for k in kinds)]


def read_weights(path: Any, *, key: str | None = None, map_location: Any = None) -> Any:
    """:func:`trilat.read_weights`: ``torch.load(weights_only=True)``, numeric numpy arrays allowed."""
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            state = torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"{path} holds objects other than tensors; trilat loads weights with "
            f"weights_only=True and never unpickles arbitrary objects. Save "
            f"module.state_dict() instead. ({first})"
        ) from None
    except EOFError:  # an empty or truncated file: not a weights file at all
        raise ValueError(
            f"{path} is empty or truncated: it holds no saved state dict "
            "(save one with torch.save(module.state_dict(), path))"
        ) from None
    if key is not None:
        if not isinstance(state, Mapping) or key not in state:
            keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"{path} has no entry {key!r}; it holds {keys}")
        state = state[key]
    return state


def load_weights(
    module: Any, path: Any, *, key: str | None, strict: bool, map_location: Any
) -> Any:
    """:func:`trilat.load_state_dict`: :func:`read_weights`, checked, then loaded."""
    state = read_weights(path, key=key, map_location=map_location)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} must hold a state dict (names to tensors), got {type(state)}")
    not_tensors = [name for name, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        hint = "; pass key= to pick the state dict out of a checkpoint" if key is None else ""
        raise ValueError(
            f"{path} is not a state dict: entries {not_tensors[:5]} are not tensors{hint}"
        )
    expected = set(module.state_dict())
    unexpected = sorted(set(state) - expected)
    missing = sorted(expected - set(state))
    name = type(module).__name__
    if strict and (unexpected or missing):
        hint = "; strict=False ignores them" if unexpected and not missing else ""
        raise ValueError(
            f"the weights in {path} do not fit {name}: unexpected keys {unexpected}, missing "
            f"keys {missing}{hint}"
        )
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # shapes that differ
        raise ValueError(f"the weights in {path} do not fit {name}: {exc}") from None
    if unexpected or missing:
        warnings.warn(
            f"strict=False: loaded {path} into {name} ignoring the unexpected keys "
            f"{unexpected} and leaving the missing keys {missing} as they were",
            UserWarning,
            stacklevel=3,
        )
    return module


@contextlib.contextmanager
def on_device(network: Any, device: Any) -> Iterator[None]:
    """Run ``network`` (a ``from_torch`` network or one with a ``module``) on ``device``.

    Moves the torch module there for the block and back to where it was after
    (``Module.to`` is in place); inputs are moved by :class:`TorchNetwork`.
    """
    module = getattr(network, "module", None)
    if not isinstance(module, torch.nn.Module):
        raise ValueError(
            f"device= needs a torch network (trilat.from_torch or a trained network with a "
            f"module), got {type(network).__name__}"
        )
    target = torch.device(device)
    params = list(module.parameters())
    before = params[0].device if params else torch.device("cpu")
    adapters = [a for a in (network, getattr(network, "_network", None)) if hasattr(a, "device")]
    saved = [a.device for a in adapters]
    module.to(target)
    for a in adapters:
        a.device = target
    try:
        yield
    finally:
        module.to(before)
        for a, d in zip(adapters, saved, strict=True):
            a.device = d
