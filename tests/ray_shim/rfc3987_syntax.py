"""Hides the optional ``rfc3987_syntax`` from the processes the tests start (tests/conftest.py puts this
folder on their PYTHONPATH; see tests/runs/test_ray.py for the Ray cluster's): ``jsonschema`` imports it
when present and builds its grammar at import time, about 1 s of CPU in every process that imports
nbformat, papermill, jupyter_server or Ray, and enough to make Ray's dashboard agent miss the raylet's
hard-coded 15 s start-up deadline on a busy machine."""

raise ImportError("rfc3987_syntax is hidden from the processes the tests start")
