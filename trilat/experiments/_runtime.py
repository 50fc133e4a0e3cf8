"""Run-time helpers: torch's thread count for a block, and an optional tqdm progress bar."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import torch

from trilat._checks import positive_int


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass


def show_progress(progress: bool | None) -> bool:
    """``progress``, or when it is ``None``, whether stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


@contextlib.contextmanager
def bar(*, total: int, initial: int = 0, enabled: bool, desc: str) -> Iterator[Any]:
    """``tqdm(total=..., initial=...)`` on stderr when ``enabled`` and tqdm is installed."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            enabled = False
    if not enabled:
        yield _Silent()
        return
    with tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True) as pbar:
        yield pbar


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads, and BLAS threads when threadpoolctl is installed, set to
    ``threads`` inside the block and restored after (``None``: left alone).

    Small networks and the mixing MLP's small matrix products run many tiny
    kernels; extra threads only add synchronisation, which on a busy machine
    costs more than the kernels.
    """
    if threads is None:
        yield
        return
    threads = positive_int(threads, "threads")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with contextlib.ExitStack() as stack:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                pass
            else:
                stack.enter_context(threadpool_limits(limits=threads))
            yield
    finally:
        torch.set_num_threads(before)
