"""``kernelgym data import mimic3 PATH``: the PhysioNet layout into the ehr Parquet layout.

A fake extract written from the synthetic data set (upper-case file and column names, ``.csv`` and
``.csv.gz``, an empty NOTEEVENTS, a missing table) covers the importer without credentials; the
real MIMIC-III demo (``../shared/data``) is imported when present.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.data import DEMO, demo_in_session_home
from kernelgym.datasets.ehr.schema import COLUMNS, EHR_TABLES
from kernelgym.importers.mimic3 import ensure_mimic3, find_table_file, import_mimic3


@pytest.fixture(scope="module")
def fake_extract(ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic tables as PhysioNet CSV files: upper-case names, some gzipped, some not."""
    src = tmp_path_factory.mktemp("mimic-csv")
    for i, table in enumerate(EHR_TABLES):
        if table == "microbiologyevents":
            continue  # a missing table is imported empty
        df = pd.read_parquet(ehr_data / f"{table}.parquet")
        if table == "chartevents":
            df = df.head(5000)
        df.columns = [c.upper() for c in df.columns]
        path = src / (f"{table.upper()}.csv" + (".gz" if i % 2 else ""))
        df.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    with gzip.open(src / "NOTEEVENTS.csv.gz", "wb"):
        pass  # empty, as in the demo
    pd.DataFrame({"ROW_ID": [1, 2], "SUBJECT_ID": [10001, 10004], "CPT_CD": ["99254", "99232"]}).to_csv(
        src / "CPTEVENTS.csv", index=False)
    return src


@pytest.mark.slow
def test_import_gives_the_ehr_schema(fake_extract: Path, ehr_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic3"
    manifest = import_mimic3(fake_extract, out)
    assert manifest.missing == ["microbiologyevents"]
    assert sorted(p.stem for p in out.glob("*.parquet")) == sorted(EHR_TABLES)
    for table in EHR_TABLES:
        got = pd.read_parquet(out / f"{table}.parquet")
        ref = pd.read_parquet(ehr_data / f"{table}.parquet")
        assert list(got.columns) == [c for c, _ in COLUMNS[table]], table
        assert [str(t) for t in got.dtypes] == [str(t) for t in ref.dtypes], table
        assert manifest.tables[table] == len(got)
    adm = pd.read_parquet(out / "admissions.parquet")
    pd.testing.assert_frame_equal(adm, pd.read_parquet(ehr_data / "admissions.parquet"), check_dtype=True)
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == manifest.fingerprint


def test_all_tables_and_the_empty_noteevents(fake_extract: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic3"
    manifest = import_mimic3(fake_extract, out, all_tables=True)
    notes = pd.read_parquet(out / "noteevents.parquet")
    assert len(notes) == 0 and "text" in notes.columns and manifest.tables["noteevents"] == 0
    cpt = pd.read_parquet(out / "cptevents.parquet")
    assert list(cpt.columns) == ["row_id", "subject_id", "cpt_cd"] and len(cpt) == 2


def test_bad_source_and_missing_import_are_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ADMISSIONS"):
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "PATIENTS.csv").write_text("ROW_ID,SUBJECT_ID\n1,2\n")
        import_mimic3(tmp_path / "x", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="kernelgym data import mimic3"):
        ensure_mimic3(tmp_path / "nothing")
    assert find_table_file(tmp_path / "x", "patients") == tmp_path / "x" / "PATIENTS.csv"


def test_cli_imports_into_the_data_folder(fake_extract: Path, kg_home: Path, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    monkeypatch.setenv("KERNELGYM_HOME", str(tmp_path / "home"))
    res = CliRunner().invoke(app, ["data", "import", "mimic3", str(fake_extract)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "home" / "data" / "mimic3" / "manifest.json").is_file()
    res = CliRunner().invoke(app, ["data", "path", "mimic3"])
    assert res.output.strip().endswith("mimic3")
    res = CliRunner().invoke(app, ["data", "import", "mimic3", str(tmp_path / "missing")])
    assert res.exit_code == 2
    shutil.rmtree(tmp_path / "home", ignore_errors=True)


@pytest.mark.skipif(not DEMO.is_dir(), reason="MIMIC-III demo not available (../shared/data)")
def test_the_mimic_iii_demo_imports(kg_home: Path) -> None:
    out = demo_in_session_home()
    manifest = ensure_mimic3(out)
    assert manifest.missing == []
    assert manifest.tables["patients"] == 100 and manifest.tables["admissions"] == 129
    assert manifest.tables["icustays"] == 136 and manifest.tables["chartevents"] > 700_000
    lab = pd.read_parquet(out / "labevents.parquet")
    assert str(lab["charttime"].dtype) == "datetime64[us]" and lab["valuenum"].notna().mean() > 0.8
    pats = pd.read_parquet(out / "patients.parquet")
    assert (pats["dob"].dt.year < 1900).any(), "ages over 89 keep MIMIC's shifted dates of birth"
