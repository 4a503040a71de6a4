"""Hides the optional ``rfc3987_syntax`` from the test Ray cluster's processes (see tests/test_ray.py):
``jsonschema`` imports it when present and builds its grammar at import time, which can make Ray's
dashboard agent miss the raylet's hard-coded 15 s start-up deadline on a busy machine."""

raise ImportError("rfc3987_syntax is hidden from the test Ray cluster")
