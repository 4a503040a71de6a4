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
    assert "EHRSHOT" in report.unsupported["ehrshot"] and "task.jsonl" in report.unsupported["ehrshot"]
    assert "the folder is empty" in report.unsupported["ehr_seqsql"]
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
    assert power["two_sample_t_test_power"].grader.model_dump(exclude_defaults=True) == {"rule": "numeric", "rel_tol": 0.01}
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


def test_biocoder_records_a_guessed_function_passes_are_left_out(imported: tuple[Path, mag.ImportReport]) -> None:
    """Regression (issue 17, item 3): the solution-independence check tried only `return None`, so a
    record whose context printed the same with `return True` (or with the input handed back) was
    imported and a function that solves nothing passed it. Every dummy of grading.DUMMIES is tried."""
    left = {x.record_id: x for x in imported[1].datasets["biocoder"].left_out}
    assert left["b9"].reason == left["b10"].reason == "dummy_function_passes"
    assert "return True" in left["b9"].detail and "return None" not in left["b9"].detail
    assert "return the first input" in left["b10"].detail
    assert "b1" not in left and "b2" not in left and "b11" not in left


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
    sizes off by one, power 2 % too high, dates off by a month); for BioCoder, defines the function as
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
    if g.rule == "numeric" and g.rel_tol:
        return truth * (1 + 2 * g.rel_tol)
    if g.rule == "numeric" and g.abs_tol == 0:
        return truth + 1
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
    assert len(good) == n == 10
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
    assert power and all(math.isclose(r["answer"] / r["expected"], 1.02) for r in power)


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


@pytest.mark.slow  # over 2.5 s on a quiet 2-core machine: not in the quick tier
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


# ---------------------------------------------------------------- functions that solve nothing (issue 17, item 3)


def _definition(inst: Instance) -> tuple[str, bool, list[str]]:
    """The function's name, whether it is a method, and its decorators, read from the reference solution."""
    import ast

    name = inst.verifier_args["inputs"][0][0]
    for cell in inst.reference:
        for node in ast.walk(ast.parse(cell)):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return name, inst.category == "method", [f"@{ast.unparse(d)}" for d in node.decorator_list]
    raise AssertionError(f"{inst.id}: the reference does not define {name!r}")


def _define(source: str, namespace: dict[str, Any]) -> None:
    """Run a cell's ``source`` in ``namespace`` with its text findable by ``inspect.getsource``, as
    IPython keeps each cell's source."""
    import hashlib
    import linecache

    name = f"<kg-test-cell-{hashlib.sha256(source.encode()).hexdigest()[:12]}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - test code and the records' reference solutions


