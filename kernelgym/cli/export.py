"""``kernelgym export``: runs as training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kernelgym.cli._common import (
    SpecsOpt,
    _fail,
    _output,
    _use_specs,
    console,
    export_app,
    out,
)

# ---------------------------------------------------------------- export (training data)

RunDirsArg = Annotated[list[Path], typer.Argument(help="Run folders written by `kernelgym run`.")]
OutputOpt = Annotated[Path, _output("Output file (.jsonl or .parquet).")]
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
    from kernelgym.training.export import ExportError, export

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
    include_failed: Annotated[bool, typer.Option("--include-failed", help="Also export failed episodes (and passes whose reward is 0 by their reward rule).")] = False,
    protocol: ProtocolOpt = "tools",
    keep_format_errors: KeepErrorsOpt = False,
    max_observation_chars: ObsCharsOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """One conversation per rewarded episode (passed, with a reward above 0 by its reward rule: by default a pass
    after a wrong submission is not one): {"messages": [...], "tools": [...]} (TRL SFTTrainer, chat templates)."""
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
    """Unpaired preferences {"prompt", "completion", "label"}: label = the episode passed with a reward above 0
    (TRL KTOTrainer)."""
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
    max_observation_chars: Annotated[int, typer.Option(
        min=100, help="The output limit the system prompt states (the LLM agent's default).")] = 4000,
    reward_rule: Annotated[str, typer.Option(
        help="extra_info.reward_rule: how compute_score weighs a completion that submitted more than once: "
             "first (default: 0) | discount:D | any.")] = "first",
    specs: SpecsOpt = None,
) -> None:
    """verl RL data: Parquet rows with data_source, prompt, ability, reward_model, extra_info.

    Score them with kernelgym.training.rewards.compute_score (verl custom_reward_function).
    """
    from kernelgym.tasks import TaskSpecError, select

    _use_specs(specs)
    if not run_dirs and not suite:
        raise _fail("give run folders, or --suite (e.g. --suite ehr --split train)")
    if protocol not in ("tools", "text"):
        raise _fail(f"--protocol must be tools or text, not {protocol!r}")
    from kernelgym.grading.attempts import parse_rule

    try:
        reward_rule = parse_rule(reward_rule).spelled()
    except ValueError as err:
        raise _fail(f"--reward-rule: {err}") from None
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
            max_turns=max_turns, max_observation_chars=max_observation_chars, reward_rule=reward_rule)
