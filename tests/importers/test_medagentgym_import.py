"""``kernelgym import medagentgym``: MedAgentGym's task files as kernelgym families, with graders
that are right where MedAgentGym's accept wrong answers.

The data are small made-up records in MedAgentGym's schemas (tests/helpers/medagentgym_fixture.py), and a
tiny made-up MIMIC-III in the PhysioNet CSV layout for the EHR data sets.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import nbformat
import pytest
from typer.testing import CliRunner

from helpers import medagentgym_fixture as fx
from kernelgym.cli import app
from kernelgym.episode import Action, Observation
from kernelgym.grading import grade
from kernelgym.importers import medagentgym as mag
from kernelgym.kernel import medagentgym as kmag
from kernelgym.tasks import Instance, get_instance

pytestmark = [pytest.mark.kernel]

RUN_FAMILIES = ("medagentgym-medcalcbench", "medagentgym-npowerai", "medagentgym-biocoder")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, mag.ImportReport]:
    from kernelgym.importers.mimic3 import import_mimic3

    root = tmp_path_factory.mktemp("medagentgym")
    data = fx.write_data(root / "data")
    mimic3 = root / "home" / "data" / "mimic3"  # a KERNELGYM_HOME of its own: never the session's
    import_mimic3(fx.write_mimic_csv(root / "mimic_csv"), mimic3)
    out = root / "families"
    report = mag.import_medagentgym(data, out, mimic3_dir=mimic3)
    return out, report


@pytest.fixture()
def specs(imported: tuple[Path, mag.ImportReport], monkeypatch: pytest.MonkeyPatch) -> Any:
    from kernelgym import tasks

    monkeypatch.setenv("KERNELGYM_SPECS", str(imported[0]))
    tasks.clear_caches()
    yield tasks
    tasks.clear_caches()


def outcomes(res: mag.DatasetResult) -> list[str]:
    """``imported`` or the reason code of every record, in file order (train, test, valid)."""
    why = {(x.file, x.line): x.reason for x in res.left_out}
    return [why.get((name, line), "imported") for name, _ in mag.SPLIT_FILES for line in range(1, res.files.get(name, 0) + 1)]


# ---------------------------------------------------------------- import


def test_every_family_is_imported_and_every_unsound_record_is_reported(imported: tuple[Path, mag.ImportReport]) -> None:
    out, report = imported
    assert set(report.datasets) == set(mag.DATASETS)
    for name, expected in fx.EXPECTED.items():
        res = report.datasets[name]
        assert outcomes(res) == expected, name
        assert res.imported == expected.count("imported")
        spec = out / f"{mag.family_name(name)}.yaml"
        assert spec.is_file() == (res.imported > 0), name
        for left in res.left_out:
            assert left.detail and left.reason in expected
    assert "biodsbench" in report.unsupported
    saved = json.loads((out / mag.REPORT_FILE).read_text())
    assert len(saved["left_out"]) == sum(len(r.left_out) for r in report.datasets.values())
    assert saved["mimic3"]["fingerprint"]
    assert saved["datasets"]["eicu"]["reasons"] == {"no_eicu_dataset": 1}


@pytest.fixture()
def ehr_home(imported: tuple[Path, mag.ImportReport], monkeypatch: pytest.MonkeyPatch) -> None:
    """The EHR families run in the ehr-mimic3 profile, on the imported MIMIC-III: here the tiny one.
    (No kernel is ever started with this KERNELGYM_HOME.)"""
    monkeypatch.setenv("KERNELGYM_HOME", str(imported[0].parent / "home"))


def test_imported_families_load_with_the_right_graders(specs: Any, ehr_home: None) -> None:
    by_family = {f: specs.instances(f) for f in specs.families() if f.startswith("medagentgym-")}
    assert set(by_family) == {"medagentgym-medcalcbench", "medagentgym-npowerai", "medagentgym-biocoder",
                              "medagentgym-mimic-iii", "medagentgym-ehrcon"}
    medcalc = {i.category: i for i in by_family["medagentgym-medcalcbench"]}
    assert set(medcalc) == {"bmi", "feverpain", "conception_date", "mean_arterial_pressure"}
    assert (medcalc["bmi"].grader.rule, medcalc["bmi"].grader.lower, medcalc["bmi"].grader.upper) == ("range", 21.714, 24.0)
    assert "Instructions to calculate: BMI = weight" in medcalc["bmi"].prompt
    assert medcalc["conception_date"].grader.rule == "date" and medcalc["conception_date"].ground_truth == "2024-01-24"
    assert medcalc["mean_arterial_pressure"].split == "train"
    power = {i.category: i for i in by_family["medagentgym-npowerai"]}
    assert power["two_sample_t_test_size"].grader.model_dump(exclude_defaults=True) == {"rule": "numeric"}
    assert power["two_sample_t_test_power"].grader.abs_tol == 0.01
    assert set(power) == {"two_sample_t_test_size", "two_sample_t_test_power", "one_sample_t_test_size"}
    coder = {i.category: i for i in by_family["medagentgym-biocoder"]}
    assert set(coder) == {"function", "method"}
    assert coder["function"].verifier == "function"
    assert coder["function"].verifier_args["name"] == "kernelgym.kernel.medagentgym:run_program"
    ehr = {i.category: i for i in by_family["medagentgym-mimic-iii"]}
    assert {i.profile for i in ehr.values()} == {"ehr-mimic3"}
    assert sorted(ehr["what_is_the_intake_method_of_zyloprim_kg"].ground_truth) == ["NG", "PO"]
    assert ehr["count_the_number_of_hospital_admissions_in_2105"].ground_truth == [2]  # SQLite alone can run it
    assert ehr["what_is_the_blood_type_of_patient_501"].ground_truth is None
    assert ehr["what_was_the_last_route_of_heparin_kg_for_patient_501"].ground_truth is None
    con = by_family["medagentgym-ehrcon"]
    assert [i.ground_truth for i in con] == [True, False] and con[0].inputs["notes"][0]["text"].startswith("Started")
    for insts in by_family.values():
        for inst in insts:
            assert "ground_truth" not in inst.public().model_dump()
            if inst.verifier == "answer":
                assert grade(inst.ground_truth, inst.ground_truth, inst.grader).passed, inst.id


def test_import_command(imported: tuple[Path, mag.ImportReport], tmp_path: Path) -> None:
    data = Path(imported[1].source)
    runner = CliRunner()
    res = runner.invoke(app, ["import", "medagentgym", str(data), "--only", "medcalcbench,npowerai", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "medcalcbench: 4 of 7 records imported (family 'medagentgym-medcalcbench')" in res.output
    assert "answer_outside_limits 1" in res.output and "kernelgym run --specs" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "medagentgym-import.json", "medagentgym-medcalcbench.jsonl", "medagentgym-medcalcbench.yaml",
        "medagentgym-npowerai.jsonl", "medagentgym-npowerai.yaml"]
    bad = runner.invoke(app, ["import", "medagentgym", str(data), "--only", "nosuch", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown data set 'nosuch'" in bad.output
    missing = runner.invoke(app, ["import", "medagentgym", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert missing.exit_code == 2


# ---------------------------------------------------------------- MedAgentGym's graders vs kernelgym's


def medagentgym_medcalc_passes(answer: Any, pred: str) -> bool:
    """MedAgentGym's MedCalc check (ehr_gym/env/task/medcalcbench.py), restated: `or` where `and` was meant."""
    return float(answer) >= float(pred) * 0.95 or float(answer) <= float(pred) * 1.05


