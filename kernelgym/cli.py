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
tasks_app = typer.Typer(help="List, show, count and check task families.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(kernels_app, name="kernels")
app.add_typer(tasks_app, name="tasks")
import_app = typer.Typer(help="Import external benchmarks as task families.", no_args_is_help=True)
app.add_typer(import_app, name="import")
export_app = typer.Typer(
    help="Export runs as training data: sft (chat messages), dpo (preference pairs), kto, verl (RL prompts).",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

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
    model: Annotated[Optional[str], typer.Option(
        help="PROVIDER:NAME of a LangChain chat model (e.g. openai:gpt-4o); runs the llm agent.",
        rich_help_panel="LLM agent")] = None,
    base_url: Annotated[Optional[str], typer.Option(
        help="Base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama), e.g. http://localhost:8000/v1.",
        rich_help_panel="LLM agent")] = None,
    api_key_env: Annotated[Optional[str], typer.Option(
        help="Name of the environment variable holding the API key.", rich_help_panel="LLM agent")] = None,
    temperature: Annotated[Optional[float], typer.Option(rich_help_panel="LLM agent")] = None,
    top_p: Annotated[Optional[float], typer.Option(rich_help_panel="LLM agent")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(
        min=1, help="Most tokens per model reply.", rich_help_panel="LLM agent")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Sampling seed sent to the model: rollout k of each task is sent SEED + k (rollouts differ, "
             "reruns repeat them); recorded in each notebook's metadata.kernelgym.agent.sampling.seed.",
        rich_help_panel="LLM agent")] = None,
    protocol: Annotated[str, typer.Option(
        help="tools (run_cell/submit_answer tool calls) | text (```python blocks, submit() in code) | "
             "auto (tools when the model supports tool calling) | medagentgym (MedAgentGym's request_info, "
             "validate_code, debug, terminal as tools; docs/medagentgym.md).", rich_help_panel="LLM agent")] = "auto",
    feedback: Annotated[bool, typer.Option(
        "--feedback", help="Tell the agent when a submitted answer is wrong; it may try again while turns remain.")] = False,
    max_concurrent_requests: Annotated[int, typer.Option(
        min=1, help="Model requests in flight at once, shared by all episodes.", rich_help_panel="LLM agent")] = 8,
    dataset: Annotated[Optional[str], typer.Option(
        help="Run the suite's families on another data set, e.g. mimic3 (imported with `kernelgym data import "
             "mimic3 PATH`): the <family>-<dataset> variants, in the kernelgym-<profile>-<dataset> kernels.")] = None,
    backend: Annotated[str, typer.Option(
        help="local (episodes run in this process's kernels) | ray (on the kernel hosts of a Ray cluster, "
             "one per node, as many episodes at once as the node's CPUs; see docs/ray.md).",
        rich_help_panel="Backend")] = "local",
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster address (HOST:PORT, auto, ray://HOST:10001); default $RAY_ADDRESS, else a local "
             "single-node cluster.", rich_help_panel="Backend")] = None,
) -> None:
    """Run episodes in parallel; write results.jsonl, summary.json and episode notebooks."""
    from kernelgym.llm.errors import FatalModelError
    from kernelgym.agents import AgentLoadError, load_agent
    from kernelgym.episode import EpisodeConfig
    from kernelgym.profiles import ensure_kernelspecs_installed
    from kernelgym.runner import RunOptions, category_table
    from kernelgym.runner import run as run_episodes
    from kernelgym.session import SessionLimits
    from kernelgym.tasks import TaskSpecError, select

    _use_specs(specs)
    if backend not in ("local", "ray"):
        raise _fail(f"--backend must be local or ray, not {backend!r}")
    if address and backend != "ray":
        raise _fail("--address needs --backend ray")
    executor = None
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise _fail("--backend ray needs Ray: pip install 'kernelgym[ray]'") from None
        from kernelgym.ray_backend import RayExecutor

        executor = RayExecutor(address)
    if split not in (None, "train", "test", "all"):
        raise _fail(f"--split must be train, test or all, not {split!r}")
    split_sel = None if split in (None, "all") else split
    if per_category is None and limit is None and suite == "ehr" and agent == "reference":
        per_category = 2  # the small default suite
    options: dict[str, object] = {}
    if protocol not in ("auto", "tools", "text", "medagentgym"):
        raise _fail(f"--protocol must be tools, text, auto or medagentgym, not {protocol!r}")
    if model:
        if agent == "reference":
            agent = "llm"
        given = {
            "model": model, "base_url": base_url, "api_key_env": api_key_env, "temperature": temperature,
            "top_p": top_p, "max_tokens": max_tokens, "seed": seed, "protocol": protocol,
            "max_concurrent_requests": max_concurrent_requests, "feedback": feedback or None,
        }
        options.update({k: v for k, v in given.items() if v is not None})
    elif base_url or api_key_env or temperature is not None or top_p is not None or max_tokens is not None or seed is not None:
        raise _fail("--base-url, --api-key-env and the sampling options need --model PROVIDER:NAME")
    for item in agent_option or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--agent-option {item!r}: write key=value")
        options[key] = value
    try:
        factory = load_agent(agent, options)
        factory()  # fail now, once, rather than once per episode

        with console.status("preparing tasks (the first use builds the data set)..."):
            chosen = select(suite, split=split_sel, limit=limit, per_category=per_category, categories=category,  # type: ignore[arg-type]
                            dataset=dataset)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (AgentLoadError, KeyError, FileNotFoundError, TypeError, ValueError) as err:
        raise _fail(str(err).strip('"')) from None
    except FatalModelError as err:
        raise _fail(str(err), code=1) from None
    if not chosen:
        raise _fail(f"no tasks match suite={suite!r} split={split!r} categories={category}")
    try:
        ensure_kernelspecs_installed()
    except Exception as exc:  # only needed for JupyterLab / papermill, not for the run itself
        console.print(f"[yellow]could not install the kernelspecs ({exc}); run `kernelgym kernels install --user`[/yellow]")
    who = model.replace("/", "_") if model else agent
    suite_label = suite.replace(',', '+') + (f"@{dataset}" if dataset else "")
    target = out_dir or Path("runs") / f"{suite_label}-{who.replace(':', '.')}-{split or 'all'}"
    console.print(f"running {len(chosen)} task(s) x {rollouts} rollout(s) with agent {agent!r} -> {target}")
    episode = EpisodeConfig(
        max_turns=max_turns, time_budget=time_budget, limits=SessionLimits(cell_timeout=cell_timeout),
        feedback=feedback,
    )
    try:
        summary = run_episodes(
            chosen, factory, target,
            RunOptions(
                concurrency=concurrency, rollouts=rollouts, episode=episode, progress=progress,
                meta={"suite": suite, "dataset": dataset, "agent": agent, "agent_options": options, "split": split,
                      "model": model, "feedback": feedback},
                executor=executor,
            ),
        )
    except FatalModelError as err:  # one clear message for the whole run, not one error per episode
        raise _fail(f"{err}\nthe run was stopped; finished episodes are kept in {target} (run again to resume)",
                    code=1) from None
    except RuntimeError as err:
        from kernelgym.ray_backend import RayBackendError

        if not isinstance(err, RayBackendError):
            raise
        raise _fail(f"{err}\nfinished episodes are kept in {target} (run again to resume)", code=1) from None
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
def data_path(name: Annotated[str, typer.Argument(help="Data set name: ehr, mimic3, ehr-predict, ...")] = "ehr") -> None:
    """Print the folder of a data set."""
    from kernelgym.kernel.paths import dataset_dir
    from kernelgym.profiles import DATASET_BUILDERS

    if name not in DATASET_BUILDERS:
        raise _fail(f"unknown data set {name!r}; known: {', '.join(sorted(DATASET_BUILDERS))}")
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
    from kernelgym.profiles import ensure_profile_data, install_kernelspecs, profiles

    if user and sys_prefix:
        raise _fail("give --user or --sys-prefix, not both")
    for name, path in install_kernelspecs(user=user):
        out.print(f"installed {name} -> {path}", highlight=False)
    for profile in profiles():
        try:
            ensure_profile_data(profile)
        except FileNotFoundError as err:  # imported data sets (mimic3) are not built here
            console.print(f"[yellow]{profile}: {err}[/yellow]", highlight=False, soft_wrap=True)


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


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id, e.g. ehr_qa/vital_mean/00003.")],
    public: Annotated[bool, typer.Option("--public", help="Only what the agent sees (no ground truth, no reference).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The instance as JSON.")] = False,
    specs: SpecsOpt = None,
) -> None:
    """Show one task instance: prompt, inputs, grading rule, ground truth and reference solution."""
    from kernelgym.task_stats import show_instance
    from kernelgym.tasks import TaskSpecError

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
    specs: SpecsOpt = None,
) -> None:
    """Count task instances per family (and category) and split; generates them on first use."""
    from kernelgym.task_stats import stats_table, task_stats
    from kernelgym.tasks import TaskSpecError

    _use_specs(specs)
    try:
        with console.status("counting task instances (the first use generates them)..."):
            stats = task_stats(suite, dataset)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (KeyError, FileNotFoundError) as err:
        raise _fail(str(err).strip('"')) from None
    if as_json:
        out.print_json(json.dumps(stats))
    else:
        out.print(stats_table(stats, by_category=categories))


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


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (written by `kernelgym run`) to compare.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.png, report.html and report.json.")] = Path("report"),
    price: Annotated[
        Optional[list[str]],
        typer.Option(help="[PATTERN=]PROMPT/COMPLETION USD per million tokens, e.g. openai:gpt-4o=2.5/10; repeatable."),
    ] = None,
    title: Annotated[str, typer.Option(help="Title of the HTML page.")] = "kernelgym report",
) -> None:
    """Compare runs side by side: success per family and category, turns, tokens, latency, cost."""
    from kernelgym.report import ReportError, make_report, tables

    try:
        data, paths = make_report(run_dirs, out_dir, price, title)
    except ReportError as err:
        raise _fail(str(err)) from None
    for table in tables(data):
        out.print(table)
    for note in data.get("notes", []):
        console.print(f"[yellow]{note}[/yellow]", highlight=False)
    written = "   ".join(f"{kind}: {path}" for kind, path in paths.items())
    out.print(written, highlight=False, soft_wrap=True)