def _verdict_of(inst: Instance, namespace: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The host's verdict when the kernel's user namespace is ``namespace``: the verifier's own call
    (kernel.verify.emit_function_evidence, which runs the BioCoder program) and Instance.verdict."""
    from kernelgym.kernel import verify

    monkeypatch.setattr(kmag, "_user_namespace", lambda: namespace)
    verify.emit_function_evidence(inst.verifier_args["name"], inst.verifier_args["inputs"])
    evidence = verify.last_evidence()
    assert evidence is not None
    return inst.verdict(evidence)[1]


def passing_dummy_labels(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dummies (grading.DUMMIES) that pass ``inst``, each defined as an agent would define it in its
    kernel; the reference solution must pass the same way (else the check proves nothing)."""
    from kernelgym.grading import DUMMIES

    name, method, decorators = _definition(inst)
    ref_ns: dict[str, Any] = {"__name__": "__main__", "submit": lambda *a: None}
    for cell in inst.reference:
        _define(cell, ref_ns)
    assert _verdict_of(inst, ref_ns, monkeypatch).passed, inst.id
    passing = []
    for dummy in DUMMIES:
        ns: dict[str, Any] = {"__name__": "__main__"}
        _define(dummy.source(name, method=method, decorators=decorators), ns)
        if _verdict_of(inst, ns, monkeypatch).passed:
            passing.append(dummy.label)
    return passing


def test_no_function_that_solves_nothing_passes_an_imported_biocoder_task(
    specs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Every dummy (True, False, 0, "", None, the first input, raising) fails every imported BioCoder
    task, graded through the verifier's own call; the reference solution passes each."""
    monkeypatch.chdir(tmp_path)
    coder = specs.instances("medagentgym-biocoder")
    assert sorted(i.source.record_id for i in coder) == ["b1", "b11", "b2"]
    assert {i.id: passing_dummy_labels(i, monkeypatch) for i in coder} == {i.id: [] for i in coder}


def _real_medagentgym() -> Path | None:
    """MedAgentGym's released data folder, when this machine has it: ../shared/data/medagentgym[/data],
    or the folder named by $KERNELGYM_TEST_MEDAGENTGYM_DATA."""
    import os

    from helpers.paths import SHARED_DATA

    given = os.environ.get("KERNELGYM_TEST_MEDAGENTGYM_DATA")
    for root in ([Path(given)] if given else []) + [SHARED_DATA / "medagentgym" / "data", SHARED_DATA / "medagentgym"]:
        if (root / "biocoder" / "test_tasks.jsonl").is_file():
            return root
    return None


@pytest.mark.slow
@pytest.mark.skipif(_real_medagentgym() is None, reason="MedAgentGym's data folder is not in ../shared/data/medagentgym "
                    "(or $KERNELGYM_TEST_MEDAGENTGYM_DATA)")
def test_no_function_that_solves_nothing_passes_a_real_biocoder_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The same on MedAgentGym's released BioCoder records, imported here (with scikit-image and pysam)."""
    from kernelgym import tasks

    data = _real_medagentgym()
    assert data is not None
    report = mag.import_medagentgym(data, tmp_path / "families", only=["biocoder"])
    assert report.datasets["biocoder"].imported > 0
    monkeypatch.setenv("KERNELGYM_SPECS", str(tmp_path / "families"))
    monkeypatch.chdir(tmp_path)
    tasks.clear_caches()
    try:
        coder = tasks.instances("medagentgym-biocoder")
        passing = {i.source.label(): p for i in coder if (p := passing_dummy_labels(i, monkeypatch))}
    finally:
        tasks.clear_caches()
    assert passing == {}


# ---------------------------------------------------------------- provenance (issue 17, item 4)


def test_imported_instances_keep_their_provenance(imported: tuple[Path, mag.ImportReport], specs: Any, ehr_home: None) -> None:
    """Regression (issue 17, item 4): imported instances kept no source file, line or record id, so no
    result could be matched with MedAgentGym's task indices or its rollout_indices.json."""
    data = Path(imported[1].source)
    coder = {i.source.record_id: i.source for i in specs.instances("medagentgym-biocoder")}
    b1 = coder["b1"]
    assert (b1.benchmark, b1.dataset, b1.file, b1.line, b1.split, b1.index) == (
        "medagentgym", "biocoder", "biocoder/test_tasks.jsonl", 1, "test", 0)
    assert (coder["b11"].line, coder["b11"].index, coder["b11"].label()) == (11, 10, "biocoder:test:10")
    ehr = {i.source.record_id: i.source for i in specs.instances("medagentgym-mimic-iii")}
    assert (ehr["m1"].file, ehr["m1"].split, ehr["m1"].index) == ("mimic_iii/valid_tasks.jsonl", "test", 0)
    assert (ehr["m10"].split, ehr["m10"].index) == ("test", 2)
    assert (ehr["m6"].file, ehr["m6"].split, ehr["m6"].index) == ("mimic_iii/train_tasks.jsonl", "train", 0)
    # MedAgentGym's train mode reads MedCalc's train_tasks_all.jsonl, not train_tasks.jsonl: no index to match
    medcalc_train = next(i.source for i in specs.instances("medagentgym-medcalcbench") if i.split == "train")
    assert (medcalc_train.file, medcalc_train.line, medcalc_train.split, medcalc_train.index) == (
        "medcalcbench/train_tasks.jsonl", 1, None, None)
    assert medcalc_train.label() == "medcalcbench/train_tasks.jsonl:1"
    for family in ("medagentgym-medcalcbench", "medagentgym-npowerai", "medagentgym-biocoder", "medagentgym-mimic-iii",
                   "medagentgym-ehrcon"):
        for inst in specs.instances(family):
            src = inst.source
            assert src is not None and src.benchmark == "medagentgym", inst.id
            record = json.loads((data / src.file).read_text().splitlines()[src.line - 1])
            if src.record_id is not None:
                assert src.record_id in {str(v) for v in record.values() if not isinstance(v, (dict, list))}, inst.id
            question = record.get("question") or record.get("Question") or record.get("problem") or ""
            assert str(question).strip()[:40] in inst.prompt or family == "medagentgym-mimic-iii", inst.id


def test_runs_select_imported_tasks_by_their_source_ids(imported: tuple[Path, mag.ImportReport], specs: Any,
                                                         tmp_path: Path) -> None:
    """``--source-ids``: MedAgentGym's data set, split and indices (or a record id, or its
    rollout_indices.json) pick the imported tasks; a bad selector stops before any work."""
    out = imported[0]
    both = "medagentgym-npowerai,medagentgym-biocoder"
    chosen = specs.select(both, sources=specs.parse_source_selectors(["npowerai:test:0-1", "biocoder:id=b2"]))
    assert sorted(i.source.label() for i in chosen) == ["biocoder:test:1", "npowerai:test:0", "npowerai:test:1"]
    assert [i.split for i in specs.select(both, sources=specs.parse_source_selectors(["npowerai:train"]))] == ["train"]
    assert len(specs.select(both, sources=specs.parse_source_selectors(["npowerai:test:0-4000000000"]))) == 2
    (tmp_path / "run.json").write_text("[1, 2]")
    indices = tmp_path / "rollout_indices.json"
    indices.write_text(json.dumps({"npowerai": {"test": [1], "train": [0]}, "biocoder": {"test": [0, 99]}}))
    chosen = specs.select(both, sources=specs.parse_source_selectors([str(indices)]))
    assert sorted(i.source.label() for i in chosen) == ["biocoder:test:0", "npowerai:test:1", "npowerai:train:0"]

    runner = CliRunner()
    res = runner.invoke(app, ["run", "--specs", str(out), "--suite", both, "--split", "all", "--source-ids",
                              "npowerai:test:1", "--source-ids", "biocoder:id=b1", "--dry-run"])
    assert res.exit_code == 0, res.output
    picked = [line for line in res.output.splitlines() if line.startswith("medagentgym-")]
    assert sorted(specs.get_instance(t).source.label() for t in picked) == ["biocoder:test:0", "npowerai:test:1"]
    for bad, says in ((["npowerai:test:x"], "--source-ids 'npowerai:test:x': write DATASET"),
                      (["npowerai:test:9-3"], "ends before it starts"),
                      ([str(tmp_path / "nope.json")], "no such file"),
                      ([str(tmp_path / "run.json")], "not a JSON object of data set")):
        res = runner.invoke(app, ["run", "--specs", str(out), "--suite", both, "--source-ids", *bad, "--dry-run"])
        assert res.exit_code == 2 and says in res.output, res.output
    none = runner.invoke(app, ["run", "--specs", str(out), "--suite", both, "--source-ids", "npowerai:test:77", "--dry-run"])
    assert none.exit_code == 2 and "source ids" in none.output


def test_results_and_notebooks_say_where_an_imported_task_comes_from(
    imported: tuple[Path, mag.ImportReport], specs: Any, tmp_path: Path,
) -> None:
    """A real run (reference agent, one biomed kernel) selected by source id: its results.jsonl record
    and its episode notebook carry the record's provenance; run.json keeps the selectors."""
    import nbformat

    target = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "run", "--specs", str(imported[0]), "--suite", "medagentgym-npowerai", "--source-ids", "npowerai:test:0",
        "--agent", "reference", "--out", str(target), "--no-progress"])
    assert res.exit_code == 0, res.output
    (record,) = [json.loads(x) for x in (target / "results.jsonl").read_text().splitlines()]
    want = {"benchmark": "medagentgym", "dataset": "npowerai", "file": "npowerai/test_tasks.jsonl", "line": 1,
            "split": "test", "index": 0, "record_id": "1"}
    assert record["passed"] and record["source"] == want
    nb = nbformat.read(target / record["notebook"], as_version=4)
    assert nb.metadata["kernelgym"]["task"]["source"] == want
    assert json.loads((target / "run.json").read_text())["config"]["selection"]["sources"] == ["npowerai:test:0"]


