"""Import real MIMIC-III (``kernelgym data import mimic3 PATH``) into kernelgym's Parquet layout.

Reads the PhysioNet file layout of MIMIC-III v1.4, the full release or the demo: one
``<TABLE>.csv.gz`` (or ``.csv``) per table, upper- or lower-case file and column names. Writes one
``<table>.parquet`` per table into the ``mimic3`` data set folder (``$KERNELGYM_HOME/data/mimic3``)
with exactly the columns, order and types of the synthetic ``ehr`` data set
(:data:`kernelgym.datasets.ehr.COLUMNS`), plus ``manifest.json``. The ``ehr-mimic3`` kernel profile
then loads it as the ``ehr`` profile loads the synthetic data, and every EHR task template
generates its instances on it: ``kernelgym run --dataset mimic3``.

By default the 16 tables of the ``ehr`` schema are imported; ``all_tables=True`` also imports every
other table found (``CPTEVENTS``, ``INPUTEVENTS_CV``, ``NOTEEVENTS``...) with the column types
DuckDB infers. An empty file (the demo's ``NOTEEVENTS``) becomes an empty table. A missing
``ehr`` table becomes an empty table with its schema (reported in the manifest), so that partial
extracts still load.

The import is atomic (a temporary sibling folder renamed into place) and streams large tables
(the full ``CHARTEVENTS`` has 330 million rows) through DuckDB in record batches. Host side only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kernelgym.datasets.ehr.schema import COLUMNS, EHR_TABLES

IMPORTER_VERSION = "1"
DATASET = "mimic3"
_BATCH_ROWS = 1_000_000
_DUCK_TYPES = {"int": "BIGINT", "Int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "time": "TIMESTAMP"}
# MIMIC-III v1.4 NOTEEVENTS columns (the demo ships the table empty, sometimes without a header)
NOTEEVENTS_COLUMNS = (
    "row_id", "subject_id", "hadm_id", "chartdate", "charttime", "storetime", "category",
    "description", "cgid", "iserror", "text",
)


class Mimic3Manifest(BaseModel):
    """``manifest.json`` of an imported MIMIC-III data set."""

    name: str = DATASET
    source: str
    importer_version: str = IMPORTER_VERSION
    tables: dict[str, int]  # row counts
    missing: list[str] = []  # ehr tables not found in the source (written empty)
    fingerprint: str  # first 16 hex digits of a sha256 over the Parquet files
    created_by: str


def default_dir() -> Path:
    from kernelgym.kernel.paths import dataset_dir

    return dataset_dir(DATASET)


def find_table_file(src: Path, table: str) -> Path | None:
    """``<TABLE>.csv.gz`` / ``.csv`` in ``src``, in upper or lower case."""
    for name in (table.upper(), table.lower()):
        for ext in (".csv.gz", ".csv"):
            path = src / f"{name}{ext}"
            if path.is_file():
                return path
    return None


def _source_tables(src: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(src.iterdir()):
        name = path.name
        for ext in (".csv.gz", ".csv"):
            if name.lower().endswith(ext):
                out.setdefault(name[: -len(ext)].lower(), path)
                break
    return out


def _is_empty(path: Path) -> bool:
    """True when the file holds no data row (zero bytes, or a header only)."""
    if path.stat().st_size == 0:
        return True
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError):
        return True
    lines = [ln for ln in head.splitlines() if ln.strip()]
    return len(lines) <= 1 and len(head) < (1 << 16)


def _header(path: Path) -> list[str]:
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        line = fh.readline().strip()
    return [c.strip().strip('"').lower() for c in line.split(",")] if line else []


def _csv_scan(path: Path, *, all_varchar: bool) -> str:
    p = path.resolve().as_posix().replace("'", "''")
    opts = "header=true, quote='\"', escape='\"', strict_mode=false"
    opts += ", all_varchar=true" if all_varchar else ", sample_size=-1"
    return f"read_csv('{p}', {opts})"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_for(table: str, source_columns: list[str]) -> str:
    """A SELECT list that gives ``table`` exactly the ehr schema from all-VARCHAR source columns."""
    by_lower = {c.lower(): c for c in source_columns}
    parts = []
    for name, kind in COLUMNS[table]:
        typ = _DUCK_TYPES[kind]
        col = by_lower.get(name)
        if col is None:
            parts.append(f"CAST(NULL AS {typ}) AS {name}")
        elif kind in ("int", "Int"):
            # '12' and '12.0' both occur in exports
            parts.append(f"COALESCE(TRY_CAST({_ident(col)} AS BIGINT), "
                         f"CAST(TRY_CAST({_ident(col)} AS DOUBLE) AS BIGINT)) AS {name}")
        elif kind == "str":
            parts.append(f"{_ident(col)} AS {name}")
        else:
            parts.append(f"TRY_CAST({_ident(col)} AS {typ}) AS {name}")
    return ", ".join(parts)


def _relaxed(schema: Any) -> Any:
    """``schema`` with every field nullable (real data has nulls where MIMIC's DDL says NOT NULL)."""
    import pyarrow as pa

    fields = [pa.field(f.name, f.type, nullable=True) for f in schema]
    meta = dict(schema.metadata or {})
    if b"pandas" in meta:  # non-null int64 columns become pandas' nullable Int64
        pandas_meta = json.loads(meta[b"pandas"])
        for col in pandas_meta.get("columns", []):
            if col.get("numpy_type") == "int64":
                col["numpy_type"] = "Int64"
                col["pandas_type"] = "int64"
        meta[b"pandas"] = json.dumps(pandas_meta).encode()
    return pa.schema(fields, metadata=meta)


def _write_query(con: Any, query: str, dest: Path, schema: Any | None) -> int:
    """Stream the rows of ``query`` into ``dest`` (Parquet); returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kernelgym.datasets.ehr.writer import PARQUET_OPTIONS

    reader = con.sql(query).to_arrow_reader(_BATCH_ROWS)
    writer = None
    rows = 0
    target = schema
    try:
        for batch in reader:
            if target is not None:
                table = pa.Table.from_batches([batch])
                try:
                    table = table.cast(target)
                except (pa.ArrowInvalid, ValueError):
                    target = _relaxed(target)
                    table = table.cast(target)
                    if writer is not None:  # schema changed mid-stream: start over relaxed
                        writer.close()
                        writer = None
                        return _write_query(con, query, dest, target)
            else:
                table = pa.Table.from_batches([batch])
            if writer is None:
                writer = pq.ParquetWriter(dest, table.schema, **PARQUET_OPTIONS)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:  # no rows at all
            empty_schema = target if target is not None else reader.schema
            writer = pq.ParquetWriter(dest, empty_schema, **PARQUET_OPTIONS)
            writer.write_table(pa.Table.from_batches([], schema=empty_schema))
    finally:
        if writer is not None:
            writer.close()
    return rows


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.parquet")):
        digest.update(path.stem.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def import_mimic3(
    src: Path | str,
    out_dir: Path | str | None = None,
    *,
    all_tables: bool = False,
    progress: bool = False,
) -> Mimic3Manifest:
    """Import the MIMIC-III CSV files in ``src`` into ``out_dir`` (default: the ``mimic3`` data set).

    Raises ``FileNotFoundError`` when ``src`` is not a folder or lacks PATIENTS / ADMISSIONS.
    An existing data set at ``out_dir`` is replaced when the import succeeds.
    """
    import duckdb

    src = Path(src).expanduser()
    if not src.is_dir():
        raise FileNotFoundError(f"{src} is not a folder of MIMIC-III CSV files")
    for required in ("patients", "admissions"):
        if find_table_file(src, required) is None:
            raise FileNotFoundError(
                f"{src} has no {required.upper()}.csv(.gz): expected the PhysioNet MIMIC-III layout "
                "(ADMISSIONS.csv.gz, PATIENTS.csv.gz, LABEVENTS.csv.gz, ...)"
            )
    out = Path(out_dir) if out_dir is not None else default_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.importing-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[mimic3 {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    from kernelgym.datasets.ehr.writer import arrow_schema

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        rows: dict[str, int] = {}
        missing: list[str] = []
        for table in EHR_TABLES:
            path = find_table_file(src, table)
            dest = tmp / f"{table}.parquet"
            if path is None or _is_empty(path):
                if path is None:
                    missing.append(table)
                query = "SELECT " + ", ".join(
                    f"CAST(NULL AS {_DUCK_TYPES[k]}) AS {n}" for n, k in COLUMNS[table]
                ) + " LIMIT 0"
            else:
                cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_csv_scan(path, all_varchar=True)}").fetchall()]
                query = f"SELECT {_select_for(table, cols)} FROM {_csv_scan(path, all_varchar=True)}"
            say(f"{table}: {'missing' if path is None else path.name}")
            rows[table] = _write_query(con, query, dest, arrow_schema(table))
            say(f"{table}: {rows[table]:,} rows")
        if all_tables:
            for name, path in _source_tables(src).items():
                if name in rows:
                    continue
                dest = tmp / f"{name}.parquet"
                if _is_empty(path):
                    cols = _header(path) or (list(NOTEEVENTS_COLUMNS) if name == "noteevents" else [])
                    if not cols:
                        continue
                    query = "SELECT " + ", ".join(f"CAST(NULL AS VARCHAR) AS {_ident(c)}" for c in cols) + " LIMIT 0"
                else:
                    scan = _csv_scan(path, all_varchar=False)
                    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
                    query = "SELECT " + ", ".join(f"{_ident(c)} AS {_ident(c.lower())}" for c in cols) + f" FROM {scan}"
                rows[name] = _write_query(con, query, dest, None)
                say(f"{name}: {rows[name]:,} rows")
    except BaseException:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    con.close()
    import kernelgym

    manifest = Mimic3Manifest(
        source=str(src.resolve()), tables=rows, missing=missing, fingerprint=_fingerprint(tmp),
        created_by=f"kernelgym {kernelgym.__version__} (mimic3 importer {IMPORTER_VERSION})",
    )
    (tmp / "manifest.json").write_text(json.dumps(manifest.model_dump(), indent=2, sort_keys=True) + "\n")
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    say(f"done: {sum(rows.values()):,} rows in {out} (fingerprint {manifest.fingerprint})")
    return manifest


def load_manifest(out_dir: Path | str | None = None) -> Mimic3Manifest:
    folder = Path(out_dir) if out_dir is not None else default_dir()
    return Mimic3Manifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))


def ensure_mimic3(out_dir: Path | str | None = None) -> Mimic3Manifest:
    """The imported data set's manifest; ``FileNotFoundError`` (saying how to import) if absent."""
    folder = Path(out_dir) if out_dir is not None else default_dir()
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(
            f"no imported MIMIC-III at {folder}: run `kernelgym data import mimic3 PATH` "
            "with PATH the folder of the PhysioNet CSV files (ADMISSIONS.csv.gz, ...)"
        )
    return load_manifest(folder)
