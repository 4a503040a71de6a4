"""Shared host-side access to an EHR data set for the ``ehr_*`` task families.

:func:`profile_data_dir` resolves the data set folder of a kernel profile (``ehr`` -> the synthetic
data set, ``ehr-mimic3`` -> the imported MIMIC-III, ...), preparing it if needed.

:class:`Frames` loads the tables once per process as pandas DataFrames and precomputes the
per-admission / per-ICU-stay aggregates the generators sample from, so that tens of thousands of
instances are generated in seconds: a generator draws a row of a precomputed table and formats a
question, instead of running a query per instance. Every aggregate has a total order (sorted keys),
so sampling with the same ``random.Random`` state gives the same instances.

Host side only; nothing here is imported by a kernel.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Charted vital signs asked about (CareVue and MetaVision labels; the same as the ehr family's).
VITAL_LABELS = (
    "Heart Rate", "Respiratory Rate", "O2 saturation pulseoxymetry", "SpO2",
    "Arterial BP [Systolic]", "Arterial Blood Pressure systolic", "Non Invasive Blood Pressure systolic",
    "Arterial Blood Pressure mean", "Non Invasive Blood Pressure mean", "Temperature Fahrenheit",
    "Temperature F",
)
VASOPRESSOR_ITEMS = (221906, 221749, 222315, 221289, 221662)  # norepi, phenylephrine, vasopressin, epi, dopamine


def profile_data_dir(profile: str) -> Path:
    """The folder of the (first) data set of ``profile``, built / derived first if missing."""
    from kernelgym.kernel.paths import dataset_dir
    from kernelgym.runtime.profiles import ensure_profile_data, profile_datasets

    ensure_profile_data(profile)
    names = profile_datasets(profile)
    if not names:
        raise KeyError(f"profile {profile!r} has no data set")
    return dataset_dir(names[0])


def data_fingerprint(root: Path) -> str:
    try:
        return str(json.loads((root / "manifest.json").read_text()).get("fingerprint", ""))
    except (OSError, ValueError):
        return ""


_frames: dict[tuple[str, str], Frames] = {}
_lock = threading.Lock()


def frames(root: Path | str) -> Frames:
    """The :class:`Frames` of the data set at ``root`` (one per process and data set version)."""
    root = Path(root).resolve()
    key = (str(root), data_fingerprint(root))
    with _lock:
        f = _frames.get(key)
        if f is None:
            for old in [k for k in _frames if k[0] == key[0]]:
                del _frames[old]
            f = _frames[key] = Frames(root)
        return f


def _ts(x: Any) -> str:
    return pd.Timestamp(x).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Groups:
    """Rows of a DataFrame sorted by ``keys``: the row range of each key, as numpy arrays."""

    keys: list[tuple[Any, ...]]
    starts: np.ndarray
    ends: np.ndarray
    index: dict[tuple[Any, ...], int]

    @classmethod
    def of(cls, df: pd.DataFrame, keys: list[str]) -> Groups:
        if df.empty:
            return cls([], np.zeros(0, np.int64), np.zeros(0, np.int64), {})
        cols = [df[k].to_numpy() for k in keys]
        change = np.zeros(len(df), dtype=bool)
        change[0] = True
        for c in cols:
            change[1:] |= c[1:] != c[:-1]
        starts = np.flatnonzero(change)
        ends = np.append(starts[1:], len(df))
        key_list = [tuple(_plain(c[s]) for c in cols) for s in starts]
        return cls(key_list, starts, ends, {k: i for i, k in enumerate(key_list)})

    def rows(self, key: tuple[Any, ...]) -> slice | None:
        i = self.index.get(key)
        return None if i is None else slice(int(self.starts[i]), int(self.ends[i]))


def _sort_key(col: pd.Series) -> np.ndarray:
    """An int64 / float key that sorts like ``col`` with missing values last."""
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        codes, uniques = pd.factorize(col, sort=True)
        return np.where(codes < 0, len(uniques), codes)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        values = col.to_numpy(dtype="datetime64[us]").astype("int64")
        return np.where(col.isna().to_numpy(), np.iinfo(np.int64).max, values)
    values = col.to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(values), np.inf, values)


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``df`` sorted by ``keys`` (missing values last), stable, as a fresh 0..n-1 index."""
    if df.empty:
        return df.reset_index(drop=True)
    order = np.lexsort([_sort_key(df[k]) for k in reversed(keys)])
    return df.iloc[order].reset_index(drop=True)


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x


