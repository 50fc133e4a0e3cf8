"""Memory a run will need, checked against what the machine has before the run starts.

A command that dies of ``MemoryError`` (or is killed by the kernel's OOM
killer) after minutes of work wastes the work and says nothing useful. The
commands estimate their peak first and refuse in one line, naming the size
and a smaller setting that fits (:func:`check_memory`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

__all__ = [
    "MemoryNeedError",
    "available_memory",
    "check_memory",
    "format_bytes",
    "largest_fitting",
]

GIB = 2**30


class MemoryNeedError(ValueError):
    """A run needs more memory than is available; the message names both and a smaller run."""


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping, or None when unknown.

    Linux: ``MemAvailable`` of ``/proc/meminfo`` (free memory plus the page
    cache that can be dropped); other POSIX systems: the free physical pages
    (``os.sysconf``); Windows: ``ullAvailPhys`` of ``GlobalMemoryStatusEx``.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the unit is kB (KiB)
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":  # pragma: no cover (POSIX test machines)
        import ctypes

        class _Status(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong)] + [
                (name, ctypes.c_ulonglong)
                for name in (
                    "total",
                    "avail",
                    "totalPage",
                    "availPage",
                    "totalVirt",
                    "availVirt",
                    "availExtVirt",
                )
            ]

        status = _Status()
        status.dwLength = ctypes.sizeof(_Status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.avail)
        return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes in TiB, GiB or MiB, e.g. ``59.6 GiB``."""
    if n >= 2**40:
        return f"{n / 2**40:.1f} TiB"
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 2**20:.0f} MiB"


def largest_fitting(
    need: Callable[[int], float], budget: float, low: int, high: int
) -> int | None:
    """The largest integer ``x`` in ``[low, high]`` with ``need(x) <= budget`` (``need``
    increasing), or None when even ``low`` does not fit. Bisection."""
    if need(low) > budget:
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if need(mid) <= budget else (low, mid - 1)
    return low


def check_memory(needed: float, what: str, smaller: str, available: int | None = None) -> None:
    """Refuse a run whose estimated peak ``needed`` (bytes) exceeds the available memory.

    Parameters
    ----------
    needed : float
        Estimated peak in bytes.
    what : str
        What needs it, e.g. ``"part 2 at N = 20000"``.
    smaller : str
        A setting that fits, for the message (e.g. ``"--n-tasks 1 2 3 6 12 24"``).
    available : int, optional
        Bytes available; default :func:`available_memory` (no check when unknown).

    Raises
    ------
    MemoryNeedError
        One line: the size needed, the size available and the smaller setting.
    """
    available = available_memory() if available is None else available
    if available is None or needed <= available:
        return
    raise MemoryNeedError(
        f"{what} needs about {format_bytes(needed)} of memory, {format_bytes(available)} is "
        f"available; {smaller}"
    )
