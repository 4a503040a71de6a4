"""The ``ehr`` task family: every category generates deterministic, solvable, correctly graded tasks.

The reference solutions are run here in a plain Python namespace that emulates the ``ehr`` kernel
(every table as a DataFrame read with ``pandas.read_parquet``, ``sql()`` over DuckDB views of the
same files, ``submit()`` capturing its argument, the instance inputs as variables), so the checks
are fast and need no Jupyter kernel.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from helpers.paths import SHARED_DATA
from kernelgym.families import ehr
from kernelgym.grading import Grader, grade
from kernelgym.tasks import Category, Draft, load_spec, resource_dir

ATTEMPTS = 20
NAMES = sorted(ehr.CATEGORIES)
DEMO = SHARED_DATA / "mimic-iii-demo"
KERNEL_TABLES = (  # the tables the ehr kernel preloads (the demo has a few more)
    "patients", "admissions", "icustays", "transfers", "diagnoses_icd", "procedures_icd",
    "d_icd_diagnoses", "d_icd_procedures", "labevents", "d_labitems", "chartevents", "d_items",
    "prescriptions", "inputevents_mv", "outputevents", "microbiologyevents",
)


class KernelSim:
    """A data set opened the way the ``ehr`` kernel opens it, plus cached drafts per category."""

    def __init__(self, root: Path) -> None:
        self.root = root
        files = sorted(root.glob("*.parquet"))
        self.tables = {p.stem: pd.read_parquet(p) for p in files}
        self.con = duckdb.connect()
        for p in files:
            self.con.execute(f"CREATE VIEW {p.stem} AS SELECT * FROM read_parquet('{p.as_posix()}')")
        self._drafts: dict[str, list[Draft | None]] = {}

    def drafts(self, name: str, attempts: int = ATTEMPTS) -> list[Draft | None]:
        if name not in self._drafts:
            self._drafts[name] = generate(self.root, name, attempts)
        return self._drafts[name]

    def run(self, draft: Draft) -> Any:
        """Execute the reference cells; return what they submitted."""
        submitted: list[Any] = []
        ns: dict[str, Any] = {"pd": pd, "np": np, **self.tables}
        ns["sql"] = lambda query: self.con.execute(query).df()
        ns["submit"] = submitted.append
        ns.update(draft.inputs)
        for cell in draft.reference:
            exec(compile(cell, "<reference>", "exec"), ns)
        assert len(submitted) == 1, f"the reference must call submit() exactly once: {draft.reference}"
        return submitted[0]


def generate(root: Path, name: str, attempts: int, seed: str = "test") -> list[Draft | None]:
    rng = random.Random(f"{seed}/{name}")
    with ehr.open_context(root) as ctx:
        return [ehr.CATEGORIES[name].generate(ctx, rng) for _ in range(attempts)]


def wrong_answers(expected: Any, grader: Grader) -> list[Any]:
    """Answers that a correct grader must reject."""
    if expected is None:
        return [0, 1.5, "PO", ["4019"]]
    out: list[Any] = [None]
    if isinstance(expected, bool):
        out.append(not expected)
    elif isinstance(expected, (int, float)):
        out.append(expected + max(1.0, abs(expected) * 0.1))
        out.append(expected - max(1.0, abs(expected) * 0.1))
    elif isinstance(expected, str) and grader.rule == "datetime":
        when = dt.datetime.strptime(expected, "%Y-%m-%d %H:%M:%S")
        out += [(when + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), expected[:10] + " 00:00:01"]
    elif isinstance(expected, str):
        out += [expected + " X", "NOT " + expected]
    elif isinstance(expected, list):
        out += [expected + ["NOT-A-CODE"], expected[:-1]]
        if grader.rule == "list" and expected != expected[::-1]:
            out.append(expected[::-1])
    else:  # pragma: no cover - a new answer type needs a wrong answer here
        raise AssertionError(f"no wrong answer for {expected!r}")
    return out


def usable(drafts: list[Draft | None]) -> list[Draft]:
    return [d for d in drafts if d is not None]


# ---------------------------------------------------------------- data sets


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> KernelSim:
    try:
        from kernelgym.datasets.ehr import build_ehr
    except ImportError as exc:
        pytest.skip(f"kernelgym.datasets.ehr (the synthetic EHR generator) cannot be imported yet: {exc}")
    root = tmp_path_factory.mktemp("ehr-synthetic")
    build_ehr(root, patients=150, seed=0)
    return KernelSim(root)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> KernelSim:
    """The real MIMIC-III demo (../shared/data), converted to Parquet in a temporary folder."""
    if not DEMO.is_dir():
        pytest.skip(f"the MIMIC-III demo is not available at {DEMO}")
    root = tmp_path_factory.mktemp("ehr-demo")
    con = duckdb.connect()
    for name in KERNEL_TABLES:
        csv = DEMO / f"{name.upper()}.csv.gz"
        # type detection must see every row (ICD-9 'V' codes come late), except in the big table
        sample = 20480 if name == "chartevents" else -1
        con.execute(
            f"COPY (SELECT * FROM read_csv('{csv.as_posix()}', header=true, quote='\"', escape='\"', "
            f"sample_size={sample})) TO '{(root / name).as_posix()}.parquet' (FORMAT parquet)"
        )
    con.close()
    return KernelSim(root)


# ---------------------------------------------------------------- the registry and the spec


def test_at_least_twelve_categories_each_described() -> None:
    assert len(ehr.CATEGORIES) >= 12
    for name, cat in ehr.CATEGORIES.items():
        assert isinstance(cat, Category) and cat.name == name
        assert cat.description.strip() and cat.answer_format.strip(), name
        assert isinstance(cat.grader, Grader)


def test_spec_validates_and_points_at_this_module() -> None:
    spec = load_spec(resource_dir("task_specs") / "ehr.yaml")
    assert spec.family == "ehr" and spec.profile == "ehr"
    assert spec.generator is not None and spec.generator.module == "kernelgym.families.ehr"
    assert spec.generator.per_category == 40 and spec.generator.test_fraction == 0.5
    prompt = spec.prompt_template.format(question="QUESTION?", answer_format="FORMAT.", inputs={})
    assert "QUESTION?" in prompt and "FORMAT." in prompt and "submit(" in prompt
    assert ehr.GENERATOR_VERSION


def test_open_context_closes_its_connection(synthetic: KernelSim) -> None:
    with ehr.open_context(synthetic.root) as ctx:
        assert "labevents" in ctx.tables
        assert ctx.rows("SELECT count(*) FROM patients")[0][0] > 0
    with pytest.raises(duckdb.Error):
        ctx.con.execute("SELECT 1")


# ---------------------------------------------------------------- per category, synthetic data


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_generation_is_deterministic(synthetic: KernelSim, name: str) -> None:
    """Same data and same rng state give the same drafts, whatever else the context has cached."""
    n = ATTEMPTS // 2  # a fresh context and a fresh rng: the first n drafts must repeat exactly
    again = generate(synthetic.root, name, n)
    first = [d.model_dump() if d else None for d in synthetic.drafts(name)[:n]]
    assert first == [d.model_dump() if d else None for d in again]


@pytest.mark.parametrize("name", NAMES)
def test_most_attempts_yield_a_draft(synthetic: KernelSim, name: str) -> None:
    drafts = usable(synthetic.drafts(name))
    assert len(drafts) >= ATTEMPTS // 2, f"{name}: only {len(drafts)} of {ATTEMPTS} attempts gave a draft"


@pytest.mark.parametrize("name", NAMES)
def test_drafts_are_self_contained_and_serialisable(synthetic: KernelSim, name: str) -> None:
    for d in usable(synthetic.drafts(name)):
        json.dumps(d.answer)
        json.dumps(d.inputs)
        for key, value in d.inputs.items():
            assert key.isidentifier(), key
            assert str(value) in d.question, f"input {key}={value!r} is not named in: {d.question}"
        assert d.reference and "submit(" in d.reference[-1]


@pytest.mark.parametrize("name", NAMES)
def test_reference_does_not_hardcode_the_answer(synthetic: KernelSim, name: str) -> None:
    for d in usable(synthetic.drafts(name)):
        code = "\n".join(d.reference)
        if isinstance(d.answer, str) and len(d.answer) >= 3:
            assert repr(d.answer) not in code and f'"{d.answer}"' not in code
        if isinstance(d.answer, float) and not d.answer.is_integer():
            assert str(d.answer) not in code


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes_and_wrong_answers_fail(synthetic: KernelSim, name: str) -> None:
    cat = ehr.CATEGORIES[name]
    for d in usable(synthetic.drafts(name)):
        answer = synthetic.run(d)
        json.dumps(answer)  # the kernel's submit() needs JSON; references convert numpy/pandas values
        verdict = grade(answer, d.answer, cat.grader)
        assert verdict.passed, f"{name}: {d.question}\n{verdict.explanation}"
        for wrong in wrong_answers(d.answer, cat.grader):
            assert not grade(wrong, d.answer, cat.grader).passed, f"{name}: {wrong!r} accepted for {d.answer!r}"


def test_maybe_unanswerable_mixes_present_and_absent(synthetic: KernelSim) -> None:
    """An agent that always answers None must not pass every maybe_unanswerable task."""
    answers = [d.answer for d in usable(synthetic.drafts("maybe_unanswerable"))]
    assert any(a is None for a in answers) and any(a is not None for a in answers)


# ---------------------------------------------------------------- real data: the MIMIC-III demo


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_references_pass_on_the_mimic_iii_demo(demo: KernelSim, name: str) -> None:
    cat = ehr.CATEGORIES[name]
    drafts = usable(demo.drafts(name, attempts=8))
    if not drafts:
        pytest.skip(f"{name}: no drafts on the demo data")
    for d in drafts:
        verdict = grade(demo.run(d), d.answer, cat.grader)
        assert verdict.passed, f"{name}: {d.question}\n{verdict.explanation}"
