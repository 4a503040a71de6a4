"""Administrative rows: ICD-9 diagnoses and procedures, transfers, ICU stays, the admission.

Diagnoses start with the primary condition (refined from culture results: E. coli bacteremia is
coded 038.42), then complications that actually happened (septic shock only with vasopressors,
acute respiratory failure only with mechanical ventilation, AKI only with the AKI trajectory),
codes taken from the measured labs, chronic conditions, and incidental codes. Procedures follow the
interventions (intubation, ventilation by duration, lines, dialysis, transfusion, endoscopy, ...).
"""

from __future__ import annotations

import math

from . import conditions
from .conditions import EXTRA_CODES
from .model import MIN_PER_DAY, NULL_TIME, Admission, Ctx, pick

_INSURANCE_OLD = (("Medicare", 0.85), ("Private", 0.12), ("Medicaid", 0.02), ("Government", 0.01))
_INSURANCE_YOUNG = (("Private", 0.55), ("Medicaid", 0.2), ("Medicare", 0.15), ("Government", 0.05),
                    ("Self Pay", 0.05))


def icd_codes(ctx: Ctx, a: Admission) -> None:
    """The admission's ICD-9 diagnoses and procedures, in sequence."""
    rng, p, cond = ctx.rng, ctx.p, a.cond
    codes: list[str] = []
    primary = a.primary
    if cond.key == "sepsis":
        primary = conditions.SEPTICEMIA_CODE.get(a.organisms.get("BLOOD CULTURE", ""), "0389")
    elif cond.key == "pneumonia" and "SPUTUM" in a.organisms:
        primary = conditions.PNEUMONIA_CODE.get(a.organisms["SPUTUM"], primary)
    a.primary = primary
    codes.append(primary)
    organ_failure = a.shock is not None or a.aki or a.vent is not None
    if cond.key == "sepsis":
        codes.append(EXTRA_CODES["severe_sepsis"] if organ_failure else EXTRA_CODES["sepsis"])
        if a.shock:
            codes.append(EXTRA_CODES["septic_shock"])
        if a.source in conditions.INFECTION_SOURCE_CODE:
            codes.append(conditions.INFECTION_SOURCE_CODE[a.source])
    elif a.shock:  # vasopressors were needed
        codes.append(EXTRA_CODES["shock"])
    if a.vent and cond.key not in ("cabg", "hip"):
        codes.append(EXTRA_CODES["resp_failure"])
    if a.aki and primary not in ("5849", "5845"):
        codes.append(EXTRA_CODES["aki"])
    for code, prob in cond.secondary:
        if code != primary and rng.random() < prob:
            codes.append(code)
    if cond.key == "trauma" and a.injury is not None:
        codes.append(a.injury[2])
    if cond.key == "cirrhosis" or ("cirrhosis" in p.comorbid and cond.key == "gi_bleed"):
        if a.aki and rng.random() < 0.5:
            codes.append(EXTRA_CODES["hepatorenal"])
        if primary != "5722" and rng.random() < 0.4:
            codes.append(EXTRA_CODES["encephalopathy"])
        if primary in ("5712", "5711") or rng.random() < 0.5:
            codes.append(EXTRA_CODES["alcohol"])
    if a.dies and rng.random() < 0.25:
        codes.append(EXTRA_CODES["cardiac_arrest"])
    for code, itemid, test, threshold in conditions.LAB_DIAGNOSES:
        values = a.lab_values.get(itemid)
        if values is None or not values.size:
            continue
        if (code == "2859" and "2851" in codes) or (code == "2869" and p.warfarin):
            continue
        hit = values.max() > threshold if test == "max>" else values.min() < threshold
        if hit and rng.random() < 0.85:
            codes.append(code)
    skip = {"dm": primary.startswith("250"), "copd": primary.startswith("491"),
            "chf": primary.startswith("428"), "cad": primary == "41401",
            "cirrhosis": primary in ("5712", "5715")}
    for key in sorted(p.comorbid):
        if rng.random() < 0.92:
            codes += p.codes[key][1:] if skip.get(key) else p.codes[key]
    traits = {"vent": a.vent is not None, "old": a.age > 80, "long": a.disch_h > 24 * 10,
              "chf": cond.key == "chf"}
    for code, base, extra in conditions.INCIDENTAL:
        prob = base + sum(v for k, v in extra.items() if traits[k])
        if rng.random() < prob:
            codes.append(code)
    if p.warfarin:
        codes.append(EXTRA_CODES["anticoagulant"])
    if "dm" in p.comorbid and rng.random() < 0.4:
        codes.append(EXTRA_CODES["insulin"])
    if a.dies and rng.random() < 0.5:
        codes.append(EXTRA_CODES["dnr"])
        if rng.random() < 0.5:
            codes.append(EXTRA_CODES["palliative"])
    for seq, code in enumerate(dict.fromkeys(codes), start=1):
        ctx.out.add("diagnoses_icd", (p.subject_id, a.adm, seq, code))

    procs: list[str] = []
    if cond.key == "cabg":
        procs += [str(rng.choice(["3612", "3613"]))]
    for code, prob in cond.procedures:
        if rng.random() < prob:
            procs.append(code)
    if cond.key == "trauma" and a.injury is not None:
        if a.injury[1] == "82021":
            procs.append("7935")
        elif a.injury[3]:
            procs.append("8703")
            if rng.random() < 0.25:
                procs.append("0131")
        elif a.injury[1] == "8600" or rng.random() < 0.3:
            procs.append("3404")
    if a.tpa:
        procs.append("9910")
    if a.vent:
        dur = a.vent[1] - a.vent[0]
        if cond.key not in ("cabg",):
            procs.append("9604")
        procs.append("9672" if dur >= 96 else "9671")
        if dur > 24 * 10 and rng.random() < 0.5:
            procs.append("311")
        if dur > 72 and rng.random() < 0.5:
            procs.append("966")
    if a.shock or (a.icu_stays and a.sev > 1.3 and rng.random() < 0.5):
        procs.append("3893")
    if a.shock or a.cond.key == "cabg" or (a.vent and rng.random() < 0.6):
        procs.append("3891")
    if a.shock and rng.random() < 0.3:
        procs.append("0017")
    if a.dialysis:
        procs += ["3995", "3895"]
    if a.transfusions:
        procs.append("9904")
    if "2875" in codes and rng.random() < 0.3:
        procs.append("9905")
    if a.dies and rng.random() < 0.2:
        procs.append("9960")
    if cond.key == "pneumonia" and rng.random() < 0.15:
        procs.append(str(rng.choice(["3322", "3491"])))
    for seq, code in enumerate(dict.fromkeys(procs), start=1):
        ctx.out.add("procedures_icd", (p.subject_id, a.adm, seq, code))


