"""Reading what an executed notebook holds: evidence and answers in outputs, tags, the task id."""

from __future__ import annotations

import ast
from typing import Any

from nbformat import NotebookNode

from kernelgym.kernel import ANSWER_MIME, EVIDENCE_MIME
from kernelgym.notebook.cells import TAG_PARAMETERS

INJECTED_PARAMETERS = "injected-parameters"
"""Tag of the cell papermill inserts after ``parameters`` for ``-p NAME VALUE``."""
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
"""Tag of the markdown cells papermill inserts around a cell that raised."""


def tags_of(cell: NotebookNode) -> list[str]:
    """A cell's tags (a copy)."""
    return list(cell.get("metadata", {}).get("tags", []) or [])


def kernelgym_meta(cell: NotebookNode) -> dict[str, Any]:
    """A cell's ``metadata.kernelgym`` (empty when missing or not a mapping)."""
    value = cell.get("metadata", {}).get("kernelgym", {})
    return value if isinstance(value, dict) else {}


def _records(cell: NotebookNode, mime: str) -> list[dict[str, Any]]:
    return [
        out["data"][mime]
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("display_data", "execute_result")
        and isinstance(out.get("data", {}).get(mime), dict)
    ]


def evidence_of(cell: NotebookNode) -> list[dict[str, Any]]:
    """Every evidence record a verifier cell emitted in its outputs."""
    return _records(cell, EVIDENCE_MIME)


def answers_of(cell: NotebookNode) -> list[Any]:
    """The values ``submit()`` announced in a cell's outputs, in order."""
    return [rec.get("answer") for rec in _records(cell, ANSWER_MIME)]


def assigned_task_id(source: str) -> str | None:
    """The last string literal assigned to ``task_id`` at the top level of ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = None
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "task_id" for t in targets):
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found = value.value
    return found


def notebook_task_id(nb: NotebookNode) -> str | None:
    """The task id a notebook runs: the last ``task_id`` of its parameters or papermill-injected cells,
    else ``metadata.kernelgym.task.id``."""
    found = None
    for cell in nb.cells:
        tags = tags_of(cell)
        if cell.cell_type == "code" and (TAG_PARAMETERS in tags or INJECTED_PARAMETERS in tags):
            found = assigned_task_id(cell.source) or found
    return found or ((nb.metadata.get("kernelgym", {}) or {}).get("task") or {}).get("id")
