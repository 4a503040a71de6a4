"""Starter notebooks: a task as a notebook a person solves in JupyterLab (``kernelgym notebook``).

A starter has the cells of an episode notebook, with an empty solution cell where the agent's cells
would be::

    kernelgym-task        markdown: the prompt and how to solve, run and grade it
    parameters            task_id = '<id>'            (papermill's parameters cell)
    kernelgym-setup       the task's inputs, embedded (locked)
    kernelgym-action      the solution cell (tagged raises-exception too)
    kernelgym-verifier    runs the task's verifier, emits the evidence (locked)
    kernelgym-result      the host-side grader's verdict on that evidence (locked)

Every cell derives from ``task_id``. The setup and verifier cells embed what they need for the task
the notebook was written for, so that task runs in any kernel, sandboxed or not. Run with another
``task_id``, and for the verdict, they ask the host side (:mod:`kernelgym.jupyter.host_answers`).
This module only builds and rewrites starters; it executes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym.notebook import cells as nbk
from kernelgym.notebook.io import write
from kernelgym.tasks import Instance, get_instance, slug

KIND = "starter"


VERDICT_SOURCE = (
    "# kernelgym verdict (locked): the host-side grader's verdict on the evidence above.\n"
    "# `kernelgym grade` ignores this cell: it re-executes the notebook and grades it on the host.\n"
    "try:\n"
    "    import kernelgym.kernel.starter as _kg_starter\n"
    "    _kg_starter.show_verdict(task_id)\n"
    "except BaseException as _kg_error:\n"
    "    print(f'kernelgym verdict unavailable: {_kg_error!r}')"
)


SOLUTION_SOURCE = "# Your solution: compute the answer, then call submit(answer)\n"


def verifier_spec(inst: Instance) -> dict[str, Any]:
    """``{"verifier": name, "args": {...}}`` of an instance (what the starter's verifier cell embeds)."""
    return {"verifier": inst.verifier, "args": dict(inst.verifier_args)}


def setup_source(inst: Instance) -> str:
    """The starter's setup cell for ``inst``: its inputs embedded, another task id asks the host."""
    return (
        "# kernelgym setup (locked): the inputs of the task named by `task_id`\n"
        "import kernelgym.kernel.starter as _kg_starter\n"
        f"globals().update(_kg_starter.task_inputs(task_id, {nbk.python_literal({inst.id: inst.inputs})}))"
    )


def verifier_source(inst: Instance) -> str:
    """The starter's verifier cell for ``inst``: runs the task's verifier and keeps its evidence."""
    return (
        "# kernelgym verifier (locked): runs the verifier of the task named by `task_id`; graded on the host\n"
        "try:\n"
        "    import kernelgym.kernel.starter as _kg_starter\n"
        f"    _kg_starter.verify(task_id, {nbk.python_literal({inst.id: verifier_spec(inst)})})\n"
        "except BaseException as _kg_error:  # a verifier never raises\n"
        "    print(f'kernelgym verifier failed: {_kg_error!r}')"
    )


def _instructions(inst: Instance) -> str:
    return (
        "---\n"
        "*How to solve:* write your code in the solution cell below (add more cells there if you like, "
        "above the verifier) and end with `submit(answer)`. The data of the "
        f"`{inst.profile}` profile are preloaded; the task's inputs are set by the setup cell. "
        "Run all cells: the last one shows the verdict of the host-side grader.\n\n"
        f"*Batch runs:* `papermill this.ipynb out.ipynb -p task_id {inst.id}` (any task id of the "
        "same profile works). *Grading:* `kernelgym grade this.ipynb`, which re-executes the notebook "
        "in a fresh kernel and grades it on the host."
    )


def _lock(cell: NotebookNode, **kg: Any) -> NotebookNode:
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False
    cell.metadata.setdefault("kernelgym", {}).update(kg, checksum=nbk.checksum(cell.source))
    return cell


def _code(source: str, tag: str) -> NotebookNode:
    cell: NotebookNode = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


def new_starter_notebook(inst: Instance) -> NotebookNode:
    """The starter notebook of ``inst`` (see the module docstring for its cells)."""
    nb = nbk.new_episode_notebook(inst)
    nb.metadata["kernelgym"]["kind"] = KIND
    task = nbk.cells_with_tag(nb, nbk.TAG_TASK)[0]
    task.source += "\n\n" + _instructions(inst)
    setup = nbk.cells_with_tag(nb, nbk.TAG_SETUP)[0]
    setup.source = setup_source(inst)
    _lock(setup)
    solution = _code(SOLUTION_SOURCE, nbk.TAG_ACTION)
    solution.metadata["tags"].append(nbk.TAG_RAISES)  # a failing solution still reaches the verifier
    nb.cells.append(solution)
    nb.cells.append(_lock(_code(verifier_source(inst), nbk.TAG_VERIFIER), verifier=KIND))
    nb.cells.append(_lock(_code(VERDICT_SOURCE, nbk.TAG_RESULT), verdict=True))
    nbformat.validate(nb)
    return nb


def is_starter(nb: NotebookNode) -> bool:
    return (nb.metadata.get("kernelgym", {}) or {}).get("kind") == KIND


def retarget(nb: NotebookNode, task_id: str) -> bool:
    """Rewrite a starter's setup and verifier cells for ``task_id`` (on the host, before execution).

    What papermill's kernelgym engine does for ``-p task_id OTHER``; returns whether anything changed.
    """
    inst = get_instance(task_id)
    changed = False
    for tag, source in ((nbk.TAG_SETUP, setup_source(inst)), (nbk.TAG_VERIFIER, verifier_source(inst))):
        for cell in nbk.cells_with_tag(nb, tag):
            if cell.source != source:
                cell.source = source
                cell.metadata.setdefault("kernelgym", {})["checksum"] = nbk.checksum(source)
                changed = True
    return changed


def write_starter(task_id: str, path: Path | None = None) -> Path:
    """Write the starter notebook of ``task_id`` (default: ``<task id slug>.ipynb`` here)."""
    inst = get_instance(task_id)
    target = path or Path(f"{slug(inst.id)}.ipynb")
    write(new_starter_notebook(inst), target)
    return target
