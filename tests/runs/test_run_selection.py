"""Issue 16 (3): which tasks a run selects: --limit spreads over the families of a suite, then their
categories, deterministically; one default for every agent. Through the real CLI (``--dry-run``), in the
test process (``helpers.cli``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import kernelgym as kernelgym_cli

pytestmark = [pytest.mark.kernel]


def _dry_run(*args: str) -> list[str]:
    proc = kernelgym_cli("run", "--split", "test", "--dry-run", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


@pytest.mark.slow
def test_suite_all_limit_16_covers_all_8_families(ehr_data: Path) -> None:
    """Issue 16 (3): `--suite all --limit 50` gave 36 bioinfo and 14 biostat tasks and nothing else."""
    from collections import Counter

    from kernelgym.tasks import families

    ids = _dry_run("--suite", "all", "--limit", "16")
    assert len(families()) == 8
    assert Counter(i.split("/")[0] for i in ids) == {f: 2 for f in families()}


def test_limit_spreads_over_the_families_of_a_suite(ehr_data: Path) -> None:
    """Issue 16 (3): `--suite ehr,medcalc --limit 6` gave no medcalc."""
    ids = _dry_run("--suite", "ehr,medcalc", "--limit", "6")
    assert [i.split("/")[0] for i in ids] == ["ehr", "medcalc"] * 3
    assert len({i.split("/")[1] for i in ids}) == 6  # and over categories
    assert _dry_run("--suite", "ehr,medcalc", "--limit", "6") == ids  # deterministic


def test_the_default_selection_is_the_same_for_every_agent(ehr_data: Path) -> None:
    """Issue 16 (3): with no --limit a run took 2 per category for the reference agent, every task for
    a custom agent."""
    from collections import Counter

    reference = _dry_run("--suite", "ehr")
    assert _dry_run("--suite", "ehr", "--agent", "helpers.run_agents:RaisesWhileEnvSet") == reference
    assert set(Counter(i.rsplit("/", 1)[0] for i in reference).values()) == {2}
    assert len(_dry_run("--suite", "ehr", "--all-tasks")) > len(reference)
    proc = kernelgym_cli("run", "--all-tasks", "--limit", "3", "--dry-run")
    assert proc.returncode == 2 and "--all-tasks" in proc.stderr


