"""Selecting the tasks of a run: a limited selection generates only the start of each category,
and picks exactly what it would pick from the whole task store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernelgym import tasks
from kernelgym.tasks.store import store_path

FAMILIES = ("ehr", "ehr_quality", "medcalc")
SELECTIONS: list[dict] = [
    {"limit": 7},
    {"limit": 30, "split": "test"},
    {"per_category": 2},
    {"per_category": 3, "limit": 20, "split": "train"},
    {"limit": 5, "categories": ["admission_count", "sodium_correction", "quality_audit_count"]},
]


@pytest.fixture()
def empty_store(ehr_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A KERNELGYM_HOME with the session's built data sets and no task store yet."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "data").symlink_to(ehr_data.parent, target_is_directory=True)
    monkeypatch.setenv("KERNELGYM_HOME", str(home))
    tasks.clear_caches()
    yield home
    tasks.clear_caches()


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
def test_a_limited_selection_generates_no_whole_family_and_picks_what_the_full_store_gives(empty_store: Path) -> None:
    """Issue 14: `kernelgym run --suite all --limit 16` generated all 119,922 instances (55 s) before
    its first episode, and so did the test that runs it. A limit or --per-category now generates only
    the start of each category; this pins that the tasks picked, and the instances looked up by id,
    are exactly those of the whole store."""
    suite = ",".join(FAMILIES)
    lazy = [[i.id for i in tasks.select(suite, **kw)] for kw in SELECTIONS]  # type: ignore[arg-type]
    looked_up = {i: tasks.get_instance(i).model_dump() for ids in lazy for i in ids[:4]}
    assert not any(store_path(f).is_file() for f in FAMILIES), "a limited selection wrote a whole family"
    assert all(lazy) and len(lazy[0]) == 7 and len(lazy[1]) == 30 and len(lazy[4]) == 5

    for family in FAMILIES:
        tasks.instances(family)  # the whole store
    tasks.clear_caches()
    assert all(store_path(f).is_file() for f in FAMILIES)
    full = [[i.id for i in tasks.select(suite, **kw)] for kw in SELECTIONS]  # type: ignore[arg-type]
    assert lazy == full
    assert {i: tasks.get_instance(i).model_dump() for i in looked_up} == looked_up
