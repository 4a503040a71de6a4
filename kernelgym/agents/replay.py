"""The replay agent: re-plays the action cells of a saved episode notebook.

``source`` is a notebook or a folder of notebooks (e.g. a run's ``episodes/``); the notebook of the
current task is found by the task id in its metadata.
"""

from __future__ import annotations

from pathlib import Path

from kernelgym import notebook as nbk
from kernelgym.episode import Action, Observation


def _task_id(path: Path) -> str | None:
    try:
        return nbk.read(path).metadata.get("kernelgym", {}).get("task", {}).get("id")
    except Exception:
        return None


class ReplayAgent:
    name = "replay"

    def __init__(self, source: str) -> None:
        self.source = Path(source)
        if not self.source.exists():
            raise FileNotFoundError(f"replay source {self.source} does not exist (a notebook or a folder of them)")
        self._cells: list[str] | None = None

    def _find(self, task_id: str) -> Path:
        if self.source.is_file():
            return self.source
        from kernelgym.tasks import slug

        direct = sorted(self.source.glob(f"{slug(task_id)}*.ipynb"))
        for path in direct + sorted(self.source.rglob("*.ipynb")):
            if _task_id(path) == task_id:
                return path
        raise FileNotFoundError(f"no notebook for task {task_id} under {self.source}")

    async def act(self, obs: Observation) -> Action:
        if self._cells is None:
            nb = nbk.read(self._find(obs.task.id))
            self._cells = [c.source for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)]
        if not self._cells:
            return Action.stop("Replay finished.")
        return Action.code(self._cells.pop(0))
