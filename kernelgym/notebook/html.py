"""An episode notebook as an HTML transcript: the prompt, turn-labelled thoughts, the agent's cells with
their outputs (long ones collapsed), the verifier and the verdict (expected vs submitted answer).

Everything in a notebook is untrusted (the model wrote the cells, its kernel wrote the outputs):
every text is escaped; HTML and SVG outputs are shown in an ``<iframe sandbox>`` with no permission
at all (no script, no same origin, no form, no navigation), and images only as ``data:`` URIs of
checked base64. Markdown is shown as its text, never rendered.

Used by ``kernelgym view`` (its episode and task pages) and ``kernelgym report --episodes`` (a static
HTML file per episode, styled by :data:`CSS`).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from datetime import datetime
from typing import Any

from kernelgym.kernel import ANSWER_MIME, EVIDENCE_MIME
from kernelgym.notebook.cells import (
    TAG_ACTION, TAG_HEADER, TAG_PARAMETERS, TAG_RECORD, TAG_RESULT, TAG_SETUP, TAG_TASK, TAG_THOUGHT, TAG_VERIFIER,
)

LONG_LINES = 30
LONG_CHARS = 3000
"""An output longer than this is collapsed (its first lines shown, the rest behind a click)."""
MAX_OUTPUT_CHARS = 200_000
MAX_HTML_CHARS = 500_000
"""Past these an output is cut on the page (the downloaded notebook has all of it)."""
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1d2330;max-width:70rem}
.cell{margin:.5rem 0;border:1px solid #d6d9de;padding:.4rem .6rem}.cell .label{font-size:.8em;color:#667}
.cell.prompt{border-left:4px solid #2456a3}.cell.thought{border-left:4px solid #8a7bb8}
.cell.action{border-left:4px solid #4a8a5b}.cell.action.errored{border-left-color:#a8322a}
pre{margin:.2rem 0;white-space:pre-wrap;overflow-wrap:anywhere;font:12.5px/1.4 ui-monospace,monospace}
pre.code{background:#f4f6f8;padding:.35rem .5rem}pre.md{font-family:inherit;font-size:14px}
pre.error{background:#fbe9e7}pre.stderr{background:#fff6f4}.submitted{font-weight:600}.bad{color:#a8322a}
iframe.html-out{width:100%;height:14rem;border:1px dashed #d6d9de;resize:vertical}img.out{max-width:100%}
table.kv th{text-align:left;color:#667;font-weight:400;padding-right:1rem}code{white-space:pre-wrap}
"""
"""Enough style for a transcript in a standalone page (the viewer has its own, fuller sheet)."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_B64 = re.compile(rb"^[A-Za-z0-9+/=\s]*$")


def h(value: Any) -> str:
    """``value`` as escaped HTML text (quotes included: safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def text_of(value: Any) -> str:
    """A notebook's multiline string (a list of lines or a string) as one string."""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def as_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False, indent=None)


