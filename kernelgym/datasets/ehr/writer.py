"""Turns generated rows into Arrow tables with the MIMIC-III schema and writes them as Parquet.

Parquet output is byte-for-byte reproducible: fixed writer options, fixed row-group boundaries
(one per chunk of patients), no timestamps anywhere in the file metadata.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import catalog, icd9
from .icu import TEXT_VALUES
from .model import NULL_TIME, ROW_LAYOUT, ChunkRows
from .schema import COLUMNS, PANDAS_DTYPES

_ARROW_TYPES = {
    "int": pa.int64(), "Int": pa.int64(), "float": pa.float64(), "str": pa.string(),
    "time": pa.timestamp("us"),
}
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 3, "use_dictionary": True,
    "write_statistics": True, "version": "2.6", "data_page_version": "1.0",
}


@lru_cache(maxsize=None)
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table``, with pandas metadata so that ``pd.read_parquet`` restores
    nullable integers as ``Int64`` and timestamps as ``datetime64[us]``."""
    import pandas as pd

    cols = COLUMNS[table]
    empty = pd.DataFrame({name: pd.Series([], dtype=PANDAS_DTYPES[kind]) for name, kind in cols})
    meta = pa.Schema.from_pandas(empty, preserve_index=False).metadata
    fields = [pa.field(name, _ARROW_TYPES[kind], nullable=kind not in ("int",)) for name, kind in cols]
    return pa.schema(fields, metadata=meta)


# ---------------------------------------------------------------- id mapping
_ID_SPACE = 100_000


def _scatter_ids(base: int, index: np.ndarray, mult: int, add: int) -> np.ndarray:
    """MIMIC-like ids: ``base + (mult*i + add) mod 100000``, a bijection on the first 100,000
    indices; later indices continue above ``base + 1,000,000``."""
    index = np.asarray(index, dtype=np.int64)
    scattered = base + (mult * index + add) % _ID_SPACE
    return np.where(index < _ID_SPACE, scattered, base + 10 * _ID_SPACE + index)


class IdMap:
    """Global ids for chunk-local admissions, ICU stays and input orders."""

    def __init__(self, seed: int) -> None:
        hadm_add, stay_add = np.random.SeedSequence([seed, 0x1D5]).generate_state(2) % _ID_SPACE
        self.hadm_add, self.stay_add = int(hadm_add), int(stay_add)
        self.adm_offset = 0
        self.stay_offset = 0

    def hadm(self, local: np.ndarray) -> pa.Array:
        local = np.asarray(local, dtype=np.int64)
        ids = _scatter_ids(100_000, local + self.adm_offset, 61_751, self.hadm_add)
        return pa.array(ids, pa.int64(), mask=local < 0)

    def icustay(self, local: np.ndarray) -> pa.Array:
        local = np.asarray(local, dtype=np.int64)
        ids = _scatter_ids(200_000, local + self.stay_offset, 38_287, self.stay_add)
        return pa.array(ids, pa.int64(), mask=local < 0)

    def advance(self, rows: ChunkRows) -> None:
        self.adm_offset += rows.n_adm
        self.stay_offset += rows.n_stay


def order_ids(global_row: np.ndarray) -> np.ndarray:
    """Unique order ids (a bijection of the input row number onto 1 .. 9,999,999)."""
    return (7_654_321 * (np.asarray(global_row, dtype=np.int64) + 1)) % 10_000_000 + 1


# ---------------------------------------------------------------- column helpers
def times(values: Any) -> pa.Array:
    arr = np.asarray(values, dtype=np.int64)
    null = arr == NULL_TIME
    micros = np.where(null, 0, arr) * 60_000_000
    return pa.array(micros.astype("datetime64[us]"), pa.timestamp("us"), mask=null)


def floats(values: Any) -> pa.Array:
    arr = np.asarray(values, dtype=np.float64)
    return pa.array(arr, pa.float64(), mask=np.isnan(arr))


def ints(values: Any) -> pa.Array:
    if isinstance(values, np.ndarray):
        return pa.array(values.astype(np.int64), pa.int64())
    return pa.array(list(values), pa.int64())


def strings(values: Any) -> pa.Array:
    return pa.array(list(values), pa.string())


def format_fixed(values: np.ndarray, decimals: np.ndarray) -> pa.Array:
    """Numbers as text with a fixed number of decimals per row (``7.0``, ``138``, ``-3``);
    NaN becomes null. Vectorised with Arrow compute."""
    values = np.asarray(values, dtype=np.float64)
    decimals = np.asarray(decimals, dtype=np.int64)
    n = values.size
    if n == 0:
        return pa.array([], pa.string())
    pieces: list[pa.Array] = []
    positions: list[np.ndarray] = []
    for d in np.unique(decimals):
        idx = np.flatnonzero(decimals == d)
        v = values[idx]
        nan = np.isnan(v)
        scale = 10 ** int(d)
        scaled = np.round(np.abs(np.where(nan, 0, v)) * scale).astype(np.int64)
        text = pc.cast(pa.array(scaled // scale), pa.string())
        if d > 0:
            frac = pc.utf8_lpad(pc.cast(pa.array(scaled % scale), pa.string()), int(d), "0")
            text = pc.binary_join_element_wise(text, frac, ".")
        negative = pa.array((v < 0) & (scaled > 0))
        text = pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)
        text = pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), text)
        pieces.append(text)
        positions.append(idx)
    order = np.concatenate(positions)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return pa.concat_arrays(pieces).take(pa.array(inverse))


