"""The ``kernelgym`` command line.

Exit codes: 0 success, 1 a run finished with failures or an operation failed, 2 bad input
(a malformed task spec, an unknown suite or agent, bad options).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(
    name="kernelgym", no_args_is_help=False, add_completion=False, rich_markup_mode=None,
    help="Train and evaluate LLM agents on code-based medical reasoning in Jupyter kernels.",
)
data_app = typer.Typer(help="Build and locate the embedded data sets.", no_args_is_help=True)
kernels_app = typer.Typer(help="Install and list the kernelgym-<profile> kernelspecs.", no_args_is_help=True)
tasks_app = typer.Typer(help="List and check task families.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(kernels_app, name="kernels")
app.add_typer(tasks_app, name="tasks")

console = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _use_specs(specs: list[Path] | None) -> None:
    if specs:
        os.environ["KERNELGYM_SPECS"] = os.pathsep.join(str(p) for p in specs)


SpecsOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--specs", help="Extra folder of task specs (*.yaml); repeatable. Also $KERNELGYM_SPECS."),
]


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """With no command, run the default suite (``kernelgym run``)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@app.command()
def run(
    suite: Annotated[str, typer.Option(help="Family name, comma-separated names, or 'all'.")] = "ehr",
    agent: Annotated[str, typer.Option(help="reference | replay | module:Class")] = "reference",
    agent_option: Annotated[
        Optional[list[str]], typer.Option("--agent-option", "-O", help="key=value passed to the agent; repeatable")
    ] = None,
    split: Annotated[Optional[str], typer.Option(help="train | test (default: both)")] = "test",
    limit: Annotated[Optional[int], typer.Option(help="At most N tasks.")] = None,
    per_category: Annotated[Optional[int], typer.Option(help="At most N tasks per category.")] = None,
    category: Annotated[Optional[list[str]], typer.Option(help="Only these categories; repeatable.")] = None,
    rollouts: Annotated[int, typer.Option(min=1, help="Independent episodes per task.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Episodes running at once.")] = 2,
    max_turns: Annotated[int, typer.Option(min=1)] = 15,
    cell_timeout: Annotated[float, typer.Option(help="Seconds per cell before it is interrupted.")] = 120.0,
    time_budget: Annotated[float, typer.Option(help="Wall-clock seconds per episode.")] = 1800.0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default runs/<suite>-<agent>-<split>).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a live progress bar.")] = True,
    specs: SpecsOpt = None,
) -> None:
    """Run episodes in parallel; write results.jsonl, summary.json and episode notebooks."""
    from kernelgym.agents import AgentLoadError, load_agent
    from kernelgym.episode import EpisodeConfig
    from kernelgym.profiles import ensure_kernelspecs_installed
    from kernelgym.runner import RunOptions, category_table
    from kernelgym.runner import run as run_episodes
    from kernelgym.session import SessionLimits
    from kernelgym.tasks import TaskSpecError, select

    _use_specs(specs)
    if split not in (None, "train", "test", "all"):
        raise _fail(f"--split must be train, test or all, not {split!r}")
    split_sel = None if split in (None, "all") else split
    if per_category is None and limit is None and suite == "ehr" and agent == "reference":
        per_category = 2  # the small default suite
    options: dict[str, str] = {}
    for item in agent_option or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--agent-option {item!r}: write key=value")
        options[key] = value
    try:
        factory = load_agent(agent, options)
        factory()  # fail now, once, rather than once per episode
        with console.status("preparing tasks (the first use builds the data set)..."):
            chosen = select(suite, split=split_sel, limit=limit, per_category=per_category, categories=category)  # type: ignore[arg-type]
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (AgentLoadError, KeyError, FileNotFoundError, TypeError) as err:
        raise _fail(str(err).strip('"')) from None
    if not chosen:
        raise _fail(f"no tasks match suite={suite!r} split={split!r} categories={category}")
    try:
        ensure_kernelspecs_installed()
    except Exception as exc:  # only needed for JupyterLab / papermill, not for the run itself
        console.print(f"[yellow]could not install the kernelspecs ({exc}); run `kernelgym kernels install --user`[/yellow]")
    target = out_dir or Path("runs") / f"{suite.replace(',', '+')}-{agent.replace(':', '.')}-{split or 'all'}"
    console.print(f"running {len(chosen)} task(s) x {rollouts} rollout(s) with agent {agent!r} -> {target}")
    episode = EpisodeConfig(
        max_turns=max_turns, time_budget=time_budget, limits=SessionLimits(cell_timeout=cell_timeout)
    )
    summary = run_episodes(
        chosen, factory, target,
        RunOptions(
            concurrency=concurrency, rollouts=rollouts, episode=episode, progress=progress,
            meta={"suite": suite, "agent": agent, "agent_options": options, "split": split},
        ),
    )
    out.print(category_table(summary))
    out.print(f"results: {target / 'results.jsonl'}   notebooks: {target / 'episodes'}")


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
def data_path(name: Annotated[str, typer.Argument(help="Data set name: ehr")] = "ehr") -> None:
    """Print the folder of a data set."""
    from kernelgym.kernel.paths import dataset_dir

    if name != "ehr":
        raise _fail(f"unknown data set {name!r}; known: ehr")
    out.print(str(dataset_dir(name)), highlight=False, soft_wrap=True)


@kernels_app.command("install")
def kernels_install(
    user: Annotated[bool, typer.Option("--user", help="Install for the current user.")] = False,
    sys_prefix: Annotated[bool, typer.Option("--sys-prefix", help="Install into this environment (default).")] = False,
) -> None:
    """Install the kernelspecs (and build the profiles' data if missing)."""
    from kernelgym.profiles import ensure_profile_data, install_kernelspecs, profiles

    if user and sys_prefix:
        raise _fail("give --user or --sys-prefix, not both")
    for name, path in install_kernelspecs(user=user):
        out.print(f"installed {name} -> {path}", highlight=False)
    for profile in profiles():
        ensure_profile_data(profile)


@kernels_app.command("list")
def kernels_list() -> None:
    """List the profiles and where their kernelspecs are installed."""
    from kernelgym.profiles import installed_kernelspecs, kernel_name, profiles

    installed = installed_kernelspecs()
    for profile in profiles():
        name = kernel_name(profile)
        out.print(f"{name}\t{installed.get(name, '(not installed: run `kernelgym kernels install`)')}", highlight=False)


@tasks_app.command("list")
def tasks_list(specs: SpecsOpt = None) -> None:
    """List the task families and their categories."""
    from kernelgym.tasks import TaskSpecError, families

    _use_specs(specs)
    try:
        fams = families()
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    for name, spec in sorted(fams.items()):
        out.print(f"{name}\tprofile={spec.profile}\t{spec.description}", highlight=False)


@tasks_app.command("check")
def tasks_check(paths: Annotated[list[Path], typer.Argument(help="Spec files or folders.")]) -> None:
    """Validate task spec files; one line per error, exit code 2 if any."""
    from kernelgym.tasks import iter_specs_errors

    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    errors = list(iter_specs_errors(files))
    for err in errors:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(2)
    out.print(f"{len(files)} spec(s) OK")
