"""The ``medagentgym`` protocol: MedAgentGym's action names as tools over the kernel.

MedAgentGym's agent acts with ``request_info``, ``validate_code``, ``debug`` and ``terminal``
(each run as a fresh ``python`` subprocess there). With ``--protocol medagentgym`` an LLM is offered
the same names as tools, each mapped onto one kernelgym cell in the task's persistent kernel, so
its numbers can be compared with the paper's while the episode keeps kernelgym's notebook, limits
and host-side grading (``docs/medagentgym.md``):

================  ==========================================================================
action            kernelgym cell
================  ==========================================================================
validate_code     the code itself (the final answer: ``submit(answer)`` in the code)
request_info      ``request_info(data_path, info_type, keyterm)`` over the tables in the kernel
debug             re-run ``code`` and show its traceback with every frame's local variables
                  (no code: the last error); MedAgentGym asks a second LLM for advice instead
terminal          ``%%sh`` with the command
================  ==========================================================================

Each action is one turn. As in MedAgentGym, the tools offered depend on the data set of a
``medagentgym-*`` family (:data:`PERMITTED`); other families get all four.

``--protocol medagentgym-text`` is MedAgentGym's own action format: no tools; the model writes the
action as a JSON object in its message text, ``{"action": "validate_code", "params": {"code": "..."}}``
(a fenced ``json`` block, or the text from its first ``{`` to its last ``}``; a Python triple-quoted
string as a value is read as a JSON string; text up to a ``</think>`` is ignored), as MedAgentGym's
agent writes it (:func:`parse_text_reply`). Each ``validate_code`` that binds ``answer`` and calls no
``submit()`` submits ``answer`` (:func:`text_cell`), so every ``validate_code`` is a graded attempt as
in MedAgentGym; the run grades every submission silently and ends the episode at the first pass
(``EpisodeConfig.silent_retries``). The model sees each action's output only (:func:`observation_text`).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from kernelgym.llm.protocol import Parsed, _short, message_text

ACTIONS = ("request_info", "validate_code", "debug", "terminal")
PERMITTED: dict[str, tuple[str, ...]] = {
    "medcalcbench": ("validate_code", "debug", "terminal"),
    "npowerai": ("validate_code", "debug", "terminal"),
    "biocoder": ("validate_code", "debug", "terminal"),
    "mimic-iii": ("request_info", "validate_code", "debug"),
    "eicu": ("request_info", "validate_code", "debug"),
    "treqs": ("request_info", "validate_code", "debug"),
    "ehrcon": ("request_info", "validate_code", "debug", "terminal"),
}
"""MedAgentGym's ``permitted_actions`` per data set (its task classes)."""

_STRING = {"type": "string"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "validate_code": {
        "description": "Run Python code as the next cell of the task's persistent Jupyter kernel (variables, imports "
                       "and files persist). Returns what it printed, its last value and any traceback. To give your "
                       "final answer, call submit(answer) in the code.",
        "properties": {"code": {**_STRING, "description": "Python source"}},
        "required": ["code"],
    },
    "request_info": {
        "description": "Look up the data tables loaded in the kernel. info_type 'column_names': the columns of the "
                       "table named by data_path (e.g. 'admissions' or 'ADMISSIONS.csv'); 'column_values': the "
                       "distinct values of column keyterm (at most 10); 'term': which tables and columns hold the "
                       "value keyterm, else the closest values (data_path empty: every table).",
        "properties": {
            "data_path": {**_STRING, "description": "a table name or file name; empty for every table"},
            "info_type": {"type": "string", "enum": ["column_names", "column_values", "term"]},
            "keyterm": {**_STRING, "description": "the column (column_values) or the value to find (term)"},
        },
        "required": ["info_type"],
    },
    "debug": {
        "description": "Debug code that failed: runs `code` again in the kernel and, if it fails, shows the traceback "
                       "with the values of the local variables of every frame (without code: the last error).",
        "properties": {"code": {**_STRING, "description": "the code to debug"},
                       "error_msg": {**_STRING, "description": "the error it gave (for your own reference)"}},
        "required": [],
    },
    "terminal": {
        "description": "Run a shell command (sh) in the kernel's working folder; returns its output.",
        "properties": {"cmd": {**_STRING, "description": "the command line"}},
        "required": ["cmd"],
    },
}


def permitted_actions(task: Any) -> tuple[str, ...]:
    """The actions offered for ``task`` (a :class:`kernelgym.tasks.TaskInfo`)."""
    family = str(getattr(task, "family", ""))
    if family.startswith("medagentgym-"):
        return PERMITTED.get(family[len("medagentgym-"):], ACTIONS)
    return ACTIONS


def tool_schemas(actions: tuple[str, ...] = ACTIONS) -> list[dict[str, Any]]:
    """The actions as OpenAI function tools."""
    return [
        {"type": "function", "function": {
            "name": name, "description": SCHEMAS[name]["description"],
            "parameters": {"type": "object", "properties": SCHEMAS[name]["properties"],
                           "required": SCHEMAS[name]["required"]},
        }}
        for name in actions
    ]


