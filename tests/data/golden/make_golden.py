"""Regenerate the golden notebooks of ``tests/data/golden/`` (real episodes in real biomed kernels).

    python tests/data/golden/make_golden.py

They are what ``kernelgym run``, ``kernelgym notebook`` and ``papermill --engine kernelgym`` write for
the two tiny tasks of ``specs/golden.*``: an episode that passed, one that failed, one whose kernel
died, a blank starter and a solved starter (executed). Tests read them to check tamper detection,
exports and reports in milliseconds, without a kernel. Regenerate them when the notebook format
changes on purpose, and review the diff.

``legacy_v1_*.ipynb`` are not written here: they are episode notebooks of schema 1 (checksums of the
source alone, before they bound the task id), kept to check that old notebooks still grade as they did.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUM, DOUBLE = "golden/sum/00000", "golden/double/00000"


def main() -> int:
    os.environ["KERNELGYM_SPECS"] = str(HERE / "specs")
    os.environ.setdefault("KERNELGYM_HOME", tempfile.mkdtemp(prefix="kernelgym-golden-"))

    import papermill

    from kernelgym import notebook as nbk
    from kernelgym.agents.reference import ReferenceAgent
    from kernelgym.episode import Action, Observation, run_episode
    from kernelgym.jupyter import papermill_engine
    from kernelgym.notebook.starter import new_starter_notebook
    from kernelgym.runtime.profiles import ensure_kernelspecs_installed, kernel_name
    from kernelgym.tasks import get_instance

    class Scripted:
        """Runs ``cells`` one per turn, then submits ``final``."""

        def __init__(self, cells: list[str], final: Action | None) -> None:
            self.name, self.cells, self.final = "scripted", cells, final

        async def act(self, obs: Observation) -> Action:
            if obs.turn < len(self.cells):
                return Action.code(self.cells[obs.turn], thought=f"Step {obs.turn + 1}.")
            return self.final or Action.stop()

    ensure_kernelspecs_installed()
    episodes = {
        "passed": (SUM, ReferenceAgent()),
        "failed": (SUM, Scripted(["print(values)"], Action.answer(11, thought="Eleven, I think."))),
        "kernel_died": (SUM, Scripted(["import os\nos._exit(1)"], None)),
        "function_passed": (DOUBLE, ReferenceAgent()),
    }
    for name, (task_id, agent) in episodes.items():
        result, nb = asyncio.run(run_episode(get_instance(task_id), agent))  # type: ignore[arg-type]
        nbk.write(nb, HERE / f"{name}.ipynb")
        print(f"{name}: passed={result.passed} stop={result.stop_reason}")

    inst = get_instance(SUM)
    blank = new_starter_notebook(inst)
    nbk.write(blank, HERE / "starter_blank.ipynb")
    solved = new_starter_notebook(inst)
    [solution] = nbk.cells_with_tag(solved, nbk.TAG_ACTION)
    solution.source = "\n".join(inst.reference)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.ipynb"
        nbk.write(solved, src)
        papermill_engine.register()
        out = papermill.execute_notebook(str(src), None, kernel_name=kernel_name(inst.profile),
                                         engine_name=papermill_engine.ENGINE_NAME, progress_bar=False)
    nbk.write(out, HERE / "starter_solved.ipynb")
    print("starter_blank, starter_solved written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
