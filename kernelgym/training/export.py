"""Training data from runs: SFT, DPO and KTO conversations, and verl prompts.

Every episode of a run folder (``results.jsonl`` + ``episodes/*.ipynb``) is turned back into the
conversation the model had, message by message, as Hugging Face chat templates and TRL take it:

- ``system``: the system prompt, rebuilt with :func:`kernelgym.llm.prompts.system_prompt` from the
  task and the episode's recorded settings (protocol, turn limit, feedback);
- ``user``: the task prompt;
- ``assistant``: for the ``tools`` protocol, the model's text and its ``tool_calls``
  (``{"id", "type": "function", "function": {"name", "arguments": {...}}}``); for the ``text``
  protocol, the reply with its fenced code block;
- ``tool`` (``tools``) or ``user`` (``text``): each cell's output, rendered by
  :func:`kernelgym.episode.render_outputs` and :func:`kernelgym.llm.protocol.observation_text`,
  the functions the LLM agent used at run time. A tool message's ``tool_call_id`` is the ``id`` of
  the call it answers.

Episodes of the LLM agent are rebuilt from the raw assistant messages recorded on their action
cells (``metadata.kernelgym.raw``), so ids, texts and tool calls are the model's own. Episodes of
other agents (``reference``, ``replay``, your own) become tool calls of the protocol you choose
(default ``tools``): each action cell is a ``run_cell`` call, and an answer action
(``submit(<literal>)``) a ``submit_answer`` call, with deterministic ids.

What differs from the run-time conversation, on purpose: replies that could not be used (malformed
tool calls, no code block) and the error messages they drew are left out unless
``keep_format_errors`` is set; cell outputs that the agent trimmed from its context to fit the
model's window are exported whole. The output of the last cell, which the model never saw, is not
exported.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.episode import (
    ERROR_STOPS,
    EpisodeResult,
    Observation,
    render_outputs,
    wrong_answer_feedback,
)
from kernelgym.llm.prompts import system_prompt
from kernelgym.llm.protocol import (
    RUN_CELL,
    SUBMIT_ANSWER,
    message_text,
    observation_text,
    parse_text_reply,
    parse_tool_reply,
    tool_schemas,
)
from kernelgym.notebook.readers import answers_of
from kernelgym.runtime.kernel_session import CellOutcome, CellStatus, cell_status
from kernelgym.tasks import Instance, get_instance

Protocol = Literal["tools", "text"]
Kind = Literal["sft", "dpo", "kto", "verl"]
Format = Literal["jsonl", "parquet"]

INFRASTRUCTURE_STOPS = ERROR_STOPS
"""Episodes that ended for reasons outside the agent's control (the kernel did not start, the model
server failed): never exported, neither as demonstrations nor as rejected examples."""

DEFAULT_OBSERVATION_CHARS = 4000


class ExportError(ValueError):
    """A run folder or an option is unusable; the message says what to do."""


@dataclass
class Episode:
    """One finished episode of a run: its results line and its notebook."""

    run_dir: Path
    result: EpisodeResult
    notebook: NotebookNode


@dataclass
class Conversation:
    """An episode as chat messages (OpenAI / Hugging Face format) and the tools the model had."""

    task_id: str
    protocol: Protocol
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    prompt_len: int = 2
    """The first ``prompt_len`` messages (system, user) are the prompt; the rest is the completion."""

    @property
    def prompt(self) -> list[dict[str, Any]]:
        return self.messages[: self.prompt_len]

    @property
    def completion(self) -> list[dict[str, Any]]:
        return self.messages[self.prompt_len :]


@dataclass
class ExportReport:
    """What an export wrote and what it left out (and why)."""

    kind: str
    rows: int = 0
    episodes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    path: Path | None = None

    def summary(self) -> str:
        what = "task(s)" if self.kind == "verl" else "episode(s)"
        parts = [f"{self.rows} {self.kind} row(s) from {self.episodes} {what}"]
        if self.path is not None:
            parts[0] += f" -> {self.path}"
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"  skipped {n}: {reason}")
        return "\n".join(parts)


# ---------------------------------------------------------------- reading runs


def load_episodes(run_dirs: Iterable[Path | str], report: ExportReport | None = None) -> list[Episode]:
    """Every episode of the run folders that has a notebook, in a stable order."""
    from kernelgym.runs.runner import RESULTS, read_results

    out: list[Episode] = []
    for run_dir in map(Path, run_dirs):
        if not (run_dir / RESULTS).is_file():
            raise ExportError(f"{run_dir} is not a run folder (no {RESULTS}); give folders written by `kernelgym run`")
        results, _ = read_results(run_dir)
        seen: set[tuple[str, int]] = set()
        for r in sorted(results, key=lambda r: (r.task_id, r.rollout)):
            if (r.task_id, r.rollout) in seen:
                continue
            seen.add((r.task_id, r.rollout))
            if report is not None:
                report.episodes += 1
            path = run_dir / r.notebook if r.notebook else None
            if path is None or not path.exists():
                if report is not None:
                    report.skipped["no episode notebook (the episode crashed)"] += 1
                continue
            try:
                nb = nbk.read(path)
            except nbk.NotebookFileError as exc:  # a FIFO, a device or an oversized file: refused, never read
                if report is not None:
                    report.skipped[f"refused {exc}"] += 1
                continue
            out.append(Episode(run_dir, r, nb))
    return out


# ---------------------------------------------------------------- conversations


def _cell_status(cell: NotebookNode) -> CellStatus:
    """``ok``, ``error`` or ``timeout``, by :func:`kernelgym.runtime.kernel_session.cell_status`."""
    duration = _duration(cell)
    return cell_status(cell.get("outputs", []), math.inf if duration is None else duration, 1.0)


def _duration(cell: NotebookNode) -> float | None:
    import datetime as dt

    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start = dt.datetime.fromisoformat(str(timing["iopub.execute_input"]).replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(str(timing["shell.execute_reply"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def cell_answers(cell: NotebookNode) -> list[Any]:
    """The values ``submit()`` announced in a cell's outputs."""
    return answers_of(cell)


