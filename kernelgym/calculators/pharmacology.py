"""Drug equivalence: corticosteroid dose conversion and morphine milligram equivalents."""

from __future__ import annotations


def steroid_conversion(dose_mg: float, from_steroid: str, to_steroid: str) -> float:
    """Equivalent dose (mg) of another corticosteroid, by anti-inflammatory (glucocorticoid) potency.

    Equivalent doses (mg): betamethasone IV 0.75; cortisone PO 25; dexamethasone IV/PO 0.75;
    hydrocortisone IV/PO 20; methylprednisolone IV/PO 4; prednisolone PO 5; prednisone PO 5;
    triamcinolone IV 4. Result = dose x equivalent(target) / equivalent(source).
    Source: Meikle AW, Tyler FH. Potency and duration of action of glucocorticoids. Am J Med
    1977;63:200-207; Liu D et al. Allergy Asthma Clin Immunol 2013;9:30; MDCalc "Steroid Conversion
    Calculator".
    """
    equivalent = {
        "betamethasone iv": 0.75, "cortisone po": 25.0, "dexamethasone iv": 0.75, "dexamethasone po": 0.75,
        "hydrocortisone iv": 20.0, "hydrocortisone po": 20.0, "methylprednisolone iv": 4.0,
        "methylprednisolone po": 4.0, "prednisolone po": 5.0, "prednisone po": 5.0, "triamcinolone iv": 4.0,
    }
    return dose_mg * equivalent[to_steroid.lower()] / equivalent[from_steroid.lower()]


def morphine_mme(doses: dict[str, tuple[float, float]]) -> float:
    """Total daily morphine milligram equivalents: sum of dose x doses per day x conversion factor.

    ``doses`` maps an opioid to (dose per administration, administrations per day). Doses in mg,
    except fentanyl buccal (µg) and fentanyl patch (µg/h). Factors (CDC 2022): codeine 0.15,
    fentanyl buccal/sublingual 0.13 per µg, fentanyl transdermal 2.4 per µg/h, hydrocodone 1,
    hydromorphone 5, methadone 4.7, morphine 1, oxycodone 1.5, oxymorphone 3, tapentadol 0.4,
    tramadol 0.2.
    Source: Dowell D et al. CDC Clinical Practice Guideline for Prescribing Opioids for Pain - United
    States, 2022. MMWR Recomm Rep 2022;71(No. RR-3):1-95 (Table: MME conversion factors);
    MDCalc "Morphine Milligram Equivalents (MME) Calculator".
    """
    factor = {
        "codeine": 0.15, "fentanyl buccal": 0.13, "fentanyl patch": 2.4, "hydrocodone": 1.0,
        "hydromorphone": 5.0, "methadone": 4.7, "morphine": 1.0, "oxycodone": 1.5, "oxymorphone": 3.0,
        "tapentadol": 0.4, "tramadol": 0.2,
    }
    return sum(dose * per_day * factor[drug.lower()] for drug, (dose, per_day) in doses.items())