@app.command("grade")
def grade_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Notebooks, or folders searched for *.ipynb.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for graded notebooks and grades.jsonl.")] = Path("graded"),
    concurrency: Annotated[int, typer.Option(min=1, help="Notebooks executing at once (default: 2 per CPU, at most 8).")] = min(8, 2 * (os.cpu_count() or 1)),
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds per notebook; then its kernel is killed.")] = 600.0,
    cell_timeout: Annotated[Optional[float], typer.Option(help="Seconds before a cell is interrupted (default: --timeout).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a live progress bar.")] = True,
    specs: SpecsOpt = None,
) -> None:
    """Re-execute notebooks with papermill in fresh kernels and grade them on the host.

    Restores the canonical parameters, setup and verifier cells, flags tampering, checks that the
    replayed answer is the recorded one. Exit code 1 if a notebook could not be graded or was
    tampered with.
    """
    from kernelgym.grade import GradeOptions, run_with_progress, summary_table

    _use_specs(specs)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise _fail(f"not found: {', '.join(missing)}")
    options = GradeOptions(concurrency=concurrency, timeout=timeout, cell_timeout=cell_timeout, progress=progress)
    records = run_with_progress(paths, out_dir, options, console)
    if not records:
        raise _fail("no notebooks found")
    out.print(summary_table(records))
    out.print(f"grades: {out_dir / 'grades.jsonl'}   graded notebooks: {out_dir}", highlight=False, soft_wrap=True)
    if any(r.error or r.tampered for r in records):
        raise typer.Exit(1)


