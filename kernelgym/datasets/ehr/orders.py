"""Orders and results outside the ICU flowsheet: ``prescriptions`` and ``microbiologyevents``.

Prescriptions follow the condition (antibiotics for infections, insulin for DKA, furosemide for
heart failure, ...), the patient's chronic medications, what happened (vasopressors, sedation,
transfusions) and what the labs showed (potassium or magnesium repletion on the day a low value
was measured). Leaving the ICU rewrites the active orders, as in MIMIC. Cultures are drawn for
infections (organisms by source, antibiotic sensitivities by organism) and for screening or fever
work-ups, which are mostly negative (``org_name`` null).
"""

from __future__ import annotations

import numpy as np

from . import catalog, conditions
from .drugs import DRUGS
from .model import MIN_PER_DAY, NULL_TIME, Admission, Ctx, midnight, pick

# As-needed and routine orders most inpatients get (drug key, probability).
_PRN_DRUGS = (
    ("docusate", 0.5), ("senna", 0.35), ("acetaminophen", 0.45), ("ondansetron", 0.3),
    ("bisacodyl", 0.3), ("oxycodone", 0.15), ("morphine", 0.1), ("ns_flush", 0.3),
)


def _num(value: float) -> str:
    return f"{value:g}"


def choose_antibiotics(rng: np.random.Generator, a: Admission) -> list[str]:
    """Empiric antibiotics (drug keys) for the admission's infection, if any."""
    key = a.cond.key
    if key == "sepsis":
        abx = ["vancomycin", str(rng.choice(["piptazo", "cefepime", "meropenem"]))]
        if abx[1] == "cefepime" and rng.random() < 0.3:
            abx.append("metronidazole")
        return abx
    if key == "pneumonia":
        if rng.random() < 0.15:
            return ["levofloxacin"]
        return ["ceftriaxone", "azithromycin"] if rng.random() < 0.55 else ["vancomycin", "cefepime"]
    if key == "copd":
        return [str(rng.choice(["azithromycin", "levofloxacin"], p=[0.7, 0.3]))] if rng.random() < 0.8 else []
    if key == "cirrhosis" and rng.random() < 0.3:
        return ["ceftriaxone"]
    if a.vent and rng.random() < 0.35:
        return ["vancomycin", "cefepime"]
    return []


