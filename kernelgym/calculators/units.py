"""Unit conversions used by the calculators (host side; pure Python, no imports beyond the stdlib).

Every calculator takes its inputs in one canonical unit (named in its parameter, e.g.
``creatinine_mg_dl``); these helpers convert what a note or a data set gives into that unit.

Molar masses (g/mol) are the usual reference values: creatinine 113.12, bilirubin (unconjugated)
584.66, glucose 180.16, calcium 40.08, cholesterol 386.65, triglycerides (as triolein) 885.7.
Urea nitrogen: 1 mmol/L of urea carries 28.0 mg of nitrogen per litre, so BUN in mg/dL is
urea in mmol/L times 2.8.
"""

from __future__ import annotations

import math

MOLAR_MASS = {
    "creatinine": 113.12,
    "bilirubin": 584.66,
    "glucose": 180.16,
    "calcium": 40.08,
    "cholesterol": 386.65,
    "triglycerides": 885.7,
    "sodium": 22.99,
    "urea_nitrogen": 28.0,
}

_LB_KG = 0.45359237
_IN_CM = 2.54


class UnitError(ValueError):
    """A unit the converter does not know for this quantity."""


def _norm(unit: str) -> str:
    return unit.strip().replace("μ", "µ").replace(" ", "").lower()


def mg_dl(analyte: str, value: float, unit: str) -> float:
    """A concentration in mg/dL, from mg/dL, mg/L, g/L, g/dL, µmol/L, mmol/L or mol/L."""
    u = _norm(unit)
    if u in ("mg/dl", "mg%"):
        return value
    if u == "mg/l":
        return value / 10.0
    if u == "g/l":
        return value * 100.0
    if u == "g/dl":
        return value * 1000.0
    mass = MOLAR_MASS[analyte]
    if u in ("µmol/l", "umol/l"):
        return value * mass / 10_000.0
    if u in ("mmol/l", "mm"):
        return value * mass / 10.0
    if u == "mol/l":
        return value * mass * 100.0
    raise UnitError(f"unknown unit {unit!r} for {analyte}")


def creatinine_mg_dl(value: float, unit: str) -> float:
    """Creatinine in mg/dL (1 mg/dL = 88.4 µmol/L)."""
    return mg_dl("creatinine", value, unit)


def bilirubin_mg_dl(value: float, unit: str) -> float:
    """Bilirubin in mg/dL (1 mg/dL = 17.1 µmol/L)."""
    return mg_dl("bilirubin", value, unit)


def glucose_mg_dl(value: float, unit: str) -> float:
    """Glucose in mg/dL (1 mmol/L = 18.0 mg/dL)."""
    return mg_dl("glucose", value, unit)


def calcium_mg_dl(value: float, unit: str) -> float:
    """Total calcium in mg/dL (1 mmol/L = 4.008 mg/dL)."""
    return mg_dl("calcium", value, unit)


def cholesterol_mg_dl(value: float, unit: str) -> float:
    """Total, HDL or LDL cholesterol in mg/dL (1 mmol/L = 38.67 mg/dL)."""
    return mg_dl("cholesterol", value, unit)


def triglycerides_mg_dl(value: float, unit: str) -> float:
    """Triglycerides in mg/dL (1 mmol/L = 88.57 mg/dL)."""
    return mg_dl("triglycerides", value, unit)


def bun_mg_dl(value: float, unit: str) -> float:
    """Blood urea nitrogen in mg/dL; mmol/L is read as urea (1 mmol/L urea = 2.8 mg/dL BUN)."""
    u = _norm(unit)
    if u in ("mmol/l", "mm"):
        return value * MOLAR_MASS["urea_nitrogen"] / 10.0
    return mg_dl("urea_nitrogen", value, unit)


def albumin_g_dl(value: float, unit: str) -> float:
    """Albumin in g/dL."""
    u = _norm(unit)
    if u == "g/dl":
        return value
    if u == "g/l":
        return value / 10.0
    if u == "mg/dl":
        return value / 1000.0
    raise UnitError(f"unknown unit {unit!r} for albumin")


