"""Untrusted text in the markdown cells kernelgym writes (answers, names, thoughts, error messages).

Text that comes from a run (a model's thoughts, the answer it submitted, an agent's or model's name,
an exception message) is data, not markup: a thought must not be able to draw a heading that reads
"Result: PASSED", pull an image from a server, or close the code span it is shown in. Every such
text goes through one of these functions before it reaches a markdown cell.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")
"""What makes a line a list item, a setext heading's underline or an ordered list item."""


def _line(line: str) -> str:
    line = "".join(_HTML.get(ch, ch) for ch in _SPECIAL.sub(r"\\\1", line))
    m = _LINE_START.match(line)
    if m:
        marker = m.group(2)
        line = m.group(1) + (marker[:-1] + "\\" + marker[-1]) + line[m.end():]
    return line.rstrip()


def escape(text: object) -> str:
    """``text`` shown literally in markdown: markup characters backslash-escaped, HTML turned into
    entities; line breaks kept, blank lines kept as paragraph breaks. Characters that are markup only
    at the start of a line (``-``, ``+``, ``=``, ``1.``) are escaped there."""
    lines = [_line(line) for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        out.append(line + ("<br>" if line and nxt else ""))
    return "\n".join(out).strip("\n")


def code_span(text: object) -> str:
    """``text`` as one inline code span that nothing in it can close (line breaks shown as spaces)."""
    flat = " ".join(str(text).splitlines()) or " "
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest or flat.startswith(" ") or flat.endswith(" ") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(text: object, info: str = "text") -> str:
    """``text`` as a fenced code block that no line of it can close."""
    body = str(text).rstrip()
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"
