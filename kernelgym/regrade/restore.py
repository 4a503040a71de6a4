"""Stages 1-2 of ``kernelgym grade``: validate a notebook, find its task, restore its canonical cells.

As nbgrader restores locked cells, the parameters, setup and verifier cells are replaced by the
task's canonical ones (the verifier placed last), every cell claiming to be a verifier, a header or a
result is dropped, and what was changed after the fact is said in ``tamper_reasons``: a verifier missing or
differing by checksum, a forged header or result cell, an action cell whose source no longer matches the
checksum recorded when it ran, a deleted or added cell, a recorded result its own answer does not
support.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.grading import Grade, grade, grade_function
from kernelgym.kernel import ANSWER_MIME
from kernelgym.kernel.mime import VERDICT_MIME
from kernelgym.notebook import starter
from kernelgym.notebook.readers import (
    INJECTED_PARAMETERS,
    PAPERMILL_ERROR_TAG,
    assigned_task_id,
    evidence_of,
    kernelgym_meta,
    tags_of,
)
from kernelgym.regrade.records import NO_VERIFIER_STOPS, GradeError
from kernelgym.runtime.profiles import notebook_kernelspec, notebook_language_info
from kernelgym.tasks import Instance, get_instance


def _regrade_answer(inst: Instance, answer: Any) -> Grade:
    """Grade a recorded answer (what ``metadata.kernelgym.result.answer`` claims was submitted)."""
    if inst.verifier == "function":
        return grade_function({"defined": True, "outputs": answer}, list(inst.ground_truth or []), inst.grader)
    return grade(answer, inst.ground_truth, inst.grader)


def same_answer(inst: Instance, a: Any, b: Any) -> bool:
    if json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str):
        return True
    if a is None or b is None:
        return False
    if inst.verifier == "function":
        return grade_function({"defined": True, "outputs": a}, list(b or []), inst.grader).passed
    return grade(a, b, inst.grader).passed


def read_notebook(path: Path) -> NotebookNode:
    """Read (safely: a regular file under the size cap, see :func:`kernelgym.notebook.io.read_bytes`) and
    validate a notebook; blocking. Raises :class:`GradeError`."""
    try:
        nb: NotebookNode = nbk.read(path)
    except nbk.NotebookFileError as exc:
        raise GradeError(f"refused: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - JSON, encoding, schema version errors
        raise GradeError(f"not a readable notebook: {type(exc).__name__}: {exc}") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError:
        try:
            nbformat.validator.normalize(nb)  # e.g. cell ids missing in an older minor version
            nbformat.validate(nb)
        except Exception as exc:  # noqa: BLE001
            raise GradeError(f"not a valid notebook: {str(exc).splitlines()[0]}") from None
    return nb


def _same_source(a: str, b: str) -> bool:
    return nbk.checksum(a) == nbk.checksum(b)


_TASK_HEADING = re.compile(r"\s*##\s*Task\s*`([^`]+)`")


def _named_task_ids(nb: NotebookNode) -> set[str]:
    """Every task id the notebook names anywhere: metadata, parameters and injected cells, task heading."""
    ids = {((nb.metadata.get("kernelgym", {}) or {}).get("task") or {}).get("id")}
    for cell in nb.cells:
        tags = tags_of(cell)
        if cell.cell_type == "code" and (nbk.TAG_PARAMETERS in tags or INJECTED_PARAMETERS in tags):
            ids.add(assigned_task_id(cell.source))
        elif nbk.TAG_TASK in tags and (m := _TASK_HEADING.match(cell.source)):
            ids.add(m.group(1))
    return {i for i in ids if isinstance(i, str) and i}


@dataclass
class _Checksums:
    """Checks the checksums recorded with an episode's action and verifier cells against the task graded.

    Schema 2 notebooks bind the task id into them (:func:`kernelgym.notebook.checksum`); one that matches
    with another task id the notebook names means the notebook was re-labelled. Schema 1 notebooks
    (written before the task id was bound) are checked on their source alone, as they always were: a
    re-labelled one is caught only by the other checks (parameters cell vs metadata, canonical setup
    and verifier cells, the recorded expected answer). A schema 2 notebook whose ``schema_version``
    was lowered to 1 gains nothing: its task-bound checksums match no source-only checksum.
    """

    task_id: str
    bound: bool
    others: set[str]
    checked: int = 0
    matched: int = 0
    bound_to: set[str] = field(default_factory=set)

    def ok(self, recorded: object, source: str) -> bool:
        """Whether ``recorded`` is the checksum of ``source`` for the task graded (counted either way)."""
        self.checked += 1
        if recorded == nbk.checksum(source, self.task_id) or (not self.bound and recorded == nbk.checksum(source)):
            self.matched += 1
            return True
        moved = {i for i in self.others if recorded == nbk.checksum(source, i)}
        self.bound_to |= moved
        return bool(moved)  # the cell itself is intact: one reason for the whole notebook says the rest

    def reasons(self) -> list[str]:
        if self.bound_to:
            was = ", ".join(repr(i) for i in sorted(self.bound_to))
            return [f"the task id was changed after the episode: the checksums of its cells bind task {was}, "
                    f"the notebook now names {self.task_id!r}"]
        if self.bound and self.checked >= 2 and self.matched == 0:
            return [f"the task id was changed after the episode (or every checksummed cell was edited): none of the "
                    f"{self.checked} checksums recorded with its cells matches task {self.task_id!r}"]
        return []


def digest(outputs: Iterable[dict[str, Any]]) -> list[Any]:
    """What is compared between recorded and replayed outputs (streams merged, no counts or timings)."""
    out: list[Any] = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            if out and out[-1][0] == "stream" and out[-1][1] == o.get("name"):
                out[-1] = ("stream", o.get("name"), out[-1][2] + o.get("text", ""))
            else:
                out.append(("stream", o.get("name"), o.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {})
            out.append(("data", data.get("text/plain"), json.dumps(data.get(ANSWER_MIME), sort_keys=True)))
        elif kind == "error":
            out.append(("error", o.get("ename")))
    return out


@dataclass
class Prepared:
    """A notebook made ready to execute, with what was found while restoring it."""

    nb: NotebookNode
    inst: Instance
    kind: str
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recorded_result: dict[str, Any] | None = None
    recorded_answer: Any = None
    has_recorded_answer: bool = False
    claimed_passed: bool | None = None
    recorded_outputs: dict[str, list[Any]] = field(default_factory=dict)
    """Cell id -> digest of the outputs it had, for the code cells that will run."""


def _as_code(cell: NotebookNode, source: str) -> NotebookNode:
    """``cell`` with ``source`` (a code cell with the same metadata if it was not one)."""
    if cell.cell_type != "code":
        new: NotebookNode = nbformat.v4.new_code_cell(source)
        new.metadata = cell.metadata
        return new
    cell.source = source
    return cell


def _kind(nb: NotebookNode) -> str:
    meta = nb.metadata.get("kernelgym", {}) or {}
    if meta.get("kind") == starter.KIND:
        return starter.KIND
    if "episode" in meta or any("checksum" in kernelgym_meta(c) for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)):
        return "episode"
    return "notebook"


def _find_task(nb: NotebookNode) -> tuple[str, str | None, list[str], list[str]]:
    """(task id to grade, the id the notebook was written for if it differs, tamper reasons, warnings)."""
    meta = nb.metadata.get("kernelgym", {}) or {}
    meta_id = (meta.get("task") or {}).get("id")
    param_ids = [assigned_task_id(c.source) for c in nb.cells if nbk.TAG_PARAMETERS in tags_of(c) and c.cell_type == "code"]
    injected_ids = [assigned_task_id(c.source) for c in nb.cells if INJECTED_PARAMETERS in tags_of(c) and c.cell_type == "code"]
    param_id = next((i for i in reversed(param_ids) if i), None)
    injected_id = next((i for i in reversed(injected_ids) if i), None)
    reasons: list[str] = []
    warnings: list[str] = []
    original = param_id or meta_id
    if param_id and meta_id and param_id != meta_id:
        reasons.append(f"the parameters cell names task {param_id!r} but the metadata names {meta_id!r}")
    task_id = injected_id or param_id or meta_id
    if not task_id:
        raise GradeError("no task id: neither a parameters cell assigning task_id nor metadata.kernelgym.task.id")
    if injected_id and original and injected_id != original:
        pm_params = (nb.metadata.get("papermill", {}) or {}).get("parameters", {}) or {}
        if pm_params.get("task_id") == injected_id:
            warnings.append(f"re-parameterised by papermill: task {original!r} -> {injected_id!r}")
        else:
            reasons.append(f"an injected-parameters cell names task {injected_id!r} without papermill having recorded it")
    return task_id, (original if original != task_id else None), reasons, warnings


def prepare(nb: NotebookNode) -> Prepared:
    """Restore the canonical cells of ``nb`` (a copy is returned) and collect tampering evidence.

    Raises :class:`GradeError` when the notebook names no known task.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy as NotebookNode
    task_id, original_id, reasons, warnings = _find_task(nb)
    try:
        inst = get_instance(task_id)
    except KeyError as exc:
        raise GradeError(f"unknown task {task_id!r}: {exc.args[0] if exc.args else exc}") from None
    original = None
    if original_id:
        try:
            original = get_instance(original_id)
        except KeyError:
            reasons.append(f"the notebook was written for an unknown task {original_id!r}")
    kind = _kind(nb)
    # outputs recorded by a papermill run with injected parameters belong to the task graded here
    reparameterised = any(w.startswith("re-parameterised by papermill") for w in warnings)
    meta = nb.metadata.setdefault("kernelgym", {})
    prep = Prepared(nb=nb, inst=inst, kind=kind, reasons=reasons, warnings=warnings)
    strict = kind == "episode"

    if kind == starter.KIND and ("episode" in meta or "agent" in meta):
        reasons.append("a starter notebook carries an agent episode record")
    fp = (meta.get("task") or {}).get("dataset_fingerprint")
    if fp and inst.dataset_fingerprint and fp != inst.dataset_fingerprint and not original_id:
        warnings.append("the notebook was recorded on another data set (dataset fingerprint differs)")

    result = meta.get("result")
    if isinstance(result, dict) and not original_id:
        prep.recorded_result = dict(result)
        if "answer" in result:
            prep.recorded_answer, prep.has_recorded_answer = result.get("answer"), True
        if isinstance(result.get("passed"), bool):
            prep.claimed_passed = result["passed"]
        if "expected" in result and fp == inst.dataset_fingerprint and not same_answer(inst, result["expected"], inst.ground_truth):
            reasons.append("the recorded expected answer is not the task's ground truth")
        if prep.claimed_passed and prep.recorded_answer is not None and not _regrade_answer(inst, prep.recorded_answer).passed:
            reasons.append("metadata claims passed, but its own recorded answer fails the grader")

    # canonical sources this notebook may legitimately hold
    insts = [inst] + ([original] if original is not None else [])
    ok_setup = {nbk.checksum(f(i)) for i in insts for f in (nbk.setup_source, starter.setup_source)}
    ok_verifier = {nbk.checksum(f(i)) for i in insts for f in (nbk.verifier_source, starter.verifier_source)}
    header_md = nbk.header_markdown(meta)

    cells: list[NotebookNode] = []
    params_at = setup_at = None
    verifiers = results = record_cells = headers = 0
    verifier_seen = False
    turns: list[int] = []
    checksummed = sum(1 for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION) if "checksum" in kernelgym_meta(c))
    sums = _Checksums(inst.id, bound=kind != starter.KIND and nbk.checksums_bind_task(nb),
                      others=_named_task_ids(nb) - {inst.id})
    edited: list[str] = []
    for cell in nb.cells:
        tags = tags_of(cell)
        kg = kernelgym_meta(cell)
        code = cell.cell_type == "code"
        if PAPERMILL_ERROR_TAG in tags or INJECTED_PARAMETERS in tags:
            continue
        if nbk.TAG_PARAMETERS in tags:
            if params_at is not None:
                reasons.append("more than one parameters cell")
                continue
            pid = assigned_task_id(cell.source)
            if not code or pid is None or not _same_source(cell.source, f"task_id = {pid!r}") and not _same_source(cell.source, f"task_id = {json.dumps(pid)}"):
                (reasons if strict else warnings).append("the parameters cell holds more than the task id")
            params_at = len(cells)
            cells.append(_as_code(cell, f"task_id = {inst.id!r}"))
            continue
        if nbk.TAG_SETUP in tags:
            if setup_at is not None:
                reasons.append("more than one setup cell")
                continue
            if nbk.checksum(cell.source) not in ok_setup:
                reasons.append("the setup cell was edited")
            setup_at = len(cells)
            cells.append(_as_code(cell, nbk.setup_source(inst)))
            continue
        if nbk.TAG_VERIFIER in tags or "verifier" in kg:
            verifiers += 1
            verifier_seen = True
            if nbk.TAG_VERIFIER not in tags:
                reasons.append("a cell claims to be a verifier (dropped)")
            elif nbk.checksum(cell.source) not in ok_verifier:
                reasons.append("the verifier cell differs from the task's canonical verifier")
            elif "checksum" in kg and not (
                # a starter's locked verifier names its task in its source: its checksum covers the source only
                sums.ok(kg["checksum"], cell.source) if kind != starter.KIND else kg["checksum"] == nbk.checksum(cell.source)
            ):
                edited.append("the verifier cell's recorded checksum was changed")
            elif verifiers == 1 and (not original_id or reparameterised):
                records = evidence_of(cell)
                if len(records) == 1 and not prep.has_recorded_answer:
                    answer, _ = inst.verdict(records)
                    prep.recorded_answer, prep.has_recorded_answer = answer, True
            if verifiers == 2:
                reasons.append("more than one verifier cell")
            continue
        if nbk.TAG_HEADER in tags:
            headers += 1
            if code or cell.source.strip() != header_md.strip():
                reasons.append("a forged header cell (dropped)")
            if headers == 2:
                reasons.append("more than one header cell")
            continue
        if nbk.TAG_RECORD in tags or (not code and (nbk.TAG_RESULT in tags or "verdict" in kg)):
            # the recorded result: a kernelgym-record cell (schema 3) or, before, a markdown kernelgym-result
            record_cells += 1
            legacy = nbk.TAG_RECORD not in tags
            if code or not nbk.is_result_record(cell.source, prep.recorded_result, legacy=legacy):
                reasons.append("a forged result cell (dropped)")
            if record_cells == 2:
                reasons.append("more than one result cell")
            continue
        if nbk.TAG_RESULT in tags or "verdict" in kg:
            # the result cell that grades each execution (code): its canonical source only
            results += 1
            legit = _same_source(cell.source, starter.VERDICT_SOURCE) or _same_source(cell.source, nbk.RESULT_SOURCE)
            if not legit:
                reasons.append("a forged result cell (dropped)")
            elif not original_id or reparameterised:
                for out in cell.get("outputs", []):
                    claim = out.get("data", {}).get(VERDICT_MIME) if isinstance(out.get("data"), dict) else None
                    if isinstance(claim, dict) and isinstance(claim.get("passed"), bool) and prep.claimed_passed is None:
                        prep.claimed_passed = claim["passed"]
            if results == 2:
                reasons.append("more than one result cell")
            continue
        if code:
            if nbk.TAG_ACTION in tags:
                turn = kg.get("turn")
                if isinstance(turn, int):
                    turns.append(turn)
                if "checksum" in kg:
                    if not sums.ok(kg["checksum"], cell.source):
                        where = f"turn {turn}" if isinstance(turn, int) else "an action cell"
                        edited.append(f"action cell ({where}) was edited after the episode (source checksum differs)")
                elif strict and checksummed:
                    reasons.append("an action cell without a recorded checksum (added after the episode?)")
            elif strict:
                reasons.append("a code cell that is not part of the episode (added after the fact)")
            if verifier_seen and strict:
                reasons.append("a code cell after the verifier")
            prep.recorded_outputs[cell.get("id", "")] = digest(cell.get("outputs", []))
        cells.append(cell)

    heading = next((m.group(1) for c in nbk.cells_with_tag(nb, nbk.TAG_TASK) if (m := _TASK_HEADING.match(c.source))), None)
    if strict and heading and heading != inst.id and not reparameterised:
        reasons.append(f"the task cell names task {heading!r}, the notebook now names {inst.id!r}")
    task_reasons = sums.reasons()
    # every checksum failing at once is said once, as a changed task id, rather than cell by cell
    reasons.extend(task_reasons if task_reasons and not sums.bound_to else task_reasons + edited)

    if params_at is None:
        if strict or kind == starter.KIND:
            reasons.append("the parameters cell is missing")
        param_cell = nbformat.v4.new_code_cell(f"task_id = {inst.id!r}")
        param_cell.metadata["tags"] = [nbk.TAG_PARAMETERS]
        lead = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
        cells.insert(lead, param_cell)
        params_at = lead
        if setup_at is not None and setup_at >= lead:
            setup_at += 1
    if setup_at is None:
        if strict or kind == starter.KIND:
            reasons.append("the setup cell is missing")
        setup_cell = nbformat.v4.new_code_cell(nbk.setup_source(inst))
        setup_cell.metadata["tags"] = [nbk.TAG_SETUP]
        cells.insert(params_at + 1, setup_cell)
    stop = (meta.get("episode") or {}).get("stop_reason")
    if verifiers == 0 and (strict or kind == starter.KIND) and stop not in NO_VERIFIER_STOPS:
        reasons.append("the verifier cell is missing")
    if strict:
        recorded_turns = ((meta.get("episode") or {}).get("turns"))
        if isinstance(recorded_turns, int) and sorted(turns) != list(range(1, recorded_turns + 1)):
            reasons.append(
                f"action cells deleted, added or duplicated (turns present {sorted(turns)}, the episode recorded {recorded_turns})"
            )

    for cell in cells:  # nothing stale survives: cells that do not run keep no outputs
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.cells = cells
    nbk.add_verifier(nb, inst.verifier, inst.verifier_args, task_id=inst.id)
    nb.metadata["kernelspec"] = notebook_kernelspec(inst.profile)
    nb.metadata["language_info"] = notebook_language_info()
    prep.reasons = list(dict.fromkeys(reasons))
    prep.warnings = list(dict.fromkeys(warnings))
    return prep
