"""kernelgym: train and evaluate LLM agents on code-based medical reasoning in Jupyter kernels.

The top-level names are loaded lazily so that the kernel side (:mod:`kernelgym.kernel`) can be
imported inside a kernel without pulling in the host side.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from kernelgym import _compat

__version__ = "0.1.0"

_EXPORTS = {
    "Action": "kernelgym.episode",
    "Observation": "kernelgym.episode",
    "EpisodeResult": "kernelgym.episode",
    "run_episode": "kernelgym.episode",
    "Instance": "kernelgym.tasks",
    "TaskInfo": "kernelgym.tasks",
    "TaskSpec": "kernelgym.tasks",
    "Grader": "kernelgym.grading",
    "grade": "kernelgym.grading",
}

if TYPE_CHECKING:  # the lazy names above, for type checkers and IDEs
    from kernelgym.episode import Action, EpisodeResult, Observation, run_episode  # noqa: F401
    from kernelgym.grading import Grader, grade  # noqa: F401
    from kernelgym.tasks import Instance, TaskInfo, TaskSpec  # noqa: F401

__all__ = sorted(_EXPORTS)

_compat.install()  # old module paths (kernelgym.grade, kernelgym.gym, ...) for one more release


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kernelgym' has no attribute {name!r}")
