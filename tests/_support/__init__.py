"""Test helpers shared by several test files: references and derived tolerances, no tests.

- ``theorem_bounds``: rounding-error bounds for the recovery of ``mu`` (derived, not tuned);
- ``mp_reference``: mpmath references (50 digits) for the special functions;
- ``gru_reference``: a small torch GRU module and the same network in numpy;
- ``quadrant_reference``: the expected quadrant r^2 of a least-squares decoder.
"""
