"""Profiles: named kernel environments (``kernels/<profile>/``), their kernelspecs and data.

A profile's kernelspec is installed as ``kernelgym-<profile>`` so that JupyterLab, nbclient and
papermill start the same kernels as ``kernelgym run``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from kernelgym.tasks import resource_dir

KERNEL_PREFIX = "kernelgym-"

# data set name -> "module:function" returning a manifest with a .fingerprint
DATASET_BUILDERS = {"ehr": "kernelgym.datasets.ehr:ensure_ehr", "biomed": "kernelgym.kernel.biomed:manifest"}


def kernel_name(profile: str) -> str:
    """The Jupyter kernel name of a profile: ``kernelgym-<profile>``."""
    return f"{KERNEL_PREFIX}{profile}"


def profiles() -> list[str]:
    """Every profile shipped with kernelgym."""
    root = resource_dir("kernels")
    return sorted(p.name for p in root.iterdir() if (p / "kernel.json").is_file())


def profile_dir(profile: str) -> Path:
    path = resource_dir("kernels") / profile
    if not (path / "kernel.json").is_file():
        raise KeyError(f"unknown profile {profile!r}; known: {', '.join(profiles())}")
    return path


def _spec_dict(profile: str) -> dict[str, Any]:
    spec = json.loads((profile_dir(profile) / "kernel.json").read_text())
    if spec["argv"][0] == "python":
        spec["argv"][0] = sys.executable
    return spec


def profile_datasets(profile: str) -> list[str]:
    return list(_spec_dict(profile).get("metadata", {}).get("kernelgym", {}).get("datasets", []))


def ensure_profile_data(profile: str) -> str | None:
    """Build the profile's data sets if missing; return a combined fingerprint (or None)."""
    fps = []
    for name in profile_datasets(profile):
        module, func = DATASET_BUILDERS[name].split(":")
        fps.append(f"{name}:{getattr(import_module(module), func)().fingerprint}")
    return ",".join(fps) or None


class ProfileSpecManager(KernelSpecManager):
    """A KernelSpecManager that resolves ``kernelgym-<profile>`` to this installation's profiles.

    Installed kernelspecs may be stale (an older checkout); kernelgym's own runs always use the
    profiles of the code that is running. Other kernel names resolve as usual.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name.startswith(KERNEL_PREFIX):
            profile = kernel_name[len(KERNEL_PREFIX):]
            try:
                return KernelSpec(resource_dir=str(profile_dir(profile)), **_spec_dict(profile))
            except KeyError:
                pass
        return super().get_kernel_spec(kernel_name)


@cache
def spec_manager() -> ProfileSpecManager:
    return ProfileSpecManager()


def install_kernelspecs(*, user: bool = False, prefix: str | None = None) -> list[tuple[str, str]]:
    """Install every profile's kernelspec; returns ``[(kernel name, installed path)]``.

    Default location: ``sys.prefix`` (the active virtual environment); ``user=True`` for the
    user's Jupyter data folder. The spec's ``python`` is replaced by this interpreter.
    """
    ksm = KernelSpecManager()
    done = []
    for profile in profiles():
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / kernel_name(profile)
            shutil.copytree(profile_dir(profile), src, ignore=shutil.ignore_patterns("__pycache__"))
            (src / "kernel.json").write_text(json.dumps(_spec_dict(profile), indent=2) + "\n")
            dest = ksm.install_kernel_spec(
                str(src), kernel_name(profile), user=user, prefix=None if user else (prefix or sys.prefix)
            )
        done.append((kernel_name(profile), dest))
    return done


def installed_kernelspecs() -> dict[str, str]:
    """Installed ``kernelgym-*`` kernelspecs: name -> folder."""
    return {k: v for k, v in KernelSpecManager().find_kernel_specs().items() if k.startswith(KERNEL_PREFIX)}


def ensure_kernelspecs_installed() -> None:
    """Install the kernelspecs into ``sys.prefix`` if any is missing or out of date."""
    installed = installed_kernelspecs()
    for profile in profiles():
        name = kernel_name(profile)
        try:
            current = KernelSpecManager().get_kernel_spec(name)
        except NoSuchKernel:
            break
        if name not in installed or current.argv != _spec_dict(profile)["argv"]:
            break
        if (Path(current.resource_dir) / "preload.py").read_text() != (profile_dir(profile) / "preload.py").read_text():
            break
    else:
        return
    install_kernelspecs()
