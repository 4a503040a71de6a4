"""The host side of starter notebooks: what a starter's cells may ask the host, and the verdict.

A starter's setup and verifier cells embed what they need for the task the notebook was written for.
Run with another ``task_id``, and for the verdict, they ask the host: over the host channel of the
kernel's provisioner (:mod:`kernelgym.jupyter.host_channel`; kernels a person starts with plain
papermill or in JupyterLab) or, in an unsandboxed kernel, through ``python -m
kernelgym.jupyter.host_answers task|verifier|verdict TASK_ID``. Kernels that kernelgym starts itself
have neither; kernelgym's papermill engine (``papermill --engine kernelgym``) instead rewrites the
cells on the host before execution (:func:`kernelgym.notebook.starter.retarget`) and grades the
evidence on the host after it (:func:`write_host_verdict`).

The ground truth never enters a kernel; the host only says passed or failed. ``kernelgym grade``
trusts none of it: it swaps in the canonical cells of the task, re-executes the notebook and grades
the evidence on the host.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.kernel.starter import verdict_bundle
from kernelgym.notebook import markdown as md
from kernelgym.tasks import get_instance


def task_record(task_id: str) -> dict[str, Any]:
    """What the setup cell may know: the public part of the task."""
    info = get_instance(task_id).public()
    return {"id": info.id, "prompt": info.prompt, "inputs": info.inputs, "profile": info.profile}


def verifier_record(task_id: str) -> dict[str, Any]:
    """The canonical verifier source of the task (what an episode's verifier cell holds)."""
    return {"source": nbk.verifier_source(get_instance(task_id))}


def verdict_record(task_id: str, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Passed or failed for ``evidence``, graded on the host; says nothing of the expected answer."""
    inst = get_instance(task_id)
    answer, verdict = inst.verdict(evidence)
    if len(evidence) != 1:
        summary = md.escape(verdict.explanation)
    elif inst.verifier == "function":
        summary = f"{verdict.score:.0%} of the hidden inputs handled correctly"
    elif not evidence[0].get("submitted"):
        summary = "no answer was submitted: end your solution with `submit(answer)`"
    else:  # the answer is untrusted: a code span nothing in it can close
        summary = f"submitted {md.code_span(json.dumps(answer))}; compared as {md.escape(inst.grader.describe())}"
    return {"task_id": inst.id, "passed": verdict.passed, "score": verdict.score, "summary": summary}


def write_host_verdict(nb: NotebookNode, task_id: str) -> dict[str, Any] | None:
    """Grade the evidence of an executed starter or episode notebook on the host and put the verdict in
    its (code) result cell, replacing what the kernel could say there."""
    verifiers = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    results = [c for c in nbk.cells_with_tag(nb, nbk.TAG_RESULT) if c.cell_type == "code"]
    if not verifiers or not results:
        return None
    verdict = verdict_record(task_id, nbk.evidence_of(verifiers[-1]))
    verdict["via"] = "papermill-engine"
    verdict["by"] = "kernelgym's grader, outside the kernel, after papermill ran the notebook"
    results[-1].outputs = [nbformat.v4.new_output("display_data", data=verdict_bundle(verdict))]
    return verdict


def main(argv: list[str] | None = None) -> int:
    """``python -m kernelgym.jupyter.host_answers {task|verifier|verdict} TASK_ID`` (verdict: evidence JSON on stdin)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("task", "verifier", "verdict"):
        print("usage: python -m kernelgym.jupyter.host_answers {task|verifier|verdict} TASK_ID", file=sys.stderr)
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
        print(f"kernelgym.jupyter.host_answers: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
