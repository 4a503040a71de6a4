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
"""

from __future__ import annotations

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

