"""What the agent sees of a cell: its outputs as text, ANSI codes stripped, long outputs cut in the
middle with a visible marker."""

from __future__ import annotations

import re

from kernelgym.kernel import ANSWER_MIME
from kernelgym.runtime.kernel_session import CellOutcome

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours in tracebacks)."""
    return _ANSI.sub("", text)


def truncate(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` within ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = max(0, limit - head)
    cut = len(text) - head - tail
    return f"{text[:head]}\n...[kernelgym: {cut:,} characters truncated]...\n{text[-tail:] if tail else ''}"


def render_outputs(outcome: CellOutcome, limit: int, cell_timeout: float) -> str:
    """The agent's view of a cell: streams, results, errors (ANSI stripped), notes for rich output."""
    parts: list[str] = []
    for out in outcome.cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if ANSWER_MIME in data:
                parts.append(str(data.get("text/plain", "Submitted answer.")) + "\n")
            elif "text/plain" in data and not any(k.startswith("image/") for k in data):
                parts.append(str(data["text/plain"]) + "\n")
            else:
                kinds = ", ".join(k for k in data if k != "text/plain")
                parts.append(f"[rich output not shown: {kinds}]\n")
        elif kind == "error":
            tb = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            parts.append(strip_ansi(tb) + "\n")
    if outcome.status == "timeout":
        parts.append(f"[kernelgym: the cell ran longer than {cell_timeout:g} s and was interrupted]\n")
    text = strip_ansi("".join(parts)).rstrip("\n")
    return truncate(text, limit) if text else "[no output]"
