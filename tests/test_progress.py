"""trilat._progress: one progress bar for Monte Carlo, compare, sweeps and training."""

from __future__ import annotations

import sys

import pytest

from trilat._progress import progress, progress_bar


def test_no_bar_unless_asked_or_on_a_terminal(monkeypatch):
    assert progress_bar(10, "x", False) is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_bar(10, "x", None) is None


def test_bar_when_asked_for(capsys):
    pytest.importorskip("tqdm")
    bar = progress_bar(4, "work", True, unit="stage", initial=1)
    bar.update(3)
    assert bar.n == 4 and bar.total == 4
    bar.close()
    assert "work" in capsys.readouterr().err


def test_asking_without_tqdm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"trilat\[progress\]"):
        progress_bar(10, "x", True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_bar(10, "x", None) is None  # not asked for: quietly none


def test_the_block_form_closes_its_bar_and_stands_in_when_none_is_shown(capsys):
    with progress(5, "quiet", False) as pbar:
        pbar.update(2)  # a stand-in: no bar, no output, no error
        pbar.set_postfix(loss=1.0)
    assert capsys.readouterr().err == ""
    pytest.importorskip("tqdm")
    with pytest.raises(RuntimeError), progress(5, "loud", True, unit="step", initial=1) as pbar:
        pbar.update(1)
        shown = pbar
        raise RuntimeError("the work failed")
    assert shown.n == 2 and shown.disable  # closed on the way out of the failed block
