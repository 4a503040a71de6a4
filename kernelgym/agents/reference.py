"""The reference agent: runs the task's reference solution, cell by cell.

It proves that every task is solvable in its kernel and that every verifier accepts a right answer.
It is host-side code and looks the solution up in the task store by the task id.
"""

from __future__ import annotations

from kernelgym.episode import Action, Observation
from kernelgym.tasks import get_instance


class ReferenceAgent:
    name = "reference"

    def __init__(self) -> None:
        self._cells: list[str] | None = None

    async def act(self, obs: Observation) -> Action:
        if self._cells is None:
            self._cells = list(get_instance(obs.task.id).reference)
        if obs.status == "error":
            return Action.stop(f"The reference solution failed:\n\n```\n{obs.output}\n```")
        if not self._cells:
            return Action.stop("The reference solution ended without submitting an answer.")
        return Action.code(self._cells.pop(0))
