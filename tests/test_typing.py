"""The core packages type-check under ``mypy --strict`` (the files are listed in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from helpers.paths import REPO


def test_core_packages_pass_mypy_strict() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
