"""The ``ehr_predict`` task family: clinical prediction in the style of MIMIC-Extract and EHRSHOT.

The agent builds features from the EHR tables, trains a model on a training cohort and submits
risk scores for a test cohort; the host grades them by AUROC against labels the kernel never sees.

**Cohort.** One ICU admission per adult patient: the patient's first hospital admission whose first
ICU stay lasted at least 24 hours (and who was alive then). The *prediction time* is 24 hours after
that ICU stay began. Patients are split by a hash of ``subject_id`` into training and test patients.

**What the kernel holds** (profile ``ehr-predict``, data set ``ehr-predict``, derived from ``ehr``;
``ehr-predict-mimic3`` from the imported MIMIC-III): the tables of the MIMIC-III schema in which the
training patients are complete and every test patient's record stops at their prediction time:
later rows are removed (and later admissions); outcome fields known only later (discharge and death
times, discharge location, ``hospital_expire_flag``, ICU ``outtime`` / ``los``, the date of death,
billing codes of the cohort admission) are emptied. Plus ``cohort`` (``subject_id``, ``hadm_id``,
``icustay_id``, ``intime``, ``prediction_time``, ``split``) and ``train_labels`` (``task``,
``hadm_id``, ``label``) for the training cohort. The test labels exist only on the host.

**Tasks** (one category each; the label is computed host side from the full data set):

- ``predict_mortality``: death in hospital (``hospital_expire_flag``).
- ``predict_los_3d`` / ``predict_los_7d``: the ICU stay lasts more than 3 / 7 days.
- ``predict_icu_readmission``: another ICU stay begins within 30 days after this one ends (patients
  alive when it ended).
- ``predict_vasopressor``: a vasopressor infusion (norepinephrine, phenylephrine, vasopressin,
  epinephrine, dopamine in ``inputevents_mv``) runs after the prediction time during this ICU stay
  (MetaVision stays, where infusions are charted).
- ``predict_abnormal_lab``: the first result of a lab test after the prediction time (in the same
  admission) is flagged abnormal; one lab test per instance.

Each instance asks for scores for a random 80 % of the test cohort of its task (so instances
differ) and passes at an AUROC of at least the category's threshold (stated in the prompt). The
thresholds are set at least 0.05 below what the reference solution (a logistic regression and
gradient boosting, averaged by rank, on about 180 features of the first 24 ICU hours) reaches on
the default synthetic data. When a task's test cohort is small (under 150 admissions: the MIMIC-III
demo, a small synthetic build), AUROC is noisy: the generator then runs the reference solution
host side, and where it misses the category's threshold by the margin, the instance's threshold
is lowered to the reference's AUROC minus the margin (never below 0.55; otherwise the instance is
not generated), and the prompt says so. Instances whose test cohort lacks either class are not
generated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kernelgym.families.ehr import reference_cells
from kernelgym.families.ehr_data import VASOPRESSOR_ITEMS, profile_data_dir
from kernelgym.grading import Grader, auroc
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "3"  # 3: the reference fits in one cell, predicts in the next
DERIVE_VERSION = "1"
WINDOW_HOURS = 24
MIN_ICU_HOURS = 24
TEST_FRACTION = 0.35  # of the cohort's patients, by hash of subject_id (0.5 for cohorts under 400)
INSTANCE_FRACTION = 0.8  # of the task's test cohort asked per instance
MARGIN = 0.05
CALIBRATE_BELOW = 150  # test cohorts smaller than this get thresholds calibrated to the reference
FLOOR = 0.55
READMIT_DAYS = 30
SOURCES = {"ehr-predict": "ehr", "ehr-predict-mimic3": "mimic3"}  # derived data set -> its source

# per category: threshold on the synthetic data (the reference clears it by at least MARGIN there)
THRESHOLDS = {  # the reference on the default data: whole test cohort / worst of the 20-60 instances
    "predict_mortality": 0.72,  # 0.81 / 0.78
    "predict_los_3d": 0.56,  # 0.65 / 0.61
    "predict_los_7d": 0.56,  # 0.70 / 0.62
    "predict_icu_readmission": 0.56,  # 0.69 / 0.62
    "predict_vasopressor": 0.75,  # 0.90 / 0.88
    "predict_abnormal_lab": 0.72,  # 0.81-0.98 by lab / 0.77 (Lactate's small cohort is calibrated)
}
NEXT_LABS = ("Creatinine", "Potassium", "Sodium", "Hemoglobin", "White Blood Cells", "Platelet Count",
             "Glucose", "Urea Nitrogen", "Bicarbonate", "Magnesium", "Chloride", "Hematocrit", "Lactate")

_PATIENT_OUTCOMES = ("dod", "dod_hosp", "dod_ssn", "expire_flag")
_ADMISSION_OUTCOMES = ("dischtime", "deathtime", "discharge_location", "hospital_expire_flag")
_STAY_OUTCOMES = ("outtime", "los", "last_careunit", "last_wardid")


# ---------------------------------------------------------------- the cohort (host side)


def _is_test(subject_id: int, fraction: float) -> bool:
    h = int(hashlib.sha256(f"ehr-predict/{subject_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < fraction


def _read(root: Path, table: str) -> pd.DataFrame:
    path = root / f"{table}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def cohort_of(root: Path) -> pd.DataFrame:
    """The prediction cohort of the (full) data set at ``root``, one row per patient."""
    p = _read(root, "patients")[["subject_id", "dob"]]
    a = _read(root, "admissions")[["subject_id", "hadm_id", "admittime", "deathtime"]]
    i = _read(root, "icustays").dropna(subset=["hadm_id", "icustay_id", "intime"])
    first = i.sort_values(["hadm_id", "intime", "icustay_id"]).groupby("hadm_id", as_index=False).first()
    first = first[["hadm_id", "icustay_id", "intime", "outtime", "dbsource"]]
    c = a.merge(first, on="hadm_id").merge(p, on="subject_id", how="left")
    c["prediction_time"] = c["intime"] + pd.Timedelta(hours=WINDOW_HOURS)
    hours = (c["outtime"] - c["intime"]).dt.total_seconds() / 3600
    born, at = c["dob"], c["admittime"]
    before = (at.dt.month < born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day < born.dt.day))
    age = at.dt.year - born.dt.year - before.astype(int)
    ok = (hours >= MIN_ICU_HOURS) & (age >= 18) & (c["deathtime"].isna() | (c["deathtime"] > c["prediction_time"]))
    c = c[ok.fillna(False)].sort_values(["subject_id", "admittime", "hadm_id"])
    c = c.groupby("subject_id", as_index=False).first()
    fraction = TEST_FRACTION if len(c) >= 400 else 0.5
    c["split"] = ["test" if _is_test(int(s), fraction) else "train" for s in c["subject_id"]]
    cols = ["subject_id", "hadm_id", "icustay_id", "intime", "prediction_time", "split", "outtime", "dbsource"]
    return c[cols].sort_values("hadm_id").reset_index(drop=True)


VASOPRESSOR_WORDS = ("norepinephrine", "phenylephrine", "vasopressin", "epinephrine", "dopamine")


def is_vasopressor_drug(name: Any) -> bool:
    """A prescription of a vasopressor (not a local anaesthetic with epinephrine)."""
    if not isinstance(name, str):
        return False
    low = name.lower()
    return any(w in low for w in VASOPRESSOR_WORDS) and "lidocaine" not in low and "bupivacaine" not in low


def labels_of(root: Path, cohort: pd.DataFrame) -> dict[str, dict[int, int]]:
    """task -> {hadm_id: label} for every cohort admission the task applies to (host side only)."""
    a = _read(root, "admissions").set_index("hadm_id")
    i = _read(root, "icustays").dropna(subset=["icustay_id", "intime"])
    out: dict[str, dict[int, int]] = {}
    c = cohort.set_index("hadm_id")
    out["mortality"] = {int(h): int(a.loc[h, "hospital_expire_flag"] == 1) for h in c.index}
    los_days = (c["outtime"] - c["intime"]).dt.total_seconds() / 86400
    out["los_gt_3d"] = {int(h): int(v > 3) for h, v in los_days.items()}
    out["los_gt_7d"] = {int(h): int(v > 7) for h, v in los_days.items()}
    # ICU readmission within 30 days of the end of the cohort stay, for patients alive then
    later = i[["subject_id", "icustay_id", "intime"]].merge(c.reset_index()[["subject_id", "hadm_id", "outtime"]], on="subject_id")
    later = later[(later["intime"] > later["outtime"]) & (later["intime"] <= later["outtime"] + pd.Timedelta(days=READMIT_DAYS))]
    readmitted = set(later["hadm_id"])
    death = a["deathtime"]
    out["icu_readmission"] = {
        int(h): int(h in readmitted) for h, r in c.iterrows()
        if pd.isna(death.get(h)) or death.get(h) > r["outtime"] + pd.Timedelta(hours=1)
    }
    # a vasopressor started after the prediction time (an infusion in inputevents_mv, or a prescription
    # starting on a later day), for admissions without one up to the prediction time
    already, started = set(), set()
    ie = _read(root, "inputevents_mv")
    if len(ie):
        ie = ie[ie["itemid"].isin(VASOPRESSOR_ITEMS)][["icustay_id", "starttime"]].dropna()
        m = ie.merge(c.reset_index()[["hadm_id", "icustay_id", "prediction_time"]], on="icustay_id")
        already |= set(m.loc[m["starttime"] <= m["prediction_time"], "hadm_id"])
        started |= set(m.loc[m["starttime"] > m["prediction_time"], "hadm_id"])
    rx = _read(root, "prescriptions")
    if len(rx):
        rx = rx[rx["drug"].map(is_vasopressor_drug).fillna(False).astype(bool)][["hadm_id", "startdate"]].dropna()
        m = rx.merge(c.reset_index()[["hadm_id", "prediction_time"]], on="hadm_id")
        already |= set(m.loc[m["startdate"] <= m["prediction_time"], "hadm_id"])
        started |= set(m.loc[m["startdate"] > m["prediction_time"], "hadm_id"])
    out["vasopressor"] = {int(h): int(h in started) for h in c.index if h not in already}
    # the first result of a lab after the prediction time is flagged abnormal
    d = _read(root, "d_labitems")
    counts = d["label"].value_counts()
    items = {str(lab): int(it) for it, lab in zip(d["itemid"], d["label"]) if lab in NEXT_LABS and counts[lab] == 1}
    if items:
        lab = pd.read_parquet(root / "labevents.parquet", columns=["hadm_id", "itemid", "charttime", "valuenum", "flag"],
                              filters=[("itemid", "in", list(items.values()))])
        lab = lab.dropna(subset=["hadm_id", "charttime", "valuenum"])
        lab = lab.merge(c.reset_index()[["hadm_id", "prediction_time"]], on="hadm_id")
        for name, itemid in sorted(items.items()):
            li = lab[lab["itemid"] == itemid]
            before = set(li.loc[li["charttime"] <= li["prediction_time"], "hadm_id"])
            after = li[li["charttime"] > li["prediction_time"]].sort_values(["hadm_id", "charttime", "valuenum"])
            nxt = after.groupby("hadm_id").first()
            out[f"abnormal_next:{name}"] = {int(h): int(f == "abnormal") for h, f in nxt["flag"].items() if h in before}
    return out


# ---------------------------------------------------------------- the derived data set


def _int_to_nullable(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    for c in cols:
        if c in df and str(df[c].dtype) == "int64":
            df[c] = df[c].astype("Int64")
    return df


def _blank(df: pd.DataFrame, mask: pd.Series, cols: tuple[str, ...]) -> pd.DataFrame:
    df = _int_to_nullable(df, cols)
    for c in cols:
        if c in df:
            df.loc[mask, c] = None
    return df


def derive(source: Path, out: Path) -> dict[str, Any]:
    """Write the prediction data set derived from ``source`` into ``out`` (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kernelgym.datasets.ehr.schema import EHR_TABLES
    from kernelgym.datasets.ehr.writer import PARQUET_OPTIONS

    cohort = cohort_of(source)
    test = cohort[cohort["split"] == "test"]
    cut = dict(zip(test["subject_id"].astype(int), test["prediction_time"]))
    cohort_adm = set(test["hadm_id"].astype(int))
    cohort_stay = set(test["icustay_id"].astype(int))

    def cutoff_of(df: pd.DataFrame) -> pd.Series:
        return df["subject_id"].map(cut)

    tmp = out.parent / f".{out.name}.deriving-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    rows: dict[str, int] = {}
    try:
        removed_adm: set[int] = set()
        adm = _read(source, "admissions")
        cu = cutoff_of(adm)
        late = cu.notna() & (adm["admittime"] > cu)
        removed_adm = set(adm.loc[late, "hadm_id"].astype(int))
        for table in EHR_TABLES:
            df = _read(source, table)
            if table in ("patients", "admissions", "icustays", "transfers", "diagnoses_icd", "procedures_icd",
                         "labevents", "chartevents", "outputevents", "inputevents_mv", "prescriptions",
                         "microbiologyevents") and len(df):
                cu = cutoff_of(df)
                test_row = cu.notna()
                keep = pd.Series(True, index=df.index)
                if "hadm_id" in df and table != "admissions":
                    keep &= ~df["hadm_id"].isin(removed_adm)
                if table == "patients":
                    df = _blank(df, test_row, _PATIENT_OUTCOMES)
                elif table == "admissions":
                    keep &= ~df["hadm_id"].isin(removed_adm)
                    df = _blank(df, df["hadm_id"].isin(cohort_adm), _ADMISSION_OUTCOMES)
                elif table == "icustays":
                    keep &= ~(test_row & (df["intime"] > cu))
                    df = _blank(df, df["icustay_id"].isin(cohort_stay), _STAY_OUTCOMES)
                elif table == "transfers":
                    keep &= ~(test_row & (df["intime"].isna() | (df["intime"] > cu)))
                    df = _blank(df, test_row & (df["outtime"].isna() | (df["outtime"] > cu)), ("outtime", "los"))
                elif table in ("diagnoses_icd", "procedures_icd"):
                    keep &= ~df["hadm_id"].isin(cohort_adm)
                elif table in ("labevents", "chartevents", "outputevents"):
                    keep &= ~(test_row & (df["charttime"].isna() | (df["charttime"] > cu)))
                elif table == "inputevents_mv":
                    keep &= ~(test_row & (df["starttime"].isna() | (df["starttime"] > cu)))
                    running = test_row & (df["endtime"].isna() | (df["endtime"] > cu))
                    df = _blank(df, running, ("endtime", "amount", "totalamount", "statusdescription",
                                              "originalamount"))
                elif table == "prescriptions":
                    keep &= ~(test_row & (df["startdate"].isna() | (df["startdate"] >= cu.dt.normalize())))
                    df = _blank(df, test_row & (df["enddate"] >= cu.dt.normalize()), ("enddate",))
                elif table == "microbiologyevents":
                    when = df["charttime"].fillna(df["chartdate"])
                    keep &= ~(test_row & (when.isna() | (when > cu)))
                df = df[keep.to_numpy()]
            table_pa = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
            pq.write_table(table_pa, tmp / f"{table}.parquet", **PARQUET_OPTIONS)
            rows[table] = len(df)
        labels = labels_of(source, cohort)
        train = set(cohort.loc[cohort["split"] == "train", "hadm_id"].astype(int))
        tl = [(task, h, y) for task, lab in sorted(labels.items()) for h, y in sorted(lab.items()) if h in train]
        extra = {
            "cohort": cohort[["subject_id", "hadm_id", "icustay_id", "intime", "prediction_time", "split"]],
            "train_labels": pd.DataFrame(tl, columns=["task", "hadm_id", "label"]).astype({"hadm_id": "int64", "label": "int64"}),
        }
        for table, df in extra.items():
            pq.write_table(pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False),
                           tmp / f"{table}.parquet", **PARQUET_OPTIONS)
            rows[table] = len(df)
        digest = hashlib.sha256()
        for path in sorted(tmp.glob("*.parquet")):
            digest.update(path.name.encode() + path.read_bytes())
        manifest = {
            "name": out.name, "source": str(source), "source_fingerprint": _fingerprint_of(source),
            "derive_version": DERIVE_VERSION, "tables": rows, "fingerprint": digest.hexdigest()[:16],
            "window_hours": WINDOW_HOURS, "cohort": int(len(cohort)), "test_patients": int(len(test)),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _fingerprint_of(root: Path) -> str:
    try:
        return str(json.loads((root / "manifest.json").read_text()).get("fingerprint", ""))
    except (OSError, ValueError):
        return ""


@dataclass
class Manifest:
    fingerprint: str
    data: dict[str, Any] = field(default_factory=dict)


def _ensure(name: str, source_name: str, source_fp: str) -> Manifest:
    from kernelgym.kernel.paths import dataset_dir

    out, source = dataset_dir(name), dataset_dir(source_name)
    try:
        m = json.loads((out / "manifest.json").read_text())
        if m.get("source_fingerprint") == source_fp and m.get("derive_version") == DERIVE_VERSION:
            return Manifest(m["fingerprint"], m)
    except (OSError, ValueError, KeyError):
        pass
    m = derive(source, out)
    return Manifest(m["fingerprint"], m)


def ensure_predict_ehr() -> Manifest:
    """The ``ehr-predict`` data set (derived from ``ehr``, which is built first if missing)."""
    from kernelgym.datasets.ehr import ensure_ehr

    return _ensure("ehr-predict", "ehr", ensure_ehr().fingerprint)


def ensure_predict_mimic3() -> Manifest:
    """The ``ehr-predict-mimic3`` data set (derived from the imported MIMIC-III)."""
    from kernelgym.importers.mimic3 import ensure_mimic3

    return _ensure("ehr-predict-mimic3", "mimic3", ensure_mimic3().fingerprint)


# ---------------------------------------------------------------- generation


@dataclass
class PredictContext:
    root: Path  # the derived data set (what the kernel sees)
    source: Path  # the full data set (labels)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Any, fn: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def cohort(self) -> pd.DataFrame:
        return self.memo("cohort", lambda: pd.read_parquet(self.root / "cohort.parquet"))

    @property
    def labels(self) -> dict[str, dict[int, int]]:
        return self.memo("labels", lambda: labels_of(self.source, cohort_of(self.source)))

    def _split_ids(self, split: str) -> set[int]:
        cohort = self.cohort
        return self.memo(("split", split), lambda: set(cohort.loc[cohort["split"] == split, "hadm_id"].astype(int)))

    def test_labels(self, task: str) -> dict[int, int]:
        """hadm_id -> label of the task's test admissions (computed once per task; do not modify)."""
        def compute() -> dict[int, int]:
            test = self._split_ids("test")
            return {h: y for h, y in self.labels.get(task, {}).items() if h in test}

        return self.memo(("test_labels", task), compute)

    def train_count(self, task: str) -> tuple[int, int]:
        def compute() -> tuple[int, int]:
            train = self._split_ids("train")
            ys = [y for h, y in self.labels.get(task, {}).items() if h in train]
            return len(ys), sum(ys)

        return self.memo(("train_count", task), compute)


@contextlib.contextmanager
def open_context(data_dir: Path | str | None = None, *, profile: str | None = None,
                 source_dir: Path | str | None = None) -> Iterator[PredictContext]:
    """The derived data set of ``profile`` (default ``ehr-predict``) and the full one it came from."""
    from kernelgym.kernel.paths import dataset_dir

    profile = profile or "ehr-predict"
    root = Path(data_dir) if data_dir is not None else profile_data_dir(profile)
    if source_dir is None:
        source_dir = dataset_dir(SOURCES.get(root.name, "ehr"))
    yield PredictContext(root=root, source=Path(source_dir))


_FEATURES = r'''
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

LABS = ['Creatinine', 'Urea Nitrogen', 'Potassium', 'Sodium', 'Bicarbonate', 'Chloride', 'Glucose',
        'Hemoglobin', 'White Blood Cells', 'Platelet Count', 'Lactate', 'Magnesium', 'Anion Gap',
        'Bilirubin, Total', 'INR(PT)', 'pH', 'Hematocrit', 'Albumin', 'Calcium, Total', 'Phosphate']
VITALS = ['Heart Rate', 'Respiratory Rate', 'O2 saturation pulseoxymetry', 'SpO2',
          'Arterial Blood Pressure systolic', 'Non Invasive Blood Pressure systolic', 'Arterial BP [Systolic]',
          'Arterial Blood Pressure mean', 'Non Invasive Blood Pressure mean', 'Temperature Fahrenheit',
          'Temperature F', 'Inspired O2 Fraction', 'GCS - Eye Opening']
PRESSORS = [221906, 221749, 222315, 221289, 221662]

def window_features(cohort):
    """Features of each cohort admission from the data charted up to its prediction time."""
    c = cohort[['subject_id', 'hadm_id', 'icustay_id', 'intime', 'prediction_time']].reset_index(drop=True)
    f = {'hadm_id': c['hadm_id'].to_numpy()}
    adm = admissions.set_index('hadm_id')
    pat = patients.set_index('subject_id')
    admit = c['hadm_id'].map(adm['admittime'])
    born = c['subject_id'].map(pat['dob'])
    f['age'] = ((admit - born).dt.days / 365.25).clip(upper=91).to_numpy()
    f['male'] = (c['subject_id'].map(pat['gender']) == 'M').astype(float).to_numpy()
    f['emergency'] = (c['hadm_id'].map(adm['admission_type']) == 'EMERGENCY').astype(float).to_numpy()
    f['hours_to_icu'] = ((c['intime'] - admit).dt.total_seconds() / 3600).to_numpy()
    prior = admissions[['subject_id', 'admittime']].merge(c[['subject_id', 'hadm_id']], on='subject_id')
    prior = prior[prior['admittime'] < prior['hadm_id'].map(adm['admittime'])]
    f['prior_admissions'] = c['hadm_id'].map(prior.groupby('hadm_id').size()).fillna(0).to_numpy()
    # labs of the admission up to the prediction time
    lab_items = d_labitems[d_labitems['label'].isin(LABS)][['itemid', 'label']]
    lab = labevents[['hadm_id', 'itemid', 'charttime', 'valuenum', 'flag']].merge(lab_items, on='itemid')
    lab = lab.merge(c[['hadm_id', 'prediction_time']], on='hadm_id')
    lab = lab[(lab['charttime'] <= lab['prediction_time']) & lab['valuenum'].notna()].sort_values('charttime')
    g = lab.groupby(['hadm_id', 'label'])['valuenum']
    for stat in ('last', 'min', 'max'):
        wide = g.agg(stat).unstack()
        for col in wide.columns:
            f[f'lab_{stat}_{col}'] = c['hadm_id'].map(wide[col]).to_numpy()
    lab['abnormal'] = (lab['flag'] == 'abnormal').astype(float)
    g = lab.groupby(['hadm_id', 'label'])['abnormal']
    for stat in ('last', 'mean'):
        wide = g.agg(stat).unstack()
        for col in wide.columns:
            f[f'lab_flag_{stat}_{col}'] = c['hadm_id'].map(wide[col]).to_numpy()
    f['lab_abnormal_share'] = c['hadm_id'].map(lab.groupby('hadm_id')['abnormal'].mean()).to_numpy()
    # the admitting diagnosis (free text; its most common values)
    text = c['hadm_id'].map(adm['diagnosis']).fillna('').str.upper()
    for dx in admissions['diagnosis'].fillna('').str.upper().value_counts().index[:25]:
        if dx:
            f['dx_' + dx[:30]] = (text == dx).astype(float).to_numpy()
    # vitals of the ICU stay up to the prediction time
    items = d_items[d_items['label'].isin(VITALS)][['itemid', 'label']]
    ce = chartevents[chartevents['itemid'].isin(items['itemid'])][['icustay_id', 'itemid', 'charttime', 'valuenum']]
    ce = ce.merge(items, on='itemid').merge(c[['icustay_id', 'intime', 'prediction_time']], on='icustay_id')
    ce = ce[(ce['charttime'] >= ce['intime']) & (ce['charttime'] <= ce['prediction_time'])]
    g = ce.groupby(['icustay_id', 'label'])['valuenum']
    for stat in ('mean', 'min', 'max', 'count', 'last'):
        wide = g.agg(stat).unstack()
        for col in wide.columns:
            f[f'vital_{stat}_{col}'] = c['icustay_id'].map(wide[col]).to_numpy()
    # urine and other output, vasopressors running, prescriptions so far
    out = outputevents.merge(c[['icustay_id', 'intime', 'prediction_time']], on='icustay_id')
    out = out[(out['charttime'] >= out['intime']) & (out['charttime'] <= out['prediction_time'])]
    f['output_ml'] = c['icustay_id'].map(out.groupby('icustay_id')['value'].sum()).fillna(0).to_numpy()
    ie = inputevents_mv[inputevents_mv['itemid'].isin(PRESSORS)].merge(c[['icustay_id', 'prediction_time']], on='icustay_id')
    ie = ie[ie['starttime'] <= ie['prediction_time']]
    f['pressor_hours'] = c['icustay_id'].map(
        ((ie['endtime'].fillna(ie['prediction_time']).clip(upper=ie['prediction_time']) - ie['starttime'])
         .dt.total_seconds() / 3600).groupby(ie['icustay_id']).sum()).fillna(0).to_numpy()
    rx = prescriptions.merge(c[['hadm_id', 'prediction_time']], on='hadm_id')
    rx = rx[rx['startdate'] < rx['prediction_time'].dt.normalize()]
    f['drugs_so_far'] = c['hadm_id'].map(rx.groupby('hadm_id')['drug'].nunique()).fillna(0).to_numpy()
    return pd.DataFrame(f).set_index('hadm_id')
'''


def _reference(task: str) -> list[str]:
    return reference_cells(
        _FEATURES,
        """
        features = window_features(cohort)
        labels = train_labels[train_labels['task'] == task].set_index('hadm_id')['label']
        X_train = features.loc[labels.index]
        X_test = features.loc[test_ids]
        keep = [col for col in features.columns if X_train[col].notna().mean() > 0.2]
        X_train.shape, X_test.shape, labels.mean()
        """,
        _FIT,
        _PREDICT,
    )


# The reference's last two cells: fit (depends on the task only, so the host fits once per task) and
# predict the test admissions (depends on the instance's test_ids).
_FIT = """
# two models, averaged by rank: a regularised logistic regression (imputed, scaled) and gradient
# boosting, which uses missing values (a test never ordered is information) and interactions
x_train, y = X_train[keep].to_numpy(dtype=float), labels.to_numpy()
linear = make_pipeline(SimpleImputer(strategy='median'), StandardScaler(), LogisticRegression(C=0.01, max_iter=5000))
boosted = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=150,
                                         l2_regularization=1.0, random_state=0)
with threadpool_limits(limits=1):  # OpenMP threads crawl on a busy machine; one is fast enough
    models = [m.fit(x_train, y) for m in (linear, boosted)]
"""
_PREDICT = """
x_test = X_test[keep].to_numpy(dtype=float)
with threadpool_limits(limits=1):
    ranks = [pd.Series(m.predict_proba(x_test)[:, 1]).rank().to_numpy() for m in models]
scores = (ranks[0] + ranks[1]) / (2 * len(test_ids))
submit({str(h): float(p) for h, p in zip(test_ids, scores)})
"""


def reference_scores(ctx: PredictContext, task: str, test_ids: list[int]) -> dict[str, float]:
    """Run the reference solution host side on the kernel's data (to calibrate thresholds).

    Its cells run as in the kernel, except that the features (the same for every instance) are
    computed once, and the models once per task: fitting depends only on the task's training
    labels, and a fit is deterministic, so a cached fit predicts exactly what a new one would.
    """
    def setup() -> dict[str, Any]:
        tables = {p.stem: pd.read_parquet(p) for p in sorted(ctx.root.glob("*.parquet"))}
        ns: dict[str, Any] = {"pd": pd, "np": np, **tables}
        cells = _reference(task)
        exec(compile(cells[0], "<reference>", "exec"), ns)
        exec(compile("features = window_features(cohort)", "<reference>", "exec"), ns)
        return ns

    cells = _reference(task)
    submitted: list[Any] = []
    ns = {**ctx.memo("reference", setup), "submit": submitted.append, "task": task, "test_ids": list(test_ids)}
    exec(compile(cells[1].replace("features = window_features(cohort)\n", ""), "<reference>", "exec"), ns)
    if ("reference-fit", task) in ctx._cache:
        ns["models"] = ctx._cache[("reference-fit", task)]
    else:
        exec(compile(cells[2], "<reference>", "exec"), ns)
        ctx._cache[("reference-fit", task)] = ns["models"]
    exec(compile(cells[3], "<reference>", "exec"), ns)
    return submitted[0]


@dataclass(frozen=True)
class _Task:
    category: str
    key: str  # task name in train_labels (labels_of)
    words: str  # what is predicted


_TASKS = {
    "predict_mortality": _Task("predict_mortality", "mortality", "the patient dies in the hospital during this admission"),
    "predict_los_3d": _Task("predict_los_3d", "los_gt_3d", "the ICU stay (the cohort's icustay_id) lasts more than 3 days"),
    "predict_los_7d": _Task("predict_los_7d", "los_gt_7d", "the ICU stay (the cohort's icustay_id) lasts more than 7 days"),
    "predict_icu_readmission": _Task(
        "predict_icu_readmission", "icu_readmission",
        f"the patient is admitted to an ICU again within {READMIT_DAYS} days after this ICU stay ends "
        "(the cohort here is restricted to patients alive when the stay ended)"),
    "predict_vasopressor": _Task(
        "predict_vasopressor", "vasopressor",
        "a vasopressor (norepinephrine, phenylephrine, vasopressin, epinephrine or dopamine) is started after "
        "the prediction time during this hospital admission: an inputevents_mv infusion starting after it, or a "
        "prescription starting on a later day (the cohort here is restricted to admissions without a "
        "vasopressor infusion or prescription up to the prediction time)"),
}


def _instance(ctx: PredictContext, rng: random.Random, category: str, task: str, words: str,
              extra: dict[str, Any] | None = None) -> Draft | None:
    labels = ctx.test_labels(task)
    n_train, pos_train = ctx.train_count(task)
    if len(labels) < 6 or n_train < 10 or pos_train < 2 or n_train - pos_train < 2:
        return None
    ids = sorted(labels)
    k = max(6, int(round(len(ids) * INSTANCE_FRACTION)))
    chosen = sorted(rng.sample(ids, k))
    truth = {str(h): labels[h] for h in chosen}
    positives = sum(truth.values())
    if positives < 2 or positives > len(truth) - 2:
        return None
    threshold = THRESHOLDS[category]
    note = ""
    if len(ids) < CALIBRATE_BELOW:  # a small cohort: calibrate to the reference solution
        ref = reference_scores(ctx, task, chosen)
        achieved = auroc([truth[str(h)] for h in chosen], [ref[str(h)] for h in chosen])
        if achieved - MARGIN < threshold:
            threshold = round(max(FLOOR, achieved - MARGIN), 3)
            note = (" (The threshold is set from the AUROC a baseline model reaches on this small "
                    "test cohort.)")
            if achieved - MARGIN < FLOOR:
                return None
    q = (
        f"Clinical prediction: predict whether {words}. "
        f"The cohort table lists one ICU admission per patient with its prediction time "
        f"({WINDOW_HOURS} hours after the ICU stay began); for test patients, the tables hold only what was "
        f"charted up to that time. Train a model on the training cohort: train_labels rows with "
        f"task == '{task}' give its labels (1 = yes). Then predict the {len(chosen)} test admissions "
        f"whose hadm_ids are in the variable test_ids ({', '.join(map(str, chosen[:3]))}, ...), using only "
        f"data charted up to each admission's "
        f"prediction time. Submit a dict mapping each test hadm_id (as a string) to a predicted "
        f"probability or risk score; the answer passes when its AUROC is at least {threshold:g}.{note}"
    )
    inputs = {"task": task, "test_ids": chosen, **(extra or {})}
    return Draft(
        question=q, inputs=inputs, answer=truth, reference=_reference(task),
        grader=Grader(rule="auroc", threshold=threshold),
    )


def _make(category: str) -> Any:
    t = _TASKS[category]

    def gen(ctx: PredictContext, rng: random.Random) -> Draft | None:
        return _instance(ctx, rng, category, t.key, t.words)

    gen.__name__ = f"gen_{category}"
    return gen


def gen_predict_abnormal_lab(ctx: PredictContext, rng: random.Random) -> Draft | None:
    keys = sorted(k for k in ctx.labels if k.startswith("abnormal_next:"))
    if not keys:
        return None
    key = rng.choice(keys)
    lab = key.split(":", 1)[1]
    words = (f'the first "{lab}" result (d_labitems label) charted after the prediction time during this hospital '
             f"admission is flagged abnormal (labevents.flag); the test admissions all have a \"{lab}\" result "
             "before and after the prediction time")
    return _instance(ctx, rng, "predict_abnormal_lab", key, words, {"lab_label": lab})


def _answer_format() -> str:
    return ("a dict {hadm_id as string: predicted probability} covering every id in test_ids "
            "(or a list of scores in the order of test_ids); graded by AUROC")


_TABLE = [
    ("predict_mortality", "In-hospital mortality from the first 24 ICU hours.", _make("predict_mortality")),
    ("predict_los_3d", "ICU length of stay over 3 days, from the first 24 ICU hours.", _make("predict_los_3d")),
    ("predict_los_7d", "ICU length of stay over 7 days, from the first 24 ICU hours.", _make("predict_los_7d")),
    ("predict_icu_readmission", "ICU readmission within 30 days, from the first 24 ICU hours.", _make("predict_icu_readmission")),
    ("predict_vasopressor", "Vasopressor infusion after the first 24 ICU hours.", _make("predict_vasopressor")),
    ("predict_abnormal_lab", "Whether the next result of a lab test is abnormal.", gen_predict_abnormal_lab),
]

CATEGORIES: dict[str, Category] = {
    name: Category(name=name, description=desc, grader=Grader(rule="auroc", threshold=THRESHOLDS[name]),
                   answer_format=_answer_format(), generate=fn)
    for name, desc, fn in _TABLE
}
