"""Episode notebook cells: the conventions of DESIGN.md ("Episode notebook conventions").

Every cell carries exactly one ``kernelgym-*`` tag (or papermill's ``parameters``); the notebook's
``metadata.kernelgym`` records the task, agent, episode and result; the verifier cell is locked as
nbgrader locks cells (``editable: false``, ``deletable: false``) and carries the checksum of its
canonical source.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.corpus.words import generate_corpus_id as random_cell_id

from kernelgym.notebook import markdown as md
from kernelgym.runtime.profiles import notebook_kernelspec, notebook_language_info
from kernelgym.tasks import Instance, TaskSpec

SCHEMA_VERSION = 3
"""Version of ``metadata.kernelgym``. 3: a header cell (``kernelgym-header``: the episode's facts and
its recorded result), turn-labelled thought cells (the model's own text in ``metadata.kernelgym.text``),
the recorded result in a markdown cell of its own (``kernelgym-record``) and a result cell
(``kernelgym-result``) that is code: it recomputes the verdict whenever the notebook is executed.
2: the checksums of action and verifier cells cover the task id
as well as the source (:func:`checksum` with ``task_id``), so a notebook re-labelled to another task no
longer matches them. 1: they covered the source only."""
TASK_BOUND_SCHEMA = 2
"""The first schema version whose episode checksums bind the task id."""

TAG_HEADER = "kernelgym-header"
TAG_TASK = "kernelgym-task"
TAG_PARAMETERS = "parameters"
TAG_SETUP = "kernelgym-setup"
TAG_THOUGHT = "kernelgym-thought"
TAG_ACTION = "kernelgym-action"
TAG_VERIFIER = "kernelgym-verifier"
TAG_RECORD = "kernelgym-record"
TAG_RESULT = "kernelgym-result"
TAGS = (TAG_HEADER, TAG_TASK, TAG_PARAMETERS, TAG_SETUP, TAG_THOUGHT, TAG_ACTION, TAG_VERIFIER, TAG_RECORD, TAG_RESULT)
TAG_RAISES = "raises-exception"
"""nbclient/papermill tag, added beside ``kernelgym-action`` on action cells that raised."""

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
    # rendered per instance: {name} and {inputs} become Python literals (the hidden inputs appear
    # only here, in a cell that runs after the agent is done)
    "function": (
        "# kernelgym verifier (locked): calls your function on hidden inputs and reports its outputs\n"
        "# as evidence; graded on the host.\n"
        "try:\n"
        "    import kernelgym.kernel.verify as _kg_verify\n"
        "    _kg_verify.emit_function_evidence({name}, {inputs})\n"
        "except BaseException as _kg_error:  # a verifier never raises: no evidence is a failed grade\n"
        "    try:\n"
        "        print('kernelgym verifier failed: ' + repr(_kg_error))\n"
        "    except BaseException:\n"
        "        pass"
    ),
}


def render_verifier(name: str, args: dict[str, Any] | None = None) -> str:
    """The source of verifier ``name`` for one instance (``args``: its hidden verifier inputs)."""
    template = VERIFIERS[name]
    if name == "function":
        args = args or {}
        return template.replace("{name}", python_literal(str(args.get("name", "")))).replace(
            "{inputs}", python_literal(list(args.get("inputs", [])))
        )
    return template


def verifier_source(spec_or_name: TaskSpec | Instance | str) -> str:
    """The canonical source of a verifier cell (an :class:`Instance` renders its hidden inputs)."""
    if isinstance(spec_or_name, Instance):
        return render_verifier(spec_or_name.verifier, spec_or_name.verifier_args)
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.verifier
    return VERIFIERS[name]


def checksum(source: str, task_id: str | None = None) -> str:
    """sha256 of a cell's canonical source (line endings and trailing space normalised).

    With ``task_id``, of the task id and the source: what episode notebooks record for their action
    and verifier cells (schema 2), so that a cell moved to, or a notebook re-labelled as, another task
    no longer matches. Without, of the source alone (starter notebooks, whose locked cells name their
    task in their source, and episode notebooks of schema 1).
    """
    canon = "\n".join(line.rstrip() for line in source.strip().splitlines())
    if task_id is not None:
        canon = f"task_id = {json.dumps(task_id)}\n{canon}"
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()


def checksums_bind_task(nb: NotebookNode) -> bool:
    """Whether the checksums of ``nb``'s action and verifier cells cover its task id (schema >= 2)."""
    version = (nb.metadata.get("kernelgym", {}) or {}).get("schema_version")
    return isinstance(version, int) and not isinstance(version, bool) and version >= TASK_BOUND_SCHEMA


def _task_id_of(nb: NotebookNode) -> str:
    task_id = ((nb.metadata.get("kernelgym", {}) or {}).get("task") or {}).get("id")
    if not isinstance(task_id, str) or not task_id:
        raise ValueError("the notebook has no metadata.kernelgym.task.id: pass task_id")
    return task_id


def python_literal(value: Any) -> str:
    """A Python expression for a JSON value (``true`` -> ``True``, ``null`` -> ``None``)."""
    return repr(json.loads(json.dumps(value)))


def setup_source(inst: Instance) -> str:
    """The source of an episode's setup cell: the instance's inputs as Python assignments."""
    lines = ["# Inputs of this task instance"]
    for key, value in inst.inputs.items():
        if key.isidentifier():
            lines.append(f"{key} = {python_literal(value)}")
    return "\n".join(lines)


def tagged(cell: NotebookNode, tag: str, **kg: Any) -> NotebookNode:
    """Give ``cell`` the one kernelgym tag ``tag`` (and ``metadata.kernelgym`` ``kg``); returns it."""
    cell.metadata["tags"] = [tag]
    if kg:
        cell.metadata["kernelgym"] = kg
    return cell


def code_cell(source: str) -> NotebookNode:
    """``nbformat.v4.new_code_cell(source)`` without its jsonschema check of the one cell (~1 ms of CPU
    each, a few per turn): every notebook is validated whole when it is written (:func:`kernelgym.notebook.write`)."""
    return NotebookNode(id=random_cell_id(), cell_type="code", metadata=NotebookNode(), execution_count=None,
                        source=source, outputs=[])


def markdown_cell(source: str) -> NotebookNode:
    """``nbformat.v4.new_markdown_cell(source)`` without its per-cell jsonschema check (see :func:`code_cell`)."""
    return NotebookNode(id=random_cell_id(), cell_type="markdown", source=source, metadata=NotebookNode())


def new_episode_notebook(inst: Instance) -> NotebookNode:
    """A notebook holding the prompt, parameters and setup cells of an episode."""
    nb: NotebookNode = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = notebook_kernelspec(inst.profile)
    nb.metadata["language_info"] = notebook_language_info()
    nb.metadata["kernelgym"] = {
        "schema_version": SCHEMA_VERSION,
        "task": {
            "id": inst.id, "family": inst.family, "category": inst.category, "split": inst.split,
            "profile": inst.profile, "dataset_fingerprint": inst.dataset_fingerprint,
            **({"source": inst.source.model_dump()} if inst.source is not None else {}),
        },
    }
    nb.cells.append(tagged(markdown_cell(f"## Task `{inst.id}`\n\n{inst.prompt}"), TAG_TASK))
    nb.cells.append(tagged(code_cell(f"task_id = {inst.id!r}"), TAG_PARAMETERS))
    nb.cells.append(tagged(code_cell(setup_source(inst)), TAG_SETUP))
    return nb


def thought_markdown(turn: int, text: str | None, note: str | None = None) -> str:
    """The markdown of turn ``turn``'s label cell: "Turn 3 — thought" and the model's text (escaped:
    it is untrusted), or "Turn 3 — action" for a turn without text; ``note`` (markdown) below it."""
    head = f"**Turn {turn} — thought**" if text else f"**Turn {turn} — action**"
    body = f"{head}\n\n{md.escape(text)}" if text else head
    return f"{body}\n\n*{note}*" if note else body


def add_thought(nb: NotebookNode, text: str | None, turn: int) -> int:
    """Append the label cell of turn ``turn``: the agent's text (``None``: a turn without text) under
    the label "Turn N — thought". The text as the model wrote it stays in ``metadata.kernelgym.text``
    (what exports read); returns the cell's index."""
    cell = markdown_cell(thought_markdown(turn, text))
    nb.cells.append(tagged(cell, TAG_THOUGHT, turn=turn, text=text or None))
    return len(nb.cells) - 1


def add_action(nb: NotebookNode, source: str, turn: int, *, task_id: str | None = None) -> int:
    """Append an action cell for turn ``turn``; returns its index.

    Its checksum covers the source as it ran and the task id (default: the notebook's
    ``metadata.kernelgym.task.id``), so `kernelgym grade` flags a cell edited afterwards and a
    notebook re-labelled as another task.
    """
    digest = checksum(source, task_id or _task_id_of(nb))
    nb.cells.append(tagged(code_cell(source), TAG_ACTION, turn=turn, checksum=digest))
    return len(nb.cells) - 1


def add_verifier(nb: NotebookNode, name: str, args: dict[str, Any] | None = None, *, task_id: str | None = None) -> int:
    """Append the locked verifier cell (its checksum recorded, covering the task id as
    :func:`add_action`'s does); returns its index."""
    src = render_verifier(name, args)
    cell = code_cell(src)
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False
    tagged(cell, TAG_VERIFIER, verifier=name, checksum=checksum(src, task_id or _task_id_of(nb)))
    nb.cells.append(cell)
    return len(nb.cells) - 1


def index_of_tag(nb: NotebookNode, tag: str) -> int:
    """The index of the first cell tagged ``tag`` (e.g. the setup cell an episode runs first)."""
    return next(i for i, cell in enumerate(nb.cells) if tag in cell.get("metadata", {}).get("tags", []))


def cells_with_tag(nb: NotebookNode, tag: str) -> list[NotebookNode]:
    """The cells of ``nb`` tagged ``tag``, in order."""
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
