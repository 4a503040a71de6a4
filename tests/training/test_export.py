"""Training-data exports (SFT, DPO, KTO, verl) and reward functions, from real runs: the reference
agent, and the LLM agent through the real ChatOpenAI client against the scripted OpenAI-compatible
server of tests/helpers/openai_stub.py (passed and failed episodes, both protocols). Exports are loaded back
with ``datasets.load_dataset`` and checked row by row."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.paths import REPO

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()

from helpers.openai_stub import (
    OpenAIStub,
    Reply,
    assistant_turns,
    calls,
    error,
    first_user_text,
    text,
    tool_call,
)
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.episode import EpisodeConfig
from kernelgym.llm.protocol import tool_schemas
from kernelgym.runs.runner import RunOptions, read_results, run_async
from kernelgym.tasks import Instance, get_instance, select
from kernelgym.training.export import conversation, dpo_rows, load_episodes, sft_rows

pytestmark = [pytest.mark.kernel]

KEY_ENV = "KG_TEST_STUB_KEY"
WRONG = "certainly-wrong-answer"


# ---------------------------------------------------------------- scripted conversations


def variants(scripts: dict[str, list[list[Reply]]]) -> Callable[[dict[str, Any]], Reply]:
    """A stub script where the conversations of one prompt take its variants in turn.

    A conversation's first request takes the next variant; later requests follow the variant whose
    first reply the conversation holds (told apart by tool-call ids or text), so concurrent
    rollouts of the same task each follow their own script.
    """
    lock = threading.Lock()
    handed: Counter[str] = Counter()

    def key_of(message: dict[str, Any] | Reply) -> str:
        if isinstance(message, Reply):
            return json.dumps([c["id"] for c in message.tool_calls]) if message.tool_calls else (message.content or "")
        ids = [c["id"] for c in message.get("tool_calls") or []]
        return json.dumps(ids) if ids else (message.get("content") or "")

    def script(body: dict[str, Any]) -> Reply:
        prompt = first_user_text(body)
        found = [k for k in scripts if k in prompt]
        if not found:
            return error(400, f"stub: no script for {prompt[:100]!r}")
        options = scripts[found[0]]
        n = assistant_turns(body)
        if n == 0:
            with lock:
                k = handed[found[0]] % len(options)
                handed[found[0]] += 1
            return options[k][0]
        first = next(m for m in body["messages"] if m.get("role") == "assistant")
        for replies in options:
            if key_of(replies[0]) == key_of(first):
                return replies[n] if n < len(replies) else error(400, "stub: script exhausted")
        return error(400, "stub: unknown conversation")

    return script


def load(fmt: str, path: Path) -> Any:
    """``datasets.load_dataset`` with its cache beside the file (not in the user's home)."""
    return datasets.load_dataset(fmt, data_files=str(path), split="train", cache_dir=str(path.parent / ".hf-cache"))


def truth(inst: Instance) -> Any:
    return get_instance(inst.id).ground_truth


def prep(inst: Instance) -> str:
    return "\n\n".join(get_instance(inst.id).reference[:-1]) or "print(patients.shape)"


@pytest.fixture(scope="module")
def stub() -> Any:
    os.environ[KEY_ENV] = "sk-stub"
    with OpenAIStub(api_key="sk-stub") as server:
        yield server


@pytest.fixture(scope="module")
def tasks(ehr_data: Path) -> list[Instance]:
    picks: list[Instance] = []
    for inst in select("ehr", split="test"):
        if (inst.ground_truth not in (None, [], "") and len(inst.reference) >= 2 and inst.verifier == "answer"
                and inst.category not in {p.category for p in picks}):
            picks.append(inst)
        if len(picks) == 3:
            break
    assert len(picks) == 3
    return picks


def _run(out: Path, insts: list[Instance], factory: Any, rollouts: int = 1) -> Path:
    asyncio.run(run_async(insts, factory, out, RunOptions(concurrency=2, rollouts=rollouts, progress=False)))
    return out


@pytest.fixture(scope="module")
def runs(stub: OpenAIStub, tasks: list[Instance], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three runs over the same tasks: reference; LLM with tools (2 rollouts: one passes, one fails;
    a malformed tool call and an error cell on the way); LLM with text (one passes, one fails)."""
    tmp = tmp_path_factory.mktemp("export-runs")
    t0, t1, t2 = tasks
    ref = _run(tmp / "reference", tasks, load_agent("reference"))

    broken = calls(tool_call("run_cell", '{"code": "print(1)'), content="Let me look.")
    scripts = {
        t0.prompt: [
            [broken, calls(tool_call("run_cell", {"code": prep(t0)}), content="First the rows."),
             calls(tool_call("submit_answer", {"answer": truth(t0)}), content="Found it.")],
            [calls(tool_call("run_cell", {"code": prep(t0)})), calls(tool_call("submit_answer", {"answer": WRONG}))],
        ],
        t1.prompt: [
            [calls(tool_call("run_cell", {"code": prep(t1)})), calls(tool_call("submit_answer", {"answer": truth(t1)}))],
            [calls(tool_call("submit_answer", {"answer": WRONG}), content="A guess.")],
        ],
        t2.prompt: [
            [calls(tool_call("run_cell", {"code": prep(t2)})), calls(tool_call("submit_answer", {"answer": truth(t2)}))],
            [calls(tool_call("run_cell", {"code": "1/0"})), calls(tool_call("submit_answer", {"answer": WRONG}))],
        ],
    }
    stub.reset(variants(scripts))
    llm = {"model": "openai:stub-model", "base_url": stub.url, "api_key_env": KEY_ENV, "retry_base_delay": "0.05"}
    tools = _run(tmp / "tools", tasks, load_agent("llm", {**llm, "protocol": "tools"}), rollouts=2)
    seen_tools = [r.body for r in stub.chat_requests() if r.status == 200]

    code0 = "\n\n".join(get_instance(t0.id).reference)
    stub.reset(variants({
        t0.prompt: [[text(f"I compute it.\n\n```python\n{code0}\n```")]],
        t1.prompt: [[text(f"A guess.\n\n```python\nsubmit({WRONG!r})\n```")]],
    }))
    textrun = _run(tmp / "text", [t0, t1], load_agent("llm", {**llm, "protocol": "text"}))
    seen_text = [r.body for r in stub.chat_requests() if r.status == 200]

    # with feedback: a wrong answer is told, the model tries again
    stub.reset(variants({t2.prompt: [[calls(tool_call("run_cell", {"code": prep(t2)})),
                                      calls(tool_call("submit_answer", {"answer": WRONG})),
                                      calls(tool_call("submit_answer", {"answer": truth(t2)}))]]}))
    fb = tmp / "feedback"
    asyncio.run(run_async([t2], load_agent("llm", {**llm, "protocol": "tools", "feedback": "true"}), fb,
                          RunOptions(progress=False, episode=EpisodeConfig(feedback=True))))
    seen_feedback = [r.body for r in stub.chat_requests() if r.status == 200]
    return {"reference": ref, "tools": tools, "text": textrun, "feedback": fb, "seen_tools": seen_tools,
            "seen_text": seen_text, "seen_feedback": seen_feedback, "tasks": tasks, "tmp": tmp}


# ---------------------------------------------------------------- row checks


def check_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *, prompt: bool = True) -> None:
    """Roles in order; every tool message answers a call of the assistant message before it; every call
    (but those of the last message) is answered exactly once; arguments are JSON objects."""
    if prompt:
        assert [m["role"] for m in messages[:2]] == ["system", "user"]
        assert all(isinstance(m["content"], str) and m["content"] for m in messages[:2])
        body = messages[2:]
    else:
        body = messages
    assert body and body[0]["role"] == "assistant" and body[-1]["role"] == "assistant"
    open_calls: dict[str, str] = {}
    answered: Counter[str] = Counter()
    for i, m in enumerate(body):
        assert m["role"] in ("assistant", "tool", "user"), m
        assert isinstance(m["content"], str)
        if m["role"] == "assistant":
            assert not open_calls, f"calls {list(open_calls)} were never answered before message {i}"
            for c in m.get("tool_calls") or []:
                assert tools is not None, "a tool call in a conversation without tools"
                assert c["type"] == "function" and c["id"]
                assert c["function"]["name"] in {t["function"]["name"] for t in tools}
                assert isinstance(c["function"]["arguments"], dict)
                open_calls[c["id"]] = c["function"]["name"]
            if m is body[-1]:
                open_calls.clear()  # the last call's output was never shown to the model
        elif m["role"] == "tool":
            assert m["tool_call_id"] in open_calls, f"tool message {i} answers no open call"
            assert m["name"] == open_calls.pop(m["tool_call_id"])
            answered[m["tool_call_id"]] += 1
        else:  # text protocol: cell outputs come back as user messages
            assert tools is None and m["content"].startswith("Cell ")
    assert all(n == 1 for n in answered.values())
    if tools is None:
        assert all("tool_calls" not in m for m in body)
        assert all("```python" in m["content"] for m in body if m["role"] == "assistant")


def openai_to_hf(m: dict[str, Any]) -> dict[str, Any]:
    """A request message as the OpenAI API carries it, in the export's form (arguments as objects)."""
    out: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
    if m.get("tool_calls"):
        out["tool_calls"] = []
        for c in m["tool_calls"]:
            try:
                args = json.loads(c["function"]["arguments"])
            except ValueError:
                args = c["function"]["arguments"]  # a malformed call, sent back as the model wrote it
            out["tool_calls"].append({"id": c["id"], "type": "function",
                                      "function": {"name": c["function"]["name"], "arguments": args}})
    if m["role"] == "tool":
        out["tool_call_id"] = m["tool_call_id"]
    return out


def comparable(m: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in m.items() if k != "name"}
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [
            {**c, "function": {**c["function"], "arguments": c["function"]["arguments"]
                               if isinstance(c["function"]["arguments"], dict) else "<malformed>"}}
            for c in out["tool_calls"]
        ]
    return out


# ---------------------------------------------------------------- tests


@pytest.mark.slow
def test_exported_conversations_are_what_the_model_saw(runs: dict[str, Any]) -> None:
    """Rebuilt from the notebook alone, every LLM conversation equals the messages the model server
    received, request by request: system prompt, task prompt, tool calls with their ids, cell outputs."""
    checked = 0
    for run, seen in (("tools", runs["seen_tools"]), ("text", runs["seen_text"]), ("feedback", runs["seen_feedback"])):
        for ep in load_episodes([runs[run]]):
            conv = conversation(ep.notebook, keep_format_errors=True)
            assert conv.protocol == ("text" if run == "text" else "tools")
            got = [comparable(m) for m in conv.messages]
            # the longest request of this conversation: same prompt, same first reply
            mine = [b for b in seen if b["messages"][1]["content"] == conv.messages[1]["content"]
                    and (len(b["messages"]) == 2 or comparable(openai_to_hf(b["messages"][2])) == got[2])]
            last = max(mine, key=lambda b: len(b["messages"]))
            sent = [comparable(openai_to_hf(m)) for m in last["messages"]]
            assert got[: len(sent)] == sent, (ep.result.task_id, ep.result.rollout)
            assert len(got) == len(sent) + 1 and got[-1]["role"] == "assistant"  # the final reply
            if run != "text":
                assert last["tools"] == tool_schemas()
            if run == "feedback":
                assert "not correct" in got[-2]["content"] and "told" in got[0]["content"]
            checked += 1
    assert checked == 9


@pytest.mark.slow
def test_sft_jsonl_and_parquet_load_with_datasets_and_every_row_is_well_formed(runs: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    dirs = [str(runs[k]) for k in ("reference", "tools", "text")]
    cli = CliRunner()
    for fmt in ("jsonl", "parquet"):
        res = cli.invoke(app, ["export", "sft", *dirs, "-o", str(tmp_path / f"sft.{fmt}")])
        assert res.exit_code == 0, res.output
        assert "skipped 4: failed (use --include-failed)" in res.output
    res = cli.invoke(app, ["export", "sft", *dirs, "-o", str(tmp_path / "all.jsonl"), "--include-failed"])
    assert res.exit_code == 0 and "11 sft row(s) from 11 episode(s)" in res.output, res.output

    js = load("json", tmp_path / "sft.jsonl")
    pq = load("parquet", tmp_path / "sft.parquet")
    assert len(js) == len(pq) == 7
    for a, b in zip(js, pq):
        assert a == b
    by_agent = Counter((r["agent"], r["protocol"]) for r in js)
    assert by_agent == {("reference", "tools"): 3, ("llm", "tools"): 3, ("llm", "text"): 1}
    for row in js:
        assert row["passed"] is True and row["score"] == 1.0
        check_messages(row["messages"], row["tools"])
        if row["protocol"] == "tools":
            assert row["tools"] == tool_schemas()
        else:
            assert row["tools"] is None
    every = load("json", tmp_path / "all.jsonl")
    assert Counter(every["passed"]) == {True: 7, False: 4}
    for row in every:
        check_messages(row["messages"], row["tools"])


def test_reference_episodes_export_as_tool_calls_with_outputs_as_the_agent_sees_them(runs: dict[str, Any]) -> None:
    rows = sft_rows(load_episodes([runs["reference"]]))
    assert len(rows) == 3
    for row in rows:
        ep_nb = nbk.read(runs["reference"] / next(r.notebook for r in read_results(runs["reference"])[0]
                                                  if r.task_id == row["task_id"]))
        cells = nbk.cells_with_tag(ep_nb, nbk.TAG_ACTION)
        assistant = [m for m in row["messages"] if m["role"] == "assistant"]
        assert [m["tool_calls"][0]["function"]["arguments"]["code"] for m in assistant] == [c.source for c in cells]
        tool = [m for m in row["messages"] if m["role"] == "tool"]
        assert len(tool) == len(cells) - 1 and tool[0]["content"].endswith("[1 of 15 cells used; 14 left]")
        assert tool[0]["tool_call_id"] == assistant[0]["tool_calls"][0]["id"]
    again = sft_rows(load_episodes([runs["reference"]]))
    assert again == rows  # synthetic ids are deterministic
    for row in sft_rows(load_episodes([runs["reference"]]), protocol="text"):  # or as the text protocol
        check_messages(row["messages"], None)
        assert "```python" in row["messages"][0]["content"] and row["messages"][3]["content"].startswith("Cell 1 ran.")


def test_unusable_replies_are_left_out_unless_asked(runs: dict[str, Any]) -> None:
    """The passed tools episode of the first task began with a malformed tool call."""
    t0 = runs["tasks"][0]
    ep = next(e for e in load_episodes([runs["tools"]]) if e.result.task_id == t0.id and e.result.passed)
    clean = conversation(ep.notebook).messages
    exact = conversation(ep.notebook, keep_format_errors=True).messages
    assert len(exact) == len(clean) + 2  # the malformed reply and the error it drew
    assert any("not valid JSON" in m["content"] for m in exact if m["role"] == "tool")
    assert not any("not valid JSON" in m["content"] for m in clean)
    assert clean[2]["content"] == "First the rows." and clean[2]["tool_calls"][0]["function"]["name"] == "run_cell"
    check_messages(clean, tool_schemas())


def test_dpo_pairs_share_their_prompt_and_come_from_the_same_task(runs: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    dirs = [str(runs[k]) for k in ("reference", "tools", "text")]
    out = tmp_path / "dpo.parquet"
    res = CliRunner().invoke(app, ["export", "dpo", *dirs, "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = load("parquet", out)
    # tools prompt: 3 tasks x (reference + llm passes) x 1 failure; text prompt: 1 pass x 1 failure... of another task
    per_task = Counter(ds["task_id"])
    t0, t1, t2 = runs["tasks"]
    assert per_task == {t0.id: 2, t1.id: 2, t2.id: 2}
    episodes = {(str(e.run_dir), e.result.task_id, e.result.rollout): e for e in
                load_episodes([Path(d) for d in dirs])}
    for row in ds:
        good = episodes[(row["chosen_run"], row["task_id"], row["chosen_rollout"])]
        bad = episodes[(row["rejected_run"], row["task_id"], row["rejected_rollout"])]
        assert good.result.passed and not bad.result.passed
        assert good.result.task_id == bad.result.task_id == row["task_id"]
        cg, cb = conversation(good.notebook), conversation(bad.notebook)
        assert row["prompt"] == cg.prompt == cb.prompt
        assert row["chosen"] == cg.completion and row["rejected"] == cb.completion
        assert row["tools"] == tool_schemas()
        check_messages(row["prompt"] + row["chosen"], row["tools"])
        check_messages(row["prompt"] + row["rejected"], row["tools"])
    # one pair per task with pairing=unique; a cap
    eps = load_episodes([Path(d) for d in dirs])
    assert Counter(r["task_id"] for r in dpo_rows(eps, pairing="unique")) == {t0.id: 1, t1.id: 1, t2.id: 1}
    assert len(dpo_rows(eps, max_pairs_per_task=1)) == 3
    # the text run's pass (task 0) and failure (task 1) are different tasks: no pair across protocols
    assert all(r["protocol"] == "tools" for r in ds)


def test_kto_labels_are_the_episode_outcomes(runs: dict[str, Any], tmp_path: Path) -> None:
    from kernelgym.training.export import export

    report = export("kto", [runs["tools"], runs["text"]], tmp_path / "kto.jsonl")
    assert report.rows == 8
    ds = load("json", tmp_path / "kto.jsonl")
    assert Counter(ds["label"]) == {True: 4, False: 4}
    for row in ds:
        assert row["label"] == row["passed"]
        check_messages(row["prompt"] + row["completion"], row["tools"])


def test_rewards_of_exported_completions_equal_the_run_scores(runs: dict[str, Any]) -> None:
    """The TRL reward function, on the LLM completions, gives the score `kernelgym run` recorded
    (tools protocol: the answer is the submit_answer call's argument)."""
    from kernelgym.training.rewards import kernelgym_reward

    rows = sft_rows(load_episodes([runs["tools"]]), include_failed=True)
    insts = {t.id: get_instance(t.id) for t in runs["tasks"]}
    rewards = kernelgym_reward(
        prompts=[r["messages"][:2] for r in rows], completions=[r["messages"][2:] for r in rows],
        ground_truth=[json.dumps(insts[r["task_id"]].ground_truth) for r in rows],
        grader=[insts[r["task_id"]].grader.model_dump_json() for r in rows],
    )
    assert rewards == [r["score"] for r in rows]
    assert sorted(rewards) == [0.0] * 3 + [1.0] * 3


def test_verl_export_loads_and_compute_score_grades_final_answers(runs: dict[str, Any], tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from kernelgym.cli import app
    from kernelgym.training.rewards import compute_score, kernelgym_reward

    out = tmp_path / "verl.parquet"
    res = CliRunner().invoke(app, ["export", "verl", str(runs["reference"]), "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert list(df.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    ds = load("parquet", out)
    assert len(ds) == 3
    for row in ds:
        inst = get_instance(row["extra_info"]["task_id"])
        assert row["data_source"] == "kernelgym/ehr" and row["ability"] == "ehr"
        assert [m["role"] for m in row["prompt"]] == ["system", "user"] and row["prompt"][1]["content"] == inst.prompt
        assert "run_cell(code)" in row["prompt"][0]["content"]
        assert row["reward_model"]["style"] == "rule" and row["extra_info"]["reward_rule"] == "first"
        gt, info = row["reward_model"]["ground_truth"], row["extra_info"]
        right, wrong = json.dumps(inst.ground_truth), json.dumps(WRONG)
        hermes = '<tool_call>\n{"name": "submit_answer", "arguments": {"answer": %s}}\n</tool_call>'
        assert compute_score(row["data_source"], hermes % right, gt, info) == 1.0
        assert compute_score(row["data_source"], hermes % wrong, gt, info) == 0.0
        code = f"Done.\n```python\nsubmit({inst.ground_truth!r})\n```"
        assert compute_score(row["data_source"], code, gt, info) == 1.0
        assert compute_score(row["data_source"], "submit(answer) with no value", gt, info) == 0.0
        # the last answer counts
        assert compute_score(row["data_source"], (hermes % right) + (hermes % wrong), gt, info) == 0.0
    # the same rows drive TRL's reward_funcs (columns arrive as keyword arguments)
    rewards = kernelgym_reward(
        prompts=ds["prompt"], completions=[f"submit({get_instance(i['task_id']).ground_truth!r})" for i in ds["extra_info"]],
        reward_model=ds["reward_model"], extra_info=ds["extra_info"],
    )
    assert rewards == [1.0, 1.0, 1.0]
    res = CliRunner().invoke(app, ["export", "verl", "-o", str(tmp_path / "s.parquet"), "--suite", "ehr", "--limit", "5"])
    assert res.exit_code == 0 and "5 verl row(s)" in res.output, res.output


def test_export_errors_are_clear(runs: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    cli = CliRunner()
    res = cli.invoke(app, ["export", "sft", str(tmp_path / "nope"), "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "not found" in res.output
    res = cli.invoke(app, ["export", "sft", str(tmp_path), "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "not a run folder" in res.output
    res = cli.invoke(app, ["export", "dpo", str(runs["reference"]), "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 1 and "no rows" in res.output  # the reference run has no failure to pair
    res = cli.invoke(app, ["export", "sft", str(runs["reference"]), "-o", str(tmp_path / "x.csv"), "--format", "csv"])
    assert res.exit_code == 2 and "jsonl or parquet" in res.output


@pytest.mark.slow
def test_training_data_notebook_runs_models_and_loads_its_exports(
    stub: OpenAIStub, tasks: list[Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """notebooks/training_data.ipynb, executed as a user would, its model pointed at the scripted server."""
    import nbformat
    from nbclient import NotebookClient

    picked = tasks[:2]
    stub.reset(variants({
        t.prompt: [
            [calls(tool_call("run_cell", {"code": prep(t)})), calls(tool_call("submit_answer", {"answer": truth(t)}))],
            [calls(tool_call("submit_answer", {"answer": WRONG}))],
        ] for t in picked
    }))
    monkeypatch.setenv("KERNELGYM_MODEL", "openai:stub-model")
    monkeypatch.setenv("KERNELGYM_BASE_URL", stub.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
    monkeypatch.setenv("KERNELGYM_TASKS", ",".join(t.id for t in picked))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / ".hf-cache"))
    nb = nbformat.read(REPO / "notebooks" / "training_data.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "4 sft row(s) from 6 episode(s)" in printed and "4 dpo row(s) from 6 episode(s)" in printed, printed
    assert "tools: ['run_cell', 'submit_answer']" in printed and "rejected ends with submit_answer" in printed
    sft_ds, dpo_ds = load("json", tmp_path / "sft.jsonl"), load("parquet", tmp_path / "dpo.parquet")
    assert len(sft_ds) == 4 and len(dpo_ds) == 4
    for row in sft_ds:
        check_messages(row["messages"], row["tools"])
    for row in dpo_ds:
        check_messages(row["prompt"] + row["chosen"], row["tools"])
        check_messages(row["prompt"] + row["rejected"], row["tools"])
        assert row["rejected"][-1]["tool_calls"][0]["function"]["arguments"] == {"answer": WRONG}


@pytest.mark.parametrize(("completion", "expected"), [
    ('<tool_call>\n{"name": "submit_answer", "arguments": {"answer": "M"}}\n</tool_call>', (True, "M")),
    ('{"arguments": {"answer": [1, 2]}, "name": "submit_answer"}', (True, [1, 2])),  # keys in any order
    ('{"name": "submit_answer", "arguments": "{\\"answer\\": 3.5}"}', (True, 3.5)),  # arguments as a JSON string
    ("```python\nsubmit({'a': 1})\n```", (True, {"a": 1})),
    ("submit(None)", (True, None)),
    ("```python\nsubmit(len(df))\n```", (False, None)),  # computed: no value without the kernel
    ("my_submit(3) and x.submit(4)", (False, None)),
    ('{"name": "submit_answer", "arguments": {"answer": 1}} and later submit(2)', (True, 2)),  # the last one
    ([{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "submit_answer", "arguments": {"answer": 7}}}]},
      {"role": "tool", "content": "Submitted answer: 7"}], (True, 7)),
    ([{"role": "assistant", "content": "no answer"}], (False, None)),
])
def test_answers_are_read_from_tool_calls_and_submit_calls(completion: Any, expected: tuple[bool, Any]) -> None:
    from kernelgym.training.rewards import extract_answer

    assert extract_answer(completion) == expected
