"""Grading notebooks (``kernelgym grade``): re-execute episode and starter notebooks, grade on the host.

For every notebook:

1. **Validate** it (nbformat) and find its task: the ``task_id`` of the parameters cell (or of a
   papermill ``injected-parameters`` cell) and ``metadata.kernelgym.task.id``. If they disagree
   without papermill having re-parameterised the notebook, it is flagged tampered.
2. **Restore** the canonical cells, as nbgrader restores locked cells: the parameters cell, the
   setup cell (the instance's inputs) and the verifier cell (the task's canonical verifier, placed
   last). Every cell that claims to be a verifier or a result is dropped. A verifier that was
   missing or differs from the canonical one (by checksum), a forged result cell, an action cell
   whose source no longer matches the checksum recorded when it ran, a deleted or added cell, a
   recorded result that its own answer does not support: each is flagged (``tamper_reasons``).
3. **Execute** it with papermill, in a fresh kernel of the task's profile (``kernelgym-<profile>``),
   with the ``kernelgym`` papermill engine: every cell runs even after a cell raised, a cell is
   interrupted after ``cell_timeout`` and the kernel is killed after ``timeout``.
4. **Grade** the evidence of the restored verifier cell on the host, against the ground truth that
   never enters the kernel; compare the replayed answer with the recorded one (``reproducible``);
   a recorded ``passed: true`` that the replay does not confirm is flagged.
5. **Write** the graded notebook (a fresh result cell, ``metadata.kernelgym.result`` and
   ``metadata.kernelgym.grade``) and one line of ``grades.jsonl``.

The grade is always what the code in the notebook really does when run; the tamper flags say what
was changed after the fact. Many notebooks are graded concurrently (papermill runs in worker
threads, supervised by asyncio); one that fails, hangs or kills its kernel never stops the others.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from pydantic import BaseModel, Field

from kernelgym import notebook as nbk
from kernelgym import starter
from kernelgym.grading import Grade, grade, grade_evidence
from kernelgym.kernel import ANSWER_MIME, EVIDENCE_MIME
from kernelgym.tasks import Instance, get_instance
from kernelgym.tempdirs import owned_tempdir, sweep

GRADES = "grades.jsonl"
INJECTED_PARAMETERS = "injected-parameters"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
VERDICT_MIME = "application/vnd.kernelgym.verdict+json"
NO_VERIFIER_STOPS = ("kernel_died", "timeout_killed", "kernel_start_failed")
"""Episodes that end this way had no kernel left to run a verifier in: none was recorded."""


class GradeError(ValueError):
    """A notebook cannot be graded at all (unreadable, invalid, no or unknown task id)."""


class GradeRecord(BaseModel):
    """One line of ``grades.jsonl``."""

    task_id: str | None
    notebook: str
    graded_notebook: str | None = None
    passed: bool = False
    score: float = 0.0
    answer: Any = None
    expected: Any = None
    explanation: str = ""
    reproducible: bool | None = Field(
        default=None, description="replayed answer == recorded answer; None if the notebook recorded none"
    )
    recorded_answer: Any = None
    claimed_passed: bool | None = None
    tampered: bool = False
    tamper_reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    diverged_cells: list[int] = Field(
        default_factory=list, description="code cells whose replayed outputs differ from the recorded ones"
    )
    kind: str | None = Field(default=None, description="episode | starter | notebook")
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class GradeOptions:
    """How notebooks are graded."""

    concurrency: int = 2
    timeout: float = 600.0
    """Wall-clock seconds per notebook (kernel start included); past it the kernel is killed."""
    cell_timeout: float | None = None
    """Seconds before a cell is interrupted (default: the notebook timeout)."""
    start_timeout: float = 120.0
    progress: bool = True


# ---------------------------------------------------------------- evidence -> grade
# (the rule itself, exactly one evidence record, is kernelgym.grading.grade_evidence)


def _regrade_answer(inst: Instance, answer: Any) -> Grade:
    """Grade a recorded answer (what ``metadata.kernelgym.result.answer`` claims was submitted)."""
    if getattr(inst, "verifier", "answer") == "function":
        from kernelgym.grading import grade_function

        return grade_function({"defined": True, "outputs": answer}, list(inst.ground_truth or []), inst.grader)
    return grade(answer, inst.ground_truth, inst.grader)


def _same_answer(inst: Instance, a: Any, b: Any) -> bool:
    if json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str):
        return True
    if a is None or b is None:
        return False
    if getattr(inst, "verifier", "answer") == "function":
        from kernelgym.grading import grade_function

        return grade_function({"defined": True, "outputs": a}, list(b or []), inst.grader).passed
    return grade(a, b, inst.grader).passed


def evidence_of(cell: NotebookNode) -> list[dict[str, Any]]:
    """Every evidence record in a cell's outputs."""
    return [
        out["data"][EVIDENCE_MIME]
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("display_data", "execute_result")
        and isinstance(out.get("data", {}).get(EVIDENCE_MIME), dict)
    ]


