"""Data sets for tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from helpers.paths import SHARED_DATA
from helpers.shared import SESSION_ENV, made_once, session_dir

DEMO = SHARED_DATA / "mimic-iii-demo"
"""The MIMIC-III demo (PhysioNet, open access) in ``../shared/data``; tests that need it skip without it."""


def ensure_ehr_data() -> Path:
    """The test session's EHR data set (conftest's builder; a tiny stand-in while it is unavailable)."""
    from kernelgym.kernel.paths import dataset_dir

    root = dataset_dir("ehr")
    if (root / "manifest.json").is_file():
        return root
    try:
        from kernelgym.datasets.ehr import build_ehr
    except ImportError:
        import pandas as pd

        root.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"subject_id": range(120), "gender": ["M", "F"] * 60}).to_parquet(root / "patients.parquet")
        pd.DataFrame({"subject_id": range(120), "hadm_id": range(1000, 1120)}).to_parquet(root / "admissions.parquet")
        (root / "manifest.json").write_text(json.dumps({"fingerprint": "stand-in"}))
        return root
    build_ehr(patients=120, seed=0)
    return root


def demo_in_session_home() -> Path:
    """The MIMIC-III demo imported as the test session's ``mimic3`` data set (once per session, by
    whichever test needs it first; the xdist workers copy one import)."""
    from kernelgym.importers.mimic3 import import_mimic3, load_manifest
    from kernelgym.kernel.paths import dataset_dir

    out = dataset_dir("mimic3")
    try:
        if load_manifest(out).source == str(DEMO.resolve()):
            return out
    except OSError:
        pass
    if SESSION_ENV not in os.environ:
        import_mimic3(DEMO, out)
        return out
    with made_once("mimic3-demo") as folder:  # imported once; the xdist workers copy it
        if folder is not None:
            import_mimic3(DEMO, folder / "mimic3")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(session_dir() / "mimic3-demo" / "mimic3", out)
    return out
