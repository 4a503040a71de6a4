"""The two action protocols of LLM agents, and the parsing of model replies into actions.

- ``tools``: the model calls ``run_cell(code)`` or ``submit_answer(answer)`` (native tool calling).
- ``text``: the model writes a fenced ```python block; it answers by calling ``submit(...)`` in code.

A reply that cannot be turned into an action (malformed tool arguments, an unknown tool, no tool
call, no code block) becomes an error message that goes back to the model, which may try again.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

RUN_CELL = "run_cell"
SUBMIT_ANSWER = "submit_answer"


class RunCellArgs(BaseModel):
    """Run Python code as the next cell of the notebook, in the task's persistent Jupyter kernel.
    Returns what the cell printed, its last expression's value and any traceback."""

    code: str = Field(description="Python source of the cell")


class SubmitAnswerArgs(BaseModel):
    """Submit your final answer; this ends the task."""

    answer: Any = Field(
        description="the final answer as a JSON value (number, string, boolean, list, object or null), "
        "in the answer format the task asks for"
    )


RUN_CELL_DESCRIPTION = (RunCellArgs.__doc__ or "").replace("\n    ", " ")
SUBMIT_ANSWER_DESCRIPTION = (SubmitAnswerArgs.__doc__ or "").replace("\n    ", " ")


def tool_schemas() -> list[dict[str, Any]]:
    """The two tools in the OpenAI function-tool format (accepted by every LangChain ``bind_tools``)."""
    return [
        {"type": "function", "function": {
            "name": RUN_CELL, "description": RUN_CELL_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "Python source of the cell"}},
                "required": ["code"],
            },
        }},
        {"type": "function", "function": {
            "name": SUBMIT_ANSWER, "description": SUBMIT_ANSWER_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"answer": {
                    "type": ["string", "number", "integer", "boolean", "array", "object", "null"],
                    "description": SubmitAnswerArgs.model_fields["answer"].description,
                }},
                "required": ["answer"],
            },
        }},
    ]


def observation_text(obs: Any, *, tool_result: bool) -> str:
    """What the model is shown of a cell's outcome (``obs`` is a :class:`kernelgym.Observation`).

    ``tool_result``: the text of the ``run_cell``/``submit_answer`` tool message (tools protocol);
    otherwise the user message of the text protocol. Exports (:mod:`kernelgym.training.export`) and the
    Gymnasium environment render observations with this same function.
    """
    output = obs.output if obs.output is not None else "[no output]"
    feedback = getattr(obs, "feedback", None)
    left = obs.max_turns - obs.turn
    note = f"[{obs.turn} of {obs.max_turns} cells used; {left} left]"
    extra = f"\n\n{feedback}" if feedback else ""
    if tool_result:
        return f"{output}{extra}\n\n{note}"
    status = {"error": "raised an error", "timeout": "timed out"}.get(obs.status or "", "ran")
    return f"Cell {obs.turn} {status}. Output:\n```\n{output}\n```{extra}\n\n{note}"


@dataclass
class Parsed:
    """A model reply turned into an action, or into the error to tell the model."""

    kind: Literal["code", "answer", "error"]
    code: str | None = None
    answer: Any = None
    call_id: str | None = None
    """The tool call that the action answers (its observation goes back as that call's result)."""
    error: str | None = None
    """For ``kind == "error"`` with no tool call to answer: the message to send back as a user turn."""
    tool_replies: list[tuple[str, str]] = field(default_factory=list)
    """``(tool_call_id, content)`` for the calls that were not run (malformed, unknown or extra)."""
    thought: str | None = None
    problems: list[str] = field(default_factory=list)
    """Short notes on what was wrong with the reply, for the notebook."""