def prescriptions(ctx: Ctx, a: Admission) -> None:
    """The admission's medication orders (one row per order; dates at midnight, as in MIMIC)."""
    rng, p, cond = ctx.rng, ctx.p, a.cond
    day0 = midnight(a.t0)
    last_day = (a.minutes(a.disch_h) - day0) // MIN_PER_DAY
    icu_days = [((a.minutes(s.start) - day0) // MIN_PER_DAY, (a.minutes(s.end) - day0) // MIN_PER_DAY, s.stay)
                for s in a.icu_stays]
    orders: list[tuple[str, int, int]] = []  # drug key, start day, end day

    def rx(key: str, start: int = 0, days: int | None = None) -> None:
        start = int(min(max(start, 0), last_day))
        end = last_day if days is None else min(start + days, last_day)
        orders.append((key, start, max(end, start)))

    for drug in a.abx:
        rx(drug, 0, int(rng.integers(5, 11)))
    for key in cond.drugs:
        if key in ("vancomycin",):
            continue
        if key == "heparin_sc" and (cond.key == "gi_bleed" or (a.injury and a.injury[3])):
            continue
        if key in ("methylpred",):
            rx(key, 0, 3)
        elif key == "prednisone":
            rx(key, 3, 5)
        elif key in ("ns_bolus", "lr", "insulin_drip", "d5w", "kcl_iv", "bicarb", "calcium_gluc", "tpa"):
            rx(key, 0, 1)
        else:
            rx(key, 0 if rng.random() < 0.8 else 1)
    for key, prob in cond.optional_drugs:
        if rng.random() < prob:
            rx(key, int(rng.integers(0, 2)))
    if cond.key == "stroke":
        if a.primary in ("430", "431"):
            rx("levetiracetam")
        else:
            rx("aspirin325", 1 if a.tpa else 0)
            rx("heparin_sc", 1)
            if a.tpa:
                rx("tpa", 0, 0)
    if a.injury is not None and a.injury[3]:
        rx("levetiracetam")
    elif cond.key == "trauma":
        rx("heparin_sc", 1)
    for key in sorted(p.comorbid):
        for drug in conditions.COMORBIDITY_BY_KEY[key].drugs:
            if rng.random() < 0.85:
                rx(drug, int(rng.integers(0, 2)))
    if p.warfarin and cond.key not in ("gi_bleed",):
        rx("warfarin", 1)
    if a.shock:
        start = int((a.minutes(a.shock[0]) - day0) // MIN_PER_DAY)
        dur = int((a.shock[1] - a.shock[0]) // 24) + 1
        rx("norepinephrine", start, dur)
        rx("d5w", start, dur)
        if a.sev > 1.3 and rng.random() < 0.4:
            rx("phenylephrine", start, dur)
    if a.vent:
        start = int((a.minutes(a.vent[0]) - day0) // MIN_PER_DAY)
        dur = int((a.vent[1] - a.vent[0]) // 24) + 1
        rx("propofol", start, dur)
        rx("fentanyl", start, dur)
    if a.transfusions and cond.key != "gi_bleed" and rng.random() < 0.3:
        rx("ondansetron", 0, 2)
    for d in sorted(a.low_k_days):
        rx("kcl_po" if rng.random() < 0.6 else "kcl_iv", d, 0)
    for d in sorted(a.low_mg_days):
        rx("mag_iv", d, 0)
    glucose = a.lab_values.get(50931)
    if glucose is not None and "dm" not in p.comorbid and glucose.size and glucose.max() > 200:
        rx("insulin_ss", 0)
    if a.icu_stays and rng.random() < 0.8:
        rx("ns_flush", 0)
    for key, prob in _PRN_DRUGS:
        if rng.random() < prob:
            rx(key, int(rng.integers(0, 3)))
    if "tobacco" in p.comorbid and rng.random() < 0.5:
        rx("nicotine", 0)

    # Leaving the ICU rewrites the active orders (as the floor team re-orders them).
    transfer_days = sorted({d1 for _, d1, _ in icu_days if d1 < last_day})
    split: list[tuple[str, int, int]] = []
    for key, start, end in orders:
        for d in transfer_days:
            if start < d < end and rng.random() < 0.85:
                split.append((key, start, d))
                start = d
        split.append((key, start, end))

    seen: set[tuple[str, int]] = set()
    for key, start, end in split:
        if (key, start) in seen:
            continue
        seen.add((key, start))
        drug = DRUGS[key]
        stay = -1
        for d0, d1, s in icu_days:
            if d0 <= start <= d1:
                stay = s
                break
        ctx.out.add("prescriptions", (
            p.subject_id, a.adm, stay, day0 + start * MIN_PER_DAY, day0 + end * MIN_PER_DAY,
            drug.drug_type, drug.drug, drug.drug_name_poe, drug.generic,
            drug.formulary_drug_cd, drug.gsn, drug.ndc, drug.prod_strength, drug.dose_val_rx,
            drug.dose_unit_rx, drug.form_val_disp, drug.form_unit_disp, drug.route,
        ))


def microbiology(ctx: Ctx, a: Admission) -> None:
    """Cultures: one row per negative specimen, per organism, or per organism x antibiotic tested."""
    rng, p = ctx.rng, ctx.p
    subj = p.subject_id
    specimens: list[tuple[str, float, str | None]] = []  # type, hour, organism

    def organism(source: str) -> str:
        if source == "urine":
            return pick(rng, (("ESCHERICHIA COLI", 0.5), ("KLEBSIELLA PNEUMONIAE", 0.15),
                              ("PROTEUS MIRABILIS", 0.1), ("ENTEROCOCCUS SP.", 0.1),
                              ("PSEUDOMONAS AERUGINOSA", 0.08), ("YEAST", 0.07)))
        if source == "lung":
            return pick(rng, (("STAPH AUREUS COAG +", 0.3), ("PSEUDOMONAS AERUGINOSA", 0.2),
                              ("STREPTOCOCCUS PNEUMONIAE", 0.2), ("KLEBSIELLA PNEUMONIAE", 0.15),
                              ("ESCHERICHIA COLI", 0.1), ("KLEBSIELLA OXYTOCA", 0.05)))
        if source == "skin":
            return pick(rng, (("STAPH AUREUS COAG +", 0.8), ("STREPTOCOCCUS PNEUMONIAE", 0.2)))
        return pick(rng, (("ESCHERICHIA COLI", 0.4), ("STAPH AUREUS COAG +", 0.3),
                          ("KLEBSIELLA PNEUMONIAE", 0.2), ("ENTEROCOCCUS SP.", 0.1)))

    h = float(rng.uniform(0.1, 2.5))
    infected = a.source is not None
    if infected:
        bug = organism(a.source or "unknown")
        blood_pos = a.cond.key == "sepsis" and rng.random() < 0.35 and bug not in ("YEAST",)
        specimens += [("BLOOD CULTURE", h, bug if blood_pos else None)] * 2
        if a.source == "urine" or rng.random() < 0.6:
            pos = a.source == "urine" and rng.random() < 0.8
            specimens.append(("URINE", h + 0.2, bug if pos else None))
        if a.source == "lung":
            pos = rng.random() < 0.5
            specimens.append(("SPUTUM", h + float(rng.uniform(1, 12)), bug if pos else None))
            if a.vent and rng.random() < 0.2:
                specimens.append(("BRONCHOALVEOLAR LAVAGE", a.vent[0] + float(rng.uniform(2, 24)), bug if pos else None))
        if blood_pos:
            a.organisms["BLOOD CULTURE"] = bug
        if a.source == "lung" and specimens[-1][2]:
            a.organisms["SPUTUM"] = bug
    elif rng.random() < 0.35:
        specimens += [("BLOOD CULTURE", h, "STAPHYLOCOCCUS, COAGULASE NEGATIVE" if rng.random() < 0.03 else None)] * 2
        if rng.random() < 0.6:
            specimens.append(("URINE", h + 0.3, "ESCHERICHIA COLI" if rng.random() < 0.08 else None))
    for seg in a.icu_stays:
        if rng.random() < 0.6:
            specimens.append(("MRSA SCREEN", seg.start + float(rng.uniform(0.2, 6)),
                              "POSITIVE FOR METHICILLIN RESISTANT STAPH AUREUS" if rng.random() < 0.08 else None))
        if rng.random() < 0.25 and seg.end - seg.start > 24:
            t = float(rng.uniform(seg.start + 24, seg.end))
            specimens += [("BLOOD CULTURE", t, None)] * 2
            if rng.random() < 0.5:
                specimens.append(("URINE", t + 0.2, "YEAST" if rng.random() < 0.1 else None))
    if a.abx and rng.random() < 0.12 and a.disch_h > 72:
        specimens.append(("STOOL", float(rng.uniform(48, a.disch_h)),
                          "CLOSTRIDIUM DIFFICILE" if rng.random() < 0.15 else None))

    specimens.sort(key=lambda s: s[1])
    mrsa = rng.random() < 0.45  # S. aureus isolates of this admission are MRSA
    for spec, hour, org in specimens:
        if hour >= a.disch_h:
            continue
        t = a.minutes(hour)
        chartdate = midnight(t)
        charttime = NULL_TIME if rng.random() < 0.03 else t
        spec_id = catalog.SPECIMENS[spec]
        if org is None:
            ctx.out.add("microbiologyevents", (subj, a.adm, chartdate, charttime, spec_id, spec,
                                                None, None, None, None, None, None, None, None, None))
            continue
        org_id = catalog.ORGANISMS[org]
        panel = catalog.SUSCEPTIBILITY.get(org)
        if not panel:
            ctx.out.add("microbiologyevents", (subj, a.adm, chartdate, charttime, spec_id, spec,
                                                org_id, org, 1, None, None, None, None, None, None))
            continue
        for ab in sorted(panel, key=lambda n: catalog.ANTIBIOTICS[n]):
            p_r = panel[ab]
            if ab == "OXACILLIN" and org == "STAPH AUREUS COAG +":
                p_r = 1.0 if mrsa else 0.0
            r = rng.random()
            s_val, i_val, r_val = catalog.MIC[ab]
            if r < p_r:
                interp, comp, val = "R", "=>", r_val
            elif r < p_r + 0.03:
                interp, comp, val = "I", "=", i_val
            else:
                interp, comp, val = "S", ("<=" if rng.random() < 0.7 else "="), s_val
            text = f"{comp if comp != '=' else ''}{_num(val)}"
            ctx.out.add("microbiologyevents", (subj, a.adm, chartdate, charttime, spec_id, spec,
                                                org_id, org, 1, catalog.ANTIBIOTICS[ab], ab,
                                                text, comp, float(val), interp))
    a.organisms = {k: ("MRSA" if v == "STAPH AUREUS COAG +" and mrsa else v)
                   for k, v in a.organisms.items()}
