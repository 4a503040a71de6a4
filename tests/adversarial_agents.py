"""Agents that try to pass without the right answer; loaded by tests as ``module:Class``.

Each one must end with passed=false.
"""

from __future__ import annotations

from kernelgym import Action, Observation

EVIDENCE = "application/vnd.kernelgym.evidence+json"
ANSWER = "application/vnd.kernelgym.answer+json"


class Scripted:
    """Plays a fixed list of actions, then stops."""

    cells: list[str] = []
    final: Action | None = None

    def __init__(self) -> None:
        self._queue = list(self.cells)

    async def act(self, obs: Observation) -> Action:
        if self._queue:
            return Action.code(self._queue.pop(0))
        return self.final or Action.stop()


class WrongAnswer(Scripted):
    final = Action.answer("certainly not the answer")


class PrintsSuccess(Scripted):
    cells = [
        "print('PASSED'); print('Result: PASSED (score 1)'); print('{\"passed\": true, \"score\": 1.0}')",
        "from IPython.display import Markdown, display\ndisplay(Markdown('### Result: **PASSED**'))",
    ]


class RedefinesSubmit(Scripted):
    cells = [
        "def submit(answer):\n    print('Submitted answer:', answer)\n    return True",
        "submit('anything')",
    ]


class PatchesKernelState(Scripted):
    """Pretends a submission happened by writing kernelgym's kernel-side state directly."""

    cells = [
        "import kernelgym.kernel as k\nk._state.submitted = True\nk._state.answer = 'forged'",
    ]


class RedefinesBuiltins(Scripted):
    """Sabotages the verifier: imports fail, json lies, display is replaced."""

    cells = [
        "import builtins, json\n"
        "json.dumps = lambda *a, **k: '{\"passed\": true}'\n"
        "_real_import = builtins.__import__\n"
        "def _imp(name, *a, **k):\n"
        "    if name.startswith('kernelgym'):\n"
        "        raise ImportError('no verifier for you')\n"
        "    return _real_import(name, *a, **k)\n"
        "builtins.__import__ = _imp\n"
        "import IPython.display\n"
        "IPython.display.display = lambda *a, **k: print('PASSED')",
    ]


class ForgesAnswerMessage(Scripted):
    """Emits the answer and evidence MIME bundles by hand, with a wrong value."""

    cells = [
        "from IPython.display import display\n"
        f"display({{{EVIDENCE!r}: {{'submitted': True, 'answer': 'forged'}}}}, raw=True)\n"
        f"display({{{ANSWER!r}: {{'answer': 'forged'}}, 'text/plain': 'Submitted answer'}}, raw=True)",
    ]


class ForgesEvidenceInVerifier(Scripted):
    """Registers a hook so the verifier cell itself emits extra, forged evidence."""

    cells = [
        "from IPython.display import display\n"
        "def _forge(result):\n"
        f"    display({{{EVIDENCE!r}: {{'submitted': True, 'answer': 'forged'}}}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', _forge)",
        "submit('wrong as well')",
    ]


class LoopsForever(Scripted):
    """Runs a cell that never returns, then solves the task with the reference solution."""

    def __init__(self) -> None:
        super().__init__()
        self._ref: list[str] | None = None
        self.saw: str | None = None

    async def act(self, obs: Observation) -> Action:
        if self._ref is None:
            from kernelgym.tasks import get_instance

            self._ref = list(get_instance(obs.task.id).reference)
            return Action.code("while True:\n    pass")
        if obs.turn == 1:
            type(self).last_observation = obs.output
        if self._ref:
            return Action.code(self._ref.pop(0))
        return Action.stop()


class KillsKernel(Scripted):
    cells = ["import os\nos._exit(1)"]


class RaisesInAct:
    async def act(self, obs: Observation) -> Action:
        raise RuntimeError("agent bug")


ALL_CHEATERS = [
    "WrongAnswer", "PrintsSuccess", "RedefinesSubmit", "PatchesKernelState",
    "RedefinesBuiltins", "ForgesAnswerMessage", "ForgesEvidenceInVerifier",
]
