"""Episode notebooks: the conventions of DESIGN.md ("Episode notebook conventions").

Every cell carries exactly one ``kernelgym-*`` tag (or papermill's ``parameters``); the notebook's
``metadata.kernelgym`` records the task, agent, episode and result; the verifier cell is locked as
nbgrader locks cells (``editable: false``, ``deletable: false``) and carries the checksum of its
canonical source.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym.profiles import kernel_name
from kernelgym.tasks import Instance, TaskSpec

SCHEMA_VERSION = 1

TAG_TASK = "kernelgym-task"
TAG_PARAMETERS = "parameters"
TAG_SETUP = "kernelgym-setup"
TAG_THOUGHT = "kernelgym-thought"
TAG_ACTION = "kernelgym-action"
TAG_VERIFIER = "kernelgym-verifier"
TAG_RESULT = "kernelgym-result"
TAGS = (TAG_TASK, TAG_PARAMETERS, TAG_SETUP, TAG_THOUGHT, TAG_ACTION, TAG_VERIFIER, TAG_RESULT)

VERIFIERS: dict[str, str] = {
    "answer": (
        "# kernelgym verifier (locked): reports the submitted answer as evidence; graded on the host.\n"
        "try:\n"
        "    import kernelgym.kernel.verify as _kg_verify\n"
        "    _kg_verify.emit_answer_evidence()\n"
        "except BaseException as _kg_error:  # a verifier never raises: no evidence is a failed grade\n"
        "    try:\n"
        "        print(f'kernelgym verifier failed: {_kg_error!r}')\n"
        "    except BaseException:\n"
        "        pass"
    ),
}


def verifier_source(spec_or_name: TaskSpec | str) -> str:
    """The canonical source of a verifier cell."""
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.verifier
    return VERIFIERS[name]


def checksum(source: str) -> str:
    """sha256 of a cell's canonical source (line endings and trailing space normalised)."""
    canon = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()


def python_literal(value: Any) -> str:
    """A Python expression for a JSON value (``true`` -> ``True``, ``null`` -> ``None``)."""
    return repr(json.loads(json.dumps(value)))


def setup_source(inst: Instance) -> str:
    lines = ["# Inputs of this task instance"]
    for key, value in inst.inputs.items():
        if key.isidentifier():
            lines.append(f"{key} = {python_literal(value)}")
    return "\n".join(lines)


def _tagged(cell: NotebookNode, tag: str, **kg: Any) -> NotebookNode:
    cell.metadata["tags"] = [tag]
    if kg:
        cell.metadata["kernelgym"] = kg
    return cell


def new_episode_notebook(inst: Instance) -> NotebookNode:
    """A notebook holding the prompt, parameters and setup cells of an episode."""
    nb = nbformat.v4.new_notebook()
    name = kernel_name(inst.profile)
    nb.metadata["kernelspec"] = {"name": name, "display_name": f"kernelgym: {inst.profile}", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["kernelgym"] = {
        "schema_version": SCHEMA_VERSION,
        "task": {
            "id": inst.id, "family": inst.family, "category": inst.category, "split": inst.split,
            "profile": inst.profile, "dataset_fingerprint": inst.dataset_fingerprint,
        },
    }
    nb.cells.append(_tagged(nbformat.v4.new_markdown_cell(f"## Task `{inst.id}`\n\n{inst.prompt}"), TAG_TASK))
    nb.cells.append(_tagged(nbformat.v4.new_code_cell(f"task_id = {inst.id!r}"), TAG_PARAMETERS))
    nb.cells.append(_tagged(nbformat.v4.new_code_cell(setup_source(inst)), TAG_SETUP))
    return nb


def add_thought(nb: NotebookNode, text: str) -> None:
    nb.cells.append(_tagged(nbformat.v4.new_markdown_cell(text), TAG_THOUGHT))


def add_action(nb: NotebookNode, source: str, turn: int) -> int:
    nb.cells.append(_tagged(nbformat.v4.new_code_cell(source), TAG_ACTION, turn=turn))
    return len(nb.cells) - 1


def add_verifier(nb: NotebookNode, name: str) -> int:
    src = VERIFIERS[name]
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False
    _tagged(cell, TAG_VERIFIER, verifier=name, checksum=checksum(src))
    nb.cells.append(cell)
    return len(nb.cells) - 1


def add_result(nb: NotebookNode, result: dict[str, Any]) -> None:
    verdict = "PASSED" if result.get("passed") else "FAILED"
    text = (
        f"### Result: **{verdict}** (score {result.get('score', 0):g})\n\n"
        f"- answer: `{json.dumps(result.get('answer'))}`\n"
        f"- expected: `{json.dumps(result.get('expected'))}`\n"
        f"- {result.get('explanation', '')}\n"
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["editable"] = False
    nb.cells.append(_tagged(cell, TAG_RESULT))


def cells_with_tag(nb: NotebookNode, tag: str) -> list[NotebookNode]:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def write(nb: NotebookNode, path: Path) -> None:
    """Validate and write atomically (a killed run never leaves half a notebook)."""
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def read(path: Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)
