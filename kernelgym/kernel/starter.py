"""Kernel side of starter notebooks (``kernelgym notebook TASK_ID``).

A starter notebook's locked cells call these helpers with the task id of papermill's parameters
cell and what was embedded when the notebook was written (the inputs and the verifier of its own
task), so a starter runs in any kernel, sandboxed or not, without reaching the host:

- :func:`task_inputs` (setup cell) returns the task's inputs;
- :func:`verify` (verifier cell) runs the task's verifier, which emits the evidence;
- :func:`show_verdict` (result cell) asks the host-side grader for passed/failed on that evidence.

For another task id (``papermill starter.ipynb out.ipynb -p task_id OTHER``), and for every verdict,
the host side is asked:

- over the **host channel** when the kernel's provisioner serves one (``KERNELGYM_HOST_SOCKET``; see
  ``kernelgym/jupyter/host_channel.py``): kernels a person starts with the plain papermill CLI or in
  JupyterLab, sandboxed as every kernelgym kernel is;
- else through a ``python -m kernelgym.jupyter.host_answers`` subprocess, which works in an unsandboxed kernel.

Kernels that kernelgym starts itself (runs, ``kernelgym grade``, gym environments) get no host
channel, so an agent's code cannot try answers against the grader; there these fail with a message
saying what to do instead: ``papermill --engine kernelgym`` (kernelgym's papermill engine retargets
the notebook and writes the verdict on the host) or ``kernelgym grade``.

This module imports nothing of the host side, and the ground truth never enters the kernel: the host
answers only passed/failed. ``kernelgym grade`` trusts none of it and re-grades on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from kernelgym.kernel.mime import EVIDENCE_MIME, VERDICT_MIME

HOST_TIMEOUT_S = 300.0
HOST_SOCKET_ENV = "KERNELGYM_HOST_SOCKET"
"""Set in a kernel's environment when its provisioner serves a host channel (the socket's path)."""
ALTERNATIVES = "run it with `papermill --engine kernelgym ...` or grade it with `kernelgym grade`"

_evidence: dict[str, list[dict[str, Any]]] = {}
"""Evidence emitted by :func:`verify`, by task id."""


class HostUnreachable(RuntimeError):
    """The host side of kernelgym could not answer from this kernel (sandboxed, or no such task)."""


def _host(command: str, task_id: str, payload: Any = None) -> Any:
    """Ask the host side: over the provisioner's host channel when it serves one, else a subprocess."""
    channel = os.environ.get(HOST_SOCKET_ENV)
    if channel and os.path.exists(channel):
        try:
            return _channel_request(channel, command, str(task_id), payload)
        except OSError as exc:
            raise HostUnreachable(f"no answer from kernelgym's grader ({exc})") from None
        except RuntimeError as exc:
            raise HostUnreachable(str(exc)) from None
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kernelgym.jupyter.host_answers", command, str(task_id)],
            input=json.dumps(payload) if payload is not None else "",
            check=False, capture_output=True, text=True, timeout=HOST_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise HostUnreachable(f"the host side of kernelgym is not reachable from this kernel ({exc})") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        if "No module named" in lines[-1]:
            raise HostUnreachable(
                "kernelgym's grader is not reachable from this kernel (a sandboxed kernel started by "
                "kernelgym itself, which lets no code in the kernel ask the grader)"
            )
        raise HostUnreachable(lines[-1])
    return json.loads(proc.stdout)


def _channel_request(path: str, command: str, task_id: str, payload: Any = None) -> Any:
    """One request over the host channel (``kernelgym/jupyter/host_channel.py`` is the server); its result."""
    import socket

    request: dict[str, Any] = {"command": command, "task_id": task_id}
    if payload is not None:
        request["evidence"] = payload
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(HOST_TIMEOUT_S)
        sock.connect(path)
        try:
            sock.sendall(json.dumps(request, default=str).encode() + b"\n")
        except BrokenPipeError:
            pass  # the host refused before reading the request; its one-line reason is still there to read
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data or b"{}")
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error") or "kernelgym's grader gave no answer")
    return reply["result"]


def _display(bundle: dict[str, Any]) -> None:
    from IPython.display import display

    display(bundle, raw=True)


