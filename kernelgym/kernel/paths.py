"""Where kernelgym keeps its files. Shared by host and kernel side; imports nothing else."""

from __future__ import annotations

import os
from pathlib import Path


def kernelgym_home() -> Path:
    """The folder for built data and task stores: ``$KERNELGYM_HOME``, default ``~/.cache/kernelgym``."""
    env = os.environ.get("KERNELGYM_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kernelgym"


def dataset_dir(name: str) -> Path:
    """The folder of a built data set, e.g. ``dataset_dir("ehr")`` holds ``patients.parquet``, ..."""
    return kernelgym_home() / "data" / name
