"""Old import paths (before the package was split into layers) keep working for one release.

``import kernelgym.grade`` and the like load the module's new home and warn once
(``DeprecationWarning``). Remove this module, and its installation in ``kernelgym/__init__.py``, in
the release after 0.2.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

MOVED: dict[str, str] = {
    "kernelgym.profiles": "kernelgym.runtime.profiles",
    "kernelgym.sandbox": "kernelgym.runtime.sandbox",
    "kernelgym.forkserver": "kernelgym.runtime.forkserver",
    "kernelgym.tempdirs": "kernelgym.runtime.tempdirs",
    "kernelgym.pool": "kernelgym.runtime.pool",
    "kernelgym.session": "kernelgym.runtime.kernel_session",
    "kernelgym.host_channel": "kernelgym.jupyter.host_channel",
    "kernelgym.provisioner": "kernelgym.jupyter.provisioner",
    "kernelgym.papermill_engine": "kernelgym.jupyter.papermill_engine",
    "kernelgym.starter": "kernelgym.notebook.starter",
    "kernelgym.grade": "kernelgym.regrade",
    "kernelgym.tools": "kernelgym.training.langchain_tools",
    "kernelgym.runner": "kernelgym.runs.runner",
    "kernelgym.report": "kernelgym.runs.report",
    "kernelgym.ray_backend": "kernelgym.runs.ray_backend",
    "kernelgym.export": "kernelgym.training.export",
    "kernelgym.rewards": "kernelgym.training.rewards",
    "kernelgym.rollout": "kernelgym.training.rollout",
    "kernelgym.gym": "kernelgym.training.gym",
    "kernelgym.task_stats": "kernelgym.tasks.stats",
    "kernelgym.llm.medagentgym": "kernelgym.llm.medagentgym_protocol",
}
"""Old module path -> new module path."""


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec: Any) -> ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new}; the old path will be removed in the next release",
            DeprecationWarning, stacklevel=3,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(fullname, new))


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
