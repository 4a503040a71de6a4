"""Extension points: load ``"module:attr"`` targets and kernelgym's own entry-point groups.

Third-party packages extend kernelgym by declaring entry points (as Gymnasium registers
environments and papermill its engines); kernelgym's built-ins are declared the same way in its
``pyproject.toml``, so there is one loader for both:

- ``kernelgym.agents``: agent name -> ``module:Class`` (``kernelgym run --agent NAME``);
- ``kernelgym.datasets``: data set name -> ``module:function`` returning a manifest with a
  ``.fingerprint`` (named in a profile's ``kernel.json``);
- ``kernelgym.task_specs``: name -> ``module:function`` returning a folder of ``*.yaml`` specs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

AGENTS = "kernelgym.agents"
DATASETS = "kernelgym.datasets"
TASK_SPECS = "kernelgym.task_specs"

# The built-ins, also declared in pyproject.toml: here too so a source checkout that was never
# installed (no entry-point metadata) still finds them.
BUILTIN: dict[str, dict[str, str]] = {
    AGENTS: {
        "reference": "kernelgym.agents.reference:ReferenceAgent",
        "replay": "kernelgym.agents.replay:ReplayAgent",
        "llm": "kernelgym.agents.langchain:LangChainAgent",
    },
    DATASETS: {
        "ehr": "kernelgym.datasets.ehr:ensure_ehr",
        "biomed": "kernelgym.kernel.biomed:manifest",
        # imported, never built: raises FileNotFoundError naming `kernelgym data import mimic3 PATH`
        "mimic3": "kernelgym.importers.mimic3:ensure_mimic3",
        # derived from ehr / mimic3: the test cohort cut at its prediction time (ehr_predict family)
        "ehr-predict": "kernelgym.families.ehr_predict:ensure_predict_ehr",
        "ehr-predict-mimic3": "kernelgym.families.ehr_predict:ensure_predict_mimic3",
    },
    TASK_SPECS: {},
}


class PluginError(ValueError):
    """A ``module:attr`` target cannot be loaded; the message says which and why."""


@cache
def registered(group: str) -> dict[str, str]:
    """``{name: "module:attr"}`` of an entry-point group: the built-ins, then installed packages."""
    found = dict(BUILTIN.get(group, {}))
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep.value)
    return found


def is_file_target(target: str) -> bool:
    """Whether ``target`` names a Python file (``path/to/file.py:attr``) rather than a module."""
    return target.rpartition(":")[0].endswith(".py")


def load(target: str) -> Any:
    """The object named by ``"module:attr"`` or ``"path/to/file.py:attr"`` (``attr`` may be dotted)."""
    if is_file_target(target):
        module_name, sep, attr = target.rpartition(":")
    else:
        module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{target!r} is not of the form 'module:attr' or 'path/to/file.py:attr'")
    try:
        obj: Any = _load_file(Path(module_name)) if is_file_target(target) else importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"cannot import module {module_name!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"module {module_name!r} has no {attr!r}") from None
    return obj


def _load_file(path: Path) -> Any:
    """Import a Python file as a module (once per file; registered in ``sys.modules`` under a name made
    from its path, so its classes pickle and its dataclasses work)."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ImportError(f"no such file: {path}")
    name = f"_kernelgym_file_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_named(group: str, name: str) -> Any:
    """The object a name of ``group`` is registered for."""
    target = registered(group).get(name)
    if target is None:
        raise PluginError(f"no {group.rsplit('.', 1)[-1]} named {name!r}; known: {', '.join(sorted(registered(group)))}")
    return load(target)