def message_text(content: Any) -> str:
    """The text of a message's content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return "" if content is None else str(content)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


_USAGE = {
    RUN_CELL: '{"code": "print(patients.shape)"}',
    SUBMIT_ANSWER: '{"answer": 42}',
}


def has_statements(code: str) -> bool:
    """Whether a cell has anything to run: False for blank or comment-only code. Code that does not
    parse as Python (IPython magics, shell escapes, syntax errors) counts as code: the kernel answers it."""
    if not code.strip():
        return False
    try:
        return bool(ast.parse(code).body)
    except (SyntaxError, ValueError):
        return True


def _check_args(name: str, args: Any) -> str | None:
    """Why a well-formed JSON tool call still cannot run (None if it can)."""
    if not isinstance(args, dict):
        return f"the arguments of {name} must be a JSON object such as {_USAGE[name]}"
    if name == RUN_CELL:
        code = args.get("code")
        if not isinstance(code, str):
            return f"{RUN_CELL} needs a string argument 'code', e.g. {_USAGE[RUN_CELL]}; got {_short(args)}"
        if not code.strip():
            return f"{RUN_CELL} got empty code"
        if not has_statements(code):
            return f"{RUN_CELL} got only comments: there is nothing to run (put the code itself in the cell)"
        extra = sorted(set(args) - {"code"})
        if extra:
            return f"{RUN_CELL} takes only 'code'; unexpected: {', '.join(extra)}"
    elif name == SUBMIT_ANSWER:
        if "answer" not in args:
            return f"{SUBMIT_ANSWER} needs an argument 'answer', e.g. {_USAGE[SUBMIT_ANSWER]}; got {_short(args)}"
        extra = sorted(set(args) - {"answer"})
        if extra:
            return f"{SUBMIT_ANSWER} takes only 'answer'; unexpected: {', '.join(extra)}"
    return None


def parse_tool_reply(message: Any) -> Parsed:
    """Turn an ``AIMessage`` of the tools protocol into an action (the first runnable call)."""
    thought = message_text(message.content).strip() or None
    calls = list(getattr(message, "tool_calls", None) or [])
    invalid = list(getattr(message, "invalid_tool_calls", None) or [])
    chosen: dict[str, Any] | None = None
    replies: list[tuple[str, str]] = []
    problems: list[str] = []
    for bad in invalid:
        name = bad.get("name") or "?"
        why = f"the arguments of your {name} call are not valid JSON: {_short(bad.get('args'), 200)!s}"
        hint = f" Call it again with a JSON object, e.g. {_USAGE[name]}." if name in _USAGE else ""
        problems.append(why)
        replies.append((bad.get("id") or "", f"Error: {why}.{hint} Nothing was run."))
    for call in calls:
        name, args, cid = call.get("name"), call.get("args"), call.get("id") or ""
        if name not in (RUN_CELL, SUBMIT_ANSWER):
            why = f"there is no tool {name!r}; the tools are {RUN_CELL}(code) and {SUBMIT_ANSWER}(answer)"
            problems.append(why)
            replies.append((cid, f"Error: {why}. Nothing was run."))
            continue
        why_not = _check_args(name, args)
        if why_not:
            problems.append(why_not)
            replies.append((cid, f"Error: {why_not}. Nothing was run."))
            continue
        if chosen is None and not invalid:
            chosen = call
        else:
            replies.append((cid, "Not run: call one tool per message (the first valid call was run)."
                            if chosen is not None else "Not run: another call of this message was malformed."))
    if chosen is not None:
        kind: Literal["code", "answer"] = "code" if chosen["name"] == RUN_CELL else "answer"
        return Parsed(
            kind=kind, code=chosen["args"].get("code") if kind == "code" else None,
            answer=chosen["args"].get("answer") if kind == "answer" else None,
            call_id=chosen.get("id") or "", tool_replies=replies, thought=thought, problems=problems,
        )
    if not calls and not invalid:
        why = (f"your reply called no tool. Use {RUN_CELL}(code) to run code, or {SUBMIT_ANSWER}(answer) "
               "to give your final answer.")
        return Parsed(kind="error", error=f"Error: {why}", thought=thought, problems=[why])
    return Parsed(kind="error", tool_replies=replies, thought=thought, problems=problems)


_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
_PYTHON = {"", "python", "py", "python3", "ipython", "ipython3", "py3"}


def code_blocks(text: str) -> tuple[list[str], str]:
    """The fenced Python blocks of ``text`` (untagged blocks count), and the text without them."""
    blocks: list[str] = []

    def take(m: re.Match[str]) -> str:
        if m.group(1).lower() in _PYTHON:
            blocks.append(m.group(2).rstrip())
            return ""
        return m.group(0)

    rest = _FENCE.sub(take, text)
    return [b for b in blocks if b.strip()], re.sub(r"\n{3,}", "\n\n", rest).strip()


def parse_text_reply(message: Any, finish_reason: str | None = None) -> Parsed:
    """Turn a reply of the text protocol into a code action (its Python blocks, joined in order).

    ``finish_reason`` (the server's) makes the hint for a reply without a complete block honest: a
    reply cut off by the token limit (``length``) should be shorter; one the model ended itself
    (``stop``) inside an open block should close it."""
    text = message_text(message.content)
    blocks, rest = code_blocks(text)
    if blocks and not any(has_statements(b) for b in blocks):
        why = ("your ```python block has only comments, so there was nothing to run. Put the code itself "
               "in the block; to give your final answer, call submit(answer) inside it")
        return Parsed(kind="error", error=f"Error: {why}.", thought=rest or None, problems=[why])
    if not blocks:
        why = ("your reply has no ```python code block. Write your code in one ```python ... ``` block; "
               "to give your final answer, call submit(answer) inside the block")
        unclosed = text.count("```") % 2 == 1
        if finish_reason == "length":
            why += (" (your reply was cut off at the reply length limit"
                    f"{' inside an unclosed block' if unclosed else ''}: keep your reply and the cell shorter)")
        elif unclosed:
            why += " (your reply ended inside a ```python block that was never closed: end the block with ``` on a line of its own)"
        return Parsed(kind="error", error=f"Error: {why}.", thought=text.strip() or None, problems=[why])
    return Parsed(kind="code", code="\n\n".join(blocks), thought=rest or None)