def _lut(mapping: dict[int, Any], default: Any, dtype: Any) -> np.ndarray:
    lut = np.full(max(mapping) + 1, default, dtype=dtype)
    for key, value in mapping.items():
        lut[key] = value
    return lut


_LAB_DEC = _lut({i.itemid: i.decimals for i in catalog.LAB_ITEMS}, 0, np.int64)
_LAB_LO = _lut({i.itemid: (-np.inf if i.ref_low is None else i.ref_low) for i in catalog.LAB_ITEMS}, -np.inf, np.float64)
_LAB_HI = _lut({i.itemid: (np.inf if i.ref_high is None else i.ref_high) for i in catalog.LAB_ITEMS}, np.inf, np.float64)
_LAB_UNITS = sorted({i.unit for i in catalog.LAB_ITEMS if i.unit})
_LAB_UOM = _lut({i.itemid: (_LAB_UNITS.index(i.unit) if i.unit else -1) for i in catalog.LAB_ITEMS}, -1, np.int64)
_CHART_UNITS = sorted({u for u in catalog.CHART_UOM.values() if u})
_CHART_UOM = _lut({k: (_CHART_UNITS.index(u) if u else -1) for k, u in catalog.CHART_UOM.items()}, -1, np.int64)
_CHART_ONE_DECIMAL = (223761, 226512, 224639)


def _labels(codes: np.ndarray, labels: list[str]) -> pa.Array:
    codes = np.asarray(codes, dtype=np.int64)
    null = codes < 0
    return pa.array(labels, pa.string()).take(pa.array(np.where(null, 0, codes), mask=null))


# ---------------------------------------------------------------- tables
def _concat(parts: list[dict[str, np.ndarray]], columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([p[c] for p in parts]) if parts else np.empty(0) for c in columns}


def chunk_tables(rows: ChunkRows, ids: IdMap, row_offsets: dict[str, int]) -> dict[str, pa.Table]:
    """Arrow tables (one per patient table) of a generated chunk. ``row_offsets`` holds the number
    of rows already written per table (for ``row_id`` and order ids); it is updated."""
    out: dict[str, dict[str, pa.Array]] = {}
    for table, layout in ROW_LAYOUT.items():
        data = rows.rows.get(table, [])
        cols = dict(zip(layout, zip(*data))) if data else {name: () for name in layout}
        arrays: dict[str, pa.Array] = {}
        kinds = dict(COLUMNS[table])
        for name, kind in COLUMNS[table]:
            if name == "row_id":
                continue
            if name == "hadm_id":
                arrays[name] = ids.hadm(np.asarray(cols["adm"], dtype=np.int64))
            elif name == "icustay_id":
                arrays[name] = ids.icustay(np.asarray(cols["stay"], dtype=np.int64))
            elif name in ("orderid", "linkorderid"):
                n = len(cols["link_delta"])
                g = row_offsets.get(table, 0) + np.arange(n, dtype=np.int64)
                if name == "linkorderid":
                    g = g - np.asarray(cols["link_delta"], dtype=np.int64)
                arrays[name] = pa.array(order_ids(g), pa.int64())
            elif name in ("comments_editedby", "comments_canceledby"):
                arrays[name] = pa.nulls(len(data), pa.string())
            elif name == "comments_date":
                arrays[name] = pa.nulls(len(data), pa.timestamp("us"))
            elif kinds[name] == "time":
                arrays[name] = times(cols[name])
            elif kinds[name] == "float":
                arrays[name] = floats([np.nan if v is None else v for v in cols[name]])
            elif kinds[name] in ("int", "Int"):
                arrays[name] = ints(cols[name])
            else:
                arrays[name] = strings(cols[name])
        out[table] = arrays

    lab = _concat(rows.arrays.get("labevents", []), ("subject_id", "adm", "itemid", "charttime", "valuenum"))
    item = lab["itemid"].astype(np.int64)
    val = lab["valuenum"].astype(np.float64)
    abnormal = (val < _LAB_LO[item]) | (val > _LAB_HI[item])
    out["labevents"] = {
        "subject_id": ints(lab["subject_id"]), "hadm_id": ids.hadm(lab["adm"]), "itemid": ints(item),
        "charttime": times(lab["charttime"]), "value": format_fixed(val, _LAB_DEC[item]),
        "valuenum": floats(val), "valueuom": _labels(_LAB_UOM[item], _LAB_UNITS),
        "flag": pc.if_else(pa.array(abnormal), pa.scalar("abnormal"), pa.scalar(None, pa.string())),
    }

    ce = _concat(rows.arrays.get("chartevents", []),
                 ("subject_id", "adm", "stay", "itemid", "charttime", "storetime", "cgid", "valuenum", "text"))
    item = ce["itemid"].astype(np.int64)
    val = ce["valuenum"].astype(np.float64)
    text = ce["text"].astype(np.int64)
    decimals = np.where(np.isin(item, _CHART_ONE_DECIMAL), 1, 0)
    value = pc.if_else(pa.array(text >= 0), _labels(text, list(TEXT_VALUES)), format_fixed(val, decimals))
    n = item.size
    zeros = pa.array(np.zeros(n, dtype=np.int64))
    out["chartevents"] = {
        "subject_id": ints(ce["subject_id"]), "hadm_id": ids.hadm(ce["adm"]),
        "icustay_id": ids.icustay(ce["stay"]), "itemid": ints(item), "charttime": times(ce["charttime"]),
        "storetime": times(ce["storetime"]), "cgid": ints(ce["cgid"]), "value": value,
        "valuenum": floats(val),
        "valueuom": _labels(_CHART_UOM[item] if n else np.empty(0, np.int64), _CHART_UNITS),
        "warning": zeros, "error": zeros, "resultstatus": pa.nulls(n, pa.string()),
        "stopped": pa.nulls(n, pa.string()),
    }

    oe = _concat(rows.arrays.get("outputevents", []),
                 ("subject_id", "adm", "stay", "charttime", "itemid", "value", "storetime", "cgid"))
    n = oe["itemid"].size
    out["outputevents"] = {
        "subject_id": ints(oe["subject_id"]), "hadm_id": ids.hadm(oe["adm"]),
        "icustay_id": ids.icustay(oe["stay"]), "charttime": times(oe["charttime"]),
        "itemid": ints(oe["itemid"]), "value": floats(oe["value"]),
        "valueuom": pa.array(["mL"] * n, pa.string()), "storetime": times(oe["storetime"]),
        "cgid": ints(oe["cgid"]), "stopped": pa.nulls(n, pa.string()),
        "newbottle": pa.nulls(n, pa.string()), "iserror": pa.nulls(n, pa.int64()),
    }

    tables: dict[str, pa.Table] = {}
    for table, arrays in out.items():
        n = len(next(iter(arrays.values())))
        start = row_offsets.get(table, 0)
        arrays["row_id"] = pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64))
        row_offsets[table] = start + n
        schema = arrow_schema(table)
        tables[table] = pa.table([arrays[f.name] for f in schema], schema=schema)
    return tables