def medagentgym_sql_passes(answer: list[str], pred: str) -> bool:
    """MedAgentGym's EHR check (mimic_iii.py, treqs.py, eicu.py), restated: the answer as a substring of
    whatever the code printed, a traceback included."""
    ans = answer[0]
    old = ans in pred
    if ans in ("False", "false"):
        ans = "0"
    if ans in ("True", "true"):
        ans = "1"
    if ans in ("None", "none"):
        ans = "0"
    parts = ans.split(", ") if ", " in ans else [ans]
    return old or all(p in pred for p in parts)


def test_answers_medagentgym_passes_wrongly_fail_here(specs: Any, ehr_home: None) -> None:
    """MedAgentGym accepts a MedCalc answer 400x too large and an SQL run that failed; kernelgym does not."""
    bmi = next(i for i in specs.instances("medagentgym-medcalcbench") if i.category == "bmi")
    far = "9999"
    assert medagentgym_medcalc_passes(bmi.ground_truth, far)
    assert not grade(float(far), bmi.ground_truth, bmi.grader).passed
    assert grade(22.86, bmi.ground_truth, bmi.grader).passed

    per_patient = next(i for i in specs.instances("medagentgym-mimic-iii") if i.ground_truth == [2])
    failed_run = ('Traceback (most recent call last):\n  File "validation_code.py", line 2\n'
                  "sqlite3.OperationalError: no such column: admissions.subject_ids")
    assert medagentgym_sql_passes(["2"], failed_run)
    assert not grade(failed_run, per_patient.ground_truth, per_patient.grader).passed
    assert not grade(None, per_patient.ground_truth, per_patient.grader).passed
    assert grade([2.0], per_patient.ground_truth, per_patient.grader).passed


