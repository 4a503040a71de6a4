"""A synthetic EHR database in the MIMIC-III v1.4 schema, generated deterministically from a seed.

>>> from kernelgym.datasets.ehr import build_ehr, ensure_ehr, EHR_TABLES
>>> manifest = build_ehr("/tmp/ehr", patients=100, seed=0)   # doctest: +SKIP

Tables (``<table>.parquet``, lower-case MIMIC names and columns): see :data:`EHR_TABLES`.
Patients have admissions driven by a primary condition (sepsis, pneumonia, CHF, AKI, DKA, GI
bleed, COPD, MI, stroke, cirrhosis, trauma, elective CABG / hip replacement, pancreatitis) plus
comorbidities; the condition drives labs, vitals, drugs, cultures, ICD-9 codes, length of stay and
mortality. Importing this package is cheap: numpy and pyarrow load only when a build runs.
"""

from __future__ import annotations

from .build import GENERATOR_VERSION, EhrManifest, build_ehr, ensure_ehr, load_manifest
from .schema import COLUMNS, EHR_TABLES, column_names

__all__ = [
    "COLUMNS", "EHR_TABLES", "GENERATOR_VERSION", "EhrManifest", "build_ehr", "column_names",
    "ensure_ehr", "load_manifest",
]