def hemoglobin_g_dl(value: float, unit: str) -> float:
    """Hemoglobin in g/dL."""
    u = _norm(unit)
    if u == "g/dl":
        return value
    if u == "g/l":
        return value / 10.0
    if u == "mmol/l":  # haemoglobin monomer, 16.1 g/mmol
        return value * 1.611
    raise UnitError(f"unknown unit {unit!r} for hemoglobin")


def electrolyte_mmol_l(value: float, unit: str, *, molar_mass: float | None = None, valence: int = 1) -> float:
    """A monovalent electrolyte (Na, K, Cl, HCO3) in mmol/L = mEq/L.

    mg/dL is accepted when ``molar_mass`` is given (converted literally: mg/dL * 10 / mass).
    """
    u = _norm(unit)
    if u in ("mmol/l", "meq/l", "mm"):
        return value if u != "meq/l" else value / valence
    if u == "mg/dl" and molar_mass:
        return value * 10.0 / molar_mass
    raise UnitError(f"unknown unit {unit!r} for an electrolyte")


def sodium_mmol_l(value: float, unit: str) -> float:
    """Sodium in mmol/L (= mEq/L)."""
    return electrolyte_mmol_l(value, unit, molar_mass=MOLAR_MASS["sodium"])


def celsius(value: float, unit: str) -> float:
    """A temperature in degrees Celsius (Fahrenheit and Kelvin accepted; misspellings tolerated)."""
    u = _norm(unit).replace("degrees", "").replace("degree", "").replace("°", "")
    if u.startswith("f"):
        return (value - 32.0) * 5.0 / 9.0
    if u.startswith("c"):
        return value
    if u.startswith("k"):
        return value - 273.15
    raise UnitError(f"unknown temperature unit {unit!r}")


def kilograms(value: float, unit: str) -> float:
    """A body weight in kg (from kg, g, lb/lbs)."""
    u = _norm(unit)
    if u in ("kg", "kgs"):
        return value
    if u in ("g", "grams"):
        return value / 1000.0
    if u in ("lb", "lbs", "pounds"):
        return value * _LB_KG
    if u == "oz":
        return value * _LB_KG / 16.0
    raise UnitError(f"unknown weight unit {unit!r}")


def centimetres(value: float, unit: str) -> float:
    """A height in cm (from cm, m, mm, in, ft)."""
    u = _norm(unit)
    if u == "cm":
        return value
    if u == "m":
        return value * 100.0
    if u == "mm":
        return value / 10.0
    if u in ("in", "inch", "inches"):
        return value * _IN_CM
    if u in ("ft", "feet"):
        return value * 12.0 * _IN_CM
    raise UnitError(f"unknown height unit {unit!r}")


def years(value: float, unit: str) -> float:
    """An age in years (from years, months, weeks, days)."""
    u = _norm(unit)
    if u.startswith("year"):
        return value
    if u.startswith("month"):
        return value / 12.0
    if u.startswith("week"):
        return value * 7.0 / 365.25
    if u.startswith("day"):
        return value / 365.25
    raise UnitError(f"unknown age unit {unit!r}")


def per_ul(value: float, unit: str) -> float:
    """A cell count per µL (= per mm³) from count/µL, count/mm³ or count/L.

    ``m^3`` is read as mm³: MedCalc-Bench writes "count/m^3" for counts per cubic millimetre.
    """
    u = _norm(unit)
    if u in ("µl", "/µl", "ul", "mm^3", "mm3", "/mm3", "m^3"):
        return value
    if u in ("l", "/l"):
        return value / 1e6
    if u in ("10^9/l", "x10^9/l", "10^3/µl", "k/µl"):
        return value * 1000.0
    raise UnitError(f"unknown count unit {unit!r}")


def ln(x: float) -> float:
    return math.log(x)
