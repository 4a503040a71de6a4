"""The EHR families beyond ``ehr``: ``ehr_qa`` (question answering), ``ehr_quality`` (planted
inconsistencies, EHRCon style) and ``ehr_predict`` (clinical prediction graded by AUROC).

Fast checks run the reference solutions in a plain Python namespace that emulates the ``ehr`` kernel
(as ``test_ehr_family.py`` does) on the session's small data set. One batched reference run then
proves, with real kernels, that every category has an instance the reference agent passes; the
same is done on the imported MIMIC-III demo when ``../shared/data`` is present. A spot check
recomputes the ground truth of sampled instances with hand-written SQL.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.data import DEMO, demo_in_session_home
from kernelgym import tasks
from kernelgym.families import ehr, ehr_predict, ehr_qa, ehr_quality
from kernelgym.grading import Grader, auroc, grade
from kernelgym.tasks import Category, Draft, load_spec, resource_dir

pytestmark = [pytest.mark.kernel]

FAMILIES = {"ehr_qa": ehr_qa, "ehr_quality": ehr_quality, "ehr_predict": ehr_predict}
ATTEMPTS = 6


class KernelSim:
    """The tables as the ``ehr`` kernel loads them, ``sql()`` over the same files, ``submit()``."""

    def __init__(self, root: Path) -> None:
        files = sorted(root.glob("*.parquet"))
        self.tables = {p.stem: pd.read_parquet(p) for p in files}
        self.con = duckdb.connect()
        for p in files:
            self.con.execute(f"CREATE VIEW {p.stem} AS SELECT * FROM read_parquet('{p.as_posix()}')")

    def run(self, draft: Draft) -> Any:
        submitted: list[Any] = []
        ns: dict[str, Any] = {"pd": pd, "np": np, **self.tables}
        ns["sql"] = lambda query: self.con.execute(query).df()
        ns["submit"] = submitted.append
        ns.update(json.loads(json.dumps(draft.inputs)))  # as the setup cell defines them
        for cell in draft.reference:
            exec(compile(cell, "<reference>", "exec"), ns)
        assert len(submitted) == 1, draft.reference
        return json.loads(json.dumps(submitted[0]))  # what submit() records


def wrong_answers(expected: Any, grader: Grader) -> list[Any]:
    if expected is None:
        return [0, "MICU", ["x"]]
    out: list[Any] = [None] if expected != [] else [["NOT-AN-ITEM"]]
    if isinstance(expected, bool):
        out.append(not expected)
    elif isinstance(expected, (int, float)):
        out += [expected + max(1.0, abs(expected) * 0.1), expected - max(1.0, abs(expected) * 0.1)]
    elif isinstance(expected, str) and grader.rule in ("datetime", "date"):
        out.append("2000-01-01 00:00:00")
    elif isinstance(expected, str):
        out.append(expected + " X")
    elif isinstance(expected, list) and expected:
        out += [expected + ["NOT-AN-ITEM"], expected[:-1]]
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim(ehr_data: Path) -> KernelSim:
    return KernelSim(ehr_data)


@pytest.fixture(scope="module")
def drafts(ehr_data: Path) -> dict[str, list[Draft]]:
    """A few drafts of every ehr_qa and ehr_quality category, from the session's small data set."""
    out: dict[str, list[Draft]] = {}
    for module in (ehr_qa, ehr_quality):
        with module.open_context(ehr_data) as ctx:
            for name, cat in module.CATEGORIES.items():
                rng = random.Random(f"test/{name}")
                out[name] = [d for d in (cat.generate(ctx, rng) for _ in range(ATTEMPTS)) if d is not None]
    return out