def transfers(ctx: Ctx, a: Admission) -> None:
    """Transfers (admit / transfer / discharge events) and the ICU stays they make up."""
    subj = ctx.p.subject_id
    prev_unit: str | None = None
    prev_ward: int | None = None
    for i, seg in enumerate(a.segments):
        start, end = a.minutes(seg.start), a.minutes(seg.end)
        ctx.out.add("transfers", (
            subj, a.adm, seg.stay, "metavision", "admit" if i == 0 else "transfer", prev_unit,
            seg.careunit, prev_ward, seg.wardid, start, end, round((end - start) / 60, 2),
        ))
        if seg.icu:
            ctx.out.add("icustays", (
                subj, a.adm, seg.stay, "metavision", seg.careunit, seg.careunit, seg.wardid,
                seg.wardid, start, end, round((end - start) / MIN_PER_DAY, 4),
            ))
        prev_unit, prev_ward = seg.careunit, seg.wardid
    ctx.out.add("transfers", (subj, a.adm, -1, "metavision", "discharge", prev_unit, None,
                               prev_ward, None, a.minutes(a.disch_h), NULL_TIME, math.nan))


def admission_row(ctx: Ctx, a: Admission) -> None:
    """The ``admissions`` row."""
    rng, p = ctx.rng, ctx.p
    cond = a.cond
    if cond.admission_type == "ELECTIVE":
        adm_type, location = "ELECTIVE", "PHYS REFERRAL/NORMAL DELI"
    else:
        adm_type = "URGENT" if rng.random() < 0.04 else "EMERGENCY"
        location = pick(rng, (("EMERGENCY ROOM ADMIT", 0.75), ("TRANSFER FROM HOSP/EXTRAM", 0.18),
                              ("CLINIC REFERRAL/PREMATURE", 0.05), ("TRANSFER FROM SKILLED NUR", 0.02)))
        if adm_type == "URGENT":
            location = "TRANSFER FROM HOSP/EXTRAM"
    ed_reg = ed_out = NULL_TIME
    if location == "EMERGENCY ROOM ADMIT":
        ed_reg = a.t0 - int(rng.uniform(90, 480))
        ed_out = a.t0 + int(rng.uniform(10, 120))
    disch = a.minutes(a.disch_h)
    if a.dies:
        disch_loc = "DEAD/EXPIRED"
    else:
        frail = a.age > 75 or a.sev > 1.4
        disch_loc = pick(rng, (("HOME", 0.1 if frail else 0.35), ("HOME HEALTH CARE", 0.25),
                               ("SNF", 0.35 if frail else 0.12), ("REHAB/DISTINCT PART HOSP", 0.15),
                               ("LONG TERM CARE HOSPITAL", 0.05), ("HOSPICE-HOME", 0.02),
                               ("HOME WITH HOME IV PROVIDR", 0.02), ("LEFT AGAINST MEDICAL ADVI", 0.01)))
    insurance = pick(rng, _INSURANCE_OLD if a.age >= 65 else _INSURANCE_YOUNG)
    ctx.out.add("admissions", (
        p.subject_id, a.adm, a.t0, disch, disch if a.dies else NULL_TIME, adm_type, location,
        disch_loc, insurance, p.language, p.religion, p.marital, p.ethnicity, ed_reg, ed_out,
        a.diagnosis_text, int(a.dies), int(bool(a.icu_stays)),
    ))