def test_biocoder_records_that_pass_silent_programs_are_left_out(imported: tuple[Path, mag.ImportReport]) -> None:
    """MedAgentGym compares the agent's output with the reference program's: when the reference prints
    nothing, fails, or prints the same whatever the function, any program passes. Those are left out."""
    reasons = {x.record_id: x.reason for x in imported[1].datasets["biocoder"].left_out}
    assert reasons["b3"] == "reference_prints_nothing"
    assert reasons["b4"] == "output_independent_of_solution"
    assert reasons["b5"] == "reference_failed"
    assert reasons["b6"] == "nondeterministic_reference"


def test_solution_is_inserted_with_the_marker_indentation() -> None:
    program = kmag.insert_solution(fx.METHOD_CONTEXT, fx.METHOD_SOLUTION)
    assert "        pairs = {" in program and "<<insert" not in program
    out = kmag.run_source(program)
    seq, rc = out["stdout"].split("\n")
    assert rc == seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert kmag.output_evidence("a  \r\nb\n\n")["stdout"] == "a\nb"
    with pytest.raises(ValueError):
        kmag.insert_solution("print(1)", "def f(): pass")


# ---------------------------------------------------------------- kernelgym run


class OutsideToleranceAgent:
    """Submits the recorded answer moved outside the grading tolerance (MedCalc far outside the limits,
    sizes off by one, power off by 0.02, dates off by a month); for BioCoder, defines the function as
    one that returns nothing. Host-side test code: it reads the ground truth from the task store."""

    name = "outside-tolerance"

    def __init__(self) -> None:
        self.turn = 0

    async def act(self, obs: Observation) -> Action:
        inst = get_instance(obs.task.id)
        self.turn += 1
        if inst.verifier == "function":
            fn = inst.verifier_args["inputs"][0][0]
            sig = "self, *args" if inst.category == "method" else "*args"
            return Action.code(f"def {fn}({sig}):\n    return None") if self.turn == 1 else Action.code("submit('done')")
        return Action.answer(outside(inst))


def outside(inst: Instance) -> Any:
    import datetime as dt

    g, truth = inst.grader, inst.ground_truth
    if g.rule == "range":
        assert g.lower is not None and g.upper is not None
        return g.upper + 10 * max(1.0, g.upper - g.lower)
    if g.rule == "date":
        return (dt.date.fromisoformat(truth) + dt.timedelta(days=30)).isoformat()
    if g.rule == "numeric" and g.abs_tol == 0:
        return truth + 1
    if g.rule == "numeric":
        return truth - 0.02 if truth > 0.5 else truth + 0.02
    raise AssertionError(f"no outside answer for {inst.id}")