def to_cell(name: str, args: dict[str, Any]) -> str:
    """The kernelgym cell an action runs (raises ``ValueError`` with a message for the model)."""
    def text(key: str, required: bool = False) -> str:
        value = args.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{name} needs a string argument {key!r}; got {_short(value, 100)}")
        if required and not value.strip():
            raise ValueError(f"{name} needs a non-empty argument {key!r}")
        return value

    extra = sorted(set(args) - set(SCHEMAS[name]["properties"]))
    if extra:
        raise ValueError(f"{name} takes only {', '.join(SCHEMAS[name]['properties'])}; unexpected: {', '.join(extra)}")
    if name == "validate_code":
        return text("code", required=True)
    if name == "request_info":
        info_type = text("info_type") or "term"
        if info_type not in ("column_names", "column_values", "term"):
            raise ValueError(f"info_type must be 'column_names', 'column_values' or 'term', not {info_type!r}")
        return ("# MedAgentGym action: request_info\n"
                "from kernelgym.kernel.medagentgym import request_info as _kg_request_info\n"
                f"_kg_request_info({text('data_path')!r}, {info_type!r}, {text('keyterm')!r})")
    if name == "debug":
        return ("# MedAgentGym action: debug\n"
                "from kernelgym.kernel.medagentgym import debug as _kg_debug\n"
                f"_kg_debug({text('code')!r}, {text('error_msg')!r})")
    if name == "terminal":
        return f"%%sh\n{text('cmd', required=True)}"
    raise ValueError(f"unknown action {name!r}")


def parse_reply(message: Any, actions: tuple[str, ...] = ACTIONS) -> Parsed:
    """Turn an ``AIMessage`` into a code action (the first runnable call), as
    :func:`kernelgym.llm.protocol.parse_tool_reply` does for ``run_cell``."""
    thought = message_text(message.content).strip() or None
    calls = list(getattr(message, "tool_calls", None) or [])
    invalid = list(getattr(message, "invalid_tool_calls", None) or [])
    names = ", ".join(f"{a}(...)" for a in actions)
    chosen: tuple[str, str] | None = None
    replies: list[tuple[str, str]] = []
    problems: list[str] = []
    for bad in invalid:
        why = f"the arguments of your {bad.get('name') or '?'} call are not valid JSON: {_short(bad.get('args'), 200)}"
        problems.append(why)
        replies.append((bad.get("id") or "", f"Error: {why}. Nothing was run."))
    for call in calls:
        name, args, cid = call.get("name"), call.get("args"), call.get("id") or ""
        if name not in actions:
            why = f"there is no action {name!r}; the actions are {names}"
            problems.append(why)
            replies.append((cid, f"Error: {why}. Nothing was run."))
            continue
        try:
            if not isinstance(args, dict):
                raise ValueError(f"the arguments of {name} must be a JSON object")
            cell = to_cell(name, args)
        except ValueError as exc:
            problems.append(str(exc))
            replies.append((cid, f"Error: {exc}. Nothing was run."))
            continue
        if chosen is None and not invalid:
            chosen = (cell, cid)
        else:
            replies.append((cid, "Not run: call one action per message (the first valid call was run)."
                            if chosen is not None else "Not run: another call of this message was malformed."))
    if chosen is not None:
        return Parsed(kind="code", code=chosen[0], call_id=chosen[1], tool_replies=replies, thought=thought,
                      problems=problems)
    if not calls and not invalid:
        why = f"your reply called no action. Use one of {names}; give your final answer with submit(answer) in validate_code."
        return Parsed(kind="error", error=f"Error: {why}", thought=thought, problems=[why])
    return Parsed(kind="error", tool_replies=replies, thought=thought, problems=problems)


def protocol_text(task: Any) -> str:
    """The "How to act" section of the system prompt."""
    actions = permitted_actions(task)
    lines = {
        "validate_code": "`validate_code(code)` runs `code` as the next notebook cell and returns its output.",
        "request_info": "`request_info(data_path, info_type, keyterm)` looks up table columns, column values or a term "
                        "in the tables loaded in the kernel.",
        "debug": "`debug(code, error_msg)` runs failing code again and shows the traceback with the local variables.",
        "terminal": "`terminal(cmd)` runs a shell command.",
    }
    return (
        "Use the actions (tools): " + " ".join(lines[a] for a in actions)
        + " Every action runs as one cell and counts as one turn. Give your final answer by calling "
        "`submit(answer)` in the code of a `validate_code` action; the task ends when `submit()` has run. Call "
        "exactly one action per message; before the call, you may explain your reasoning briefly."
    )



# ---------------------------------------------------------------- the text form (medagentgym-text)

AUTO_SUBMIT = "\nsubmit(answer)  # kernelgym: every validate_code that sets `answer` submits it (MedAgentGym grades each)"
"""Appended to a ``validate_code`` cell of the text form that binds ``answer`` and calls no ``submit()``."""

