"""Where kernelgym's shipped resources are: ``task_specs/`` and ``kernels/`` (source checkout or wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The installed ``kernelgym/`` folder (the sandbox and the fork server find kernel-side code from it)."""


def resource_dir(name: Literal["task_specs", "kernels"]) -> Path:
    """The project's ``task_specs/`` or ``kernels/`` folder (source checkout or installed wheel)."""
    for candidate in (PACKAGE_ROOT.parent / name, PACKAGE_ROOT / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kernelgym's {name}/ folder is missing from {PACKAGE_ROOT.parent}; reinstall kernelgym")