@app.command("notebook")
def notebook_cmd(
    task_id: Annotated[str, typer.Argument(help="Task id, e.g. ehr/patient_age/00000.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Notebook file (default <task id>.ipynb).")] = None,
    specs: SpecsOpt = None,
) -> None:
    """Write a starter notebook for a task: solve it in JupyterLab, run it with papermill, grade it."""
    from kernelgym.profiles import ensure_kernelspecs_installed
    from kernelgym.starter import write_starter
    from kernelgym.tasks import TaskSpecError

    _use_specs(specs)
    try:
        path = write_starter(task_id, output)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except KeyError as err:
        raise _fail(str(err).strip('"')) from None
    try:
        ensure_kernelspecs_installed()
    except Exception as exc:  # only needed for JupyterLab / papermill
        console.print(f"[yellow]could not install the kernelspecs ({exc}); run `kernelgym kernels install --user`[/yellow]")
    out.print(str(path), highlight=False, soft_wrap=True)
    console.print(
        f"open it in JupyterLab, or run it with: papermill {path} out.ipynb -p task_id {task_id}; "
        f"grade it with: kernelgym grade {path}", highlight=False, soft_wrap=True,
    )


@import_app.command("medcalc-bench")
def import_medcalc_bench(
    csv: Annotated[Path, typer.Argument(help="MedCalc-Bench test_data.csv (or .csv.gz).")],
    labels: Annotated[str, typer.Option(help="original (v1.0 answers) | corrected (recomputed).")] = "original",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the spec YAML and JSONL.")] = Path("medcalc-bench"),
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
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the spec YAMLs, JSONLs and the import report.")] = Path("medagentgym"),
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


# ---------------------------------------------------------------- export (training data)

RunDirsArg = Annotated[list[Path], typer.Argument(help="Run folders written by `kernelgym run`.")]
OutputOpt = Annotated[Path, typer.Option("-o", "--output", help="Output file (.jsonl or .parquet).")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", help="jsonl | parquet (default: from the file suffix).")]
ProtocolOpt = Annotated[str, typer.Option(
    help="How to write the actions of agents that are not LLM agents (reference, replay, yours): tools "
         "(run_cell/submit_answer tool calls) | text (```python blocks). LLM episodes keep their own.")]
KeepErrorsOpt = Annotated[bool, typer.Option(
    "--keep-format-errors", help="Keep the model's unusable replies (malformed tool calls, no code block) and "
                                 "the errors they drew, exactly as the model saw them.")]
ObsCharsOpt = Annotated[Optional[int], typer.Option(
    min=100, help="The output limit the system prompt states: the LLM agent's -O max_observation_chars "
                  "if the runs set it (default 4000).")]


def _export(kind: str, run_dirs: list[Path], output: Path, fmt: Optional[str], specs: Optional[list[Path]], **opts: object) -> None:
    from kernelgym.export import ExportError, export

    _use_specs(specs)
    if fmt not in (None, "jsonl", "parquet"):
        raise _fail(f"--format must be jsonl or parquet, not {fmt!r}")
    missing = [str(p) for p in run_dirs if not p.exists()]
    if missing:
        raise _fail(f"not found: {', '.join(missing)}")
    try:
        report = export(kind, run_dirs, output, fmt=fmt, **opts)  # type: ignore[arg-type]
    except ExportError as err:
        raise _fail(str(err)) from None
    out.print(report.summary(), highlight=False, soft_wrap=True)
    if report.rows == 0:
        console.print("[red]error:[/red] no rows were written (see the reasons above)", highlight=False)
        raise typer.Exit(1)


@export_app.command("sft")
def export_sft(
    run_dirs: RunDirsArg,
    output: OutputOpt,
    fmt: FormatOpt = None,
    include_failed: Annotated[bool, typer.Option("--include-failed", help="Also export failed episodes.")] = False,
    protocol: ProtocolOpt = "tools",
    keep_format_errors: KeepErrorsOpt = False,
    max_observation_chars: ObsCharsOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """One conversation per passed episode: {"messages": [...], "tools": [...]} (TRL SFTTrainer, chat templates)."""
    _export("sft", run_dirs, output, fmt, specs, include_failed=include_failed, protocol=protocol,
            keep_format_errors=keep_format_errors, max_observation_chars=max_observation_chars)


@export_app.command("dpo")
def export_dpo(
    run_dirs: RunDirsArg,
    output: OutputOpt,
    fmt: FormatOpt = None,
    pairing: Annotated[str, typer.Option(
        help="all: every (passed, failed) pair of a task | unique: each episode in at most one pair.")] = "all",
    max_pairs_per_task: Annotated[Optional[int], typer.Option(min=1, help="At most N pairs per task.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the pair shuffle (which pairs a cap keeps).")] = 0,
    protocol: ProtocolOpt = "tools",
    keep_format_errors: KeepErrorsOpt = False,
    max_observation_chars: ObsCharsOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """Preference pairs {"prompt", "chosen", "rejected"} from passed and failed episodes of the same task (TRL DPOTrainer)."""
    _export("dpo", run_dirs, output, fmt, specs, pairing=pairing, max_pairs_per_task=max_pairs_per_task, seed=seed,
            protocol=protocol, keep_format_errors=keep_format_errors, max_observation_chars=max_observation_chars)


@export_app.command("kto")
def export_kto(
    run_dirs: RunDirsArg,
    output: OutputOpt,
    fmt: FormatOpt = None,
    protocol: ProtocolOpt = "tools",
    keep_format_errors: KeepErrorsOpt = False,
    max_observation_chars: ObsCharsOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """Unpaired preferences {"prompt", "completion", "label"}: label = the episode passed (TRL KTOTrainer)."""
    _export("kto", run_dirs, output, fmt, specs, protocol=protocol, keep_format_errors=keep_format_errors,
            max_observation_chars=max_observation_chars)


@export_app.command("verl")
def export_verl(
    output: OutputOpt,
    run_dirs: Annotated[Optional[list[Path]], typer.Argument(help="Run folders: export the tasks they ran.")] = None,
    suite: Annotated[Optional[str], typer.Option(help="Also export the tasks of this suite (family names or 'all').")] = None,
    split: Annotated[Optional[str], typer.Option(help="With --suite: train | test | all.")] = "train",
    category: Annotated[Optional[list[str]], typer.Option(help="With --suite: only these categories; repeatable.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="With --suite: at most N tasks.")] = None,
    fmt: FormatOpt = None,
    protocol: Annotated[str, typer.Option(help="The system prompt's protocol: tools | text.")] = "tools",
    max_turns: Annotated[int, typer.Option(min=1, help="Turn limit told in the system prompt.")] = 15,
    max_observation_chars: Annotated[int, typer.Option(min=100)] = 4000,
    specs: SpecsOpt = None,
) -> None:
    """verl RL data: Parquet rows with data_source, prompt, ability, reward_model, extra_info.

    Score them with kernelgym.rewards.compute_score (verl custom_reward_function).
    """
    from kernelgym.tasks import TaskSpecError, select

    _use_specs(specs)
    if not run_dirs and not suite:
        raise _fail("give run folders, or --suite (e.g. --suite ehr --split train)")
    if protocol not in ("tools", "text"):
        raise _fail(f"--protocol must be tools or text, not {protocol!r}")
    instances = []
    if suite:
        if split not in (None, "train", "test", "all"):
            raise _fail(f"--split must be train, test or all, not {split!r}")
        try:
            instances = select(suite, split=None if split in (None, "all") else split, categories=category,  # type: ignore[arg-type]
                               limit=limit)
        except TaskSpecError as err:
            raise _fail(str(err)) from None
        except KeyError as err:
            raise _fail(str(err).strip('"')) from None
    if fmt is None and output.suffix not in (".jsonl", ".json"):
        fmt = "parquet"
    _export("verl", list(run_dirs or []), output, fmt, None, instances=instances, protocol=protocol,
            max_turns=max_turns, max_observation_chars=max_observation_chars)