# ---------------------------------------------------------------- reading and restoring


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate a notebook; raises :class:`GradeError`."""
    try:
        nb = nbformat.read(str(path), as_version=4)
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


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _kg(cell: NotebookNode) -> dict[str, Any]:
    value = cell.get("metadata", {}).get("kernelgym", {})
    return value if isinstance(value, dict) else {}


def _same_source(a: str, b: str) -> bool:
    return nbk.checksum(a) == nbk.checksum(b)


def _digest(outputs: Iterable[dict[str, Any]]) -> list[Any]:
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
        new = nbformat.v4.new_code_cell(source)
        new.metadata = cell.metadata
        return new
    cell.source = source
    return cell


def _kind(nb: NotebookNode) -> str:
    meta = nb.metadata.get("kernelgym", {}) or {}
    if meta.get("kind") == starter.KIND:
        return starter.KIND
    if "episode" in meta or any("checksum" in _kg(c) for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)):
        return "episode"
    return "notebook"


def _find_task(nb: NotebookNode) -> tuple[str, str | None, list[str], list[str]]:
    """(task id to grade, the id the notebook was written for if it differs, tamper reasons, warnings)."""
    meta = nb.metadata.get("kernelgym", {}) or {}
    meta_id = (meta.get("task") or {}).get("id")
    param_ids = [assigned_task_id(c.source) for c in nb.cells if nbk.TAG_PARAMETERS in _tags(c) and c.cell_type == "code"]
    injected_ids = [assigned_task_id(c.source) for c in nb.cells if INJECTED_PARAMETERS in _tags(c) and c.cell_type == "code"]
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
        if "expected" in result and fp == inst.dataset_fingerprint and not _same_answer(inst, result["expected"], inst.ground_truth):
            reasons.append("the recorded expected answer is not the task's ground truth")
        if prep.claimed_passed and prep.recorded_answer is not None and not _regrade_answer(inst, prep.recorded_answer).passed:
            reasons.append("metadata claims passed, but its own recorded answer fails the grader")

    # canonical sources this notebook may legitimately hold
    insts = [inst] + ([original] if original is not None else [])
    ok_setup = {nbk.checksum(f(i)) for i in insts for f in (nbk.setup_source, starter.setup_source)}
    ok_verifier = {nbk.checksum(f(i)) for i in insts for f in (nbk.verifier_source, starter.verifier_source)}
    result_md = nbk.result_markdown(prep.recorded_result) if prep.recorded_result else None

    cells: list[NotebookNode] = []
    params_at = setup_at = None
    verifiers = results = 0
    verifier_seen = False
    turns: list[int] = []
    checksummed = sum(1 for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION) if "checksum" in _kg(c))
    for cell in nb.cells:
        tags = _tags(cell)
        kg = _kg(cell)
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
            elif kg.get("checksum") not in (None, nbk.checksum(cell.source)):
                reasons.append("the verifier cell's recorded checksum was changed")
            elif verifiers == 1 and (not original_id or reparameterised):
                records = evidence_of(cell)
                if len(records) == 1 and not prep.has_recorded_answer:
                    answer, _ = grade_evidence(inst, records)
                    prep.recorded_answer, prep.has_recorded_answer = answer, True
            if verifiers == 2:
                reasons.append("more than one verifier cell")
            continue
        if nbk.TAG_RESULT in tags or "verdict" in kg:
            results += 1
            legit = (
                (not code and result_md is not None and cell.source.strip() == result_md.strip())
                or (code and _same_source(cell.source, starter.VERDICT_SOURCE))
            )
            if not legit:
                reasons.append("a forged result cell (dropped)")
            elif code and (not original_id or reparameterised):
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
                    if kg["checksum"] != nbk.checksum(cell.source):
                        where = f"turn {turn}" if isinstance(turn, int) else "an action cell"
                        reasons.append(f"action cell ({where}) was edited after the episode (source checksum differs)")
                elif strict and checksummed:
                    reasons.append("an action cell without a recorded checksum (added after the episode?)")
            elif strict:
                reasons.append("a code cell that is not part of the episode (added after the fact)")
            if verifier_seen and strict:
                reasons.append("a code cell after the verifier")
            prep.recorded_outputs[cell.get("id", "")] = _digest(cell.get("outputs", []))
        cells.append(cell)

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
    nbk.add_verifier(nb, getattr(inst, "verifier", "answer"), getattr(inst, "verifier_args", None))
    nb.metadata["kernelspec"] = {
        "name": _kernel_name(inst), "display_name": f"kernelgym: {inst.profile}", "language": "python",
    }
    prep.reasons = list(dict.fromkeys(reasons))
    prep.warnings = list(dict.fromkeys(warnings))
    return prep


def _kernel_name(inst: Instance) -> str:
    from kernelgym.profiles import kernel_name

    return kernel_name(inst.profile)


# ---------------------------------------------------------------- execution


class KernelStartFailed(RuntimeError):
    """The kernel of the task's profile did not start."""


