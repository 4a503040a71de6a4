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
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from kernelgym import _plugins
from kernelgym._package import resource_dir

KERNEL_PREFIX = "kernelgym-"

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


def notebook_kernelspec(profile: str) -> dict[str, str]:
    """``metadata.kernelspec`` of a notebook for ``profile``: name, display name and language exactly as
    the installed kernelspec has them, which is what JupyterLab writes when it opens the notebook (any
    difference marked every saved episode modified on open)."""
    spec = json.loads((profile_dir(profile) / "kernel.json").read_text())
    return {"name": kernel_name(profile), "display_name": str(spec.get("display_name") or kernel_name(profile)),
            "language": str(spec.get("language") or "python")}


def notebook_language_info() -> dict[str, object]:
    """``metadata.language_info`` as a kernelgym kernel reports it (ipykernel's, for the interpreter
    kernels run on: this one). JupyterLab writes it when the kernel starts; a notebook that already
    has it is not marked modified."""
    import platform

    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": platform.python_version()}


def profile_datasets(profile: str) -> list[str]:
    return list(_spec_dict(profile).get("metadata", {}).get("kernelgym", {}).get("datasets", []))


def ensure_profile_data(profile: str) -> str | None:
    """Build the profile's data sets if missing; return a combined fingerprint (or None)."""
    fps = []
    for name in profile_datasets(profile):
        fps.append(f"{name}:{_plugins.load_named(_plugins.DATASETS, name)().fingerprint}")
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


def _is_current(profile: str, installed_dir: str) -> bool:
    """Whether an installed kernelspec folder is what :func:`install_kernelspecs` would write now:
    the whole ``kernel.json`` (argv, metadata.kernel_provisioner and its sandbox config...) and every
    other file of the profile (its preload)."""
    dest, src = Path(installed_dir), profile_dir(profile)
    try:
        if json.loads((dest / "kernel.json").read_text()) != _spec_dict(profile):
            return False
        for path in src.rglob("*"):
            if path.is_file() and path.name != "kernel.json" and "__pycache__" not in path.parts:
                if (dest / path.relative_to(src)).read_bytes() != path.read_bytes():
                    return False
    except (OSError, ValueError):
        return False
    return True


def ensure_kernelspecs_installed() -> None:
    """Install the kernelspecs if any is missing or differs from this installation's profiles.

    They go into ``sys.prefix``, or into the user's Jupyter folder when a stale copy there would
    shadow the ``sys.prefix`` one.
    """
    from jupyter_core.paths import jupyter_data_dir

    user_kernels = (Path(jupyter_data_dir()) / "kernels").resolve()
    installed = installed_kernelspecs()
    stale = [installed.get(kernel_name(p)) for p in profiles() if not _is_current(p, installed.get(kernel_name(p), ""))]
    if not stale:
        return
    install_kernelspecs()
    if any(d and Path(d).resolve().parent == user_kernels for d in stale):
        install_kernelspecs(user=True)
