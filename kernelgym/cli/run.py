"""``kernelgym run`` (also what ``kernelgym`` with no command does)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from kernelgym.cli._common import (
    SpecsOpt,
    _fail,
    _interrupted,
    _output,
    _use_specs,
    app,
    console,
    out,
    print_table,
)


def _option_value(text: str) -> object:
    """A ``-O`` value: JSON when it parses (numbers are numbers), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _print_version(value: bool) -> None:
    if value:
        from kernelgym.runs.manifest import kernelgym_version

        out.print(f"kernelgym {kernelgym_version()}", highlight=False)
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print kernelgym's version and exit.")] = None,
) -> None:
    """With no command, run the default suite (``kernelgym run``)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@app.command()
def run(
    suite: Annotated[str, typer.Option(help="Family name, comma-separated names, or 'all'.")] = "ehr",
    agent: Annotated[str, typer.Option(
        help="reference | replay | module:Class (modules in the current folder too) | path/to/file.py:Class")] = "reference",
    agent_option: Annotated[
        Optional[list[str]], typer.Option(
            "--agent-option", "-O",
            help="key=value passed to the agent's constructor; repeatable. VALUE is read as JSON when it parses "
                 "(0.2 a number, true a bool, [1, 2] a list, null None), else it is a string. An option the "
                 "constructor does not take is refused.")
    ] = None,
    split: Annotated[Optional[str], typer.Option(help="train | test | all (both splits).")] = "test",
    limit: Annotated[Optional[int], typer.Option(
        help="At most N tasks (N >= 1), taken round-robin over the suite's families, then over each family's "
             "categories, in a fixed order (--suite all --limit 16: 2 from each of the 8 families). Without "
             "--limit, --per-category or --all-tasks a run takes 2 tasks per category, whatever the agent.")] = None,
    per_category: Annotated[Optional[int], typer.Option(
        help="At most N tasks per category (N >= 1; default 2 when --limit and --all-tasks are not given).")] = None,
    all_tasks: Annotated[bool, typer.Option(
        "--all-tasks", help="Every task of the suite (and split, categories): no default limit.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the selected task ids (one a line) and stop: no kernel starts, nothing is written.")] = False,
    category: Annotated[Optional[list[str]], typer.Option(help="Only these categories; repeatable.")] = None,
    source_ids: Annotated[Optional[list[str]], typer.Option(
        "--source-ids",
        help="Only imported tasks from these records of their source benchmark; repeatable: "
             "DATASET[:SPLIT[:INDICES]] (biocoder:test:0-9,17, the indices MedAgentGym runs them under), "
             "DATASET:id=RECORD_ID, or a JSON file shaped like MedAgentGym's rollout_indices.json. Without "
             "--limit or --per-category every match runs.")] = None,
    rollouts: Annotated[int, typer.Option(
        min=1, help="Independent episodes per task; with 2 or more the summary, `kernelgym report` and `kernelgym view` "
                    "give pass@k (unbiased), pass^k, best@k and per-task consistency.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Episodes running at once.")] = 2,
    max_turns: Annotated[int, typer.Option(
        min=1, help="Agent actions (code cells) per episode; the episode ends unanswered after the last.")] = 15,
    cell_timeout: Annotated[float, typer.Option(help="Seconds per cell before it is interrupted.")] = 120.0,
    time_budget: Annotated[float, typer.Option(help="Wall-clock seconds per episode.")] = 1800.0,
    out_dir: Annotated[Optional[Path], _output("Run folder (default runs/<suite>-<agent>-<split>); running the same "
                                                 "command into it again resumes the run.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a live progress bar.")] = True,
    fail_on_error: Annotated[float, typer.Option(
        metavar="RATE",
        help="Exit with code 1 when more than RATE (0 to 1) of the run's episodes ended in an error of the agent "
             "or of kernelgym (agent_error, harness_error, setup_error, kernel_start_failed) rather than a pass or "
             "a model failure. Default 0: any error makes the exit code 1; 1: errors never do.")] = 0.0,
    retry_errors: Annotated[bool, typer.Option(
        "--retry-errors", help="Resume the run in --out and run again only the episodes that ended in an error (and any "
                               "not run yet); their new records supersede the old ones in results.jsonl.")] = False,
    specs: SpecsOpt = None,
    model: Annotated[Optional[str], typer.Option(
        help="PROVIDER:NAME of a LangChain chat model (e.g. openai:gpt-4o), or PROVIDER/NAME as inspect_ai writes "
             "it (openai/gpt-4o-mini); with --base-url, NAME is the server's model name as written "
             "(Qwen/Qwen2.5-7B-Instruct). Runs the llm agent.",
        rich_help_panel="LLM agent")] = None,
    base_url: Annotated[Optional[str], typer.Option(
        help="Base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama), e.g. http://localhost:8000/v1.",
        rich_help_panel="LLM agent")] = None,
    api_key_env: Annotated[Optional[str], typer.Option(
        help="Name of the environment variable holding the API key.", rich_help_panel="LLM agent")] = None,
    temperature: Annotated[Optional[float], typer.Option(
        help="Sampling temperature sent to the model (default: the provider's).", rich_help_panel="LLM agent")] = None,
    top_p: Annotated[Optional[float], typer.Option(
        help="Nucleus sampling: the top-p probability mass sent to the model (default: the provider's).",
        rich_help_panel="LLM agent")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(
        min=1, help="Most tokens per model reply (default with --base-url: 4096, at most a quarter of the "
                    "server's context window; sent as both max_tokens and max_completion_tokens).",
        rich_help_panel="LLM agent")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Sampling seed sent to the model: rollout k of each task is sent SEED + k (rollouts differ, "
             "reruns repeat them); recorded in each notebook's metadata.kernelgym.agent.sampling.seed.",
        rich_help_panel="LLM agent")] = None,
    protocol: Annotated[str, typer.Option(
        help="tools (run_cell/submit_answer tool calls) | text (```python blocks, submit() in code) | "
             "auto (tools when the model supports tool calling; text when the server rejects or ignores "
             "tools) | medagentgym (MedAgentGym's request_info, "
             "validate_code, debug, terminal as tools) | medagentgym-text (MedAgentGym's own format: the action as "
             "JSON in the message text; docs/medagentgym.md).", rich_help_panel="LLM agent")] = "auto",
    tool_choice: Annotated[Optional[str], typer.Option(
        help="tool_choice sent with the tools: auto | required | none | run_cell | submit_answer (default: "
             "none sent; llama-cpp-python's chatml-function-calling ignores tools without it).",
        rich_help_panel="LLM agent")] = None,
    feedback: Annotated[bool, typer.Option(
        "--feedback", help="Tell the agent when a submitted answer is wrong; it may try again while turns and "
                           "attempts (--max-attempts) remain. The reward of a pass after a wrong submission follows "
                           "--reward-rule.")] = False,
    silent_retries: Annotated[Optional[bool], typer.Option(
        "--silent-retries/--no-silent-retries",
        help="MedAgentGym's rule: grade every submission, end the episode at the first pass, never tell the agent "
             "(default: on with --protocol medagentgym and medagentgym-text, off otherwise).")] = None,
    max_attempts: Annotated[Optional[int], typer.Option(
        help="Submissions graded per episode at most with --feedback or silent retries (default 3; with the "
             "medagentgym protocols and silent retries: --max-turns, as MedAgentGym grades every validate_code).")] = None,
    reward_rule: Annotated[str, typer.Option(
        help="The reward of a pass after wrong submissions: first (default: only a pass at the first submission "
             "is rewarded) | discount:D (score x D per wrong submission) | any (any pass: rewards guessing). "
             "Results record passed and reward apart (docs/guide.md).")] = "first",
    max_concurrent_requests: Annotated[Optional[int], typer.Option(
        min=1, help="Model requests in flight at once, shared by all episodes (default: --concurrency; a lower "
                    "cap makes episodes wait for a free slot).", rich_help_panel="LLM agent")] = None,
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
    from kernelgym.agents import AgentLoadError, load_agent
    from kernelgym.episode import EpisodeConfig, agent_label
    from kernelgym.llm.errors import FatalModelError
    from kernelgym.runs.manifest import (
        AgentConfig,
        EpisodeLimits,
        RunConfig,
        RunConfigMismatch,
        RunManifest,
        Selection,
        check_resume,
        dataset_fingerprints,
        kernelgym_version,
        tasks_fingerprint,
    )
    from kernelgym.runs.runner import (
        DiskFull,
        FileLimitTooLow,
        RunFolderLocked,
        RunOptions,
        category_table,
        check_run_folder_free,
        iter_results,
        stream_results,
        run_folder_problem,
    )
    from kernelgym.runs.runner import run as run_episodes
    from kernelgym.runtime.kernel_session import SessionLimits
    from kernelgym.runtime.profiles import ensure_kernelspecs_installed
    from kernelgym.tasks import TaskSpecError, select

    _use_specs(specs)
    for name, value in (("--limit", limit), ("--per-category", per_category)):
        if value is not None and value < 1:
            raise _fail(f"{name} must be at least 1, not {value}")
    if not 0 <= fail_on_error <= 1:
        raise _fail(f"--fail-on-error must be a rate between 0 and 1, not {fail_on_error:g}")
    for name, seconds in (("--cell-timeout", cell_timeout), ("--time-budget", time_budget)):
        if not seconds > 0:
            raise _fail(f"{name} must be a positive number of seconds, not {seconds:g}")
    if out_dir is not None:
        problem = run_folder_problem(out_dir)
        if problem:
            raise _fail(problem)
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
        from kernelgym.runs.ray_backend import RayBackendError, RayExecutor, check_reachable

        try:
            check_reachable(address)  # seconds, not the minutes Ray retries an address that does not answer
        except RayBackendError as err:
            raise _fail(str(err)) from None
        executor = RayExecutor(address)
    if split not in (None, "train", "test", "all"):
        raise _fail(f"--split must be train, test or all, not {split!r}")
    split_sel = None if split in (None, "all") else split
    if all_tasks and (limit is not None or per_category is not None):
        raise _fail("--all-tasks takes every task: give it without --limit and --per-category")
    sources = None
    if source_ids:
        from kernelgym.tasks import parse_source_selectors

        try:
            sources = parse_source_selectors(source_ids)
        except ValueError as err:
            raise _fail(str(err)) from None
    if per_category is None and limit is None and not all_tasks and sources is None:
        per_category = 2  # the one default, for every agent and suite (see --limit's help)
    options: dict[str, object] = {}
    if protocol not in ("auto", "tools", "text", "medagentgym", "medagentgym-text"):
        raise _fail(f"--protocol must be tools, text, auto, medagentgym or medagentgym-text, not {protocol!r}")
    from kernelgym.grading.attempts import parse_rule

    try:
        reward_rule = parse_rule(reward_rule).spelled()
    except ValueError as err:
        raise _fail(f"--reward-rule: {err}") from None
    if max_attempts is not None and max_attempts < 1:
        raise _fail(f"--max-attempts must be at least 1, not {max_attempts}")
    if tool_choice is not None and tool_choice not in ("auto", "required", "any", "none", "run_cell", "submit_answer"):
        raise _fail(f"--tool-choice must be auto, required, none, run_cell or submit_answer, not {tool_choice!r}")
    if model:
        if agent == "reference":
            agent = "llm"
        given = {
            "model": model, "base_url": base_url, "api_key_env": api_key_env, "temperature": temperature,
            "top_p": top_p, "max_tokens": max_tokens, "seed": seed, "protocol": protocol,
            "max_concurrent_requests": max_concurrent_requests, "feedback": feedback or None,
            "tool_choice": tool_choice,
        }
        options.update({k: v for k, v in given.items() if v is not None})
    elif (base_url or api_key_env or temperature is not None or top_p is not None or max_tokens is not None
          or seed is not None or tool_choice is not None):
        raise _fail("--base-url, --api-key-env and the sampling options need --model PROVIDER:NAME")
    for item in agent_option or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--agent-option {item!r}: write key=value")
        options[key.strip()] = _option_value(value)
    # the medagentgym protocols (--protocol, or -O protocol=...) follow MedAgentGym's episode rules by default
    medagentgym_protocol = str(options.get("protocol") or "").startswith("medagentgym")
    if silent_retries is None:
        silent_retries = medagentgym_protocol and not feedback
    if silent_retries and feedback:
        raise _fail("--feedback tells the agent its verdict and --silent-retries does not: give one of them")
    if max_attempts is None:
        from kernelgym.episode.types import DEFAULT_MAX_ATTEMPTS

        max_attempts = max_turns if (silent_retries and medagentgym_protocol) else DEFAULT_MAX_ATTEMPTS
    from kernelgym._plugins import is_file_target

    if is_file_target(agent):  # one name for the file wherever the run is started from (run.json)
        file, _, attr = agent.rpartition(":")
        agent = f"{Path(file).expanduser().resolve()}:{attr}"
    elif os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # `kernelgym run --agent mypkg.agents:MyAgent` as `python -m` would find it
    try:
        factory = load_agent(agent, options)
        probe = factory()  # fail now, once, rather than once per episode

        with console.status("preparing tasks (the first use builds the data set)..."):
            chosen = select(suite, split=split_sel, limit=limit, per_category=per_category, categories=category,  # type: ignore[arg-type]
                            dataset=dataset, sources=sources)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except (AgentLoadError, KeyError, FileNotFoundError, TypeError, ValueError) as err:
        raise _fail(str(err).strip('"')) from None
    except FatalModelError as err:
        raise _fail(str(err), code=1) from None
    if not chosen:
        raise _fail(f"no tasks match suite={suite!r} split={split!r} categories={category}"
                    + (f" source ids={source_ids}" if source_ids else ""))
    if dry_run:
        out.print("\n".join(inst.id for inst in chosen), highlight=False, soft_wrap=True)
        console.print(escape(f"{len(chosen)} task(s) x {rollouts} rollout(s) from {len({i.family for i in chosen})} "
                             f"family(ies) and {len({(i.family, i.category) for i in chosen})} category(ies)"))
        return
    try:
        ensure_kernelspecs_installed()
    except Exception as exc:  # only needed for JupyterLab / papermill, not for the run itself
        console.print(f"[yellow]could not install the kernelspecs ({escape(str(exc))}); run `kernelgym kernels install --user`[/yellow]")
    who = model.replace("/", "_") if model else agent
    suite_label = suite.replace(',', '+') + (f"@{dataset}" if dataset else "")
    target = out_dir or Path("runs") / f"{suite_label}-{who.replace(':', '.')}-{split or 'all'}"
    if out_dir is None and (problem := run_folder_problem(target)):
        raise _fail(problem)
    try:
        check_run_folder_free(target)
    except RunFolderLocked as err:
        raise _fail(str(err)) from None
    episode = EpisodeConfig(
        max_turns=max_turns, time_budget=time_budget, limits=SessionLimits(cell_timeout=cell_timeout),
        feedback=feedback, silent_retries=silent_retries, max_attempts=max_attempts, reward_rule=reward_rule,
    )
    manifest = RunManifest(
        config=RunConfig(
            kernelgym_version=kernelgym_version(),
            agent=AgentConfig(name=agent, model=model, options=options),
            episode=EpisodeLimits(max_turns=max_turns, cell_timeout_s=cell_timeout, time_budget_s=time_budget,
                                  feedback=feedback, max_observation_chars=episode.max_observation_chars,
                                  silent_retries=silent_retries, max_attempts=max_attempts, reward_rule=reward_rule),
            selection=Selection(suite=suite, split=split_sel, dataset=dataset, limit=limit, per_category=per_category,
                                categories=sorted(category) if category else None, rollouts=rollouts,
                                sources=list(source_ids) if source_ids else None,
                                tasks=len(chosen), tasks_sha256=tasks_fingerprint(chosen)),
            datasets=dataset_fingerprints(chosen),
            seeds={"sampling": seed},
        ),
        command=["kernelgym", *sys.argv[1:]],
        runtime={"concurrency": concurrency, "backend": backend, "address": address},
    )
    try:  # before any work; the runner checks again once it holds the folder
        name, label_model, _ = agent_label(probe)
        check_resume(target, manifest, stream_results(target), (name, label_model))  # read only without run.json
    except RunConfigMismatch as err:
        raise _fail(str(err)) from None
    console.print(escape(f"running {len(chosen)} task(s) x {rollouts} rollout(s) with agent {agent!r} -> {target}"))
    cap = options.get("max_concurrent_requests")
    if isinstance(cap, int) and cap < min(concurrency, len(chosen) * rollouts) and backend == "local":
        console.print(escape(f"warning: --max-concurrent-requests {cap} < --concurrency {concurrency}: at most {cap} model "
                             f"requests at once, the other episodes wait for a free slot (leave the option out to "
                             f"follow --concurrency)"), style="yellow")
    try:
        summary = run_episodes(
            chosen, factory, target,
            RunOptions(
                concurrency=concurrency, rollouts=rollouts, episode=episode, progress=progress,
                executor=executor, manifest=manifest, retry_errors=retry_errors, freeze_gc=True,
            ),
        )
    except (RunFolderLocked, RunConfigMismatch) as err:
        raise _fail(str(err)) from None
    except FatalModelError as err:  # one clear message for the whole run, not one error per episode
        raise _fail(f"{err}\nthe run was stopped; finished episodes are kept in {target} (run again to resume)",
                    code=1) from None
    except DiskFull as err:
        raise _fail(str(err), code=1) from None
    except KeyboardInterrupt:
        try:
            kept = len(iter_results(target)[0])  # an index, not the records
        except Exception:
            kept = 0
        raise _interrupted(f"{kept} finished episode(s) are kept in {target}; run the same command again to resume "
                           "(recorded episodes are not run again)") from None
    except FileLimitTooLow as err:
        raise _fail(str(err)) from None
    except RuntimeError as err:
        from kernelgym.runs.ray_backend import RayBackendError

        if not isinstance(err, RayBackendError):
            raise
        raise _fail(f"{err}\nfinished episodes are kept in {target} (run again to resume)", code=1) from None
    print_table(category_table(summary))
    out.print(f"results: {target / 'results.jsonl'}   notebooks: {target / 'episodes'}")
    total = summary["total"]
    if total["errors"] and total["error_rate"] > fail_on_error:
        raise _fail(f"{total['errors']} of {total['episodes']} episode(s) ended in an error of the agent or of kernelgym "
                    f"(error rate {total['error_rate']:.1%} > --fail-on-error {fail_on_error:g}); tracebacks in "
                    f"{target / 'results.jsonl'}; `kernelgym run --retry-errors` with the same options runs them again",
                    code=1)