_FENCED_JSON = re.compile(r"```json\s*\n?(.*?)```", re.DOTALL)
_TRIPLE = re.compile(r'"""(.*?)"""', re.DOTALL)


def _binds_answer(code: str) -> bool:
    """Whether ``code`` parses, calls no ``submit(...)`` and assigns ``answer`` at its top level."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "submit":
            return False
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            names = [target] if isinstance(target, ast.Name) else list(getattr(target, "elts", []))
            if any(isinstance(n, ast.Name) and n.id == "answer" for n in names):
                return True
    return False


def text_cell(name: str, args: dict[str, Any]) -> str:
    """The cell of an action of the text form: :func:`to_cell`, and for ``validate_code`` code that
    stores its result in ``answer`` without calling ``submit()``, ``submit(answer)`` after it
    (:data:`AUTO_SUBMIT`; MedAgentGym grades the output of every ``validate_code``)."""
    cell = to_cell(name, args)
    if name == "validate_code" and _binds_answer(cell):
        cell += AUTO_SUBMIT
    return cell


def _json_candidate(text: str) -> tuple[str, str]:
    """The part of a reply that should be the action's JSON object, and the text before it (the
    model's reasoning, for the notebook)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    fenced = _FENCED_JSON.search(text)
    before = text[:fenced.start()] if fenced else ""
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if not fenced:
        before = body[:start] if start != -1 else ""
    return (body[start:end + 1] if start != -1 and end > start else body.strip()), before.strip()


def _loads(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except ValueError:
        if '"""' not in candidate:
            raise
    # a Python triple-quoted string as a value (models write code so): read it as a JSON string
    return json.loads(_TRIPLE.sub(lambda m: json.dumps(m.group(1).strip("\n")), candidate))


def parse_text_reply(message: Any, actions: tuple[str, ...] = ACTIONS) -> Parsed:
    """Turn an ``AIMessage`` of the text form into a code action: ``{"action": NAME, "params": {...}}``
    in its text (see the module docstring). A reply that is not one such action becomes an error
    message for the model (a user turn), which may try again."""
    text = message_text(getattr(message, "content", message))
    candidate, thought = _json_candidate(text)
    formats = " or ".join(f'{{"action": "{a}", "params": {{...}}}}' for a in actions)
    problem: str | None = None
    cell = ""
    try:
        obj = _loads(candidate)
    except ValueError as exc:
        obj, problem = None, f"your reply is not one action as a JSON object ({_short(str(exc), 120)})"
    if problem is None:
        if not isinstance(obj, dict) or set(obj) != {"action", "params"}:
            keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            problem = f'the JSON object must have exactly the keys "action" and "params", not {_short(keys, 120)}'
        elif obj["action"] not in actions:
            problem = f"there is no action {_short(obj['action'], 60)}; the actions are {', '.join(actions)}"
        elif not isinstance(obj["params"], dict):
            problem = f'"params" must be a JSON object, not {_short(obj["params"], 80)}'
        else:
            try:
                cell = text_cell(str(obj["action"]), obj["params"])
            except ValueError as exc:
                problem = str(exc)
    if problem is not None:
        return Parsed(kind="error", error=f"Error: {problem}. Nothing was run. Reply with exactly one action: {formats}.",
                      thought=text.strip() or None, problems=[problem])
    return Parsed(kind="code", code=cell, thought=thought or None)


def observation_text(obs: Any) -> str:
    """What the model of the text form is shown after an action: the cell's output only, as MedAgentGym
    shows an action's output (no verdict: a wrong submission is never announced)."""
    return obs.output if obs.output is not None else "[no output]"


def text_protocol_text(task: Any) -> str:
    """The "How to act" section of the system prompt for the text form."""
    actions = permitted_actions(task)
    params = {
        "validate_code": '"code": Python source, run as the next cell of the persistent kernel',
        "request_info": '"data_path": a table or file name ("" for every table), "info_type": "column_names", '
                        '"column_values" or "term", "keyterm": the column or the value to look up',
        "debug": '"code": code that failed, run again with the local variables of every frame shown; '
                 '"error_msg": the error it gave',
        "terminal": '"cmd": a shell command line',
    }
    listed = "\n".join(f"- `{a}`: params {params[a]}" for a in actions)
    return (
        "Reply with exactly one action per message, written as a JSON object with the keys \"action\" and "
        "\"params\", for example:\n```json\n{\"action\": \"validate_code\", \"params\": {\"code\": \"answer = 1 + 1\"}}\n```\n"
        f"The actions:\n{listed}\n"
        "Every action runs as one cell and counts as one turn; the next message shows its output. Store your "
        "final answer in the variable `answer` in the code of a `validate_code` action: each `validate_code` "
        "that sets `answer` submits it (or call `submit(answer)` yourself). The task ends when a submitted "
        "answer is correct; you are not told whether an answer was graded correct."
    )
