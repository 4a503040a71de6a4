"""The ``kernelgym`` command line (``kernelgym.cli:app``): one module per command group; tables and
progress bars live here, not in the library."""

from kernelgym.cli import data, export, grade, imports, report, run, tasks  # noqa: E402,F401  (register the commands)
from kernelgym.cli._common import app

__all__ = ["app"]
