"""The one cap on native thread pools (BLAS, OpenMP) used across trilat.

trilat's linear algebra runs on small matrices (``H x H`` ridge fits, ``D x N``
factorisations) many times over. A threaded BLAS gains nothing on those and,
on a loaded machine, its threads contend: a 64 x 64 ``eigh`` was measured 20x
slower on 2 busy cores, and small matrices on many BLAS threads ~40x slower in
the sweeps. Parallel work in trilat comes from its units (trials, sweep
configurations), never from BLAS, and one thread also keeps the rounding of
BLAS reductions independent of the machine's thread count.

``threadpoolctl`` is a runtime dependency of trilat for this module.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from trilat._checks import positive_int

__all__ = ["limit_threads"]

# (number of imported modules when scanned, controller): a module imported since may have
# loaded a new native library (torch's OpenMP, numba's threading layer), so rescan then.
_CONTROLLER: tuple[int, Any] | None = None


def _controller() -> Any:
    global _CONTROLLER
    loaded = len(sys.modules)
    if _CONTROLLER is None or _CONTROLLER[0] != loaded:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = (loaded, ThreadpoolController())  # ~2 ms: scans the loaded libraries
    return _CONTROLLER[1]


def limit_threads(threads: int | None = 1) -> contextlib.AbstractContextManager[Any]:
    """Cap the BLAS and OpenMP thread pools at ``threads`` inside a ``with`` block.

    The previous limits are restored on exit. ``None`` leaves the pools alone.

    Parameters
    ----------
    threads : int or None
        Threads per native pool, ``>= 1``; ``None`` for no cap.

    Returns
    -------
    context manager
    """
    if threads is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=positive_int(threads, "threads"))
