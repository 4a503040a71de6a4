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
``task_id``, and for the verdict, they ask the host side: over the host channel of the kernel's
provisioner (:mod:`kernelgym.host_channel`; kernels a person starts with plain papermill or in
JupyterLab) or, in an unsandboxed kernel, through ``python -m kernelgym.starter task|verifier|verdict
TASK_ID``. Kernels that kernelgym starts itself have neither; kernelgym's papermill engine
(``papermill --engine kernelgym``) instead rewrites the cells on the host before execution
(:func:`retarget`) and grades the evidence on the host after it (:func:`write_host_verdict`).

The ground truth never enters a kernel; the host only says passed or failed. ``kernelgym grade``
trusts none of it: it swaps in the canonical cells of the task, re-executes the notebook and grades
the evidence on the host.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym import notebook as nbk
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
    return {"verifier": getattr(inst, "verifier", "answer"), "args": dict(getattr(inst, "verifier_args", {}) or {})}


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
    cell = nbformat.v4.new_code_cell(source)
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


def notebook_task_id(nb: NotebookNode) -> str | None:
    """The task id a notebook runs: the last ``task_id`` of its parameters or papermill-injected cells."""
    from kernelgym.grade import INJECTED_PARAMETERS, assigned_task_id

    found = None
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", []) or []
        if cell.cell_type == "code" and (nbk.TAG_PARAMETERS in tags or INJECTED_PARAMETERS in tags):
            found = assigned_task_id(cell.source) or found
    return found or ((nb.metadata.get("kernelgym", {}) or {}).get("task") or {}).get("id")


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


def write_host_verdict(nb: NotebookNode, task_id: str) -> dict[str, Any] | None:
    """Grade the evidence of an executed starter on the host and put the verdict in its result cell."""
    from kernelgym.grade import evidence_of
    from kernelgym.kernel.starter import verdict_bundle

    verifiers = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    results = [c for c in nbk.cells_with_tag(nb, nbk.TAG_RESULT) if c.cell_type == "code"]
    if not verifiers or not results:
        return None
    verdict = verdict_record(task_id, evidence_of(verifiers[-1]))
    verdict["by"] = "host (papermill engine)"
    results[-1].outputs = [nbformat.v4.new_output("display_data", data=verdict_bundle(verdict))]
    return verdict


def write_starter(task_id: str, path: Path | None = None) -> Path:
    """Write the starter notebook of ``task_id`` (default: ``<task id slug>.ipynb`` here)."""
    inst = get_instance(task_id)
    target = path or Path(f"{slug(inst.id)}.ipynb")
    nbk.write(new_starter_notebook(inst), target)
    return target


# ---------------------------------------------------------------- host side of the starter's cells


def task_record(task_id: str) -> dict[str, Any]:
    """What the setup cell may know: the public part of the task."""
    info = get_instance(task_id).public()
    return {"id": info.id, "prompt": info.prompt, "inputs": info.inputs, "profile": info.profile}


def verifier_record(task_id: str) -> dict[str, Any]:
    """The canonical verifier source of the task (what an episode's verifier cell holds)."""
    return {"source": nbk.verifier_source(get_instance(task_id))}


def verdict_record(task_id: str, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Passed or failed for ``evidence``, graded on the host; says nothing of the expected answer."""
    from kernelgym.grading import grade_evidence

    inst = get_instance(task_id)
    answer, verdict = grade_evidence(inst, evidence)
    if len(evidence) != 1:
        summary = verdict.explanation
    elif getattr(inst, "verifier", "answer") == "function":
        summary = f"{verdict.score:.0%} of the hidden inputs handled correctly"
    elif not evidence[0].get("submitted"):
        summary = "no answer was submitted: end your solution with `submit(answer)`"
    else:
        summary = f"submitted `{json.dumps(answer)}`; compared as {inst.grader.describe()}"
    return {"task_id": inst.id, "passed": verdict.passed, "score": verdict.score, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    """``python -m kernelgym.starter {task|verifier|verdict} TASK_ID`` (verdict: evidence JSON on stdin)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("task", "verifier", "verdict"):
        print("usage: python -m kernelgym.starter {task|verifier|verdict} TASK_ID", file=sys.stderr)
        return 2
    command, task_id = args
    try:
        if command == "task":
            out = task_record(task_id)
        elif command == "verifier":
            out = verifier_record(task_id)
        else:
            evidence = json.loads(sys.stdin.read() or "[]")
            if not isinstance(evidence, list):
                raise ValueError("the evidence must be a JSON list of records")
            out = verdict_record(task_id, evidence)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        print(f"kernelgym.starter: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
