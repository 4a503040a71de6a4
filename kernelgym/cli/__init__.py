"""The ``kernelgym`` command line (``kernelgym.cli:app``): one module per command group; tables and
progress bars live here, not in the library."""
# isort: skip_file

from kernelgym.cli._common import app

# importing a command module registers its commands; this order is the order of `kernelgym --help`
from kernelgym.cli import run, report, view, grade, data, tasks, imports, export  # noqa: E402,F401

__all__ = ["app"]
