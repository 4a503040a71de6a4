"""Kernel side of kernelgym: the small API that runs *inside* a task's Jupyter kernel.

It imports nothing of the host side (no task specs, generators or ground truth), so an agent that
explores the kernel finds nothing here that tells it an answer.

- :func:`submit` records the agent's final answer and announces it with a display message of MIME
  type :data:`ANSWER_MIME`.
- The verifier cell (see :mod:`kernelgym.kernel.verify`) emits the evidence the host grades.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
from typing import Any

from kernelgym.kernel.mime import ANSWER_MIME, EVIDENCE_MIME

__all__ = ["ANSWER_MIME", "EVIDENCE_MIME", "submit", "to_jsonable"]


class _State:
    submitted: bool = False
    answer: Any = None


_state = _State()


def to_jsonable(value: Any) -> Any:
    """Turn numpy/pandas scalars, timestamps, sets, Series and tuples into plain JSON values."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if value != value else float(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        text = value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
        return text
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=lambda x: (str(type(x)), str(x)))
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    # numpy / pandas objects, without importing them here
    for attr in ("to_pydatetime",):
        if hasattr(value, attr):
            try:
                return to_jsonable(getattr(value, attr)())
            except Exception:
                pass
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    raise TypeError(
        f"submit() needs a JSON-serialisable answer (number, string, bool, list, dict or None); "
        f"got {type(value).__name__}. Convert it first, e.g. float(x), str(x) or list(x)."
    )


def submit(answer: Any) -> None:
    """Record ``answer`` as your final answer for this task (call it once, at the end)."""
    value = to_jsonable(answer)
    _json.dumps(value)  # fail here, not at grading time, if something odd slipped through
    _state.submitted = True
    _state.answer = value
    from IPython.display import display

    display({ANSWER_MIME: {"answer": value}, "text/plain": f"Submitted answer: {value!r}"}, raw=True)