@pytest.fixture(scope="module")
def small_specs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Copies of the EHR family specs with a few instances per category (the shipped specs ask for
    tens of thousands); the real specs are restored afterwards."""
    folder = tmp_path_factory.mktemp("specs")
    for name in ("ehr_qa", "ehr_quality", "ehr_predict"):
        raw = yaml.safe_load((resource_dir("task_specs") / f"{name}.yaml").read_text())
        raw["generator"]["per_category"] = 2
        raw["generator"]["patience"] = 60
        raw["categories"] = [c if isinstance(c, str) else c["name"] for c in raw["categories"]]
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    old = os.environ.get("KERNELGYM_SPECS")
    os.environ["KERNELGYM_SPECS"] = str(folder)
    tasks.clear_caches()
    yield folder
    if old is None:
        os.environ.pop("KERNELGYM_SPECS", None)
    else:
        os.environ["KERNELGYM_SPECS"] = old
    tasks.clear_caches()


# ---------------------------------------------------------------- registry and specs


def test_enough_categories_and_instances_are_specified() -> None:
    """>= 60 QA, >= 3 data-quality, >= 6 prediction categories; >= 69 EHR categories in all; the
    shipped specs ask for >= 40,000 instances (the count on the default data is in docs/ehr.md)."""
    qa = len(ehr.CATEGORIES) + len(ehr_qa.CATEGORIES)
    assert qa >= 60 and len(ehr_quality.CATEGORIES) >= 3 and len(ehr_predict.CATEGORIES) >= 6
    assert qa + len(ehr_quality.CATEGORIES) + len(ehr_predict.CATEGORIES) >= 69
    assert not set(ehr.CATEGORIES) & set(ehr_qa.CATEGORIES)
    asked = 0
    for name in ("ehr", "ehr_qa", "ehr_quality", "ehr_predict"):
        spec = load_spec(resource_dir("task_specs") / f"{name}.yaml")
        assert spec.generator is not None
        module = FAMILIES.get(name, ehr)
        overrides = {c.name: c.per_category for c in spec.categories or []}
        assert set(overrides) <= set(module.CATEGORIES)
        asked += sum(overrides.get(c) or spec.generator.per_category for c in module.CATEGORIES)
    assert asked >= 40_000


@pytest.mark.parametrize("module", list(FAMILIES.values()), ids=list(FAMILIES))
def test_categories_are_described(module: Any) -> None:
    for name, cat in module.CATEGORIES.items():
        assert isinstance(cat, Category) and cat.name == name
        assert cat.description.strip() and cat.answer_format.strip()
    assert module.GENERATOR_VERSION


def test_every_qa_topic_of_the_issue_is_covered() -> None:
    names = set(ehr.CATEGORIES) | set(ehr_qa.CATEGORIES)
    for needed in ("vital_mean", "input_total_amount", "output_total", "micro_specimens", "top_organisms",
                   "careunits_of_admission", "transfer_count", "lab_last_before_time", "hours_since_admission",
                   "lab_first_hours_max", "has_diagnosis", "drug_ever_prescribed", "cohort_count_admissions",
                   "cohort_count_diagnosis_drug", "unanswerable_question", "maybe_unanswerable", "lab_value_change",
                   "admission_insurance", "discharge_location", "diagnosis_title", "procedure_title"):
        assert needed in names, needed


# ---------------------------------------------------------------- QA and quality drafts (fast, in-process)


QA_AND_QUALITY = sorted(ehr_qa.CATEGORIES) + sorted(ehr_quality.CATEGORIES)


def _category(name: str) -> Category:
    return ehr_qa.CATEGORIES.get(name) or ehr_quality.CATEGORIES[name]


@pytest.mark.parametrize("name", QA_AND_QUALITY)
def test_reference_passes_wrong_answers_fail(drafts: dict[str, list[Draft]], sim: KernelSim, name: str) -> None:
    cat = _category(name)
    got = drafts[name]
    assert got, f"{name}: no draft in {ATTEMPTS} attempts"
    for d in got:
        json.dumps(d.answer)
        for key in d.inputs:
            assert key.isidentifier()
        assert d.reference and "submit(" in d.reference[-1]
        code = "\n".join(d.reference)
        if isinstance(d.answer, str) and len(d.answer) >= 4:
            assert repr(d.answer) not in code, "the reference must not hard-code the answer"
        answer = sim.run(d)
        verdict = grade(answer, d.answer, d.grader or cat.grader)
        assert verdict.passed, f"{name}: {d.question}\n{verdict.explanation}"
        for wrong in wrong_answers(d.answer, cat.grader):
            assert not grade(wrong, d.answer, cat.grader).passed, f"{name}: {wrong!r} accepted for {d.answer!r}"


def test_generation_is_deterministic(ehr_data: Path, drafts: dict[str, list[Draft]]) -> None:
    for module in (ehr_qa, ehr_quality):
        with module.open_context(ehr_data) as ctx:
            for name, cat in module.CATEGORIES.items():
                rng = random.Random(f"test/{name}")
                again = [d for d in (cat.generate(ctx, rng) for _ in range(ATTEMPTS)) if d is not None]
                assert [d.model_dump() for d in again] == [d.model_dump() for d in drafts[name]], name


def test_yes_no_and_maybe_categories_mix_their_answers(ehr_data: Path) -> None:
    """An agent that always answers the same must not pass a whole yes/no or maybe-None category."""
    with ehr_qa.open_context(ehr_data) as ctx:
        for name in ("has_diagnosis", "lab_abnormal_any", "drug_ever_prescribed", "unanswerable_question",
                     "patient_date_of_death"):
            rng = random.Random(name)
            answers = [d.answer for d in (ehr_qa.CATEGORIES[name].generate(ctx, rng) for _ in range(40)) if d]
            kinds = {a if isinstance(a, bool) else a is None for a in answers}
            assert len(kinds) == 2, (name, answers[:10])


# ---------------------------------------------------------------- planted inconsistencies


def test_planted_errors_are_found_and_only_where_planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulation never breaks a quality rule by itself; planting changes only planted rows, with a
    random stream of its own; every kind of error is planted; the family's answers equal the rules."""
    from kernelgym.datasets.ehr import build_ehr, generator, planted

    build_ehr(tmp_path / "planted", patients=60, seed=3)
    monkeypatch.setattr(planted, "plant_errors", lambda *a, **k: None)
    assert generator.planted.plant_errors is not None
    build_ehr(tmp_path / "clean", patients=60, seed=3)
    monkeypatch.undo()
    found = {}
    for kind in ("planted", "clean"):
        with ehr_quality.open_context(tmp_path / kind) as ctx:
            found[kind] = {
                "lab": sum(len(v) for v in ehr_quality.labs_after_death(ctx).values()),
                "sex": sum(len(c) for _, c in ehr_quality.sex_code_errors(ctx).values()),
                "weight": sum(len(v) for v in ehr_quality.weight_errors(ctx).values()),
                "route": sum(len(r) for _, r in ehr_quality.route_errors(ctx).values()),
            }
    assert found["clean"] == {"lab": 0, "sex": 0, "weight": 0, "route": 0}
    assert all(n > 0 for n in found["planted"].values()), found
    # everything else is the same data: the admissions and the chart are byte-identical
    for table in ("admissions", "chartevents", "icustays", "microbiologyevents"):
        assert (tmp_path / "planted" / f"{table}.parquet").read_bytes() == (tmp_path / "clean" / f"{table}.parquet").read_bytes()
    clean_rx = pd.read_parquet(tmp_path / "clean" / "prescriptions.parquet")
    planted_rx = pd.read_parquet(tmp_path / "planted" / "prescriptions.parquet")
    differ = (clean_rx["route"] != planted_rx["route"]).sum()
    assert differ == found["planted"]["route"]


