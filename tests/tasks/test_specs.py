"""Task specs: validated, with one-line errors naming the file, the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import kernelgym as kernelgym_cli
from kernelgym.tasks import TaskSpecError, load_spec, resource_dir


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("family: ok\ndescription: d\ngenerator: {module: kernelgym.families.ehr}\n", "profile"),
        ("family: Bad Name\ndescription: d\nprofile: ehr\ngenerator: {module: kernelgym.families.ehr}\n", "family"),
        ("family: ok\ndescription: d\nprofile: ehr\ngenerator: {module: kernelgym.families.ehr, per_category: -1}\n", "generator.per_category"),
        ("family: ok\ndescription: d\nprofile: ehr\ngenerator: {module: kernelgym.families.ehr}\ncolour: red\n", "colour"),
        ("family: ok\ndescription: d\nprofile: ehr\ngenerator: {module: no.such.module}\n", "generator.module"),
        ("family: ok\ndescription: d\nprofile: ehr\ngenerator: {module: kernelgym.families.ehr}\ncategories: [no_such_category]\n", "categories.0"),
        ("family: ok\ndescription: d\nprofile: ehr\ninstances: missing.jsonl\n", "instances"),
        ("family: [unclosed\n", "line 2"),
    ],
)
def test_malformed_spec_names_file_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(TaskSpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and f"'{field}'" in message


def test_cli_reports_a_malformed_spec_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("family: broken\ndescription: d\nprofile: ehr\ngenerator: {module: kernelgym.families.ehr, seed: abc}\n")
    for args in (["tasks", "check", str(tmp_path)], ["run", "--specs", str(tmp_path), "--suite", "broken"]):
        proc = kernelgym_cli(*args)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "bad.yaml" in lines[0] and "generator.seed" in lines[0], proc.stderr


def test_bad_jsonl_instance_names_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "fam.yaml").write_text("family: fam\ndescription: d\nprofile: ehr\ninstances: fam.jsonl\n")
    (tmp_path / "fam.jsonl").write_text(json.dumps({"category": "c", "question": "q", "answer": 1}) + "\n" + json.dumps({"category": "c", "answer": 1}) + "\n")
    proc = kernelgym_cli("tasks", "check", str(tmp_path))
    assert proc.returncode == 2
    assert "fam.jsonl:2" in proc.stderr and "'question'" in proc.stderr


def test_shipped_specs_are_valid() -> None:
    specs = sorted(resource_dir("task_specs").glob("*.yaml"))
    assert specs
    for path in specs:
        load_spec(path)
