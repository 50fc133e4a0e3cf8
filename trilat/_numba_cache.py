"""Where numba caches trilat's compiled kernels: a per-user directory, never the package.

numba's default places a function's cache next to its source file when that
directory is writable (``site-packages/trilat/__pycache__``). That pollutes an
installed package: once pip uninstalls trilat, the left-over ``trilat/``
folder of cache files imports as an empty namespace package and shadows the
next install. So trilat points numba at a per-user cache directory instead:

1. ``NUMBA_CACHE_DIR`` when the user has set it (never overridden);
2. else the platform's user cache directory, ``trilat`` inside it:
   ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux and other POSIX systems,
   ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows.

The choice is exported as ``NUMBA_CACHE_DIR`` (so worker processes agree)
and, when numba was imported before trilat, loaded into ``numba.config`` too:
numba reads its environment at import and again before each compilation, but
binds a function's cache location when the function is decorated, which is
when trilat's kernel modules are imported.

When that directory cannot be written (a read-only home on a cluster image),
:data:`CACHE` is False: the kernels are decorated with ``cache=False`` and
compile in every process, after one :class:`UncachedWarning`. numba's own
fallbacks are not used, because the first of them is the package directory.

Import this module, and use :data:`CACHE` for ``numba.njit(cache=...)``, in
every module that compiles with numba, before its first decorator runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

__all__ = ["CACHE", "CACHE_DIR", "UncachedWarning", "configure", "user_cache_dir"]

ENV = "NUMBA_CACHE_DIR"


class UncachedWarning(RuntimeWarning):
    """No writable cache directory: numba compiles trilat's kernels in every process."""


def user_cache_dir(
    platform: str | None = None, environ: os._Environ[str] | dict[str, str] | None = None
) -> Path:
    """The platform's per-user cache directory for trilat (what ``platformdirs`` would give).

    Parameters
    ----------
    platform : str, optional
        ``sys.platform`` by default.
    environ : mapping, optional
        ``os.environ`` by default.

    Returns
    -------
    pathlib.Path
        ``%LOCALAPPDATA%\\trilat\\Cache`` on Windows, ``~/Library/Caches/trilat``
        on macOS, else ``$XDG_CACHE_HOME/trilat`` (``~/.cache/trilat`` when
        ``XDG_CACHE_HOME`` is unset or not absolute, as the XDG spec says).
    """
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "trilat" / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / "trilat"
    xdg = env.get("XDG_CACHE_HOME", "")
    base_path = Path(xdg) if os.path.isabs(xdg) else home / ".cache"
    return base_path / "trilat"


def _writable(path: Path) -> bool:
    """Whether files can be created in ``path`` (made if missing), tested as numba tests it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def configure() -> tuple[bool, Path | None]:
    """Choose numba's cache directory for trilat; returns ``(cache, directory)``.

    Sets ``NUMBA_CACHE_DIR`` when the user has not, and refreshes
    ``numba.config`` when numba is already imported. Warns once
    (:class:`UncachedWarning`) and returns ``(False, None)`` when the directory
    cannot be written.
    """
    given = os.environ.get(ENV, "")
    directory = Path(given) if given else user_cache_dir()
    if not _writable(directory):
        source = f"{ENV}={given}" if given else "the user cache directory"
        warnings.warn(
            f"trilat: cannot write numba's cache to {directory} ({source}); compiling "
            f"trilat's kernels without a cache (slower start; set {ENV} to a writable "
            f"directory to cache them)",
            UncachedWarning,
            stacklevel=2,
        )
        return False, None
    if not given:
        os.environ[ENV] = str(directory)
    if "numba" in sys.modules:  # imported before us: it read its environment already
        from numba.core import config

        config.reload_config()
    return True, directory


CACHE, CACHE_DIR = configure()
