"""The numba kernels against the numpy/scipy pipelines: ``python benchmarks/kernels.py``.

The same as ``trilat bench`` (the code lives in :mod:`trilat.bench`, which is
installed with the package); arguments are passed on, e.g. ``--quick``.
"""

from trilat.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
