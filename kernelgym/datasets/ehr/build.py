"""Building the EHR data set: chunked generation, atomic folder swap, manifest."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from .schema import EHR_TABLES

if TYPE_CHECKING:
    from .model import ChunkRows

GENERATOR_VERSION = "1.2"  # 1.1: planted data-quality errors (planted.py); 1.2: whole lab draws planted
CHUNK_PATIENTS = 500  # patients per row group: part of the output format, never varied per run
_DICTIONARY_TABLES = ("d_icd_diagnoses", "d_icd_procedures", "d_labitems", "d_items")


class EhrManifest(BaseModel):
    """What a built EHR data set is: ``manifest.json`` next to the Parquet files."""

    name: str = "ehr"
    seed: int
    patients: int
    generator_version: str
    tables: dict[str, int]  # row counts by table
    fingerprint: str  # first 16 hex digits of a sha256 over the Parquet files' bytes
    created_by: str


def default_dir() -> Path:
    from kernelgym.kernel.paths import dataset_dir

    return dataset_dir("ehr")


def fingerprint(folder: Path, tables: tuple[str, ...] = EHR_TABLES) -> str:
    """sha256 over ``<table>\\0<file bytes>`` of every table file, in :data:`EHR_TABLES` order."""
    digest = hashlib.sha256()
    for table in tables:
        digest.update(table.encode() + b"\0")
        with open(folder / f"{table}.parquet", "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _created_by() -> str:
    import kernelgym

    return f"kernelgym {kernelgym.__version__} (ehr generator {GENERATOR_VERSION})"


def build_ehr(out_dir: Path | str | None = None, *, patients: int = 1000, seed: int = 0,
              progress: bool = False, workers: int = 1) -> EhrManifest:
    """Generate the synthetic MIMIC-III-schema EHR data set into ``out_dir``.

    Writes ``<table>.parquet`` for every table in :data:`EHR_TABLES` plus ``manifest.json``
    (default folder: ``kernelgym.kernel.paths.dataset_dir("ehr")``). The output depends only on
    ``patients`` and ``seed``: the same arguments give the same bytes, whatever ``workers`` is
    (processes that simulate blocks of patients in parallel; useful for large builds). The data
    set is built in a temporary sibling folder and renamed into place at the end, so an
    interrupted build never leaves a partial data set behind; an existing one is replaced.
    ``progress`` prints which table is being built to stderr.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    from .writer import IdMap, TableWriters, chunk_tables, dictionary_tables, write_json

    out = Path(out_dir) if out_dir is not None else default_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(out)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[ehr {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    say(f"building {patients:,} patients (seed {seed}) into {out}")
    try:
        writers = TableWriters(tmp, EHR_TABLES)
        try:
            for table, data in dictionary_tables().items():
                say(f"{table}: {data.num_rows:,} rows")
                writers.write(table, data)
            ids = IdMap(seed)
            row_offsets: dict[str, int] = {}
            for start, stop, rows in _simulated_chunks(seed, patients, workers, say):
                tables = chunk_tables(rows, ids, row_offsets)
                ids.advance(rows)
                written = []
                for table in EHR_TABLES:
                    if table in tables:
                        writers.write(table, tables[table])
                        written.append(f"{table} +{tables[table].num_rows:,}")
                say(f"patients {start + 1:,}-{stop:,}: wrote " + ", ".join(written))
        finally:
            writers.close()
        manifest = EhrManifest(
            seed=seed, patients=patients, generator_version=GENERATOR_VERSION,
            tables=dict(writers.rows), fingerprint=fingerprint(tmp), created_by=_created_by(),
        )
        write_json(tmp / "manifest.json", manifest.model_dump())
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"done: {sum(manifest.tables.values()):,} rows in {out} (fingerprint {manifest.fingerprint})")
    return manifest


def _simulated_chunks(seed: int, patients: int, workers: int,
                      say: Callable[[str], None]) -> Iterator[tuple[int, int, ChunkRows]]:
    """Simulated blocks of patients, in order; in ``workers`` processes when more than one."""
    from . import generator

    bounds = [(s, min(s + CHUNK_PATIENTS, patients)) for s in range(0, patients, CHUNK_PATIENTS)]
    if workers <= 1 or len(bounds) == 1:
        for start, stop in bounds:
            say(f"patients {start + 1:,}-{stop:,} of {patients:,}: simulating")
            yield start, stop, generator.simulate_chunk(seed, start, stop)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    # spawn: the parent may hold threads (Arrow's pools) that make fork() unsafe
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        todo = iter(bounds)
        pending: deque[tuple[int, int, Future[ChunkRows]]] = deque()
        for start, stop in itertools.islice(todo, 2 * workers):  # bounded look-ahead
            pending.append((start, stop, pool.submit(generator.simulate_chunk, seed, start, stop)))
        while pending:
            start, stop, future = pending.popleft()
            say(f"patients {start + 1:,}-{stop:,} of {patients:,}: simulating ({workers} workers)")
            rows = future.result()
            for nxt_start, nxt_stop in itertools.islice(todo, 1):
                pending.append((nxt_start, nxt_stop, pool.submit(generator.simulate_chunk, seed, nxt_start, nxt_stop)))
            yield start, stop, rows


def _remove_stale_siblings(out: Path) -> None:
    """Delete temporary folders left by builds that were killed (their process is gone)."""
    for folder in [*out.parent.glob(f".{out.name}.building-*"), *out.parent.glob(f".{out.name}.old-*")]:
        try:
            pid = int(folder.name.rsplit("-", 2)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def _swap_into_place(tmp: Path, out: Path) -> None:
    for _ in range(5):
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                os.replace(out, old)
            except FileNotFoundError:  # another builder moved it away first
                old = None
        try:
            os.replace(tmp, out)
        except OSError:  # another builder put its folder in place meanwhile: try again
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            continue
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise RuntimeError(f"could not move the built data set into {out}")


def load_manifest(out_dir: Path | str | None = None) -> EhrManifest:
    """The manifest of the data set built at ``out_dir`` (default: the kernelgym data folder)."""
    folder = Path(out_dir) if out_dir is not None else default_dir()
    return EhrManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))


def ensure_ehr(out_dir: Path | str | None = None) -> EhrManifest:
    """The data set at ``out_dir``: loaded if its ``manifest.json`` exists, else built with the
    defaults (1,000 patients, seed 0)."""
    folder = Path(out_dir) if out_dir is not None else default_dir()
    if (folder / "manifest.json").is_file():
        manifest = load_manifest(folder)
        if manifest.generator_version == GENERATOR_VERSION or manifest.name != "ehr":
            return manifest
        # built by an older generator: rebuild with the same size and seed so tasks match the code
        print(
            f"kernelgym: the EHR data set at {folder} was built by generator {manifest.generator_version}; "
            f"rebuilding with {GENERATOR_VERSION} ({manifest.patients} patients, seed {manifest.seed})",
            file=sys.stderr,
        )
        return build_ehr(folder, patients=manifest.patients, seed=manifest.seed)
    return build_ehr(folder)