def test_sex_of_code_follows_the_stated_ranges() -> None:
    from kernelgym.datasets.ehr.planted import sex_of_code

    assert [sex_of_code(c) for c in ("V222", "6271", "1749", "185", "60000", "4019", "E8809", "V4581")] == [
        "F", "F", "F", "M", "M", None, None, None]


# ---------------------------------------------------------------- prediction: data set and grading


def test_auroc_rule() -> None:
    g = Grader(rule="auroc", threshold=0.7)
    truth = {"1": 1, "2": 0, "3": 1, "4": 0}
    assert auroc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2]) == 1.0
    assert auroc([1, 0], [0.5, 0.5]) == 0.5
    assert grade({"1": 0.9, "2": 0.1, "3": 0.8, "4": 0.2}, truth, g).passed
    assert grade({1: 0.9, 2: 0.1, 3: 0.8, 4: 0.2}, truth, g).score == 1.0  # int keys are fine
    assert grade([0.9, 0.1, 0.8, 0.2], truth, g).passed  # a list in the ground truth's order
    assert not grade({"1": 0.1, "2": 0.9, "3": 0.2, "4": 0.8}, truth, g).passed
    assert not grade({"1": 0.9, "2": 0.1, "3": 0.8}, truth, g).passed  # an id without a prediction
    assert not grade({"1": 0.9, "2": "x", "3": 0.8, "4": 0.2}, truth, g).passed
    assert not grade({"1": 0.9, "2": float("nan"), "3": 0.8, "4": 0.2}, truth, g).passed
    assert not grade([0.5, 0.5, 0.5, 0.5], truth, g).passed  # a constant score is chance
    assert not grade(None, truth, g).passed and not grade(0.9, truth, g).passed
    assert "AUROC" in grade([0.9, 0.1, 0.8, 0.2], truth, g).explanation


