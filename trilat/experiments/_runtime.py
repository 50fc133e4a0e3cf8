"""Run-time helper: torch's thread count for a block (progress bars: :mod:`trilat._progress`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from trilat._checks import positive_int


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
