"""trilat._threads: the one cap on native thread pools."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from trilat._threads import limit_threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_limit_threads_caps_blas_and_restores_it():
    np.linalg.eigh(np.eye(3))  # make sure numpy's BLAS is loaded
    before = _blas_threads()
    assert before, "numpy's BLAS should be visible to threadpoolctl"
    with limit_threads(1):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    with limit_threads(None):  # no cap: left alone
        assert _blas_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_limit_threads_refuses_bad_counts(bad):
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        limit_threads(bad)