def cell_observation(
    cell: NotebookNode, inst: Instance, *, turn: int, max_turns: int, max_observation_chars: int,
    cell_timeout: float, feedback: str | None = None,
) -> Observation:
    """The :class:`Observation` the agent received after ``cell`` ran (rendered as at run time)."""
    status = _cell_status(cell)
    outcome = CellOutcome(cell, status, 0.0)
    return Observation(
        task=inst.public(), prompt=inst.prompt, turn=turn, max_turns=max_turns,
        output=render_outputs(outcome, max_observation_chars, cell_timeout), status=status,
        submitted=bool(cell_answers(cell)), feedback=feedback,
    )


@dataclass
class _Turn:
    cell: NotebookNode | None  # None: a stop action (no cell ran)
    thought: str | None
    raws: list[dict[str, Any]]


def _turns(nb: NotebookNode) -> list[_Turn]:
    turns: list[_Turn] = []
    thoughts: list[str] = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        kg = cell.get("metadata", {}).get("kernelgym", {})
        if nbk.TAG_THOUGHT in tags:
            # schema 3: the model's own text is in the metadata (the source is its escaped, turn-labelled rendering;
            # None for a turn without text); older notebooks hold the text as the source
            text = kg.get("text") if "text" in kg else cell.source
            if text:
                thoughts.append(text)
            if kg.get("raw"):  # a stop action: its model replies sit on its thought cell
                turns.append(_Turn(None, "\n\n".join(thoughts), list(kg["raw"])))
                thoughts = []
        elif nbk.TAG_ACTION in tags:
            turns.append(_Turn(cell, "\n\n".join(thoughts) or None, list(kg.get("raw") or [])))
            thoughts = []
    return turns