@pytest.fixture(scope="module")
def predict_data(ehr_data: Path) -> Path:
    from kernelgym.families.ehr_predict import ensure_predict_ehr
    from kernelgym.kernel.paths import dataset_dir

    ensure_predict_ehr()
    return dataset_dir("ehr-predict")


def test_test_patients_records_stop_at_their_prediction_time(ehr_data: Path, predict_data: Path) -> None:
    """No row of a test patient is charted after the prediction time; their outcomes are blank; the
    kernel's train_labels cover training admissions only."""
    cohort = pd.read_parquet(predict_data / "cohort.parquet")
    test = cohort[cohort["split"] == "test"]
    assert len(test) >= 10 and (cohort["split"] == "train").sum() >= 10
    cut = test.set_index("subject_id")["prediction_time"]
    for table, col in (("labevents", "charttime"), ("chartevents", "charttime"), ("outputevents", "charttime"),
                       ("inputevents_mv", "starttime"), ("icustays", "intime"), ("admissions", "admittime")):
        df = pd.read_parquet(predict_data / f"{table}.parquet")
        df = df[df["subject_id"].isin(cut.index)]
        assert (df[col] <= df["subject_id"].map(cut)).all(), table
    adm = pd.read_parquet(predict_data / "admissions.parquet")
    mine = adm[adm["hadm_id"].isin(test["hadm_id"])]
    assert mine["dischtime"].isna().all() and mine["hospital_expire_flag"].isna().all()
    assert pd.read_parquet(predict_data / "patients.parquet").set_index("subject_id").loc[cut.index, "dod"].isna().all()
    labels = pd.read_parquet(predict_data / "train_labels.parquet")
    assert not set(labels["hadm_id"]) & set(test["hadm_id"])
    dx = pd.read_parquet(predict_data / "diagnoses_icd.parquet")
    assert not set(dx["hadm_id"]) & set(test["hadm_id"])
    full = pd.read_parquet(ehr_data / "labevents.parquet")
    assert len(full) > len(pd.read_parquet(predict_data / "labevents.parquet"))


# ---------------------------------------------------------------- spot checks by hand-written SQL