def _run(out: Path, agent: str, target: Path) -> list[dict[str, Any]]:
    res = CliRunner().invoke(app, [
        "run", "--specs", str(out), "--suite", ",".join(RUN_FAMILIES), "--split", "all", "--agent", agent,
        "--all-tasks", "--concurrency", "2", "--max-turns", "4", "--out", str(target), "--no-progress"])
    assert res.exit_code == 0, res.output
    return [json.loads(x) for x in (target / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_run_recorded_answers_pass_and_answers_outside_the_tolerance_fail(
    imported: tuple[Path, mag.ImportReport], specs: Any, tmp_path: Path,
) -> None:
    """Real kernels: the reference agent (it submits the recorded answers, or for BioCoder defines the
    reference function) passes every imported MedCalc, N-PowerAI and BioCoder task; an agent whose
    answers lie outside the tolerance fails every one, though MedAgentGym's MedCalc check passes them."""
    out = imported[0]
    n = sum(len(specs.instances(f)) for f in RUN_FAMILIES)
    good = _run(out, "reference", tmp_path / "reference")
    assert len(good) == n == 9
    assert all(r["passed"] for r in good), [(r["task_id"], r["explanation"]) for r in good if not r["passed"]]

    bad = _run(out, "test_medagentgym_import:OutsideToleranceAgent", tmp_path / "outside")
    assert len(bad) == n
    assert not any(r["passed"] for r in bad), [(r["task_id"], r["answer"]) for r in bad if r["passed"]]
    for r in bad:
        if r["family"] == "medagentgym-medcalcbench" and isinstance(r["answer"], (int, float)):
            assert medagentgym_medcalc_passes(r["expected"], str(r["answer"]))
        if r["family"] == "medagentgym-biocoder":
            assert "1/1" not in r["explanation"] and r["stop_reason"] == "answered"
    power = [r for r in bad if r["category"].endswith("_power")]
    assert power and all(math.isclose(abs(r["answer"] - r["expected"]), 0.02) for r in power)


# ---------------------------------------------------------------- --protocol medagentgym


def test_medagentgym_actions_map_onto_cells() -> None:
    from types import SimpleNamespace

    from kernelgym.llm import medagentgym_protocol as proto

    assert proto.to_cell("validate_code", {"code": "print(1)"}) == "print(1)"
    assert proto.to_cell("terminal", {"cmd": "ls -l"}) == "%%sh\nls -l"
    cell = proto.to_cell("request_info", {"data_path": "./mimic_iii/PRESCRIPTIONS.csv", "info_type": "term",
                                          "keyterm": "aspirin"})
    assert cell.endswith("_kg_request_info('./mimic_iii/PRESCRIPTIONS.csv', 'term', 'aspirin')")
    assert "_kg_debug('x = 1/0', 'ZeroDivisionError')" in proto.to_cell("debug", {"code": "x = 1/0", "error_msg": "ZeroDivisionError"})
    task = SimpleNamespace(family="medagentgym-npowerai")
    assert proto.permitted_actions(task) == ("validate_code", "debug", "terminal")
    assert proto.permitted_actions(SimpleNamespace(family="medagentgym-mimic-iii"))[0] == "request_info"
    msg = SimpleNamespace(content="", invalid_tool_calls=[], tool_calls=[
        {"name": "request_info", "args": {"info_type": "term", "keyterm": "x"}, "id": "a"},
        {"name": "validate_code", "args": {"code": "submit(1)"}, "id": "b"},
        {"name": "validate_code", "args": {"code": "print(2)"}, "id": "c"}])
    parsed = proto.parse_reply(msg, proto.permitted_actions(task))
    assert parsed.kind == "code" and parsed.code == "submit(1)" and parsed.call_id == "b"
    assert "no action 'request_info'" in parsed.tool_replies[0][1] and parsed.tool_replies[1][0] == "c"
    none = proto.parse_reply(SimpleNamespace(content="hmm", tool_calls=[], invalid_tool_calls=[]))
    assert none.kind == "error" and "validate_code" in (none.error or "")


def test_request_info_looks_up_the_kernel_tables(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    ns = {"prescriptions": pd.DataFrame({"drug": ["aspirin", "naproxen"], "route": ["PO", "NG"]}),
          "admissions": pd.DataFrame({"hadm_id": [1, 2], "age": [50, 60]})}
    monkeypatch.setattr(kmag, "_user_namespace", lambda: ns)
    kmag.request_info("./mimic_iii/PRESCRIPTIONS.csv", "column_names")
    kmag.request_info("prescriptions", "column_values", "route")
    kmag.request_info("", "term", "aspirin")
    kmag.request_info("", "term", "aspirn")
    kmag.request_info("", "term", "60")
    text = capsys.readouterr().out
    assert "The column names of prescriptions are: ['drug', 'route']" in text
    assert "The column values include: ['NG', 'PO']" in text
    assert 'keyterm "aspirin" under the following columns [\'drug\']' in text
    assert "The closest values are: ['aspirin']" in text
    assert "admissions: The table contains the keyterm \"60\" under the following columns ['age']" in text


def test_medagentgym_protocol_episode(specs: Any) -> None:
    """An LLM offered MedAgentGym's actions (over real HTTP, in a real kernel): terminal, a failing
    validate_code, debug, then validate_code with submit(); only the data set's permitted actions are offered."""
    pytest.importorskip("langchain_openai")
    import os

    from helpers.openai_stub import OpenAIStub, by_turn, calls, tool_call
    from kernelgym.agents import load_agent
    from kernelgym.episode import EpisodeConfig, run_episode

    inst = next(i for i in specs.instances("medagentgym-npowerai") if i.category == "two_sample_t_test_size")
    os.environ["KG_TEST_STUB_KEY"] = "sk-stub"
    script = [
        calls(tool_call("terminal", {"cmd": "echo kg-terminal-ok"})),
        calls(tool_call("validate_code", {"code": "counts = {'a': 1}\ncounts['b']"})),
        calls(tool_call("debug", {"code": "counts = {'a': 1}\ncounts['b']", "error_msg": "KeyError: 'b'"})),
        calls(tool_call("validate_code", {"code": f"answer = {inst.ground_truth}\nsubmit(answer)"})),
    ]
    with OpenAIStub(api_key="sk-stub") as stub:
        stub.reset(by_turn(script))
        agent = load_agent("llm", {"model": "openai:stub-model", "base_url": stub.url, "api_key_env": "KG_TEST_STUB_KEY",
                                   "protocol": "medagentgym"})()
        result, nb = asyncio.run(run_episode(inst, agent, config=EpisodeConfig(max_turns=6)))
        bodies = [r.body for r in stub.chat_requests()]
    assert result.passed and result.turns == 4, result
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["validate_code", "debug", "terminal"]
    system = bodies[0]["messages"][0]["content"]
    assert "submit(answer)` in the code of a `validate_code` action" in system
    tool_msgs = [m["content"] for m in bodies[-1]["messages"] if m["role"] == "tool"]
    assert "kg-terminal-ok" in tool_msgs[0]
    assert "KeyError" in tool_msgs[1]
    assert "counts = {'a': 1}" in tool_msgs[2] and "KeyError" in tool_msgs[2]  # the locals of the failing frame
    actions = [c.source for c in nb.cells if "kernelgym-action" in c.metadata.get("tags", [])]
    assert actions[0].startswith("%%sh\n") and "_kg_debug(" in actions[2]
    assert nb.metadata["kernelgym"]["agent"]["sampling"]["protocol"] == "medagentgym"


def test_medagentgym_text_actions_parse_as_medagentgym_writes_them() -> None:
    """The text form reads the action as JSON in the message text (a ```json block, or the text from its
    first { to its last }; a triple-quoted code string; reasoning before </think> ignored) and refuses
    what is not one permitted action, saying why."""
    from types import SimpleNamespace

    from kernelgym.llm import medagentgym_protocol as proto

    npower = proto.permitted_actions(SimpleNamespace(family="medagentgym-npowerai"))

    def parse(text: str) -> Any:
        return proto.parse_text_reply(SimpleNamespace(content=text), npower)

    ok = parse('I will compute it.\n```json\n{"action": "validate_code", "params": {"code": "answer = 6 * 7"}}\n```')
    assert ok.kind == "code" and ok.code == "answer = 6 * 7" + proto.AUTO_SUBMIT and ok.thought == "I will compute it."
    triple = parse('<think>{"action": "nope"}</think>{"action": "validate_code", "params": {"code": """x = 1\nprint(x)"""}}')
    assert triple.kind == "code" and triple.code == "x = 1\nprint(x)"  # no `answer`: nothing submitted
    assert parse('{"action": "validate_code", "params": {"code": "answer = 3\\nsubmit(answer)"}}').code == "answer = 3\nsubmit(answer)"
    assert parse('{"action": "terminal", "params": {"cmd": "ls"}}').code == "%%sh\nls"
    for text, why in (("just prose", "not one action as a JSON object"),
                      ('{"action": "request_info", "params": {"info_type": "term"}}', "there is no action"),
                      ('{"action": "validate_code", "params": {"code": "x"}, "extra": 1}', 'exactly the keys "action" and "params"'),
                      ('{"action": "validate_code", "params": {"program": "x"}}', "unexpected: program")):
        bad = parse(text)
        assert bad.kind == "error" and why in (bad.error or ""), (text, bad.error)
        assert '{"action": "validate_code", "params": {...}}' in (bad.error or "")


def test_medagentgym_text_protocol_run_grades_every_call_silently_and_stops_at_the_first_pass(
        specs: Any, tmp_path: Path) -> None:
    """Issue 17, item 6: MedAgentGym's own action format as a protocol: the action as JSON in the message
    text, every validate_code graded, the episode ended at the first pass, the verdict never shown to
    the agent. Through `kernelgym run --protocol medagentgym-text`, the real LangChain client and the
    HTTP test server: a wrong answer goes on silently (its output only), a malformed reply is told, the
    right answer ends the episode before the script's last reply is asked for; the run records
    MedAgentGym's episode rules and the attempts."""
    pytest.importorskip("langchain_openai")
    import os

    from helpers.openai_stub import OpenAIStub, by_turn, text
    from kernelgym.runs.manifest import read_manifest
    from kernelgym.runs.runner import read_results
    from kernelgym.tasks import select

    inst = select("medagentgym-npowerai", split="test", limit=1, categories=["two_sample_t_test_size"])[0]
    gt = inst.ground_truth
    os.environ["KG_TEST_STUB_KEY"] = "sk-stub"
    act = '{"action": "%s", "params": %s}'
    script = [
        text("First a look around.\n```json\n" + act % ("terminal", '{"cmd": "echo kg-text-ok"}') + "\n```"),
        text(act % ("validate_code", json.dumps({"code": f"answer = {gt + 1}\nprint(answer)"}))),
        text("I am not sure what to do."),  # malformed: told, asked again (not a turn)
        text(act % ("validate_code", '{"code": """import math\nanswer = %d\nprint(answer)"""}' % gt)),
        text(act % ("validate_code", json.dumps({"code": "print('never asked for')"}))),
    ]
    out = tmp_path / "run"
    with OpenAIStub(api_key="sk-stub") as stub:
        stub.reset(by_turn(script))
        res = CliRunner().invoke(app, [
            "run", "--suite", "medagentgym-npowerai", "--category", "two_sample_t_test_size", "--limit", "1",
            "--model", "openai:stub-model", "--base-url", stub.url, "--api-key-env", "KG_TEST_STUB_KEY",
            "--protocol", "medagentgym-text", "--max-turns", "6", "--concurrency", "1", "--out", str(out),
            "--no-progress"])
        bodies = [r.body for r in stub.chat_requests() if r.status == 200]
    assert res.exit_code == 0, res.output
    (result,), _ = read_results(out)
    assert result.passed and result.turns == 3 and result.stop_reason == "answered", result
    assert [(s.answer, s.passed) for s in result.submissions] == [(gt + 1, False), (gt, True)]
    assert result.attempts == 2 and result.reward == 0.0 and result.reward_rule == "first"  # passed, not at first
    assert len(bodies) == 4  # nothing was asked after the pass
    assert all("tools" not in b for b in bodies)
    system = bodies[0]["messages"][0]["content"]
    assert '"action"' in system and "`validate_code`" in system and "`request_info`" not in system
    seen = [m["content"] for m in bodies[-1]["messages"] if m["role"] == "user"][1:]
    assert "kg-text-ok" in seen[0] and seen[1].strip() == f"{gt + 1}\nSubmitted answer: {gt + 1}"  # output only
    assert "not one action as a JSON object" in seen[2]
    assert not any(w in " ".join(seen).lower() for w in ("correct", "wrong", "feedback", "graded"))
    config = read_manifest(out).config  # type: ignore[union-attr]
    assert config.episode.silent_retries and not config.episode.feedback and config.episode.max_attempts == 6
    nb = nbformat.read(out / result.notebook, as_version=4)
    actions = [c.source for c in nb.cells if "kernelgym-action" in c.metadata.get("tags", [])]
    assert actions[1].endswith(mag_proto().AUTO_SUBMIT) and actions[2].startswith("import math\nanswer = ")
    assert nb.metadata["kernelgym"]["agent"]["sampling"]["protocol"] == "medagentgym-text"
    assert nb.metadata["kernelgym"]["episode"]["silent_retries"] is True


def mag_proto() -> Any:
    from kernelgym.llm import medagentgym_protocol

    return medagentgym_protocol