def _literal_answer(source: str) -> tuple[bool, Any]:
    """``(True, value)`` when ``source`` is exactly what an answer action runs: ``submit(<literal>)``."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError:
        return False, None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return False, None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "submit"
            and len(call.args) == 1 and not call.keywords):
        return False, None
    try:
        value = ast.literal_eval(call.args[0])
    except (ValueError, SyntaxError, TypeError):
        return False, None
    try:
        if nbk.python_literal(value) != source.strip()[len("submit("):-1]:
            return False, None
    except (TypeError, ValueError):
        return False, None
    return True, value


def _call(cid: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}


def _synthetic_id(task_id: str, rollout: int, turn: int) -> str:
    return "call_" + hashlib.sha256(f"{task_id}/{rollout}/{turn}".encode()).hexdigest()[:24]


class _Builder:
    """Rebuilds the messages of one episode, turn by turn."""

    def __init__(self, protocol: Protocol, keep_format_errors: bool) -> None:
        self.protocol = protocol
        self.keep = keep_format_errors
        self.messages: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # tool call id -> tool name

    def _assistant(self, raw: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": message_text(raw.get("content"))}
        if self.protocol == "tools":
            # as LangChain sends them back: the parsed calls, then the malformed ones (arguments as written)
            calls = [_call(c.get("id") or "", c.get("name") or "", c.get("args"))
                     for c in [*(raw.get("tool_calls") or []), *(raw.get("invalid_tool_calls") or [])]]
            for c in calls:
                self.names[c["id"]] = c["function"]["name"]
            if calls:
                msg["tool_calls"] = calls
        return msg

    def model_turn(self, raws: list[dict[str, Any]], *, stopped: bool) -> Any:
        """Append the model's replies of one action; returns the parse of the reply that became the action."""
        used = raws if self.keep else ([] if stopped else raws[-1:])
        parsed = None
        for raw in used:
            message = SimpleNamespace(
                content=raw.get("content"), tool_calls=raw.get("tool_calls") or [],
                invalid_tool_calls=raw.get("invalid_tool_calls") or [],
            )
            parsed = parse_tool_reply(message) if self.protocol == "tools" else parse_text_reply(message)
            self.messages.append(self._assistant(raw))
            for cid, content in parsed.tool_replies:
                self.tool(cid, content)
            if parsed.kind == "error" and parsed.error:
                self.messages.append({"role": "user", "content": parsed.error})
        return parsed

    def tool(self, cid: str, content: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": cid, "name": self.names.get(cid, RUN_CELL), "content": content})


def conversation(
    nb: NotebookNode,
    *,
    protocol: Protocol | None = None,
    keep_format_errors: bool = False,
    max_observation_chars: int | None = None,
    instance: Instance | None = None,
) -> Conversation:
    """The conversation of an episode notebook (see the module docstring).

    ``protocol``: for episodes of agents that are not LLM agents (no raw model messages), the
    protocol to express their actions in (default ``tools``); an LLM agent's episode always keeps
    the protocol it ran with. ``max_observation_chars``: the output limit the system prompt states
    (the LLM agent's option of that name, which notebooks do not record; default 4000); outputs are
    cut at the limit the episode recorded. Raises :class:`ExportError` when the episode cannot be
    rebuilt faithfully (its task is unknown or changed since the run).
    """
    meta = nb.metadata.get("kernelgym", {})
    task_meta = meta.get("task", {})
    task_id = task_meta.get("id")
    if not task_id:
        raise ExportError("not a kernelgym episode notebook (no metadata.kernelgym.task.id)")
    inst = instance
    if inst is None:
        try:
            inst = get_instance(task_id)
        except KeyError:
            raise ExportError(f"task {task_id} is not in the task store (use --specs for your own families)") from None
    task_cells = nbk.cells_with_tag(nb, nbk.TAG_TASK)
    if task_cells and task_cells[0].source != f"## Task `{inst.id}`\n\n{inst.prompt}":
        raise ExportError(f"task {task_id} changed since the episode ran (its prompt differs)")
    fp = task_meta.get("dataset_fingerprint")
    if fp and inst.dataset_fingerprint and fp != inst.dataset_fingerprint:
        raise ExportError(f"task {task_id}: the data set changed since the episode ran (another fingerprint)")

    episode = meta.get("episode", {})
    agent = meta.get("agent", {})
    turns = _turns(nb)
    llm = any(t.raws for t in turns)
    recorded = (agent.get("sampling") or {}).get("protocol")
    if llm and recorded not in (None, "tools", "text"):
        raise ExportError(f"task {task_id}: episodes of the {recorded!r} protocol are not exported (tools and text are)")
    proto: Protocol = recorded if llm and recorded in ("tools", "text") else (protocol or "tools")
    max_turns = int(episode.get("max_turns") or 15)
    obs_chars = int(episode.get("max_observation_chars") or DEFAULT_OBSERVATION_CHARS)
    cell_timeout = float(episode.get("cell_timeout_s") or 120.0)
    feedback = bool(episode.get("feedback"))
    # episodes that counted attempts told the agent how many submissions it had left
    cap = episode.get("max_attempts") if isinstance(episode.get("submissions"), list) else None
    submitted = 0
    rollout = int(episode.get("rollout") or 0)

    system = system_prompt(
        inst.public(), protocol=proto, max_turns=max_turns,
        max_observation_chars=max_observation_chars or DEFAULT_OBSERVATION_CHARS, feedback=feedback,
    )
    b = _Builder(proto, keep_format_errors)
    b.messages = [{"role": "system", "content": system}, {"role": "user", "content": inst.prompt}]

    pending: tuple[NotebookNode, int, str | None] | None = None  # the last cell ran, not yet observed

    def observe() -> None:
        nonlocal pending, submitted
        if pending is None:
            return
        cell, turn, cid = pending
        fb = None
        if cell_answers(cell):
            submitted += 1
            if feedback:
                fb = wrong_answer_feedback(max_turns - turn, int(cap) - submitted if isinstance(cap, int) else None)
        obs = cell_observation(cell, inst, turn=turn, max_turns=max_turns, max_observation_chars=obs_chars,
                               cell_timeout=cell_timeout, feedback=fb)
        if proto == "tools" and cid is not None:
            b.tool(cid, observation_text(obs, tool_result=True))
        else:
            b.messages.append({"role": "user", "content": observation_text(obs, tool_result=False)})
        pending = None

    for turn in turns:
        if turn.cell is None:  # a stop action: only the model's unusable replies
            if keep_format_errors and turn.raws:
                observe()
                b.model_turn(turn.raws, stopped=True)
            continue
        kg = turn.cell.metadata.get("kernelgym", {})
        number = int(kg.get("turn") or 0)
        if turn.raws:
            observe()
            parsed = b.model_turn(turn.raws, stopped=False)
            if parsed is None or parsed.kind == "error":
                raise ExportError(f"task {task_id}: the recorded model reply of cell {number} is not an action")
            expected = parsed.code if parsed.kind == "code" else f"submit({nbk.python_literal(parsed.answer)})"
            if (expected or "") != turn.cell.source:
                raise ExportError(f"task {task_id}: cell {number} is not what the recorded model reply asked to run")
            cid = parsed.call_id if proto == "tools" else None
        else:
            observe()
            cid = _synthetic_id(task_id, rollout, number) if proto == "tools" else None
            is_answer, value = _literal_answer(turn.cell.source)
            if proto == "tools":
                call = _call(cid or "", SUBMIT_ANSWER, {"answer": value}) if is_answer else _call(
                    cid or "", RUN_CELL, {"code": turn.cell.source})
                b.names[cid or ""] = call["function"]["name"]
                b.messages.append({"role": "assistant", "content": turn.thought or "", "tool_calls": [call]})
            else:
                text = (turn.thought + "\n\n" if turn.thought else "") + f"```python\n{turn.cell.source}\n```"
                b.messages.append({"role": "assistant", "content": text})
        pending = (turn.cell, number, cid)
    while len(b.messages) > 2 and b.messages[-1]["role"] != "assistant":
        b.messages.pop()  # error replies after the model's last message: nothing to learn from them
    return Conversation(task_id, proto, b.messages, tool_schemas() if proto == "tools" else None)


# ---------------------------------------------------------------- rows


def _usable(ep: Episode, report: ExportReport) -> bool:
    if ep.result.stop_reason in INFRASTRUCTURE_STOPS:
        report.skipped[f"stopped by {ep.result.stop_reason} (not the agent's doing)"] += 1
        return False
    return True


def _conversations(
    episodes: Iterable[Episode], report: ExportReport, **opts: Any,
) -> list[tuple[Episode, Conversation]]:
    out = []
    for ep in episodes:
        if not _usable(ep, report):
            continue
        try:
            conv = conversation(ep.notebook, **opts)
        except ExportError as exc:
            report.skipped[str(exc).split(": ", 1)[-1]] += 1
            continue
        if len(conv.completion) == 0:
            report.skipped["no agent turn"] += 1
            continue
        out.append((ep, conv))
    return out


def _meta(ep: Episode) -> dict[str, Any]:
    r = ep.result
    return {
        "task_id": r.task_id, "family": r.family, "category": r.category, "rollout": r.rollout,
        "passed": r.passed, "score": r.score, "reward": r.reward, "attempts": r.attempts,
        "reward_rule": r.reward_rule, "agent": r.agent, "model": r.model, "run": str(ep.run_dir),
    }


def rewarded(result: EpisodeResult) -> bool:
    """Whether an episode counts as a success for training: it passed and its reward (the score weighted
    by its reward rule for wrong submissions, :mod:`kernelgym.grading.attempts`) is above 0. With the
    default rule ``first``, a pass after a wrong submission is not one: exports do not teach guessing."""
    return bool(result.passed) and result.reward > 0


def sft_rows(
    episodes: Iterable[Episode], *, include_failed: bool = False, report: ExportReport | None = None, **opts: Any,
) -> list[dict[str, Any]]:
    """``{"messages", "tools", ...}`` per rewarded episode (:func:`rewarded`; all usable episodes with
    ``include_failed``)."""
    report = report or ExportReport("sft")
    rows = []
    chosen = []
    for ep in episodes:
        if not rewarded(ep.result) and not include_failed:
            why = ("passed after a wrong submission: reward 0 by its rule (use --include-failed)" if ep.result.passed
                   else "failed (use --include-failed)")
            report.skipped[why] += 1
            continue
        chosen.append(ep)
    for ep, conv in _conversations(chosen, report, **opts):
        rows.append({"messages": conv.messages, "tools": conv.tools, "protocol": conv.protocol, **_meta(ep)})
    report.rows = len(rows)
    return rows


def kto_rows(episodes: Iterable[Episode], *, report: ExportReport | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``{"prompt", "completion", "label", "tools", ...}`` per usable episode; label = :func:`rewarded`
    (passed with a reward above 0)."""
    report = report or ExportReport("kto")
    rows = [
        {"prompt": conv.prompt, "completion": conv.completion, "label": rewarded(ep.result),
         "tools": conv.tools, "protocol": conv.protocol, **_meta(ep)}
        for ep, conv in _conversations(episodes, report, **opts)
    ]
    report.rows = len(rows)
    return rows


def dpo_rows(
    episodes: Iterable[Episode],
    *,
    pairing: Literal["all", "unique"] = "all",
    max_pairs_per_task: int | None = None,
    seed: int = 0,
    report: ExportReport | None = None,
    **opts: Any,
) -> list[dict[str, Any]]:
    """Preference pairs ``{"prompt", "chosen", "rejected", "tools", ...}`` from episodes of the same task.

    ``chosen`` is the completion of a rewarded episode (:func:`rewarded`: passed, reward above 0),
    ``rejected`` that of another one (failed, or passed only after wrong submissions), and both
    follow the same ``prompt`` (system and user messages, and the same tools): episodes run with
    another protocol, turn limit or feedback setting are never paired. ``pairing="all"`` forms every
    (passed, failed) pair of a task; ``"unique"`` uses each episode at most once. Pairs are shuffled
    with ``seed`` and capped at ``max_pairs_per_task``.
    """
    if pairing not in ("all", "unique"):
        raise ExportError(f"pairing must be 'all' or 'unique', not {pairing!r}")
    report = report or ExportReport("dpo")
    groups: dict[tuple[str, str], tuple[list[Any], list[Any]]] = defaultdict(lambda: ([], []))
    for ep, conv in _conversations(episodes, report, **opts):
        key = (conv.task_id, json.dumps([conv.prompt, conv.tools], sort_keys=True))
        groups[key][0 if rewarded(ep.result) else 1].append((ep, conv))
    rows = []
    unpaired = 0
    for (task_id, _), (good, bad) in sorted(groups.items(), key=lambda kv: kv[0]):
        if not good or not bad:
            unpaired += len(good) + len(bad)
            continue
        rng = random.Random(f"{seed}/{task_id}")
        if pairing == "all":
            pairs = [(g, r) for g in good for r in bad]
            rng.shuffle(pairs)
        else:
            good, bad = good[:], bad[:]
            rng.shuffle(good)
            rng.shuffle(bad)
            pairs = list(zip(good, bad))
        if max_pairs_per_task is not None:
            pairs = pairs[:max_pairs_per_task]
        for (g_ep, g), (r_ep, r) in pairs:
            rows.append({
                "prompt": g.prompt, "chosen": g.completion, "rejected": r.completion, "tools": g.tools,
                "protocol": g.protocol, "task_id": task_id, "family": g_ep.result.family,
                "category": g_ep.result.category, "chosen_rollout": g_ep.result.rollout,
                "rejected_rollout": r_ep.result.rollout, "chosen_run": str(g_ep.run_dir),
                "rejected_run": str(r_ep.run_dir), "chosen_score": g_ep.result.score,
                "rejected_score": r_ep.result.score, "chosen_reward": g_ep.result.reward,
                "rejected_reward": r_ep.result.reward, "chosen_attempts": g_ep.result.attempts,
                "rejected_attempts": r_ep.result.attempts,
            })
    if unpaired:
        report.skipped["no episode of the other outcome for the same task and prompt"] += unpaired
    report.rows = len(rows)
    return rows


def verl_rows(
    instances: Sequence[Instance],
    *,
    protocol: Protocol = "tools",
    max_turns: int = 15,
    max_observation_chars: int = DEFAULT_OBSERVATION_CHARS,
    report: ExportReport | None = None,
    reward_rule: str = "first",
) -> list[dict[str, Any]]:
    """verl RL prompts: ``data_source``, ``prompt``, ``ability``, ``reward_model`` and ``extra_info``.

    ``reward_model.ground_truth`` is the ground truth as a JSON string and ``extra_info.grader`` the
    grading rule as a JSON string, which :func:`kernelgym.training.rewards.compute_score` reads. Tasks graded
    by calling the agent's function on hidden inputs (``verifier: function``) need a kernel to be
    graded and are left out (use :mod:`kernelgym.training.rollout`). ``extra_info.reward_rule`` is how
    ``compute_score`` weighs a completion that submitted more than once (:mod:`kernelgym.grading.attempts`).
    """
    from kernelgym.grading.attempts import parse_rule

    try:
        reward_rule = parse_rule(reward_rule).spelled()
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    report = report or ExportReport("verl")
    rows = []
    for inst in instances:
        report.episodes += 1
        if inst.verifier != "answer":
            report.skipped["graded by running the agent's function (needs a kernel): use kernelgym.training.rollout"] += 1
            continue
        system = system_prompt(inst.public(), protocol=protocol, max_turns=max_turns,
                               max_observation_chars=max_observation_chars)
        rows.append({
            "data_source": f"kernelgym/{inst.family}",
            "prompt": [{"role": "system", "content": system}, {"role": "user", "content": inst.prompt}],
            "ability": inst.family,
            "reward_model": {"style": "rule", "ground_truth": json.dumps(inst.ground_truth)},
            "extra_info": {
                "split": inst.split, "index": len(rows), "task_id": inst.id, "family": inst.family,
                "category": inst.category, "grader": inst.grader.model_dump_json(),
                "answer_format": inst.answer_format, "protocol": protocol, "reward_rule": reward_rule,
            },
        })
    report.rows = len(rows)
    return rows


# ---------------------------------------------------------------- files


def write_rows(rows: list[dict[str, Any]], path: Path | str, fmt: Format | None = None) -> Path:
    """Write rows as JSON Lines or Parquet (by ``fmt``, else by the file's suffix).

    Parquet goes through the ``datasets`` library (``pip install 'kernelgym[train]'``) so that fields
    of mixed JSON types (tool-call arguments, answers) are stored with its ``Json`` type, which
    ``datasets.load_dataset("parquet", ...)`` restores.
    """
    path = Path(path)
    fmt = fmt or ("parquet" if path.suffix == ".parquet" else "jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    elif fmt == "parquet":
        _write_parquet(rows, tmp)
    else:
        raise ExportError(f"format must be jsonl or parquet, not {fmt!r}")
    tmp.replace(path)
    return path


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import warnings

    rows = json.loads(json.dumps(rows, default=str))  # plain JSON values only
    try:
        with warnings.catch_warnings():  # tqdm's "IProgress not found" in notebooks without ipywidgets
            warnings.simplefilter("ignore")
            import datasets
    except ImportError:
        datasets = None  # type: ignore[assignment]
    if datasets is not None:
        if not rows:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), path)
            return
        was_enabled = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()
        try:
            try:
                ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
            except TypeError:  # datasets < 4.7 has no Json type
                ds = datasets.Dataset.from_list(rows)
            ds.to_parquet(str(path))
        finally:
            if was_enabled:
                datasets.enable_progress_bars()
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ExportError(
            f"these rows mix JSON types in one field ({exc}); Parquet needs the `datasets` library for them: "
            "pip install 'kernelgym[train]', or export --format jsonl"
        ) from None
    pq.write_table(table, path)


def export(
    kind: Kind,
    run_dirs: Sequence[Path | str],
    output: Path | str,
    *,
    fmt: Format | None = None,
    instances: Sequence[Instance] | None = None,
    **opts: Any,
) -> ExportReport:
    """Read run folders, build ``kind`` rows and write them to ``output``; returns what was done.

    ``opts`` go to :func:`sft_rows`, :func:`dpo_rows`, :func:`kto_rows` (and through them to
    :func:`conversation`) or :func:`verl_rows`. For ``verl``, ``instances`` (tasks) may be given
    instead of, or besides, run folders.
    """
    if opts.get("protocol") not in (None, "tools", "text"):
        raise ExportError(f"protocol must be tools or text, not {opts['protocol']!r}")
    report = ExportReport(kind)
    if kind == "verl":
        from kernelgym.runs.runner import RESULTS, iter_results

        tasks: list[Instance] = list(instances or [])
        known = {t.id for t in tasks}
        for run_dir in map(Path, run_dirs):
            if not (run_dir / RESULTS).is_file():
                raise ExportError(f"{run_dir} is not a run folder (no {RESULTS}); give folders written by `kernelgym run`")
            for task_id in sorted({r.task_id for r in iter_results(run_dir)[0]} - known):  # streamed: task ids only
                if task_id not in known:
                    known.add(task_id)
                    try:
                        tasks.append(get_instance(task_id))
                    except KeyError:
                        report.skipped["task not in the task store"] += 1
        rows = verl_rows(tasks, report=report, **opts)
    else:
        episodes = load_episodes(run_dirs, report)
        builders = {"sft": sft_rows, "dpo": dpo_rows, "kto": kto_rows}
        if kind not in builders:
            raise ExportError(f"unknown export {kind!r}: sft, dpo, kto or verl")
        rows = builders[kind](episodes, report=report, **opts)
    report.path = write_rows(rows, output, fmt)
    report.rows = len(rows)
    return report
