"""Run folders for the viewer's tests and benchmark, written without a kernel: from the golden episode
notebooks (real outputs of real episodes), with a hostile episode beside them, or synthetic
``results.jsonl`` files of any size."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import nbformat

from helpers.paths import TESTS
from kernelgym import notebook as nbk
from kernelgym.episode import EpisodeResult
from kernelgym.runs.manifest import (
    AgentConfig, EpisodeLimits, RunConfig, RunManifest, Selection, write_manifest,
)

GOLDEN = TESTS / "data" / "golden"
HOSTILE_ID = 'golden/<b>bold</b>/<img src=x onerror="alert(1)">'
HOSTILE_ANSWER = "<script>alert('answer')</script><img src=x onerror=alert(2)>"
HOSTILE_HTML = ("<b id='kernel-bold'>kernel HTML</b><script>parent.document.title='pwned';alert(3)</script>"
                "<img src=x onerror=\"alert(4)\">")
HOSTILE_PROMPT = "Find the <script>alert(5)</script> needle-in-prompt value."


def golden(name: str) -> nbformat.NotebookNode:
    return nbk.read(GOLDEN / f"{name}.ipynb")


def _record(nb: nbformat.NotebookNode, rel: str | None, *, rollout: int, model: str, **override: Any) -> str:
    meta = nb.metadata.kernelgym
    fields: dict[str, Any] = dict(
        task_id=meta.task.id, family=meta.task.family, category=meta.task.category, split=meta.task.split,
        rollout=rollout, agent=meta.agent.name, model=model, passed=meta.result.passed, score=meta.result.score,
        answer=meta.result.answer, expected=meta.result.expected, explanation=meta.result.explanation,
        turns=meta.episode.turns, stop_reason=meta.episode.stop_reason, duration_s=meta.episode.duration_s,
        started_at=meta.episode.start_time, notebook=rel,
        usage={"prompt_tokens": 900 + 10 * rollout, "completion_tokens": 100, "total_tokens": 1000 + 10 * rollout},
    )
    fields.update(override)
    return EpisodeResult(**fields).model_dump_json()


def hostile_notebook() -> nbformat.NotebookNode:
    """The failed golden episode with markup everywhere a model or a kernel can put it."""
    nb = copy.deepcopy(golden("failed"))
    nb.metadata.kernelgym.task.id = HOSTILE_ID
    for cell in nb.cells:
        tags = nbk.tags_of(cell)
        if nbk.TAG_TASK in tags:
            cell.source = f"## Task `{HOSTILE_ID}`\n\n{HOSTILE_PROMPT}"
        if nbk.TAG_THOUGHT in tags:
            cell.source = "Thinking <script>alert(6)</script> aloud."
            cell.metadata.setdefault("kernelgym", {})["text"] = cell.source  # what the viewer shows of a thought
    action = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0]
    action.outputs.append(nbformat.v4.new_output("display_data", data={"text/html": HOSTILE_HTML,
                                                                       "text/plain": "<HTML object>"}))
    action.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                 text="".join(f"line {i} of a long output\n" for i in range(400))))
    return nb


def golden_runs(root: Path) -> tuple[Path, Path]:
    """Two runs of the golden tasks by two models.

    Run ``a`` (model ``model-a``): golden/sum/00000 in three rollouts (passed, failed, kernel died),
    golden/double/00000 passed, the hostile episode failed, one record whose ``notebook`` field
    points outside the run folder (at a file that exists) and one whose notebook is a symlink to it.
    Run ``b`` (model ``model-b``): golden/sum/00000 failed twice, golden/double/00000 failed, and an
    agent_error episode without a notebook; its ``run.json`` says agent ``llm``, model ``model-b``.
    """
    a, b = root / "a", root / "b"
    for run in (a, b):
        (run / "episodes").mkdir(parents=True)
    outside = root / "outside.ipynb"
    nbk.write(golden("passed"), outside)
    lines = []
    for rollout, name in enumerate(("passed", "failed", "kernel_died")):
        nbk.write(copy.deepcopy(golden(name)), a / "episodes" / f"sum__r{rollout}.ipynb")
        lines.append(_record(golden(name), f"episodes/sum__r{rollout}.ipynb", rollout=rollout, model="model-a"))
    nbk.write(golden("function_passed"), a / "episodes" / "double__r0.ipynb")
    lines.append(_record(golden("function_passed"), "episodes/double__r0.ipynb", rollout=0, model="model-a"))
    nbk.write(hostile_notebook(), a / "episodes" / "hostile__r0.ipynb", validate=False)
    lines.append(_record(hostile_notebook(), "episodes/hostile__r0.ipynb", rollout=0, model="model-a",
                         category="<b>cat</b>", answer=HOSTILE_ANSWER))
    lines.append(_record(golden("passed"), "../outside.ipynb", rollout=0, model="model-a", task_id="golden/escape/00000",
                         category="escape"))
    (a / "episodes" / "link__r0.ipynb").symlink_to(outside)
    lines.append(_record(golden("passed"), "episodes/link__r0.ipynb", rollout=0, model="model-a",
                         task_id="golden/link/00000", category="link"))
    (a / "results.jsonl").write_text("\n".join(lines) + "\n")
    (a / "summary.json").write_text(json.dumps({"run": {"agent": "scripted", "model": "model-a",
                                                        "agent_options": {"temperature": 0.0}, "suite": "golden"}}))
    lines = []
    for rollout in (0, 1):
        nbk.write(copy.deepcopy(golden("failed")), b / "episodes" / f"sum__r{rollout}.ipynb")
        lines.append(_record(golden("failed"), f"episodes/sum__r{rollout}.ipynb", rollout=rollout, model="model-b",
                             answer=12 + rollout))
    nbk.write(golden("function_passed"), b / "episodes" / "double__r0.ipynb")
    lines.append(_record(golden("function_passed"), "episodes/double__r0.ipynb", rollout=0, model="model-b",
                         passed=False, score=0.0, answer=[4, -2, 1]))
    lines.append(_record(golden("failed"), None, rollout=0, model="model-b", task_id="golden/sum/00001",
                         stop_reason="agent_error", passed=False, score=0.0, answer=None, error="RuntimeError: boom",
                         traceback="Traceback (most recent call last):\nRuntimeError: boom"))
    (b / "results.jsonl").write_text("\n".join(lines) + "\n")
    write_manifest(b, RunManifest(config=RunConfig(
        kernelgym_version="0.1.0", agent=AgentConfig(name="llm", model="model-b",
                                                     options={"temperature": 0.7, "protocol": "tools"}),
        episode=EpisodeLimits(max_turns=15, cell_timeout_s=120.0, time_budget_s=1800.0, feedback=False,
                              max_observation_chars=4000),
        selection=Selection(suite="golden", split="test", tasks=2, tasks_sha256="0" * 64),
        datasets={"biomed": "sha256:" + "ab" * 32}), command=["kernelgym", "run", "--suite", "golden"]))
    return a, b


def synthetic_run(path: Path, episodes: int, *, seed: int = 0, families: int = 5, categories: int = 20) -> Path:
    """A run folder of ``episodes`` records (no notebooks), written fast as plain JSON lines that
    :class:`EpisodeResult` accepts: ``families`` x ``categories`` categories, 4 rollouts per task."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    stops = ["answered"] * 12 + ["max_turns", "time_budget", "agent_error", "kernel_died"]
    with open(path / "results.jsonl", "w") as fh:
        for k in range(episodes):
            task = k // 4
            fam = f"fam{task % families}"
            cat = f"cat{(task // families) % categories:02d}"
            stop = rng.choice(stops)
            passed = stop == "answered" and rng.random() < 0.55
            answer = rng.randint(0, 500)
            fh.write(json.dumps({
                "task_id": f"{fam}/{cat}/{task:06d}", "family": fam, "category": cat, "split": "test",
                "rollout": k % 4, "agent": "llm", "model": "synthetic", "passed": passed, "score": float(passed),
                "answer": answer, "expected": answer if passed else answer + 1,
                "explanation": "match" if passed else f"mismatch: got {answer}", "turns": rng.randint(1, 15),
                "stop_reason": stop, "duration_s": round(rng.uniform(1, 120), 2), "notebook": None,
                "started_at": "2026-01-01T00:00:00+00:00",
                "usage": {"prompt_tokens": rng.randint(500, 20000), "completion_tokens": rng.randint(50, 2000)},
            }) + "\n")
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root``: (mtime_ns, size, bytes), to prove a reader changed nothing."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}