def pre(text: str, cls: str = "out") -> str:
    """A block of text; collapsed to its first lines when long."""
    text = _ANSI.sub("", text)
    if len(text) > MAX_OUTPUT_CHARS:
        text = (text[: MAX_OUTPUT_CHARS // 2] + f"\n[... {len(text) - MAX_OUTPUT_CHARS:,} characters cut here; "
                "download the notebook for all of it ...]\n" + text[-MAX_OUTPUT_CHARS // 2:])
    lines = text.splitlines()
    if len(lines) <= LONG_LINES and len(text) <= LONG_CHARS:
        return f'<pre class="{cls}">{h(text)}</pre>'
    head = "\n".join(lines[:12])[:1500]
    return (f'<div class="long"><pre class="{cls}">{h(head)}</pre>'
            f'<details class="more"><summary>show all {len(lines):,} lines ({len(text):,} characters)</summary>'
            f'<pre class="{cls}">{h(text)}</pre></details></div>')


def _image(mime: str, data: Any) -> str:
    raw = text_of(data).encode("ascii", "replace")
    if not _B64.match(raw):
        return pre(f"[{mime} output that is not base64: not shown]", "out note")
    try:
        base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError):
        return pre(f"[{mime} output that does not decode: not shown]", "out note")
    clean = re.sub(rb"\s", b"", raw).decode()
    return f'<img class="out" alt="{h(mime)} output" src="data:{h(mime)};base64,{clean}">'


def sandboxed(markup: str, kind: str) -> str:
    """Kernel HTML in a frame with every sandbox permission withheld: it shows, nothing in it runs."""
    if len(markup) > MAX_HTML_CHARS:
        return pre(f"[{kind} output of {len(markup):,} characters: too large to show; download the notebook]",
                   "out note")
    return (f'<iframe class="html-out" sandbox="" referrerpolicy="no-referrer" title="{h(kind)} output" '
            f'srcdoc="{h(markup)}"></iframe>')


def output_html(out: dict[str, Any]) -> str:
    """One cell output."""
    kind = out.get("output_type")
    if kind == "stream":
        return pre(text_of(out.get("text")), "out stderr" if out.get("name") == "stderr" else "out")
    if kind == "error":
        tb = "\n".join(text_of(line) for line in (out.get("traceback") or []))
        head = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
        return pre(tb or head, "out error")
    if kind in ("display_data", "execute_result"):
        data = out.get("data") or {}
        if not isinstance(data, dict):
            return ""
        if isinstance(data.get(ANSWER_MIME), dict):
            return f'<div class="submitted">submitted answer: <code>{h(as_json(data[ANSWER_MIME].get("answer")))}</code></div>'
        if isinstance(data.get(EVIDENCE_MIME), dict):
            return pre("evidence: " + json.dumps(data[EVIDENCE_MIME], default=str, ensure_ascii=False), "out evidence")
        for mime in ("image/png", "image/jpeg", "image/gif"):
            if mime in data:
                return _image(mime, data[mime])
        if "text/html" in data:
            return sandboxed(text_of(data["text/html"]), "HTML")
        if "image/svg+xml" in data:
            return sandboxed(text_of(data["image/svg+xml"]), "SVG")
        for mime in ("text/markdown", "text/plain", "text/latex", "application/json"):
            if mime in data:
                return pre(as_json(data[mime]) if mime == "application/json" else text_of(data[mime]))
        return pre(f"[output of type {', '.join(map(str, data))}: not shown]", "out note")
    return ""


def _duration(meta: dict[str, Any]) -> str:
    ex = meta.get("execution") or {}
    if not isinstance(ex, dict):
        return ""
    try:
        start = datetime.fromisoformat(str(ex["iopub.execute_input"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(ex["shell.execute_reply"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "no reply" if "iopub.execute_input" in ex else ""
    return f"{(end - start).total_seconds():.2f} s"


def _code(cell: dict[str, Any]) -> str:
    outs = "".join(output_html(o) for o in cell.get("outputs") or [] if isinstance(o, dict))
    return f'<pre class="code">{h(text_of(cell.get("source")))}</pre>' + (f'<div class="outputs">{outs}</div>' if outs else "")


def transcript(nb: dict[str, Any]) -> str:
    """The notebook's cells as a transcript (``nb`` as parsed JSON or a NotebookNode)."""
    parts: list[str] = []
    turn = 0
    for cell in nb.get("cells") or []:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata") or {}
        tags = [t for t in (meta.get("tags") or []) if isinstance(t, str)]
        src = text_of(cell.get("source"))
        raw = meta.get("kernelgym")
        km: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if TAG_HEADER in tags:  # the episode's facts: the verdict box above shows them
            parts.append(f'<details class="cell setup"><summary>episode facts (header cell)</summary>'
                         f'<pre class="md">{h(src)}</pre></details>')
        elif TAG_TASK in tags:
            parts.append(f'<section class="cell prompt"><h3>Prompt</h3><pre class="md">{h(src)}</pre></section>')
        elif TAG_PARAMETERS in tags or TAG_SETUP in tags:
            what = "parameters" if TAG_PARAMETERS in tags else "setup: the task's inputs"
            parts.append(f'<details class="cell setup"><summary>{h(what)}</summary>{_code(cell)}</details>')
        elif TAG_THOUGHT in tags:
            if "text" in km:  # schema 3: the cell shows a turn label; the model's own words are in metadata
                src = text_of(km.get("text"))
                if not src.strip():
                    continue  # a label with no thought (the model wrote only code)
            label_turn = km.get("turn") if isinstance(km.get("turn"), int) else turn + 1
            parts.append(f'<section class="cell thought"><div class="label">turn {label_turn} · thought</div>'
                         f'<pre class="md">{h(src)}</pre></section>')
        elif TAG_ACTION in tags:
            recorded = km.get("turn")
            turn = recorded if isinstance(recorded, int) else turn + 1
            errored = any(isinstance(o, dict) and o.get("output_type") == "error" for o in cell.get("outputs") or [])
            took = _duration(meta)
            status = ' <span class="bad">error</span>' if errored else ""
            parts.append(f'<section class="cell action{" errored" if errored else ""}"><div class="label">turn {turn} · '
                         f'code{status}{" · " + h(took) if took else ""}</div>{_code(cell)}</section>')
        elif TAG_VERIFIER in tags:
            parts.append(f'<details class="cell verifier"><summary>verifier (locked) and its evidence</summary>'
                         f'{_code(cell)}</details>')
        elif TAG_RECORD in tags:
            parts.append(f'<section class="cell result"><div class="label">result recorded by the run</div>'
                         f'<pre class="md">{h(src)}</pre></section>')
        elif TAG_RESULT in tags and cell.get("cell_type") == "code":  # schema 3: recomputes the verdict when run
            parts.append(f'<details class="cell verifier"><summary>result cell (grades each new execution)</summary>'
                         f'{_code(cell)}</details>')
        elif TAG_RESULT in tags:
            parts.append(f'<section class="cell result"><div class="label">result cell</div><pre class="md">{h(src)}</pre>'
                         "</section>")
        elif cell.get("cell_type") == "code":
            parts.append(f'<section class="cell other"><div class="label">cell</div>{_code(cell)}</section>')
        else:
            parts.append(f'<section class="cell other"><pre class="md">{h(src)}</pre></section>')
    return "\n".join(parts)
