"""A run's manifest (``run.json``): what produced a run folder, written when the run starts and checked
on every resume.

The manifest splits in two:

- the **configuration** (:attr:`RunManifest.config`): everything that changes what an episode is or
  which episodes make up the run: the kernelgym version, the agent and every option it was given
  (model, sampling, protocol...), the episode limits (turns, cell timeout, time budget, feedback), the
  task selection, the tasks themselves (a fingerprint of their ids, answers and graders) and the
  data sets' fingerprints. A resume must have the same configuration, else it is refused
  (:class:`RunConfigMismatch`) before any episode runs, so a folder never mixes two configurations;
- the **circumstances** (command line, host, time, concurrency, backend): recorded, never compared.

Data set fingerprints are those the tasks were generated from (``Instance.dataset_fingerprint``,
one per kernel profile): a sha256 over the Parquet files' bytes for the EHR data sets, over the
versions of the packages carrying the data for ``biomed``.

A folder written before manifests existed (``results.jsonl``, no ``run.json``) is resumed only when
every episode in it was recorded by the same agent and model as the new run; the manifest is then
written for it. Otherwise the resume is refused like any other difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from kernelgym.episode import EpisodeResult
from kernelgym.tasks import Instance

MANIFEST = "run.json"
SCHEMA_VERSION = 1


class AgentConfig(BaseModel):
    """The agent as the run was told to make it."""

    name: str = Field(description="built-in name, module:Class or path/to/file.py:Class")
    model: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="every option the agent was made with")


class EpisodeLimits(BaseModel):
    max_turns: int
    cell_timeout_s: float
    time_budget_s: float
    feedback: bool
    max_observation_chars: int
    silent_retries: bool = False
    max_attempts: int = 3
    """Submissions graded per episode at most (``--max-attempts``; the default of runs recorded before it)."""
    reward_rule: str = "first"
    """``--reward-rule`` (:mod:`kernelgym.grading.attempts`); runs recorded before it rewarded their score."""


class Selection(BaseModel):
    """Which tasks, and how many episodes of each."""

    suite: str
    split: str | None
    dataset: str | None = None
    limit: int | None = None
    per_category: int | None = None
    categories: list[str] | None = None
    sources: list[str] | None = Field(default=None, description="--source-ids: records of the source benchmark")
    rollouts: int = 1
    tasks: int = Field(description="how many tasks were selected")
    tasks_sha256: str = Field(description="sha256 over the selected tasks' ids, ground truths and graders")


class RunConfig(BaseModel):
    """What a resume must repeat exactly."""

    kernelgym_version: str
    agent: AgentConfig
    episode: EpisodeLimits
    selection: Selection
    datasets: dict[str, str | None] = Field(description="kernel profile -> data set fingerprint")
    seeds: dict[str, int | None] = Field(
        default_factory=dict, description="sampling: --seed (rollout k is sent SEED + k)")


class RunManifest(BaseModel):
    """``run.json``: the configuration of a run and the circumstances of its first start."""

    schema_version: int = SCHEMA_VERSION
    config: RunConfig
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    command: list[str] = Field(default_factory=lambda: list(sys.argv))
    host: dict[str, str] = Field(default_factory=lambda: host_facts())
    runtime: dict[str, Any] = Field(default_factory=dict, description="concurrency, backend...: not compared")

    def key_fields(self) -> dict[str, Any]:
        """What ``summary.json`` repeats under ``run``."""
        c = self.config
        return {
            "kernelgym_version": c.kernelgym_version, "agent": c.agent.name, "model": c.agent.model,
            "agent_options": c.agent.options, **c.episode.model_dump(), **c.selection.model_dump(),
            "datasets": c.datasets, "seeds": c.seeds, "created_at": self.created_at,
        }


class RunConfigMismatch(ValueError):
    """A resume into a run folder whose ``run.json`` says another configuration; the message (one
    line) names the first difference."""


def kernelgym_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kernelgym")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown"


def host_facts() -> dict[str, str]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "user": str(os.getuid()) if hasattr(os, "getuid") else ""}


def tasks_fingerprint(instances: Iterable[Instance]) -> str:
    """sha256 over the tasks' ids, ground truths and graders (in selection order)."""
    h = hashlib.sha256()
    for inst in instances:
        h.update(json.dumps([inst.id, inst.ground_truth, inst.grader.model_dump(mode="json")],
                            sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def dataset_fingerprints(instances: Iterable[Instance]) -> dict[str, str | None]:
    """``{profile: fingerprint}`` of the data sets the tasks were generated from."""
    out: dict[str, str | None] = {}
    for inst in instances:
        out.setdefault(inst.profile, inst.dataset_fingerprint)
    return dict(sorted(out.items()))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for k in sorted(value):
            flat.update(_flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return flat
    return {prefix: value}


OPTION_NAMES = {
    "agent.name": "--agent", "agent.model": "--model", "episode.max_turns": "--max-turns",
    "episode.cell_timeout_s": "--cell-timeout", "episode.time_budget_s": "--time-budget",
    "episode.feedback": "--feedback", "episode.silent_retries": "--silent-retries",
    "episode.max_attempts": "--max-attempts", "episode.reward_rule": "--reward-rule", "selection.suite": "--suite", "selection.split": "--split",
    "selection.dataset": "--dataset", "selection.limit": "--limit", "selection.per_category": "--per-category",
    "selection.categories": "--category", "selection.sources": "--source-ids", "selection.rollouts": "--rollouts",
    "seeds.sampling": "--seed",
}
"""The command-line option behind a configuration field, named in a refusal."""


RUNTIME_KEYS = frozenset({"agent.options.max_concurrent_requests"})
"""Recorded, but how fast a run goes, not what it records: a resume may change them."""


def differences(recorded: RunConfig, wanted: RunConfig) -> list[str]:
    """``name (--option): recorded -> wanted`` for every field that differs (dotted names, e.g. ``agent.name``),
    except :data:`RUNTIME_KEYS`."""
    old, new = _flatten(recorded.model_dump(mode="json")), _flatten(wanted.model_dump(mode="json"))
    out = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k not in OPTION_NAMES, k)):
        if key in RUNTIME_KEYS:
            continue
        if old.get(key) != new.get(key):
            name = f"{key} ({OPTION_NAMES[key]})" if key in OPTION_NAMES else key
            if key.startswith("agent.options."):
                name += f" (-O {key.removeprefix('agent.options.')}=...)"
            out.append(f"{name}: {json.dumps(old.get(key), default=str)} -> {json.dumps(new.get(key), default=str)}")
    return out


def read_manifest(out_dir: Path) -> RunManifest | None:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return None
    return RunManifest.model_validate_json(path.read_text())


def write_manifest(out_dir: Path, manifest: RunManifest) -> None:
    path = Path(out_dir) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{MANIFEST}.tmp")
    try:
        tmp.write_text(manifest.model_dump_json(indent=2) + "\n")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def check_resume(out_dir: Path, manifest: RunManifest, results: Iterable[EpisodeResult],
                 agent_label: tuple[str, str | None] | None = None) -> RunManifest | None:
    """Raise :class:`RunConfigMismatch` if ``out_dir`` holds a run of another configuration.

    Returns the recorded manifest when ``out_dir`` has one (a resume of the same configuration), None
    when the manifest is still to be written. ``results`` are the folder's records and
    ``agent_label`` the ``(agent, model)`` the new run's episodes will be recorded under: they decide
    for a folder written before manifests existed (see the module's docstring).
    """
    try:
        recorded = read_manifest(out_dir)
    except ValueError as exc:
        raise RunConfigMismatch(f"{out_dir}/{MANIFEST} is unreadable ({type(exc).__name__}); give another --out") from None
    if recorded is not None:
        diffs = differences(recorded.config, manifest.config)
        if diffs:
            more = f" (and {len(diffs) - 1} more difference(s))" if len(diffs) > 1 else ""
            raise RunConfigMismatch(
                f"{out_dir} holds a run of another configuration: {diffs[0]}{more}; "
                "resume it with the same options or give another --out")
        return recorded
    if agent_label is not None:
        seen = sorted({(r.agent, r.model) for r in results if r.agent != "?"}, key=str)
        if any(pair != agent_label for pair in seen):
            old = ", ".join(f"{a}" + (f" ({m})" if m else "") for a, m in seen)
            new = agent_label[0] + (f" ({agent_label[1]})" if agent_label[1] else "")
            raise RunConfigMismatch(
                f"{out_dir} was written without a run.json by agent {old}; this run's agent is {new}: "
                "give another --out")
    return None
