"""Reading and writing notebook files (validated; written atomically)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode


def write(nb: NotebookNode, path: Path) -> None:
    """Validate and write atomically (a killed run never leaves half a notebook)."""
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def read(path: Path) -> NotebookNode:
    """Read a notebook file as nbformat v4."""
    nb: NotebookNode = nbformat.read(str(path), as_version=4)
    return nb