SPOT_SQL: dict[str, tuple[str, str]] = {
    # category: (SQL over the inputs as {name}, how to read the result)
    "admission_insurance": ("SELECT insurance FROM admissions WHERE hadm_id = {hadm_id}", "scalar"),
    "vital_mean": ("SELECT avg(c.valuenum) FROM chartevents c JOIN d_items d USING (itemid) "
                   "WHERE c.icustay_id = {icustay_id} AND d.label = '{vital_label}'", "number"),
    "lab_test_count": ("SELECT count(*) FROM labevents l JOIN d_labitems d USING (itemid) "
                       "WHERE l.hadm_id = {hadm_id} AND d.label = '{lab_label}'", "number"),
    "min_lab_value": ("SELECT min(l.valuenum) FROM labevents l JOIN d_labitems d USING (itemid) "
                      "WHERE l.hadm_id = {hadm_id} AND d.label = '{lab_label}'", "number"),
    "drug_order_count": ("SELECT count(*) FROM prescriptions WHERE drug = '{drug}'", "number"),
    "drugs_of_admission": ("SELECT DISTINCT drug FROM prescriptions WHERE hadm_id = {hadm_id} AND drug IS NOT NULL", "set"),
    "micro_specimens": ("SELECT DISTINCT spec_type_desc FROM microbiologyevents WHERE hadm_id = {hadm_id} "
                        "AND spec_type_desc IS NOT NULL", "set"),
    "icu_stay_count": ("SELECT count(*) FROM icustays WHERE list_contains({subject_ids}, subject_id)", "number"),
    "output_total": ("SELECT sum(o.value) FROM outputevents o JOIN d_items d USING (itemid) WHERE o.icustay_id = "
                     "{icustay_id} AND d.label = '{item_label}' AND d.linksto = 'outputevents'", "number"),
    "hours_to_icu": ("SELECT date_diff('second', a.admittime, min(i.intime)) / 3600.0 FROM admissions a "
                     "JOIN icustays i USING (hadm_id) WHERE a.hadm_id = {hadm_id} GROUP BY a.admittime", "number"),
    "patients_with_diagnosis": ("SELECT count(DISTINCT x.subject_id) FROM diagnoses_icd x JOIN d_icd_diagnoses d "
                                "USING (icd9_code) WHERE d.long_title = '{diagnosis_title}'", "number"),
    "quality_sex_specific_codes": (
        "SELECT DISTINCT x.icd9_code FROM diagnoses_icd x JOIN patients p USING (subject_id) WHERE x.hadm_id = {hadm_id} "
        "AND ((p.gender = 'M' AND (x.icd9_code SIMILAR TO '(6[3-7][0-9]|61[4-9]|62[0-9]|174|179|18[0-4]|V2[2-4]|V2[78]).*')) "
        "OR (p.gender = 'F' AND (x.icd9_code SIMILAR TO '(18[5-7]|60[0-8]).*')))", "set"),
    "quality_labs_after_death": (
        "SELECT l.row_id FROM labevents l JOIN patients p USING (subject_id) WHERE l.subject_id = {subject_id} "
        "AND CAST(l.charttime AS DATE) > CAST(p.dod AS DATE)", "set"),
}


def test_spot_checks_by_independent_sql(ehr_data: Path) -> None:
    """Ten and more sampled instances, each recomputed by a query written by hand from the question
    (not from the generator's code), agree with the stored ground truth. The sampled questions and
    answers are printed, to be read as a clinician would (pytest -s)."""
    con = duckdb.connect()
    for p in sorted(ehr_data.glob("*.parquet")):
        con.execute(f"CREATE VIEW {p.stem} AS SELECT * FROM read_parquet('{p.as_posix()}')")
    rng = random.Random(2024)
    checked = 0
    for name, (query, kind) in SPOT_SQL.items():
        module = ehr_qa if name in ehr_qa.CATEGORIES else ehr_quality
        with module.open_context(ehr_data) as ctx:
            draft = None
            for _ in range(20):
                draft = module.CATEGORIES[name].generate(ctx, rng)
                if draft is not None:
                    break
        assert draft is not None, name
        values = {k: str(v).replace("'", "''") for k, v in draft.inputs.items()}
        rows = con.execute(query.format(**values)).fetchall()
        if kind == "set":
            got: Any = sorted(str(r[0]) for r in rows)
            want: Any = sorted(str(x) for x in draft.answer)
        else:
            got = rows[0][0] if rows else None
            want = draft.answer
        print(f"[spot check] {name}: {draft.question}\n    ground truth {draft.answer!r}, SQL {got!r}")
        if kind == "number":
            assert abs(float(got) - float(want)) <= 0.01 + 1e-4 * abs(float(want)), (name, draft.question, got, want)
        else:
            assert got == want, (name, draft.question, got, want)
        checked += 1
    assert checked >= 10


# ---------------------------------------------------------------- real episodes, one batched run


def _one_per_category(families: list[str], dataset: str | None = None) -> list[Any]:
    chosen = tasks.select(",".join(families), dataset=dataset)
    by_cat: dict[str, Any] = {}
    for inst in chosen:
        by_cat.setdefault(f"{inst.family}/{inst.category}", inst)
    return list(by_cat.values())


