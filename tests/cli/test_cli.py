"""The command line itself (issue 16, item 6): help on every command, ``-h`` and ``--version``, the same
output option everywhere, help examples that exist, ``tasks list`` and ``tasks check``, Ctrl-C, the
``PROVIDER/NAME`` model spelling. In-process with typer's CliRunner (no kernel) except where noted."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kernelgym.cli import app
from kernelgym.cli.grade import NOTEBOOK_EXAMPLE

GOLDEN_SPECS = Path(__file__).resolve().parents[1] / "data" / "golden" / "specs"
WRITE_OPTIONS = {"-o", "--out", "--output"}


def commands() -> Iterator[tuple[list[str], Any]]:
    """Every command and group of ``kernelgym``, with the words that name it."""
    def walk(path: list[str], cmd: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, cmd
        if hasattr(cmd, "commands"):  # a group
            for name, sub in sorted(cmd.commands.items()):
                yield from walk([*path, name], sub)

    yield from walk([], typer.main.get_command(app))


@pytest.fixture
def golden_specs() -> Iterator[dict[str, str]]:
    """``$KERNELGYM_SPECS`` for one invocation (CliRunner restores it), task caches cleared around it."""
    from kernelgym.tasks import clear_caches

    clear_caches()
    yield {"KERNELGYM_SPECS": str(GOLDEN_SPECS)}
    clear_caches()


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


@functools.cache
def help_of(path: tuple[str, ...], flag: str = "-h") -> Any:
    """``kernelgym PATH -h`` (rendered once per test session)."""
    return invoke(*path, flag)


def test_every_command_takes_h_and_help_and_documents_every_option() -> None:
    """Issue 16 (6): no ``-h``; ``--max-turns``, ``--temperature``, ``--top-p`` had no help; ``--split``
    said "default: both [default: test]"."""
    seen = 0
    for path, cmd in commands():
        short, long = help_of(tuple(path)), help_of(tuple(path), "--help")
        assert short.exit_code == 0 and short.output == long.output, (path, short.output)
        assert short.output.startswith("Usage: "), path
        for param in cmd.params:
            if param.param_type_name == "option" and param.name not in ("help", "version"):
                assert (param.help or "").strip(), f"kernelgym {' '.join(path)} {param.opts[0]} has no help"
        seen += 1
    assert seen > 20
    run_help = help_of(("run",)).output
    assert "both" not in run_help.split("--split", 1)[1].split("--limit", 1)[0].replace("all (both splits)", "")


def test_version_and_h_through_the_real_command() -> None:
    """Issue 16 (6): ``kernelgym --version`` and ``kernelgym -h`` did not exist."""
    from kernelgym.runs.manifest import kernelgym_version

    proc = subprocess.run([sys.executable, "-m", "kernelgym", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"kernelgym {kernelgym_version()}", proc.stderr
    assert invoke("-h").output.startswith("Usage: ") and "--version" in invoke("-h").output


def test_every_command_that_writes_takes_o_out_and_output() -> None:
    """Issue 16 (6): ``run``, ``report``, ``grade`` and ``import`` took ``--out``; ``notebook`` and
    ``export`` took ``-o/--output``. Every command that writes now takes all three spellings."""
    writers = set()
    for path, cmd in commands():
        for param in cmd.params:
            if param.param_type_name == "option" and WRITE_OPTIONS & set(param.opts):
                assert WRITE_OPTIONS <= set(param.opts), (path, param.opts)
                writers.add(" ".join(path))
    assert writers >= {"run", "report", "grade", "notebook", "export sft", "export dpo", "export kto", "export verl",
                       "import medcalc-bench", "import medagentgym"}, writers


def _example_exists(task_id: str) -> None:
    from kernelgym.tasks import category_names, get_spec

    family, category, number = task_id.split("/")
    spec = get_spec(family)
    assert category in category_names(spec), f"{task_id}: no category {category!r}"
    assert spec.generator is not None and int(number) < (spec.generator.per_category or 0), task_id


def test_the_task_ids_the_help_shows_exist() -> None:
    """Issue 16 (6): ``notebook --help`` named ``ehr/patient_age/00000``, which does not exist. Every task
    id any help text shows as an example names a category of its family and a number inside it."""
    examples = set()
    for path, _ in commands():
        examples.update(re.findall(r"\b([a-z_]+/[a-z0-9_]+/\d{5})\b", help_of(tuple(path)).output))
    assert NOTEBOOK_EXAMPLE in examples
    for task_id in sorted(examples):
        _example_exists(task_id)


def test_tasks_list_shows_each_familys_categories() -> None:
    """Issue 16 (6): ``tasks list`` promised categories and printed none."""
    from kernelgym.tasks import category_names, families

    listed = json.loads(invoke("tasks", "list", "--json").stdout)
    assert set(listed) == set(families())
    for name, spec in families().items():
        assert listed[name]["categories"] == category_names(spec) and listed[name]["profile"] == spec.profile
    text = invoke("tasks", "list").stdout
    assert "patient_age_at_admission" in text and "ehr (profile ehr, " in text


def test_tasks_check_reports_every_error_of_every_file(tmp_path: Path) -> None:
    """Issue 16 (6): ``tasks check`` accepted an unknown profile and stopped at the first error of a
    file. Every error of every file, one line each, exit code 2; an unknown profile is one."""
    (tmp_path / "a.yaml").write_text("family: Bad Name\ndescription: d\nprofile: nosuch\n"
                                     "generator: {module: kernelgym.families.ehr, per_category: -1}\ncolour: red\n")
    (tmp_path / "b.yaml").write_text("family: fam\ndescription: d\nprofile: ehr\ninstances: fam.jsonl\n")
    (tmp_path / "fam.jsonl").write_text('{"category": "c", "answer": 1}\n{"category": "c", "question": "q", "answer": 1, "x": 2}\n')
    (tmp_path / "c.yaml").write_text("family: only_profile\ndescription: d\nprofile: ehr_typo\n"
                                     "generator: {module: kernelgym.families.ehr}\n")
    res = invoke("tasks", "check", str(tmp_path))
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    expected = [("a.yaml", "'family'"), ("a.yaml", "'generator.per_category'"), ("a.yaml", "'colour'"),
                ("a.yaml", "unknown profile 'nosuch'"), ("fam.jsonl:1", "'question'"), ("fam.jsonl:2", "'x'"),
                ("c.yaml", "unknown profile 'ehr_typo'")]
    assert len(lines) == len(expected), res.stderr
    for line, (where, what) in zip(lines, expected):
        assert line.startswith("error: ") and where in line and what in line, line
    assert invoke("tasks", "check", str(GOLDEN_SPECS)).stdout == "1 spec(s) OK\n"


def test_ctrl_c_during_a_run_says_what_was_kept_and_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden_specs: dict[str, str],
) -> None:
    """Issue 16 (6): Ctrl-C ended ``kernelgym run`` silently. One line on stderr says how many episodes
    are kept where and how to resume; exit code 130. (The runner itself is replaced: no kernel starts.)"""
    from kernelgym.episode import EpisodeResult
    from kernelgym.runs import runner

    def interrupted_run(chosen: list[Any], factory: Any, target: Path, options: Any) -> None:
        target.mkdir(parents=True, exist_ok=True)
        inst = chosen[0]
        (target / runner.RESULTS).write_text(EpisodeResult(
            task_id=inst.id, family=inst.family, category=inst.category, split=inst.split, agent="reference",
            passed=True, score=1.0, turns=1, stop_reason="answered", duration_s=0.1, started_at="",
        ).model_dump_json() + "\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted_run)
    out = tmp_path / "run"
    res = invoke("run", "--suite", "golden", "--split", "all", "--limit", "2", "-o", str(out), "--no-progress",
                 env=golden_specs)
    assert res.exit_code == 130, res.output
    [line] = [x for x in res.stderr.splitlines() if x.startswith("interrupted")]
    assert f"1 finished episode(s) are kept in {out}" in line and "run the same command again to resume" in line


def test_provider_slash_name_is_understood() -> None:
    """Issue 16 (6): ``--model openai/gpt-4o-mini`` (inspect_ai's spelling) was not understood; a
    server's own ``org/name`` behind ``--base-url`` is still sent as written."""
    from kernelgym.llm.client import ModelSettings, split_model

    assert split_model("openai/gpt-4o-mini") == split_model("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert split_model("anthropic/claude-3-5-haiku-latest") == ("anthropic", "claude-3-5-haiku-latest")
    assert split_model("google/gemini-2.0-flash") == ("google_genai", "gemini-2.0-flash")
    assert split_model("Qwen/Qwen2.5-7B-Instruct") == (None, "Qwen/Qwen2.5-7B-Instruct")
    assert split_model("openai/gpt-oss-20b", "http://localhost:8000/v1") == (None, "openai/gpt-oss-20b")
    assert ModelSettings(model="openai/gpt-4o-mini").model_name == "gpt-4o-mini"


def test_run_accepts_provider_slash_name(golden_specs: dict[str, str]) -> None:
    """Issue 16 (6): ``kernelgym run --model openai/gpt-4o-mini`` failed to make the model."""
    pytest.importorskip("langchain_openai")
    res = invoke("run", "--model", "openai/gpt-4o-mini", "--suite", "golden", "--split", "all", "--limit", "1",
                 "--dry-run", env={**golden_specs, "OPENAI_API_KEY": "sk-test"})
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().startswith("golden/")


def test_episode_notebooks_name_the_installed_kernelspec() -> None:
    """Issue 16 (6): JupyterLab marked every episode modified on open: the notebook's kernelspec display
    name ("kernelgym: ehr") was not the installed kernelspec's. Now it is, for every profile."""
    from kernelgym import notebook as nbk
    from kernelgym.runtime.profiles import profile_dir, profiles
    from kernelgym.tasks import Instance

    for profile in profiles():
        spec = json.loads((profile_dir(profile) / "kernel.json").read_text())
        inst = Instance(id="f/c/00000", family="f", category="c", split="test", profile=profile, prompt="p",
                        ground_truth=1)
        assert nbk.new_episode_notebook(inst).metadata.kernelspec == {
            "name": f"kernelgym-{profile}", "display_name": spec["display_name"], "language": spec["language"]}
