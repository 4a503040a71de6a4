"""What the host accepts from a kernel: the one rule for the messages a kernel sends.

A kernel runs an agent's code, so every byte it sends is the agent's to choose (a kernel can pack
its own messages: ``get_ipython().display_pub.session.send(...)`` with a ``bytes`` content, or a
replaced ``session.pack``). jupyter_client parses each message part with ``json.loads`` and raises on
a 100,000-deep array (``RecursionError``) or an integer of more than 4,300 digits (``ValueError``), and
accepts ``\\ud800`` escapes that give strings no UTF-8 writer can write (``UnicodeEncodeError`` when
the notebook is saved). Any of these raised inside the host: the episode lost its notebook and the
environments that drive kernels stayed wedged.

:class:`GuardedSession` parses every message part with :func:`loads`, which never raises anything but
:class:`UnsafeMessage`, and replaces a message that breaks the rule (or whose signature is wrong or
replayed) by a *marker*: a ``stream`` message to stderr (``[kernelgym: a display_data message from
the kernel was dropped: ...]``) under the same parent, so the cell that produced it records what was
dropped and why; a ``*_reply`` keeps its type with an error status. A marker never carries data of
its own (no MIME bundle, no answer, no evidence), so dropping a message can take evidence away from
a verifier cell but never add any.

The rule (:func:`problem`), for every part of every message: a JSON object, nested at most
:data:`MAX_DEPTH` levels, integers of at most :data:`MAX_INT_DIGITS` digits, finite numbers, strings
without lone surrogates; outputs (``stream``, ``display_data``, ``execute_result``, ``error``,
``update_display_data``) must be valid nbformat outputs, an ``execution_count`` an integer or null,
a ``status`` must have an execution state and an ``execute_reply`` a status.
Honest messages pass unchanged: they are parsed exactly as jupyter_client parses them (orjson when it
is installed, else ``json``), so notebooks of honest kernels stay byte-identical.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jupyter_client.session import Session, extract_dates

try:  # jupyter_client's own first choice
    import orjson
except ModuleNotFoundError:  # pragma: no cover - orjson is an optional extra of jupyter_client
    orjson = None

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "GuardedSession", "UnsafeMessage", "guard", "loads", "marker", "problem"]

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects kept (the host's own code recurses over outputs: nbformat,
``json.dumps`` with an indent, deep copies; 100 levels leave them far from Python's recursion limit)."""
MAX_INT_DIGITS = 4300
"""Longest integer kept: Python's default ``sys.get_int_max_str_digits()``, past which ``int(str)``
and ``str(int)`` raise."""

_INT_LIMIT = 10**MAX_INT_DIGITS
_MSG_TYPE = re.compile(r"[a-z_]{1,40}")
OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data"})


class UnsafeMessage(ValueError):
    """A message part the host does not accept; ``str(err)`` says why, in a few words."""


