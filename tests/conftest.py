"""Shared test configuration: hypothesis profiles and markers.

Profiles, chosen by the environment variable ``TRILAT_HYPOTHESIS_PROFILE``:

- ``dev`` (default): fast, for the edit-test loop;
- ``ci``: thorough (500 examples a property, no deadline), set by ``.ci/run``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    print_blob=True,
)
settings.load_profile(os.environ.get("TRILAT_HYPOTHESIS_PROFILE", "dev"))