def task_inputs(task_id: str, known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The inputs of ``task_id``: embedded in ``known``, else asked of the host. Shows them."""
    if task_id in known:
        inputs = dict(known[task_id])
        header = f"Task `{task_id}`"
    else:
        try:
            record = _host("task", task_id)
        except HostUnreachable as exc:
            raise HostUnreachable(
                f"task {task_id!r}: this notebook holds the inputs of {', '.join(map(repr, known))} only, "
                f"and {exc}. Write a notebook for it with `kernelgym notebook {task_id}`, or {ALTERNATIVES}."
            ) from None
        inputs = dict(record.get("inputs") or {})
        header = f"Task `{task_id}` (loaded from the host)\n\n{record.get('prompt', '')}"
    shown = "\n".join(f"- `{k} = {v!r}`" for k, v in inputs.items()) or "(none)"
    _display({"text/markdown": f"{header}\n\nInputs:\n{shown}", "text/plain": f"{task_id}: {inputs!r}"})
    return inputs


def _run_verifier(name: str, args: dict[str, Any]) -> None:
    from kernelgym.kernel import verify as _verify

    if name == "answer":
        _verify.emit_answer_evidence()
    elif name == "function":
        _verify.emit_function_evidence(str(args.get("name", "")), list(args.get("inputs", [])))
    else:
        raise ValueError(f"unknown verifier {name!r}")


def verify(task_id: str, known: dict[str, dict[str, Any]]) -> None:
    """Run the verifier of ``task_id`` (``known``: ``{id: {"verifier": name, "args": {...}}}``).

    Never raises: a verifier that cannot run emits no evidence, which grades as a failure.
    """
    captured: list[dict[str, Any]] = []
    _evidence[str(task_id)] = captured
    try:
        spec = known.get(task_id) or _host("verifier", task_id)
        from IPython import get_ipython

        pub = get_ipython().display_pub
        original = pub.publish
        patched_before = "publish" in vars(pub)

        def publish(data: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(data, dict) and isinstance(data.get(EVIDENCE_MIME), dict):
                captured.append(data[EVIDENCE_MIME])
            return original(data, *args, **kwargs)

        pub.publish = publish
        try:
            _run_verifier(str(spec.get("verifier", "answer")), dict(spec.get("args") or {}))
        finally:
            if patched_before:
                pub.publish = original
            else:
                del pub.publish  # back to the class's method
    except BaseException as exc:  # noqa: BLE001 - a verifier never raises
        try:
            print(f"kernelgym verifier failed: {exc}")
        except BaseException:  # noqa: BLE001
            pass


def show_verdict(task_id: str) -> None:
    """Show the grader's verdict on the evidence the verifier produced in this execution (a starter's
    :func:`verify`, else an episode notebook's verifier cell). Never raises; without a verdict it says
    plainly that this execution was not verified, never an earlier verdict."""
    try:
        evidence = _evidence.get(str(task_id))
        if evidence is None:
            from kernelgym.kernel import verify as _verify

            evidence = _verify.last_evidence()
        if evidence is None:
            verdict: dict[str, Any] = {"passed": None, "summary": "the verifier cell did not run in this execution, "
                                                                  "so there is nothing to grade: run every cell"}
        else:
            verdict = _host("verdict", task_id, evidence)
            channel = bool(os.environ.get(HOST_SOCKET_ENV))
            verdict["via"] = "channel" if channel else "subprocess"
            verdict["by"] = "kernelgym's grader, outside this kernel, asked when this cell ran"
    except BaseException as exc:  # noqa: BLE001
        verdict = {"passed": None, "summary": f"kernelgym's grader could not be asked from this kernel ({_plain(exc)}). "
                                              f"To grade this execution, {ALTERNATIVES}."}
    try:
        _display(verdict_bundle(verdict))
    except BaseException as exc:  # noqa: BLE001
        print(f"kernelgym verdict: {verdict!r} ({exc!r})")


def _plain(text: Any) -> str:
    """``text`` shown literally in markdown (it may quote a submitted answer)."""
    special = "\\`*_{}[]()#+-.!|~<>"
    return "".join("\\" + ch if ch in special else ch for ch in str(text))


def verdict_bundle(verdict: dict[str, Any]) -> dict[str, Any]:
    """The display bundle of a verdict (also written by the host-side papermill engine): the verdict of
    *this* execution, or "not verified in this execution" when there is none. Its ``summary`` is
    markdown made by the host (anything untrusted in it already escaped)."""
    word = {True: "PASSED", False: "FAILED"}.get(verdict.get("passed"), "not verified in this execution")
    summary = str(verdict.get("summary", ""))
    by = f"\n\n*Graded by {_plain(verdict['by'])}, on the evidence of the verifier cell above.*" if verdict.get("by") else ""
    return {
        VERDICT_MIME: verdict,
        "text/markdown": f"### Verdict of this execution: **{word}**\n\n{summary}{by}",
        "text/plain": f"kernelgym verdict of this execution: {word}. {summary}",
    }
