"""Generating several families at once: in worker processes, with the same stores as one at a time."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kernelgym import tasks
from kernelgym.tasks.stats import task_stats

FAMILIES = ("bioinfo", "power", "medcalc")


@pytest.fixture()
def small_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Three biomed families with 3 instances per category (same seeds), plus a JSONL family."""
    folder = tmp_path / "specs"
    folder.mkdir()
    for fam in FAMILIES:
        raw = yaml.safe_load((tasks.resource_dir("task_specs") / f"{fam}.yaml").read_text())
        raw["generator"]["per_category"] = 3
        raw.pop("categories", None)
        (folder / f"{fam}.yaml").write_text(yaml.safe_dump(raw))
    (folder / "listed.yaml").write_text("family: listed\ndescription: d\nprofile: biomed\ninstances: listed.jsonl\n")
    (folder / "listed.jsonl").write_text(
        "".join(json.dumps({"category": "c", "question": f"q{i}", "answer": i}) + "\n" for i in range(5))
    )
    monkeypatch.setenv("KERNELGYM_SPECS", str(folder))
    tasks.clear_caches()
    yield folder
    tasks.clear_caches()


def _stores(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted((home / "tasks").rglob("*.jsonl"))}


@pytest.mark.slow
def test_parallel_generation_writes_the_same_stores_and_counts(
    small_specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = ",".join([*FAMILIES, "listed"])
    out = {}
    for jobs in (1, 2):
        home = tmp_path / f"home{jobs}"
        monkeypatch.setenv("KERNELGYM_HOME", str(home))
        tasks.clear_caches()
        out[jobs] = (task_stats(suite, jobs=jobs), _stores(home))
    assert out[1] == out[2]
    stats, stores = out[2]
    assert len(stores) == len(FAMILIES) + 1
    assert stats["families"]["listed"]["total"] == 5
    assert stats["families"]["power"]["total"] == 3 * 12
    # generated instances all carry a reference solution; the JSONL lines above have none
    assert {n: f["with_reference"] for n, f in stats["families"].items()} == {
        **{fam: stats["families"][fam]["total"] for fam in FAMILIES}, "listed": 0}
    assert stats["with_reference"] == stats["total"] - 5
    # a second count reads the stores (nothing to generate: no worker processes)
    assert task_stats(suite, jobs=2) == stats


@pytest.mark.slow
def test_an_error_in_a_worker_is_raised_here(small_specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (small_specs / "listed.jsonl").write_text(json.dumps({"category": "c", "answer": 1}) + "\n")  # no question
    monkeypatch.setenv("KERNELGYM_HOME", str(tmp_path / "home"))
    with pytest.raises(tasks.TaskSpecError) as err:
        task_stats("power,listed", jobs=2)
    assert "listed.jsonl:1" in str(err.value) and "'question'" in str(err.value)


def test_task_spec_error_survives_pickling() -> None:
    err = tasks.TaskSpecError("a.yaml", "generator.seed", "not an integer")
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.field, again.problem, str(again)) == (err.path, err.field, err.problem, str(err))


def test_generation_jobs_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELGYM_JOBS", "3")
    assert tasks.generation_jobs() == 3
    monkeypatch.setenv("KERNELGYM_JOBS", "0")
    assert tasks.generation_jobs() == 1
    monkeypatch.delenv("KERNELGYM_JOBS")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert tasks.generation_jobs() == cpus


def test_a_generator_draft_without_a_reference_solution_is_refused() -> None:
    """Every generated instance must be solvable by its reference: a draft with no cells is invalid."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="reference"):
        tasks.Draft(question="q", answer=1, reference=[])


def test_an_unknown_task_id_says_what_is_wrong_with_it(small_specs: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELGYM_HOME", str(tmp_path / "home"))
    cases = {
        "power/two_sample_t_sample_sise/00000": "did you mean two_sample_t_sample_size",
        "power/two_sample_t_sample_size/00003": "has instances 00000 to 00002",
        "power/two_sample_t_sample_size": "task ids are family/category/NNNNN",
        "power/no_such_thing/00000": "kernelgym tasks stats --suite power --categories",
    }
    assert tasks.get_instance("power/two_sample_t_sample_size/00002").category == "two_sample_t_sample_size"
    for task_id, says in cases.items():
        with pytest.raises(KeyError) as err:
            tasks.get_instance(task_id)
        assert says in err.value.args[0], (task_id, err.value.args[0])