def _run_references(instances: list[Any], out: Path) -> dict[str, Any]:
    from kernelgym.agents import load_agent
    from kernelgym.runs.runner import RunOptions, read_results, run

    run(instances, load_agent("reference"), out, RunOptions(concurrency=2, progress=False))
    results, _ = read_results(out)
    return {f"{r.family}/{r.category}": r for r in results}


@pytest.fixture(scope="module")
def default_home(default_ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KERNELGYM_HOME with the default synthetic data set (1,000 patients, seed 0; conftest's, built
    once per session): prediction needs it (the session's 120 patients hold a handful of positives per
    task)."""
    home = tmp_path_factory.mktemp("kghome-default")
    shutil.copytree(default_ehr_data, home / "data" / "ehr")
    return home


@pytest.mark.slow
def test_reference_agent_passes_every_category_on_synthetic_data(
    default_home: Path, small_specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One instance of every ehr_qa, ehr_quality and ehr_predict category, on the default synthetic
    data, run by the reference agent in real kernels (the ehr family's own run is in test_run.py)."""
    monkeypatch.setenv("KERNELGYM_HOME", str(default_home))  # kernels inherit it: their own fork servers
    tasks.clear_caches()
    try:
        instances = _one_per_category(["ehr_qa", "ehr_quality", "ehr_predict"])
        cats = {f"{i.family}/{i.category}" for i in instances}
        expected = {f"{f}/{c}" for f, m in FAMILIES.items() for c in m.CATEGORIES}
        assert cats == expected, sorted(expected - cats)
        results = _run_references(instances, tmp_path / "run")
    finally:
        tasks.clear_caches()
    failed = {k: (r.explanation, r.error) for k, r in results.items() if not r.passed}
    assert not failed, failed
    assert len(results) == len(expected)


@pytest.fixture(scope="module")
def imported_demo(kg_home: Path) -> Path:
    if not DEMO.is_dir():
        pytest.skip(f"the MIMIC-III demo is not available at {DEMO}")
    return demo_in_session_home()


@pytest.mark.slow
def test_reference_agent_passes_every_category_on_the_mimic_iii_demo(
    imported_demo: Path, small_specs: Path, tmp_path: Path
) -> None:
    """Every EHR template generates instances on real data (the imported demo) and the reference
    agent passes one of each, in the kernelgym-ehr-mimic3 and kernelgym-ehr-predict-mimic3 kernels."""
    instances = _one_per_category(["ehr", "ehr_qa", "ehr_quality", "ehr_predict"], dataset="mimic3")
    cats = {(i.family.rsplit("-", 1)[0], i.category) for i in instances}
    expected = {(f, c) for f, m in {"ehr": ehr, **FAMILIES}.items() for c in m.CATEGORIES}
    assert cats == expected, sorted(expected - cats)
    assert {i.profile for i in instances} == {"ehr-mimic3", "ehr-predict-mimic3"}
    results = _run_references(instances, tmp_path / "run")
    failed = {k: (r.explanation, r.error) for k, r in results.items() if not r.passed}
    assert not failed, failed
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


# ---------------------------------------------------------------- command line


def test_tasks_show_and_stats(small_specs: Path, ehr_data: Path) -> None:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["tasks", "stats", "--suite", "ehr_quality", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output)
    fam = stats["families"]["ehr_quality"]
    assert set(fam["categories"]) == set(ehr_quality.CATEGORIES)
    assert fam["train"] + fam["test"] == fam["total"] == stats["total"] > 0
    inst = tasks.select("ehr_quality")[0]
    res = runner.invoke(app, ["tasks", "show", inst.id])
    assert res.exit_code == 0, res.output
    assert inst.id in res.output and "ground truth" in res.output and "reference solution" in res.output
    res = runner.invoke(app, ["tasks", "show", inst.id, "--public"])
    assert res.exit_code == 0 and "ground truth" not in res.output and "reference solution" not in res.output
    res = runner.invoke(app, ["tasks", "show", "ehr_quality/no_such/00000"])
    assert res.exit_code == 2