def execute(
    nb: NotebookNode, kernel_name: str, workdir: Path, options: GradeOptions, handle: Any
) -> NotebookNode:
    """Execute ``nb`` with papermill (engine ``kernelgym``) in a fresh kernel; blocking.

    The kernel runs in ``workdir/cwd``; the input notebook and the kernel's stderr stay outside it.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from kernelgym import papermill_engine

    papermill_engine.register()
    cwd = workdir / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    source = workdir / "input.ipynb"
    nbformat.write(nb, str(source))
    log_path = workdir / "kernel.log"
    with open(log_path, "w") as log:
        try:
            return papermill.execute_notebook(
                str(source), None, kernel_name=kernel_name, engine_name=papermill_engine.ENGINE_NAME,
                progress_bar=False, request_save_on_cell_execute=False,
                start_timeout=int(options.start_timeout),
                execution_timeout=options.cell_timeout or options.timeout,
                notebook_timeout=options.timeout, handle=handle, kernel_stderr=log, starter_hooks=False,
                resources={"metadata": {"path": str(cwd)}},
            )
        except PapermillExecutionError:
            # raised after every cell ran, because some cell holds an error: the evidence decides
            assert handle.nb is not None
            return handle.nb
        except Exception as exc:
            if handle.cells_run or handle.timed_out or handle.dead_at is not None:
                raise
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-8:]) if log_path.is_file() else ""
            raise KernelStartFailed(f"the {kernel_name} kernel did not start: {type(exc).__name__}: {exc}\n{tail}".strip()) from exc


def _clean_papermill_markers(nb: NotebookNode) -> None:
    nb.cells = [c for c in nb.cells if PAPERMILL_ERROR_TAG not in _tags(c)]


def finish(
    prep: Prepared,
    executed: NotebookNode | None,
    *,
    source: Path,
    error: str | None,
    handle: Any = None,
) -> tuple[GradeRecord, NotebookNode]:
    """Grade the executed notebook and build its record and graded notebook."""
    inst = prep.inst
    nb = executed if executed is not None else prep.nb
    _clean_papermill_markers(nb)
    verifiers = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    evidence = evidence_of(verifiers[-1]) if verifiers else []
    if handle is not None and error is None:
        if handle.timed_out:
            error = "timed out: the notebook ran past its time limit and its kernel was killed"
        elif handle.dead_at is not None:
            error = f"the kernel died while running cell {handle.dead_at}"
    answer, verdict = grade_evidence(inst, evidence)
    if error and not evidence:
        verdict = verdict.model_copy(update={"explanation": f"{verdict.explanation} ({error})"})
    reasons = list(prep.reasons)
    completed = len(evidence) == 1
    reproducible = None
    if prep.has_recorded_answer and completed:
        reproducible = _same_answer(inst, answer, prep.recorded_answer)
    elif prep.has_recorded_answer:
        reproducible = False
    if prep.claimed_passed and completed and not verdict.passed:
        reasons.append("claims passed, but the re-executed notebook fails")
    diverged = [
        idx for idx, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and prep.recorded_outputs.get(cell.get("id", ""))
        and _digest(cell.get("outputs", [])) != prep.recorded_outputs[cell.get("id", "")]
    ]
    reasons = list(dict.fromkeys(reasons))
    record = GradeRecord(
        task_id=inst.id, notebook=str(source), passed=verdict.passed, score=verdict.score, answer=answer,
        expected=inst.ground_truth, explanation=verdict.explanation, reproducible=reproducible,
        recorded_answer=prep.recorded_answer, claimed_passed=prep.claimed_passed, tampered=bool(reasons),
        tamper_reasons=reasons, warnings=prep.warnings, diverged_cells=diverged, kind=prep.kind, error=error,
    )
    nbk.mark_errored_actions(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and nbk.TAG_ACTION not in _tags(cell) and any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ) and nbk.TAG_VERIFIER not in _tags(cell):
            cell.metadata.setdefault("tags", []).append(nbk.TAG_RAISES)
    result = {
        "passed": verdict.passed, "score": verdict.score, "answer": answer, "expected": inst.ground_truth,
        "explanation": verdict.explanation, "grader": inst.grader.model_dump(),
    }
    nbk.add_result(nb, result)
    meta = nb.metadata.setdefault("kernelgym", {})
    meta["result"] = result
    meta["grade"] = {
        "graded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": str(source), "tampered": record.tampered, "tamper_reasons": reasons,
        "warnings": record.warnings, "reproducible": reproducible, "diverged_cells": diverged,
        "recorded_result": prep.recorded_result, "error": error,
    }
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        pm["input_path"] = str(source)
        pm["output_path"] = None
    return record, nb


# ---------------------------------------------------------------- batches


def find_notebooks(paths: Iterable[Path], exclude: Path | None = None) -> list[Path]:
    """Every ``.ipynb`` named or under the folders named (checkpoints and ``exclude`` skipped)."""
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for p in paths:
        if p.is_dir():
            for q in sorted(p.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in q.parts or q.name.startswith("."):
                    continue
                if skip is not None and skip in q.resolve().parents:
                    continue
                found.append(q)
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def _output_names(files: Sequence[Path]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for f in files:
        stem = f.stem
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(f"{stem}.ipynb" if n == 0 else f"{stem}__{n + 1}.ipynb")
    return names


async def grade_notebook(
    path: Path, out_path: Path | None, options: GradeOptions, pool: ThreadPoolExecutor | None = None
) -> GradeRecord:
    """Grade one notebook; never raises for what is in the notebook."""
    from kernelgym.papermill_engine import ExecutionHandle

    t0 = time.monotonic()
    try:
        prep = prepare(read_notebook(path))
    except GradeError as exc:
        return GradeRecord(task_id=None, notebook=str(path), error=str(exc), duration_s=round(time.monotonic() - t0, 3))
    except Exception as exc:  # noqa: BLE001 - e.g. the task store cannot be built
        return GradeRecord(task_id=None, notebook=str(path), error=f"{type(exc).__name__}: {exc}", duration_s=round(time.monotonic() - t0, 3))
    loop = asyncio.get_running_loop()
    workdir = owned_tempdir("grade")
    handle = ExecutionHandle()
    executed: NotebookNode | None = None
    error: str | None = None
    try:
        fut = loop.run_in_executor(pool, execute, prep.nb, _kernel_name(prep.inst), workdir, options, handle)
        try:
            # the engine enforces the timeout itself; this is the backstop if the engine is stuck
            executed = await asyncio.wait_for(asyncio.shield(fut), options.timeout + options.start_timeout + 30)
        except TimeoutError:
            handle.timed_out = True
            handle.kill()
            try:
                executed = await asyncio.wait_for(asyncio.shield(fut), 15)
            except TimeoutError:
                error = "the notebook's execution could not be stopped (its worker thread was abandoned)"
    except KernelStartFailed as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken notebook never stops the batch
        error = f"execution failed: {type(exc).__name__}: {exc}"
        executed = handle.nb
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        record, graded = finish(prep, executed, source=path, error=error, handle=handle)
        if out_path is not None:
            try:
                nbk.write(graded, out_path)
            except Exception:  # noqa: BLE001 - keep the graded notebook even if some output is odd
                out_path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(graded, str(out_path))
            record.graded_notebook = str(out_path)
    except Exception as exc:  # noqa: BLE001
        record = GradeRecord(task_id=prep.inst.id, notebook=str(path), error=f"grading failed: {type(exc).__name__}: {exc}",
                             tampered=bool(prep.reasons), tamper_reasons=prep.reasons, kind=prep.kind)
    record.duration_s = round(time.monotonic() - t0, 3)
    return record


async def grade_paths_async(
    paths: Sequence[Path],
    out_dir: Path,
    options: GradeOptions | None = None,
    on_done: Callable[[GradeRecord], None] | None = None,
) -> list[GradeRecord]:
    """Grade every notebook of ``paths`` into ``out_dir``; returns the records in input order.

    ``out_dir/grades.jsonl`` gets one line per notebook as it finishes, and is rewritten in input
    order at the end.
    """
    opts = options or GradeOptions()
    sweep()  # temp folders of runs killed with SIGKILL (never those of a running process)
    files = find_notebooks(paths, exclude=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _output_names(files)
    grades_path = out_dir / GRADES
    records: list[GradeRecord | None] = [None] * len(files)
    pool = ThreadPoolExecutor(max_workers=max(1, opts.concurrency), thread_name_prefix="kernelgym-grade")
    sem = asyncio.Semaphore(max(1, opts.concurrency))
    with open(grades_path, "w") as fh:

        async def one(i: int, path: Path) -> None:
            async with sem:
                rec = await grade_notebook(path, out_dir / names[i], opts, pool)
            records[i] = rec
            fh.write(rec.model_dump_json() + "\n")
            fh.flush()
            if on_done is not None:
                on_done(rec)

        try:
            await asyncio.gather(*(one(i, p) for i, p in enumerate(files)))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    done = [r for r in records if r is not None]
    tmp = out_dir / f".{GRADES}.tmp"
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in done))
    tmp.replace(grades_path)
    return done


def grade_paths(paths: Sequence[Path], out_dir: Path, options: GradeOptions | None = None) -> list[GradeRecord]:
    """Synchronous wrapper of :func:`grade_paths_async`."""
    return asyncio.run(grade_paths_async(paths, out_dir, options))


def read_grades(out_dir: Path) -> list[GradeRecord]:
    """The records of ``out_dir/grades.jsonl``."""
    path = out_dir / GRADES
    return [GradeRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- summary


def summarize(records: Sequence[GradeRecord]) -> dict[str, Any]:
    """Totals overall and per task category."""

    def agg(rs: list[GradeRecord]) -> dict[str, Any]:
        durations = [r.duration_s for r in rs]
        return {
            "notebooks": len(rs), "passed": sum(r.passed for r in rs),
            "reproducible": sum(r.reproducible is True for r in rs),
            "not_reproducible": sum(r.reproducible is False for r in rs),
            "tampered": sum(r.tampered for r in rs), "errors": sum(r.error is not None for r in rs),
            "median_s": round(statistics.median(durations), 3) if durations else 0.0,
        }

    by_cat: dict[str, list[GradeRecord]] = defaultdict(list)
    for r in records:
        key = "/".join(r.task_id.split("/")[:2]) if r.task_id else "(no task)"
        by_cat[key].append(r)
    return {"total": agg(list(records)), "categories": {k: agg(v) for k, v in sorted(by_cat.items())}}


def summary_table(records: Sequence[GradeRecord]) -> Any:
    """A rich table: per category, then the notebooks that were tampered with or could not be graded."""
    from rich.console import Group
    from rich.table import Table

    summary = summarize(records)
    table = Table(title="kernelgym grade")
    table.add_column("category", overflow="fold", min_width=16)
    for col in ("n", "passed", "reprod.", "tampered", "errors", "median s"):
        table.add_column(col, justify="right", no_wrap=True)

    def row(name: str, s: dict[str, Any], bold: bool = False) -> None:
        cells = [name, str(s["notebooks"]), f"{s['passed']} {s['passed'] / max(1, s['notebooks']):.0%}",
                 f"{s['reproducible']}" + (f" ({s['not_reproducible']} no)" if s["not_reproducible"] else ""),
                 str(s["tampered"]), str(s["errors"]), f"{s['median_s']:.2f}"]
        table.add_row(*[f"[bold]{c}[/bold]" for c in cells] if bold else cells)

    for name, s in summary["categories"].items():
        row(name, s)
    row("all", summary["total"], bold=True)
    flagged = [r for r in records if r.tampered or r.error]
    if not flagged:
        return table
    issues = Table(title="flagged notebooks", show_lines=False)
    issues.add_column("notebook", overflow="fold")
    issues.add_column("passed", justify="right")
    issues.add_column("why", overflow="fold")
    for r in flagged:
        why = "; ".join(r.tamper_reasons + ([f"error: {r.error.splitlines()[0]}"] if r.error else []))
        issues.add_row(os.path.basename(r.notebook), "yes" if r.passed else "no", why)
    return Group(table, issues)


def run_with_progress(
    paths: Sequence[Path], out_dir: Path, options: GradeOptions, console: Any = None
) -> list[GradeRecord]:
    """:func:`grade_paths_async` with a live progress bar (what ``kernelgym grade`` runs)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or Console(stderr=True)
    total = len(find_notebooks(paths, exclude=out_dir))
    progress = Progress(
        TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), TextColumn("passed {task.fields[passed]}"),
        TextColumn("tampered {task.fields[tampered]}"), TimeElapsedColumn(),
        console=console, disable=not options.progress, transient=False,
    )
    with progress:
        bar = progress.add_task("grading", total=total, passed=0, tampered=0)
        counts = {"passed": 0, "tampered": 0}

        def on_done(rec: GradeRecord) -> None:
            counts["passed"] += rec.passed
            counts["tampered"] += rec.tampered
            progress.update(bar, advance=1, **counts)

        return asyncio.run(grade_paths_async(paths, out_dir, options, on_done=on_done))
