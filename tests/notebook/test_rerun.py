"""Re-running an episode notebook recomputes its verdict (issue 16, item 4).

The golden episode notebooks (``tests/data/golden/``) re-run with papermill in real ``kernelgym-biomed``
kernels: plain papermill (whose kernel asks kernelgym's grader, as a person's kernel does) and
``papermill --engine kernelgym`` (which grades on the host after execution).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from helpers.paths import TESTS
from kernelgym import notebook as nbk
from kernelgym import tasks
from kernelgym.kernel.mime import VERDICT_MIME

pytestmark = [pytest.mark.kernel]

GOLDEN = TESTS / "data" / "golden"


@pytest.fixture(scope="module", autouse=True)
def golden_specs(kg_home: Path) -> Iterator[None]:
    """The tiny ``golden`` family, its kernelspecs installed where papermill looks for them."""
    from kernelgym.runtime.profiles import install_kernelspecs

    mp = pytest.MonkeyPatch()
    mp.setenv("KERNELGYM_SPECS", str(GOLDEN / "specs"))
    tasks.clear_caches()
    install_kernelspecs(user=True)
    yield
    mp.undo()
    tasks.clear_caches()


def edited_to_a_wrong_answer(tmp_path: Path) -> Path:
    """The golden passed episode, its last action cell edited (in an editor, as a person would) to
    submit a wrong answer."""
    nb = nbk.read(GOLDEN / "passed.ipynb")
    last = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[-1]
    assert last.source == "submit(total)"
    last.source = "submit(total + 1)"
    path = tmp_path / "edited.ipynb"
    nbformat.write(nb, str(path))
    return path


def shown_verdict(nb: nbformat.NotebookNode) -> tuple[dict, str]:
    """The verdict the result cell shows after the execution: its record and its markdown."""
    [cell] = nbk.cells_with_tag(nb, nbk.TAG_RESULT)
    [out] = [o for o in cell.outputs if VERDICT_MIME in o.get("data", {})]
    return out["data"][VERDICT_MIME], out["data"]["text/markdown"]


def test_an_edited_episode_rerun_with_plain_papermill_shows_failed(tmp_path: Path) -> None:
    """Issue 16 (4): re-running an episode notebook with plain papermill, after an action cell was
    edited to submit a wrong answer, kept the old "Result: PASSED" cell. The result cell is code now:
    executed, it asks kernelgym's grader about this execution's evidence and shows FAILED, in plain
    words; the run's own PASSED stays, labelled as the run's record."""
    import papermill

    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(edited_to_a_wrong_answer(tmp_path)), str(out), progress_bar=False,
                               cwd=str(tmp_path))
    nb = nbk.read(out)
    verdict, text = shown_verdict(nb)
    assert verdict["passed"] is False and verdict["via"] == "channel", verdict
    assert "Verdict of this execution: **FAILED**" in text and "submitted `11`" in text, text
    assert "host channel" not in text and "10" not in text.replace("11", ""), text  # never the expected answer
    [record] = nbk.cells_with_tag(nb, nbk.TAG_RECORD)
    assert record.source.startswith("### Result recorded by the run: **PASSED**")  # the run's record, labelled
    assert "does not change" in record.source


def test_an_edited_episode_rerun_with_the_kernelgym_engine_shows_failed(tmp_path: Path) -> None:
    """Issue 16 (4): the same under ``papermill --engine kernelgym``, whose kernels may not ask the
    grader: the engine grades this execution's evidence on the host and writes the verdict."""
    import papermill

    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(edited_to_a_wrong_answer(tmp_path)), str(out), engine_name="kernelgym",
                               progress_bar=False, cwd=str(tmp_path))
    verdict, text = shown_verdict(nbk.read(out))
    assert verdict["passed"] is False and verdict["via"] == "papermill-engine", verdict
    assert "Verdict of this execution: **FAILED**" in text, text
