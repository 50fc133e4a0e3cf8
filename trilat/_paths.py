"""Output paths of the command-line tools, checked before any work is done.

A run that computes for minutes and then fails to write its results wastes
the run, and a traceback with exit status 1 cannot be told from "a check
failed". ``trilat verify``, ``compare`` and ``sweep`` check their output
paths here first, and report a failure in one line (exit status 2):

- :func:`output_dir`: a directory that exists and is writable, or that can
  be created (its nearest existing ancestor is a writable directory);
- :func:`output_file`: a file that can be created, or an existing file that
  can be appended to or replaced;
- :func:`figure_file`: an :func:`output_file` for a figure, with the format
  matplotlib will write, and the ``plot`` extra present.

Writability is tested by creating (and removing) a temporary file, as the
operating system decides it (permissions, read-only mounts, quotas aside).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["OutputPathError", "figure_file", "output_dir", "output_file"]


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names it and says why."""


def _can_create_in(directory: Path) -> str | None:
    """Why files cannot be created in ``directory``, or None when they can."""
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _existing_ancestor(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path.cwd()  # pragma: no cover (a relative path's parents end in ".")


def output_dir(path: str | os.PathLike[str], option: str) -> Path:
    """``path`` as a directory the run can write to, without creating it.

    Raises
    ------
    OutputPathError
        ``path`` (or an ancestor) is a file, or the directory (or, when it
        does not exist yet, its nearest existing ancestor) is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: is a file, not a directory")
    _check_dir(path, f"{option} {path}")
    return path


def _check_dir(directory: Path, shown: str) -> None:
    where = _existing_ancestor(directory)
    if not where.is_dir():
        raise OutputPathError(f"{shown}: {where} is a file, not a directory")
    reason = _can_create_in(where)
    if reason is not None:
        what = "" if where == directory else f" (cannot create {directory} in {where})"
        raise OutputPathError(f"{shown}: not writable{what}: {reason}")


def output_file(path: str | os.PathLike[str], option: str) -> Path:
    """``path`` as a file the run can create, or append to when it exists.

    Raises
    ------
    OutputPathError
        ``path`` is a directory, its directory cannot be written, or an
        existing ``path`` cannot be opened for appending.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a directory, not a file")
    if path.exists():
        try:
            with open(path, "ab"):  # opened, not written: the file is unchanged
                pass
        except OSError as exc:
            raise OutputPathError(f"{option} {path}: cannot be written: {exc.strerror}") from None
        return path
    _check_dir(path.parent, f"{option} {path}")
    return path


def figure_file(path: str | os.PathLike[str], option: str) -> Path:
    """The file a figure saved to ``path`` will be: ``.png`` appended when it has no suffix.

    Checks the ``plot`` extra (matplotlib) and the format as well as the path.

    Raises
    ------
    ImportError
        matplotlib is missing (the message names the ``plot`` extra).
    OutputPathError
        An unwritable path, or a suffix matplotlib cannot write.
    """
    from trilat._mpl import pyplot

    pyplot()  # the plot extra, and the backend the figure will be saved with
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if not path.suffix:
        path = path.with_name(path.name + ".png")  # what matplotlib itself would write
    elif path.suffix[1:].lower() not in formats:
        raise OutputPathError(
            f"{option} {path}: matplotlib cannot write {path.suffix!r} files; "
            f"use one of {', '.join(sorted(formats))}"
        )
    return output_file(path, option)
