"""``kernelgym data`` and ``kernelgym kernels``: data sets and kernelspecs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kernelgym.cli._common import (
    _fail,
    console,
    data_app,
    kernels_app,
    out,
)


@data_app.command("build")
def data_build(
    name: Annotated[str, typer.Argument(help="Data set name: ehr")] = "ehr",
    patients: Annotated[int, typer.Option(min=1, help="Number of synthetic patients.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
) -> None:
    """Build a data set under $KERNELGYM_HOME (default ~/.cache/kernelgym)."""
    if name != "ehr":
        raise _fail(f"unknown data set {name!r}; known: ehr")
    from kernelgym.datasets.ehr import build_ehr

    manifest = build_ehr(patients=patients, seed=seed, progress=True)
    out.print(json.dumps(manifest.model_dump(), indent=2, default=str))


@data_app.command("path")
def data_path(name: Annotated[str, typer.Argument(help="Data set name: ehr, mimic3, ehr-predict, ...")] = "ehr") -> None:
    """Print the folder of a data set."""
    from kernelgym import _plugins
    from kernelgym.kernel.paths import dataset_dir

    known = _plugins.registered(_plugins.DATASETS)
    if name not in known:
        raise _fail(f"unknown data set {name!r}; known: {', '.join(sorted(known))}")
    out.print(str(dataset_dir(name)), highlight=False, soft_wrap=True)


data_import_app = typer.Typer(help="Import real data sets into kernelgym's layout.", no_args_is_help=True)
data_app.add_typer(data_import_app, name="import")


@data_import_app.command("mimic3")
def data_import_mimic3(
    path: Annotated[Path, typer.Argument(help="Folder of the MIMIC-III CSV files (PhysioNet layout: ADMISSIONS.csv.gz, ...).")],
    all_tables: Annotated[bool, typer.Option("--all-tables", help="Also import the tables the ehr profile does not "
                                             "use (CPTEVENTS, INPUTEVENTS_CV, NOTEEVENTS, ...).")] = False,
) -> None:
    """Import MIMIC-III (the demo or the full v1.4 release) as the `mimic3` data set.

    Then run any EHR family on it with `kernelgym run --dataset mimic3` (kernels kernelgym-ehr-mimic3
    and kernelgym-ehr-predict-mimic3).
    """
    from kernelgym.importers.mimic3 import import_mimic3

    try:
        manifest = import_mimic3(path, all_tables=all_tables, progress=True)
    except FileNotFoundError as err:
        raise _fail(str(err)) from None
    out.print(json.dumps(manifest.model_dump(), indent=2, default=str))


@kernels_app.command("install")
def kernels_install(
    user: Annotated[bool, typer.Option("--user", help="Install for the current user.")] = False,
    sys_prefix: Annotated[bool, typer.Option("--sys-prefix", help="Install into this environment (default).")] = False,
) -> None:
    """Install the kernelspecs (and build the profiles' data if missing)."""
    from kernelgym.runtime.profiles import (
        ensure_profile_data,
        install_kernelspecs,
        profiles,
    )

    if user and sys_prefix:
        raise _fail("give --user or --sys-prefix, not both")
    for name, path in install_kernelspecs(user=user):
        out.print(f"installed {name} -> {path}", highlight=False)
    for profile in profiles():
        try:
            ensure_profile_data(profile)
        except FileNotFoundError as err:  # imported data sets (mimic3) are not built here
            console.print(f"[yellow]{escape(profile)}: {escape(str(err))}[/yellow]", highlight=False, soft_wrap=True)


@kernels_app.command("list")
def kernels_list() -> None:
    """List the profiles and where their kernelspecs are installed."""
    from kernelgym.runtime.profiles import installed_kernelspecs, kernel_name, profiles

    installed = installed_kernelspecs()
    for profile in profiles():
        name = kernel_name(profile)
        out.print(f"{name}\t{installed.get(name, '(not installed: run `kernelgym kernels install`)')}", highlight=False)
