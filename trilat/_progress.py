"""The progress bar of long-running work (Monte Carlo, compare, sweeps, training): tqdm, on stderr.

Shown when asked for (``progress=True``) or, by default (``None``), when stderr
is a terminal; never in logs or pipes unless asked. tqdm is the ``progress``
extra: asking for a bar without it is an error naming the extra.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["progress", "progress_bar"]


def progress_bar(
    total: int, desc: str, progress: bool | None, *, unit: str = "trial", initial: int = 0
) -> Any:
    """A tqdm bar on stderr, or ``None`` when none is to be shown.

    Parameters
    ----------
    total : int
        Number of units of work.
    desc : str
        Label shown before the bar.
    progress : bool or None
        ``True``: show one (tqdm must be installed); ``False``: none; ``None``:
        show one when stderr is a terminal and tqdm is installed.
    unit : str
        Name of a unit of work.
    initial : int
        Units already done (a resumed run).

    Returns
    -------
    tqdm.tqdm or None
    """
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if progress:
            raise ImportError(
                "progress=True needs tqdm: pip install 'trilat[progress]' (or pip install tqdm)"
            ) from None
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False, file=sys.stderr)


class _NoBar:
    """Stands in for a tqdm bar that is not shown: every method does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def progress(
    total: int, desc: str, show: bool | None, *, unit: str = "it", initial: int = 0
) -> Iterator[Any]:
    """:func:`progress_bar` as a block: yields the bar (or a stand-in that does nothing when
    none is shown) and closes it on leaving, also on an error."""
    pbar = progress_bar(total, desc, show, unit=unit, initial=initial)
    try:
        yield _NoBar() if pbar is None else pbar
    finally:
        if pbar is not None:
            pbar.close()
