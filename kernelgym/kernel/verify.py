"""Verifier helpers, called by the locked verifier cell at the end of every episode notebook.

They report *evidence* (what the agent submitted) as a display message; the host compares it with
the ground truth, which is never in the kernel. Nothing here ever raises: a sabotaged kernel
produces missing or wrong evidence, which the host grades as a failure.
"""

from __future__ import annotations

from typing import Any

from kernelgym.kernel.mime import EVIDENCE_MIME

_last: list[dict[str, Any]] | None = None
"""The evidence of the last verifier call in this kernel (what an episode's result cell grades)."""


def last_evidence() -> list[dict[str, Any]] | None:
    """The evidence the last verifier call emitted (``None``: no verifier ran in this kernel)."""
    return None if _last is None else list(_last)


def _emit(evidence: dict[str, Any]) -> None:
    global _last
    _last = [evidence]
    try:
        from IPython.display import display

        display({EVIDENCE_MIME: evidence, "text/plain": f"kernelgym evidence: {evidence!r}"}, raw=True)
    except BaseException as exc:  # noqa: BLE001
        print(f"kernelgym verifier could not emit evidence: {exc}")


def emit_answer_evidence() -> None:
    """Emit ``{"submitted": bool, "answer": ...}`` under the evidence MIME type."""
    evidence: dict[str, Any]
    try:
        from kernelgym.kernel import _state, to_jsonable

        evidence = {"submitted": bool(_state.submitted), "answer": to_jsonable(_state.answer)}
    except BaseException as exc:  # noqa: BLE001 - the verifier must never raise
        evidence = {"submitted": False, "answer": None, "error": f"{type(exc).__name__}: {exc}"}
    _emit(evidence)


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _resolve(name: str) -> Any:
    """The user's function ``name``; or, for ``kernelgym.kernel.<module>:<function>``, a kernel-side
    harness that calls the user's code itself (e.g. MedAgentGym's BioCoder program runner)."""
    if ":" in name:
        import importlib

        module, _, attr = name.partition(":")
        if not module.startswith("kernelgym.kernel."):
            return None
        return getattr(importlib.import_module(module), attr, None)
    return _user_namespace().get(name)


def emit_function_evidence(name: str, inputs: list[list[Any]], time_limit: float = 5.0) -> None:
    """Call the user's function ``name`` on each argument list of ``inputs``; emit the outputs.

    Evidence: ``{"kind": "function", "name", "defined", "outputs", "errors"}``, one output and one
    error (or ``None``) per input. An input whose call raises, runs longer than ``time_limit``
    seconds or returns something that is not JSON-serialisable gets output ``None`` and its error;
    the other inputs are still called. Nothing here raises.
    """
    evidence: dict[str, Any] = {"kind": "function", "name": name, "defined": False, "outputs": [], "errors": []}
    try:
        import copy
        import signal
        import threading

        from kernelgym.kernel import to_jsonable

        fn = _resolve(name)
        evidence["defined"] = callable(fn)
        if not callable(fn):
            evidence["errors"] = [f"no function named {name!r} is defined"] * len(inputs)
            evidence["outputs"] = [None] * len(inputs)
        else:
            use_alarm = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

            class _TimeUp(BaseException):
                pass

            def _on_alarm(signum: int, frame: Any) -> None:
                raise _TimeUp()

            for args in inputs:
                out, err = None, None
                previous = signal.signal(signal.SIGALRM, _on_alarm) if use_alarm else None
                try:
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, time_limit)
                    try:
                        value = fn(*copy.deepcopy(list(args)))
                    finally:
                        if use_alarm:
                            signal.setitimer(signal.ITIMER_REAL, 0)
                    out = to_jsonable(value)
                except _TimeUp:
                    err = f"TimeoutError: the call ran longer than {time_limit:g} s"
                except BaseException as exc:  # noqa: BLE001 - one failing input must not stop the rest
                    err = f"{type(exc).__name__}: {exc}"[:500]
                finally:
                    if use_alarm:
                        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
                evidence["outputs"].append(out)
                evidence["errors"].append(err)
    except BaseException as exc:  # noqa: BLE001 - the verifier must never raise
        evidence["error"] = f"{type(exc).__name__}: {exc}"
    _emit(evidence)
