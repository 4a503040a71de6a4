"""The MIMIC-III v1.4 tables the synthetic EHR data set provides: column names, order and types.

Column lists follow the MIMIC-III v1.4 PostgreSQL DDL (lower-case names, ``row_id`` first). Types
are mapped to one of five kinds:

``int``    integer, never null (Parquet int64; pandas ``int64``)
``Int``    integer that MIMIC allows to be null (Parquet int64; pandas ``Int64``)
``float``  double precision (pandas ``float64``; null is NaN)
``str``    text (pandas ``str``)
``time``   timestamp without time zone (Parquet ``timestamp[us]``; pandas ``datetime64[us]``)
"""

from __future__ import annotations

from typing import Final

Kind = str  # one of "int", "Int", "float", "str", "time"

COLUMNS: Final[dict[str, tuple[tuple[str, Kind], ...]]] = {
    "patients": (
        ("row_id", "int"), ("subject_id", "int"), ("gender", "str"), ("dob", "time"),
        ("dod", "time"), ("dod_hosp", "time"), ("dod_ssn", "time"), ("expire_flag", "int"),
    ),
    "admissions": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("admittime", "time"),
        ("dischtime", "time"), ("deathtime", "time"), ("admission_type", "str"),
        ("admission_location", "str"), ("discharge_location", "str"), ("insurance", "str"),
        ("language", "str"), ("religion", "str"), ("marital_status", "str"), ("ethnicity", "str"),
        ("edregtime", "time"), ("edouttime", "time"), ("diagnosis", "str"),
        ("hospital_expire_flag", "int"), ("has_chartevents_data", "int"),
    ),
    "icustays": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("icustay_id", "int"),
        ("dbsource", "str"), ("first_careunit", "str"), ("last_careunit", "str"),
        ("first_wardid", "int"), ("last_wardid", "int"), ("intime", "time"), ("outtime", "time"),
        ("los", "float"),
    ),
    "transfers": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("icustay_id", "Int"),
        ("dbsource", "str"), ("eventtype", "str"), ("prev_careunit", "str"),
        ("curr_careunit", "str"), ("prev_wardid", "Int"), ("curr_wardid", "Int"),
        ("intime", "time"), ("outtime", "time"), ("los", "float"),
    ),
    "diagnoses_icd": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("seq_num", "Int"),
        ("icd9_code", "str"),
    ),
    "procedures_icd": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("seq_num", "int"),
        ("icd9_code", "str"),
    ),
    "d_icd_diagnoses": (
        ("row_id", "int"), ("icd9_code", "str"), ("short_title", "str"), ("long_title", "str"),
    ),
    "d_icd_procedures": (
        ("row_id", "int"), ("icd9_code", "str"), ("short_title", "str"), ("long_title", "str"),
    ),
    "labevents": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "Int"), ("itemid", "int"),
        ("charttime", "time"), ("value", "str"), ("valuenum", "float"), ("valueuom", "str"),
        ("flag", "str"),
    ),
    "d_labitems": (
        ("row_id", "int"), ("itemid", "int"), ("label", "str"), ("fluid", "str"),
        ("category", "str"), ("loinc_code", "str"),
    ),
    "chartevents": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "Int"), ("icustay_id", "Int"),
        ("itemid", "Int"), ("charttime", "time"), ("storetime", "time"), ("cgid", "Int"),
        ("value", "str"), ("valuenum", "float"), ("valueuom", "str"), ("warning", "Int"),
        ("error", "Int"), ("resultstatus", "str"), ("stopped", "str"),
    ),
    "d_items": (
        ("row_id", "int"), ("itemid", "int"), ("label", "str"), ("abbreviation", "str"),
        ("dbsource", "str"), ("linksto", "str"), ("category", "str"), ("unitname", "str"),
        ("param_type", "str"), ("conceptid", "Int"),
    ),
    "prescriptions": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "int"), ("icustay_id", "Int"),
        ("startdate", "time"), ("enddate", "time"), ("drug_type", "str"), ("drug", "str"),
        ("drug_name_poe", "str"), ("drug_name_generic", "str"), ("formulary_drug_cd", "str"),
        ("gsn", "str"), ("ndc", "str"), ("prod_strength", "str"), ("dose_val_rx", "str"),
        ("dose_unit_rx", "str"), ("form_val_disp", "str"), ("form_unit_disp", "str"),
        ("route", "str"),
    ),
    "inputevents_mv": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "Int"), ("icustay_id", "Int"),
        ("starttime", "time"), ("endtime", "time"), ("itemid", "Int"), ("amount", "float"),
        ("amountuom", "str"), ("rate", "float"), ("rateuom", "str"), ("storetime", "time"),
        ("cgid", "Int"), ("orderid", "Int"), ("linkorderid", "Int"), ("ordercategoryname", "str"),
        ("secondaryordercategoryname", "str"), ("ordercomponenttypedescription", "str"),
        ("ordercategorydescription", "str"), ("patientweight", "float"), ("totalamount", "float"),
        ("totalamountuom", "str"), ("isopenbag", "Int"), ("continueinnextdept", "Int"),
        ("cancelreason", "Int"), ("statusdescription", "str"), ("comments_editedby", "str"),
        ("comments_canceledby", "str"), ("comments_date", "time"), ("originalamount", "float"),
        ("originalrate", "float"),
    ),
    "outputevents": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "Int"), ("icustay_id", "Int"),
        ("charttime", "time"), ("itemid", "Int"), ("value", "float"), ("valueuom", "str"),
        ("storetime", "time"), ("cgid", "Int"), ("stopped", "str"), ("newbottle", "str"),
        ("iserror", "Int"),
    ),
    "microbiologyevents": (
        ("row_id", "int"), ("subject_id", "int"), ("hadm_id", "Int"), ("chartdate", "time"),
        ("charttime", "time"), ("spec_itemid", "Int"), ("spec_type_desc", "str"),
        ("org_itemid", "Int"), ("org_name", "str"), ("isolate_num", "Int"), ("ab_itemid", "Int"),
        ("ab_name", "str"), ("dilution_text", "str"), ("dilution_comparison", "str"),
        ("dilution_value", "float"), ("interpretation", "str"),
    ),
}

EHR_TABLES: Final[tuple[str, ...]] = tuple(COLUMNS)

PANDAS_DTYPES: Final[dict[Kind, str]] = {
    "int": "int64", "Int": "Int64", "float": "float64", "str": "str", "time": "datetime64[us]",
}


def column_names(table: str) -> list[str]:
    """The MIMIC-III column names of ``table``, in MIMIC's order."""
    return [name for name, _ in COLUMNS[table]]
