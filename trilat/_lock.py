"""An advisory lock on an output file, so that two runs never write it at once.

Two ``trilat sweep`` runs on the same ``--out`` would each read the file,
find the same units missing and both run (and append) all of them. The
lock is a sidecar file ``<out>.lock`` holding the owner's pid, locked with
``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows): advisory, released
by the operating system when the owner exits or is killed, so a stale lock
file left by a killed run never blocks the next one. A sidecar rather than
the output itself, because a Parquet output is replaced whole on every
checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OutputLockedError", "lock_output"]


class OutputLockedError(RuntimeError):
    """Another process holds the lock on the output; the message names its pid."""


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover (POSIX test machines)
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # byte 0; the pid follows it
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii", errors="replace")[1:].strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def lock_output(out: str | os.PathLike[str], what: str = "trilat sweep") -> Iterator[Path]:
    """Hold an exclusive advisory lock on ``out`` (through ``<out>.lock``) in the block.

    Raises
    ------
    OutputLockedError
        At once, without waiting, when another process holds it; the message
        names that process's pid and ``out``.
    """
    out = Path(out)
    path = out.with_name(out.name + ".lock")
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise OutputLockedError(
                f"{out} is being written by another {what} ({_holder(path)}); wait for it to "
                f"finish, or pass another output file"
            )
        try:  # the file may have been unlinked by its previous owner since we opened it
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f" {os.getpid()}\n".encode("ascii"))  # byte 0 is the one locked on Windows
        yield path
    finally:
        with contextlib.suppress(OSError):  # Windows cannot remove an open file: left behind
            path.unlink()  # before unlocking: a waiting opener then sees another inode and retries
        os.close(fd)
