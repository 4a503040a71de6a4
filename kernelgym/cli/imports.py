"""``kernelgym import``: external benchmarks as task families."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kernelgym.cli._common import (
    _fail,
    _output,
    import_app,
    out,
)


@import_app.command("medcalc-bench")
def import_medcalc_bench(
    csv: Annotated[Path, typer.Argument(help="MedCalc-Bench test_data.csv (or .csv.gz).")],
    labels: Annotated[str, typer.Option(help="original (v1.0 answers) | corrected (recomputed).")] = "original",
    out_dir: Annotated[Path, _output("Folder for the spec YAML and JSONL.")] = Path("medcalc-bench"),
) -> None:
    """Turn the MedCalc-Bench CSV into a task family usable with `kernelgym run --specs DIR`."""
    from kernelgym.importers.medcalc_bench import import_command

    try:
        message = import_command(csv, labels, out_dir)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise _fail(str(err)) from None
    out.print(message, highlight=False, soft_wrap=True)


@import_app.command("medagentgym")
def import_medagentgym(
    data_dir: Annotated[Path, typer.Argument(help="MedAgentGym's data folder (medcalcbench/, npowerai/, biocoder/, ...).")],
    only: Annotated[Optional[str], typer.Option(help="Only these data sets, comma-separated (e.g. medcalcbench,npowerai).")] = None,
    out_dir: Annotated[Path, _output("Folder for the spec YAMLs, JSONLs and the import report.")] = Path("medagentgym"),
) -> None:
    """Turn MedAgentGym's task files into task families with correct graders (`kernelgym run --specs DIR`).

    Records that cannot be graded soundly are left out and listed with their reasons in
    DIR/medagentgym-import.json. EHR data sets are checked against `kernelgym data import mimic3`.
    """
    from kernelgym.importers.medagentgym import import_command

    try:
        message = import_command(data_dir, out_dir, only)
    except (FileNotFoundError, ValueError) as err:
        raise _fail(str(err)) from None
    out.print(message, highlight=False, soft_wrap=True)
