"""Reading and writing notebook files (validated; written atomically)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode


def write(nb: NotebookNode, path: Path, *, validate: bool = True) -> None:
    """Validate (unless told not to) and write atomically: a killed run or a full disk never leaves half
    a notebook, an empty one, or the temporary file it was written to."""
    if validate:
        nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        nbformat.write(nb, str(tmp))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read(path: Path) -> NotebookNode:
    """Read a notebook file as nbformat v4."""
    nb: NotebookNode = nbformat.read(str(path), as_version=4)
    return nb
