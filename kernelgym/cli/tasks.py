"""``kernelgym tasks``: list, show, count and check task families."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from kernelgym.cli._common import (
    SpecsOpt,
    _fail,
    _use_specs,
    console,
    out,
    print_table,
    tasks_app,
)


@tasks_app.command("list")
def tasks_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: family -> profile, description, categories.")] = False,
    specs: SpecsOpt = None,
) -> None:
    """List the task families, their profiles and their categories (no instance is generated;
    `kernelgym tasks stats --categories` counts them)."""
    from kernelgym.tasks import TaskSpecError, category_names, families

    _use_specs(specs)
    try:
        fams = {name: (spec, category_names(spec)) for name, spec in sorted(families().items())}
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    if as_json:
        out.print_json(json.dumps({name: {"profile": spec.profile, "description": spec.description, "categories": cats}
                                   for name, (spec, cats) in fams.items()}))
        return
    for name, (spec, cats) in fams.items():
        out.print(f"{name} (profile {spec.profile}, {len(cats)} categories)", highlight=False, markup=False, soft_wrap=True)
        out.print(f"  {spec.description}", highlight=False, markup=False, soft_wrap=True)
        out.print(f"  categories: {', '.join(cats)}", highlight=False, markup=False, soft_wrap=True)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id, e.g. ehr_qa/vital_mean/00003.")],
    public: Annotated[bool, typer.Option("--public", help="Only what the agent sees (no ground truth, no reference).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The instance as JSON.")] = False,
    specs: SpecsOpt = None,
) -> None:
    """Show one task instance: prompt, inputs, grading rule, ground truth and reference solution."""
    from kernelgym.tasks import TaskSpecError
    from kernelgym.tasks.stats import show_instance

    _use_specs(specs)
    try:
        inst, text = show_instance(task_id, public=public)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (KeyError, FileNotFoundError) as err:
        raise _fail(str(err).strip('"')) from None
    if as_json:
        data = inst.public().model_dump() if public else inst.model_dump()
        out.print_json(json.dumps(data, default=str))
    else:
        out.print(text, highlight=False, markup=False, soft_wrap=True)


@tasks_app.command("stats")
def tasks_stats(
    suite: Annotated[str, typer.Option(help="Family name, comma-separated names, or 'all'.")] = "all",
    dataset: Annotated[Optional[str], typer.Option(help="Count the <family>-<dataset> variants, e.g. mimic3.")] = None,
    categories: Annotated[bool, typer.Option("--categories", help="One row per category.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (families, categories, counts per split).")] = False,
    baselines: Annotated[bool, typer.Option(
        "--baselines", help="Per category, how far a constant answer gets on the test split: the best of the commonest "
        "train answers, the majority answer of test, the bound, and the floor over all (docs/baselines.md).")] = False,
    candidates: Annotated[int, typer.Option(
        min=1, help="--baselines: how many of the commonest train answers to try (numbers: also their median and mean).")] = 5,
    markdown: Annotated[bool, typer.Option("--markdown", help="--baselines: print a Markdown table.")] = False,
    specs: SpecsOpt = None,
) -> None:
    """Count task instances per family (and category) and split; generates them on first use. With
    --baselines: the constant-answer baselines per category instead (exit code 1 if any is over its bound)."""
    from kernelgym.tasks import TaskSpecError
    from kernelgym.tasks.stats import baselines_markdown, baselines_table, stats_table, task_stats
    from kernelgym.tasks.stats import baselines as measure_baselines

    if markdown and (as_json or not baselines):
        raise _fail("--markdown prints the --baselines table: give --baselines, and not --json")
    _use_specs(specs)
    try:
        with console.status("counting task instances (the first use generates them)..."):
            report = measure_baselines(suite, dataset, candidates=candidates) if baselines else task_stats(suite, dataset)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (KeyError, FileNotFoundError) as err:
        raise _fail(str(err).strip('"')) from None
    if as_json:
        out.print_json(json.dumps(report, default=str))
    elif markdown:
        out.print(baselines_markdown(report), highlight=False, markup=False, soft_wrap=True, end="")
    elif baselines:
        print_table(baselines_table(report))
    else:
        print_table(stats_table(report, by_category=categories))
    if baselines and report["totals"]["over_bound"]:
        raise typer.Exit(1)


@tasks_app.command("check")
def tasks_check(paths: Annotated[list[Path], typer.Argument(help="Spec files or folders.")]) -> None:
    """Validate task spec files: every error of every file (a bad field, an unknown profile, module or
    category, a bad line of an instances JSONL file), one line each; exit code 2 if any."""
    from kernelgym.tasks import iter_specs_errors

    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    errors = list(iter_specs_errors(files))
    for err in errors:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(2)
    out.print(f"{len(files)} spec(s) OK")