class Frames:
    """The tables of one EHR data set and precomputed aggregates (computed on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ raw tables
    def has(self, table: str) -> bool:
        return (self.root / f"{table}.parquet").is_file()

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        key = ("table", name, tuple(columns) if columns else None)
        with self._lock:
            if key not in self._cache:
                path = self.root / f"{name}.parquet"
                if not path.is_file():
                    df = pd.DataFrame(columns=columns or [])
                else:
                    df = pd.read_parquet(path, columns=columns)
                self._cache[key] = df
            return self._cache[key]

    def memo(self, key: Any, fn: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = fn()
            return self._cache[key]

    # ------------------------------------------------------------ patients and admissions
    @cached_property
    def patients(self) -> pd.DataFrame:
        p = self.table("patients").sort_values("subject_id").reset_index(drop=True)
        return p

    @cached_property
    def admissions(self) -> pd.DataFrame:
        a = self.table("admissions").dropna(subset=["hadm_id", "subject_id"])
        a = a.sort_values("hadm_id").reset_index(drop=True)
        a["hadm_id"] = a["hadm_id"].astype("int64")
        a["subject_id"] = a["subject_id"].astype("int64")
        return a

    @cached_property
    def adm_by_id(self) -> dict[int, Any]:
        return {int(r.hadm_id): r for r in self.admissions.itertuples(index=False)}

    @cached_property
    def patient_by_id(self) -> dict[int, Any]:
        return {int(r.subject_id): r for r in self.patients.itertuples(index=False)}

    @cached_property
    def subject_admissions(self) -> dict[int, list[Any]]:
        """subject_id -> admissions in time order (only subjects whose admission times are known and distinct)."""
        out: dict[int, list[Any]] = {}
        for r in self.admissions.itertuples(index=False):
            out.setdefault(int(r.subject_id), []).append(r)
        good = {}
        for s, adms in sorted(out.items()):
            times = [a.admittime for a in adms]
            if any(pd.isna(t) for t in times) or len(set(times)) != len(times):
                continue
            good[s] = sorted(adms, key=lambda a: a.admittime)
        return good

    def age_at(self, subject_id: int, when: Any) -> int | None:
        p = self.patient_by_id.get(subject_id)
        if p is None or pd.isna(p.dob) or pd.isna(when):
            return None
        born, at = pd.Timestamp(p.dob), pd.Timestamp(when)
        age = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
        return int(age)

    # ------------------------------------------------------------ ICU
    @cached_property
    def icustays(self) -> pd.DataFrame:
        i = self.table("icustays").dropna(subset=["icustay_id", "hadm_id"])
        i = i.sort_values("icustay_id").reset_index(drop=True)
        return i

    @cached_property
    def stays_per_admission(self) -> dict[int, int]:
        return {int(k): int(v) for k, v in self.icustays.groupby("hadm_id").size().items()}

    @cached_property
    def transfers(self) -> pd.DataFrame:
        t = self.table("transfers").dropna(subset=["hadm_id"])
        return t.sort_values(["hadm_id", "intime", "row_id"], na_position="last").reset_index(drop=True)

    # ------------------------------------------------------------ codes
    @cached_property
    def d_dx(self) -> dict[str, tuple[str, str]]:
        d = self.table("d_icd_diagnoses")
        return {str(c): (s, t) for c, s, t in zip(d["icd9_code"], d["short_title"], d["long_title"])}

    @cached_property
    def d_px(self) -> dict[str, tuple[str, str]]:
        d = self.table("d_icd_procedures")
        return {str(c): (s, t) for c, s, t in zip(d["icd9_code"], d["short_title"], d["long_title"])}

    @cached_property
    def unique_dx_titles(self) -> set[str]:
        """Long titles naming exactly one diagnosis code."""
        d = self.table("d_icd_diagnoses")
        counts = d["long_title"].value_counts()
        return set(counts[counts == 1].index)

    @cached_property
    def unique_px_titles(self) -> set[str]:
        d = self.table("d_icd_procedures")
        counts = d["long_title"].value_counts()
        return set(counts[counts == 1].index)

    @cached_property
    def diagnoses(self) -> pd.DataFrame:
        d = self.table("diagnoses_icd").dropna(subset=["hadm_id", "icd9_code"])
        d = d.assign(icd9_code=d["icd9_code"].astype(str))
        return d.sort_values(["hadm_id", "seq_num", "icd9_code"], na_position="last").reset_index(drop=True)

    @cached_property
    def procedures(self) -> pd.DataFrame:
        d = self.table("procedures_icd").dropna(subset=["hadm_id", "icd9_code"])
        d = d.assign(icd9_code=d["icd9_code"].astype(str))
        return d.sort_values(["hadm_id", "seq_num", "icd9_code"], na_position="last").reset_index(drop=True)

    # ------------------------------------------------------------ labs
    @cached_property
    def lab_labels(self) -> dict[int, str]:
        """itemid -> label for labels naming exactly one lab item."""
        d = self.table("d_labitems").dropna(subset=["label"])
        counts = d["label"].value_counts()
        uniq = d[d["label"].map(counts) == 1]
        return {int(i): str(lab) for i, lab in zip(uniq["itemid"], uniq["label"])}

    @cached_property
    def labs(self) -> pd.DataFrame:
        """labevents of admissions, items with a unique label, sorted (hadm, itemid, charttime, valuenum)."""
        cols = ["row_id", "subject_id", "hadm_id", "itemid", "charttime", "valuenum", "valueuom", "flag"]
        lab = self.table("labevents", cols)
        lab = lab[lab["hadm_id"].notna() & lab["itemid"].isin(list(self.lab_labels))]
        lab = lab.assign(hadm_id=lab["hadm_id"].astype("int64"), itemid=lab["itemid"].astype("int64"))
        return _sorted(lab, ["hadm_id", "itemid", "charttime", "valuenum", "row_id"])

    @cached_property
    def lab_groups(self) -> Groups:
        return Groups.of(self.labs, ["hadm_id", "itemid"])

    @cached_property
    def lab_stats(self) -> pd.DataFrame:
        """One row per (admission, lab item): counts, extremes, first / last values and their ties."""
        lab = self.labs
        if lab.empty:
            return pd.DataFrame()
        lab = lab.assign(_abn=(lab["flag"] == "abnormal").astype("int64"))
        g = lab.groupby(["hadm_id", "itemid"], sort=True)
        st = g.agg(
            subject_id=("subject_id", "first"), n=("itemid", "size"), n_num=("valuenum", "count"),
            n_time=("charttime", "count"), vmin=("valuenum", "min"), vmax=("valuenum", "max"),
            vmean=("valuenum", "mean"), t_first=("charttime", "min"), t_last=("charttime", "max"),
            n_abn=("_abn", "sum"), n_units=("valueuom", "nunique"),
            unit=("valueuom", "first"),
        )
        first = lab[lab["charttime"] == g["charttime"].transform("min")]
        last = lab[lab["charttime"] == g["charttime"].transform("max")]
        st["first_val"] = first.groupby(["hadm_id", "itemid"])["valuenum"].first()
        st["first_distinct"] = first.groupby(["hadm_id", "itemid"])["valuenum"].nunique(dropna=False)
        st["last_val"] = last.groupby(["hadm_id", "itemid"])["valuenum"].last()
        st["last_distinct"] = last.groupby(["hadm_id", "itemid"])["valuenum"].nunique(dropna=False)
        st["n_times"] = g["charttime"].nunique()
        st["label"] = [self.lab_labels[i] for i in st.index.get_level_values("itemid")]
        st = st.reset_index()
        st["numeric"] = (st["n_num"] == st["n"]) & (st["n_time"] == st["n"])
        return st

    # ------------------------------------------------------------ chart (vitals)
    @cached_property
    def vital_items(self) -> dict[int, str]:
        d = self.table("d_items", ["itemid", "label", "linksto"])
        d = d[d["label"].isin(VITAL_LABELS)]
        return {int(i): str(lab) for i, lab in zip(d["itemid"], d["label"])}

    @cached_property
    def vitals(self) -> pd.DataFrame:
        """chartevents of the vital items, with their label, sorted (icustay, label, charttime, valuenum)."""
        cols = ["row_id", "subject_id", "hadm_id", "icustay_id", "itemid", "charttime", "valuenum", "valueuom", "error"]
        if not self.has("chartevents"):
            return pd.DataFrame(columns=[*cols, "label"])
        import pyarrow.parquet as pq

        items = list(self.vital_items)
        table = pq.read_table(self.root / "chartevents.parquet", columns=cols,
                              filters=[("itemid", "in", items)] if items else None)
        ce = table.to_pandas()
        ce = ce[ce["icustay_id"].notna()]
        ce = ce.assign(icustay_id=ce["icustay_id"].astype("int64"), itemid=ce["itemid"].astype("int64"))
        ce["label"] = ce["itemid"].map(self.vital_items)
        return _sorted(ce, ["icustay_id", "label", "charttime", "valuenum", "row_id"])

    @cached_property
    def vital_groups(self) -> Groups:
        return Groups.of(self.vitals, ["icustay_id", "label"])

    @cached_property
    def vital_stats(self) -> pd.DataFrame:
        ce = self.vitals
        if ce.empty:
            return pd.DataFrame()
        err = ce["error"].fillna(0).astype("int64") if "error" in ce else 0
        ce = ce.assign(_err=err)
        g = ce.groupby(["icustay_id", "label"], sort=True)
        st = g.agg(
            subject_id=("subject_id", "first"), hadm_id=("hadm_id", "first"), n=("label", "size"),
            n_num=("valuenum", "count"), n_time=("charttime", "count"), vmin=("valuenum", "min"),
            vmax=("valuenum", "max"), vmean=("valuenum", "mean"), errors=("_err", "sum"),
            n_units=("valueuom", "nunique"), unit=("valueuom", "first"),
            t_first=("charttime", "min"), t_last=("charttime", "max"),
        )
        last = ce[ce["charttime"] == g["charttime"].transform("max")]
        st["last_val"] = last.groupby(["icustay_id", "label"])["valuenum"].last()
        st["last_distinct"] = last.groupby(["icustay_id", "label"])["valuenum"].nunique(dropna=False)
        st = st.reset_index()
        st["clean"] = (st["errors"] == 0) & (st["n_num"] == st["n"]) & (st["n_time"] == st["n"])
        return st

    # ------------------------------------------------------------ drugs
    @cached_property
    def prescriptions(self) -> pd.DataFrame:
        cols = ["row_id", "subject_id", "hadm_id", "startdate", "enddate", "drug", "dose_val_rx",
                "dose_unit_rx", "route", "form_unit_disp"]
        rx = self.table("prescriptions", cols).dropna(subset=["hadm_id", "drug"])
        rx = rx.assign(hadm_id=rx["hadm_id"].astype("int64"))
        return rx.sort_values(["hadm_id", "drug", "startdate", "row_id"], na_position="last").reset_index(drop=True)

    @cached_property
    def rx_stats(self) -> pd.DataFrame:
        rx = self.prescriptions
        if rx.empty:
            return pd.DataFrame()
        g = rx.groupby(["hadm_id", "drug"], sort=True)
        st = g.agg(
            subject_id=("subject_id", "first"), n=("drug", "size"), t_first=("startdate", "min"),
            n_start=("startdate", "count"),
        ).reset_index()
        return st

    # ------------------------------------------------------------ inputs and outputs
    @cached_property
    def item_labels(self) -> dict[int, str]:
        d = self.table("d_items", ["itemid", "label"]).dropna(subset=["label"])
        return {int(i): str(lab) for i, lab in zip(d["itemid"], d["label"])}

    def _unique_item_labels(self, linksto: str) -> dict[int, str]:
        d = self.table("d_items", ["itemid", "label", "linksto"]).dropna(subset=["label"])
        d = d[d["linksto"] == linksto]
        counts = d["label"].value_counts()
        d = d[d["label"].map(counts) == 1]
        return {int(i): str(lab) for i, lab in zip(d["itemid"], d["label"])}

    @cached_property
    def inputs(self) -> pd.DataFrame:
        cols = ["row_id", "subject_id", "hadm_id", "icustay_id", "starttime", "endtime", "itemid",
                "amount", "amountuom", "patientweight", "statusdescription"]
        ie = self.table("inputevents_mv", cols).dropna(subset=["icustay_id", "itemid"])
        labels = self._unique_item_labels("inputevents_mv")
        ie = ie[ie["itemid"].isin(list(labels))]
        ie = ie.assign(icustay_id=ie["icustay_id"].astype("int64"), itemid=ie["itemid"].astype("int64"))
        ie["label"] = ie["itemid"].map(labels)
        return ie.sort_values(["icustay_id", "label", "starttime", "row_id"], na_position="last").reset_index(drop=True)

    @cached_property
    def input_stats(self) -> pd.DataFrame:
        ie = self.inputs
        if ie.empty:
            return pd.DataFrame()
        ok = ie["statusdescription"].fillna("") != "Rewritten"
        ie = ie.assign(_ok=ok)
        g = ie.groupby(["icustay_id", "label"], sort=True)
        st = g.agg(
            subject_id=("subject_id", "first"), hadm_id=("hadm_id", "first"), n=("label", "size"),
            n_amount=("amount", "count"), total=("amount", "sum"), n_units=("amountuom", "nunique"),
            unit=("amountuom", "first"), t_first=("starttime", "min"), n_ok=("_ok", "sum"),
            n_start=("starttime", "count"),
        ).reset_index()
        return st

    @cached_property
    def outputs(self) -> pd.DataFrame:
        cols = ["row_id", "subject_id", "hadm_id", "icustay_id", "charttime", "itemid", "value", "valueuom"]
        oe = self.table("outputevents", cols).dropna(subset=["icustay_id", "itemid"])
        labels = self._unique_item_labels("outputevents")
        oe = oe[oe["itemid"].isin(list(labels))]
        oe = oe.assign(icustay_id=oe["icustay_id"].astype("int64"), itemid=oe["itemid"].astype("int64"))
        oe["label"] = oe["itemid"].map(labels)
        return oe.sort_values(["icustay_id", "label", "charttime", "row_id"], na_position="last").reset_index(drop=True)

    @cached_property
    def output_stats(self) -> pd.DataFrame:
        oe = self.outputs
        if oe.empty:
            return pd.DataFrame()
        g = oe.groupby(["icustay_id", "label"], sort=True)
        return g.agg(
            subject_id=("subject_id", "first"), hadm_id=("hadm_id", "first"), n=("label", "size"),
            n_value=("value", "count"), total=("value", "sum"), n_units=("valueuom", "nunique"),
            unit=("valueuom", "first"), n_time=("charttime", "count"),
        ).reset_index()

    # ------------------------------------------------------------ microbiology
    @cached_property
    def micro(self) -> pd.DataFrame:
        cols = ["row_id", "subject_id", "hadm_id", "chartdate", "charttime", "spec_type_desc", "org_name",
                "ab_name", "interpretation"]
        m = self.table("microbiologyevents", cols).dropna(subset=["hadm_id"])
        m = m.assign(hadm_id=m["hadm_id"].astype("int64"))
        return m.sort_values(["hadm_id", "charttime", "row_id"], na_position="last").reset_index(drop=True)

    @cached_property
    def micro_groups(self) -> Groups:
        return Groups.of(self.micro, ["hadm_id"])


def ts(x: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS``."""
    return _ts(x)
