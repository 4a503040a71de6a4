"""Old import paths (before the split into layers) keep working for one release, with a warning."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from kernelgym._compat import MOVED

CHECK = r"""
import importlib, json, sys, warnings
moved = json.loads(sys.argv[1])
bad = []
for old, new in sorted(moved.items()):
    try:
        importlib.import_module(new)
    except ImportError:
        continue  # an optional dependency (ray, gymnasium) is missing: nothing to alias
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    if module is not sys.modules[new]:
        bad.append(f"{old} is not {new}")
    if not any(issubclass(w.category, DeprecationWarning) and "moved to" in str(w.message) for w in caught):
        bad.append(f"{old}: no DeprecationWarning")
print(json.dumps(bad))
"""


def test_old_module_paths_import_their_new_modules_with_a_deprecation_warning() -> None:
    """In a fresh interpreter: an old path imported once is cached for the rest of a session."""
    proc = subprocess.run([sys.executable, "-c", CHECK, json.dumps(MOVED)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_every_new_home_exists() -> None:
    for new in MOVED.values():
        assert importlib.util.find_spec(new) is not None, new
