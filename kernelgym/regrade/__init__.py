"""``kernelgym grade``: re-execute episode and starter notebooks in fresh kernels and grade them on the host.

One module per stage, as papermill's pipeline: :mod:`~kernelgym.regrade.restore` validates a notebook,
finds its task, restores the canonical cells (as nbgrader restores locked cells) and says what was
tampered with; :mod:`~kernelgym.regrade.execute` runs it with papermill in a fresh kernel of the
task's profile; :mod:`~kernelgym.regrade.finish` grades the evidence on the host and writes the
graded notebook; :mod:`~kernelgym.regrade.batch` grades many notebooks concurrently and writes
``grades.jsonl``. The grade is always what the code in the notebook really does when run; the
tamper flags say what was changed after the fact.
"""

from kernelgym.regrade.batch import (
    find_notebooks,
    grade_notebook,
    grade_paths,
    grade_paths_async,
    read_grades,
    summarize,
)
from kernelgym.regrade.execute import KernelStartFailed, execute
from kernelgym.regrade.finish import finish
from kernelgym.regrade.records import (
    GRADES,
    NO_VERIFIER_STOPS,
    GradeError,
    GradeOptions,
    GradeRecord,
)
from kernelgym.regrade.restore import Prepared, prepare, read_notebook

__all__ = [
    "GRADES", "NO_VERIFIER_STOPS", "GradeError", "GradeOptions", "GradeRecord", "KernelStartFailed", "Prepared",
    "execute", "find_notebooks", "finish", "grade_notebook", "grade_paths", "grade_paths_async", "prepare",
    "read_grades", "read_notebook", "summarize",
]