def _parse_int(text: str) -> int:
    digits = len(text) - (text[:1] == "-")
    if digits > MAX_INT_DIGITS:
        raise UnsafeMessage(f"an integer of {digits:,} digits (at most {MAX_INT_DIGITS:,} are kept)")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise UnsafeMessage(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant)


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problem(obj: Any) -> str | None:
    """Why ``obj`` (a parsed JSON value) breaks the rule, or None. Iterative: any depth is safe to check."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                return "a string holds a lone surrogate (not valid Unicode)"
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -_INT_LIMIT < value < _INT_LIMIT:
                return f"an integer of more than {MAX_INT_DIGITS:,} digits"
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return "NaN or Infinity is not a JSON number"
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"JSON nested deeper than {MAX_DEPTH} levels"
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        return "an object key that is not a string"
                    if _has_lone_surrogate(key):
                        return "a string holds a lone surrogate (not valid Unicode)"
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        else:
            return f"a {type(value).__name__} is not a JSON value"
    return None


def _openers(data: bytes | str) -> int:
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{")
    return data.count("[") + data.count("{")


def loads(data: bytes | str) -> Any:
    """One message part, parsed as jupyter_client parses it; raises only :class:`UnsafeMessage`."""
    if orjson is not None:
        try:
            value = orjson.loads(data)  # rejects lone surrogates, NaN, integers past 64 bits, > 1024 levels
        except Exception:
            pass
        else:
            if _openers(data) > MAX_DEPTH:
                why = problem(value)
                if why:
                    raise UnsafeMessage(why)
            return value
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")  # as jupyter_client does
    try:
        value = _DECODER.decode(text)
    except UnsafeMessage:
        raise
    except RecursionError:
        raise UnsafeMessage(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise UnsafeMessage(f"not JSON ({str(exc)[:80]})") from None
    except Exception as exc:  # anything else the parser may raise on hostile input
        raise UnsafeMessage(f"not JSON ({type(exc).__name__})") from None
    why = problem(value)
    if why:
        raise UnsafeMessage(why)
    return value


def marker(msg_type: str, reason: str) -> str:
    """The text that stands in the notebook (and the agent's view) for a dropped message."""
    what = f"{'an' if msg_type[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {msg_type} message" if msg_type else "a message"
    return f"[kernelgym: {what} from the kernel was dropped: {reason}]\n"


_OUTPUT_FIELDS = {
    "execute_result": ("metadata", "data", "execution_count"),
    "stream": ("name", "text"),
    "display_data": ("metadata", "data"),
    "error": ("ename", "evalue", "traceback"),
}
"""The content fields nbformat's ``output_from_msg`` copies into an output, per output type."""

_output_validator: Any = None


def _valid_output(out: dict[str, Any]) -> bool:
    """Whether ``out`` is a valid output of nbformat 4.5: nbformat's own schema (``definitions/output``),
    compiled once with fastjsonschema (nbformat's validator, compiled to code: ~15 us a call against
    ~380 us for ``output_from_msg`` plus ``isvalid``, which run jsonschema for a part of the schema)."""
    global _output_validator
    if _output_validator is None:
        from importlib.resources import files

        import fastjsonschema

        schema = json.loads((files("nbformat.v4") / "nbformat.v4.5.schema.json").read_text("utf-8"))
        _output_validator = fastjsonschema.compile(
            {"$schema": schema.get("$schema"), "definitions": schema["definitions"], "$ref": "#/definitions/output"})
    try:
        _output_validator(out)
    except Exception:  # JsonSchemaException, or whatever a hostile value makes the generated code raise
        return False
    return True


def _shape_problem(msg_type: str, content: dict[str, Any]) -> str | None:
    """Why a parsed message would break the host's handling of it (nbclient, nbformat), or None."""
    count = content.get("execution_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        return "its execution_count is not an integer"
    if msg_type == "status" and not isinstance(content.get("execution_state"), str):
        return "a status without an execution state"
    if msg_type == "execute_reply" and not isinstance(content.get("status"), str):  # nbclient reads it
        return "a reply without a status"
    if msg_type in OUTPUT_TYPES:
        # the output nbformat's output_from_msg (which nbclient calls) builds from this content
        kind = "display_data" if msg_type == "update_display_data" else msg_type
        try:
            out = {"output_type": kind, **{name: content[name] for name in _OUTPUT_FIELDS[kind]}}
        except KeyError:
            return f"not a valid {msg_type} output"
        if "data" in out and out["data"] is None:  # output_from_msg keeps its empty default then
            out["data"] = {}
        if not _valid_output(out):
            return f"not a valid {msg_type} output"
    return None


class GuardedSession(Session):
    """A jupyter_client ``Session`` whose :meth:`deserialize` never raises for what a kernel put in a
    (correctly signed) message: a message that breaks the rule becomes a marker (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unpack = loads

    def deserialize(self, msg_list: Any, content: bool = True, copy: bool = True) -> dict[str, Any]:
        try:
            message = super().deserialize(msg_list, content=content, copy=copy)
        except UnsafeMessage as exc:
            return self._marker_message(msg_list, str(exc))
        except Exception as exc:  # a wrong or replayed signature, too few parts, a header without msg_type...
            text = str(exc)
            why = ("its signature is wrong" if text.startswith(("Invalid Signature", "Unsigned Message"))
                   else "its signature was already used" if text.startswith("Duplicate Signature")
                   else f"it is not a Jupyter message ({type(exc).__name__})")
            return self._marker_message(msg_list, why)
        if not content:
            return message
        if not isinstance(message.get("msg_type"), str) or not isinstance(message.get("msg_id"), str):
            return self._marker_message(msg_list, "its header has no msg_type or msg_id")
        if not all(isinstance(message.get(k), dict) for k in ("parent_header", "metadata", "content")):
            return self._marker_message(msg_list, "a message part is not a JSON object")
        why = _shape_problem(message["msg_type"], message["content"])
        return message if why is None else self._marker_message(msg_list, why)

    def _marker_message(self, msg_list: Any, why: str) -> dict[str, Any]:
        parts = [bytes(p.bytes) if hasattr(p, "bytes") else bytes(p) for p in list(msg_list)[1:5]]
        parsed: list[Any] = []
        for part in parts + [b"{}"] * (4 - len(parts)):
            try:
                parsed.append(loads(part))
            except UnsafeMessage:
                parsed.append(None)
        header = parsed[0] if isinstance(parsed[0], dict) else {}
        msg_type = header.get("msg_type")
        msg_type = msg_type if isinstance(msg_type, str) and _MSG_TYPE.fullmatch(msg_type) else ""
        msg_id, date = header.get("msg_id"), header.get("date")
        parent = parsed[1] if isinstance(parsed[1], dict) else {}
        text = marker(msg_type, why)
        new_header = {
            "msg_id": msg_id if isinstance(msg_id, str) else "", "msg_type": msg_type or "stream",
            "username": "kernelgym", "session": "", "date": date if isinstance(date, str) else "", "version": "5.3",
        }
        if msg_type.endswith("_reply"):
            new_content: dict[str, Any] = {
                "status": "error", "ename": "KernelgymDroppedMessage", "evalue": text.strip(),
                "traceback": [text.strip()], "execution_count": None,
            }
        else:
            new_header["msg_type"] = "stream"
            new_content = {"name": "stderr", "text": text}
        return {
            "header": extract_dates(new_header), "msg_id": new_header["msg_id"], "msg_type": new_header["msg_type"],
            "parent_header": extract_dates(parent), "metadata": {}, "content": new_content, "buffers": [],
        }


def guard(km: Any) -> Any:
    """Give a kernel manager, before its kernel starts, a :class:`GuardedSession`; returns ``km``.

    Its clients (``km.client()``) share the session, so every message they receive is checked."""
    km.session = GuardedSession(parent=km)
    return km
