"""The ``kernelgym`` command line (``kernelgym.cli:app``): one module per command group; tables and
progress bars live here, not in the library."""
# isort: skip_file

from kernelgym.cli._common import app

# importing a command module registers its commands; this order is the order of `kernelgym --help`
from kernelgym.cli import run, report, view, grade, data, tasks, imports, export  # noqa: E402,F401

__all__ = ["app", "main"]


def main() -> None:
    """The ``kernelgym`` command (``python -m kernelgym`` too)."""
    import sys

    # jsonschema (under nbformat) builds ~40 parser grammars when it is imported and the optional
    # rfc3987_syntax is installed (Jupyter's event schemas pull it in): 1.2 s of CPU in every process.
    # kernelgym checks no IRI formats, so its own command does without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    from kernelgym._libc import fix_mmap_threshold

    fix_mmap_threshold()  # big temporary arrays (results indexes) go back to the system when freed
    app(prog_name="kernelgym")