def dictionary_tables() -> dict[str, pa.Table]:
    """The dictionary tables: ICD-9 diagnoses and procedures, lab items, chart/input/output items."""
    dx = icd9.diagnoses()
    px = sorted(icd9.PROCEDURES.items())
    items = catalog.d_items()
    columns: dict[str, dict[str, Any]] = {
        "d_icd_diagnoses": {
            "icd9_code": strings(c for c, _, _ in dx), "short_title": strings(s for _, s, _ in dx),
            "long_title": strings(ln for _, _, ln in dx),
        },
        "d_icd_procedures": {
            "icd9_code": strings(c for c, _ in px), "short_title": strings(t[0] for _, t in px),
            "long_title": strings(t[1] for _, t in px),
        },
        "d_labitems": {
            "itemid": ints(i.itemid for i in catalog.LAB_ITEMS),
            "label": strings(i.label for i in catalog.LAB_ITEMS),
            "fluid": strings(i.fluid for i in catalog.LAB_ITEMS),
            "category": strings(i.category for i in catalog.LAB_ITEMS),
            "loinc_code": strings(i.loinc_code for i in catalog.LAB_ITEMS),
        },
        "d_items": {
            "itemid": ints(i.itemid for i in items), "label": strings(i.label for i in items),
            "abbreviation": strings(i.abbreviation for i in items),
            "dbsource": strings(i.dbsource for i in items), "linksto": strings(i.linksto for i in items),
            "category": strings(i.category for i in items), "unitname": strings(i.unitname for i in items),
            "param_type": strings(i.param_type for i in items),
            "conceptid": pa.nulls(len(items), pa.int64()),
        },
    }
    tables = {}
    for table, arrays in columns.items():
        n = len(next(iter(arrays.values())))
        arrays["row_id"] = pa.array(np.arange(1, n + 1, dtype=np.int64))
        schema = arrow_schema(table)
        tables[table] = pa.table([arrays[f.name] for f in schema], schema=schema)
    return tables


class TableWriters:
    """One Parquet writer per table, each file written as a sequence of row groups."""

    def __init__(self, folder: Path, tables: tuple[str, ...]) -> None:
        self.folder = folder
        self.rows = {t: 0 for t in tables}
        self._writers = {
            t: pq.ParquetWriter(folder / f"{t}.parquet", arrow_schema(t), **PARQUET_OPTIONS)
            for t in tables
        }

    def write(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self._writers[table].write_table(data, row_group_size=max(data.num_rows, 1))
        self.rows[table] += data.num_rows

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