# ---------------------------------------------------------------- each source's own tolerance (issue 17, item 7)


def npowerai_passes(answer: float, pred: float) -> bool:
    """N-PowerAI's check for a power in MedAgentGym (npowerai.py), restated: within 1 % of the answer."""
    return answer * 0.99 < pred < answer * 1.01


def test_npowerai_power_is_graded_by_its_own_rule(specs: Any) -> None:
    """Regression (issue 17, item 7): imported powers were graded +/-0.01 absolute, which accepts answers
    N-PowerAI rejects (0.4779 + 0.009 is 1.9 % off); the source's rule is +/-1 % relative. MedCalc keeps
    its [Lower Limit, Upper Limit] and sizes stay exact: each source keeps its own rule."""
    power = next(i for i in specs.instances("medagentgym-npowerai") if i.category == "two_sample_t_test_power")
    truth = power.ground_truth
    assert truth == 0.4779
    for pred in (truth, truth * 1.0099, truth * 0.9901, truth * 1.0101, truth * 0.9899, truth + 0.009, truth - 0.009):
        assert grade(pred, truth, power.grader).passed == npowerai_passes(truth, pred), pred
    assert not grade(truth + 0.009, truth, power.grader).passed
    size = next(i for i in specs.instances("medagentgym-npowerai") if i.category == "two_sample_t_test_size")
    assert grade(size.ground_truth, size.ground_truth, size.grader).passed
    assert not grade(size.ground_truth * 1.005, size.ground_truth, size.grader).passed
    bmi = next(i for i in specs.instances("medagentgym-medcalcbench") if i.category == "bmi")
    assert bmi.grader.rule == "range" and grade(bmi.grader.upper, bmi.ground_truth, bmi.grader).passed


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
