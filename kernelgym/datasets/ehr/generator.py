"""Patient simulation: turns a seed and a patient index into rows of every MIMIC-III table.

Each patient has its own ``numpy.random.Generator`` (PCG64 seeded from ``SeedSequence(seed,
spawn_key=(index,))``), so a patient's data depend only on the seed and the patient's index: not
on how many patients are built, nor on how the work is split into chunks or processes.

An admission is simulated in this order: primary condition and severity; complications (shock,
mechanical ventilation, AKI, transfusions, dialysis, death); the timeline of floors and ICU stays;
the latent physiology (:mod:`.physiology`); then what is observed from it: labs (:mod:`.labs`),
vitals, urine output and infusions (:mod:`.icu`), prescriptions and cultures (:mod:`.orders`),
and last the ICD-9 codes and administrative rows (:mod:`.coding`), some of which are taken from
what was measured (hyperkalemia only when a potassium above 5.5 was reported, ...).
"""

from __future__ import annotations

import math

import numpy as np

from . import conditions, planted
from .coding import admission_row, icd_codes, transfers
from .conditions import COMORBIDITIES, CONDITIONS, Condition
from .icu import icu_stay
from .labs import order_labs
from .model import (
    MIN_PER_DAY,
    MIN_PER_YEAR,
    NULL_TIME,
    Admission,
    ChunkRows,
    Ctx,
    Patient,
    Segment,
    icu_end_at,
    icu_start_at,
    logit,
    midnight,
    pick,
    sigmoid,
)
from .orders import choose_antibiotics, microbiology, prescriptions
from .physiology import VAR_INDEX, Effects, Trajectory, population_baseline

_EPOCH_2100 = int(np.datetime64("2100-01-01T00:00", "m").astype(np.int64))
_SPAN_MINUTES = int(np.datetime64("2196-01-01T00:00", "m").astype(np.int64)) - _EPOCH_2100
_ICU_LOS_SCALE = 1.3  # ICU length of stay is drawn around condition.icu_los x this factor

_CAREUNIT_WARDS = {
    "MICU": (23, 50, 52), "SICU": (33, 57), "CCU": (7, 57), "CSRU": (14, 15), "TSICU": (14, 33),
}
_FLOOR_WARDS = (1, 2, 3, 4, 6, 12, 17, 25, 27, 29, 31, 34, 36, 40, 45, 53, 55)

_ETHNICITY = (
    ("WHITE", 0.70), ("BLACK/AFRICAN AMERICAN", 0.09), ("HISPANIC OR LATINO", 0.035),
    ("HISPANIC/LATINO - PUERTO RICAN", 0.01), ("ASIAN", 0.025), ("ASIAN - CHINESE", 0.01),
    ("UNKNOWN/NOT SPECIFIED", 0.075), ("OTHER", 0.025), ("UNABLE TO OBTAIN", 0.015),
    ("PATIENT DECLINED TO ANSWER", 0.01), ("WHITE - RUSSIAN", 0.005),
)
_LANGUAGE = (("ENGL", 0.6), (None, 0.3), ("SPAN", 0.05), ("RUSS", 0.02), ("PTUN", 0.01),
             ("CANT", 0.01), ("HAIT", 0.005), ("MAND", 0.005))
_RELIGION = (("CATHOLIC", 0.35), ("NOT SPECIFIED", 0.2), ("UNOBTAINABLE", 0.12),
             ("PROTESTANT QUAKER", 0.12), ("JEWISH", 0.08), ("OTHER", 0.04),
             ("EPISCOPALIAN", 0.015), ("CHRISTIAN SCIENTIST", 0.01), ("GREEK ORTHODOX", 0.01),
             ("BUDDHIST", 0.005), ("MUSLIM", 0.005), (None, 0.045))
_MARITAL = (("MARRIED", 0.45), ("SINGLE", 0.25), ("WIDOWED", 0.13), ("DIVORCED", 0.06),
            ("SEPARATED", 0.01), (None, 0.08), ("UNKNOWN (DEFAULT)", 0.02))


def patient_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of patient ``index`` (an independent stream for every patient)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def subject_id_for(index: int, rng: np.random.Generator) -> int:
    """Increasing subject ids with gaps, like MIMIC's: ``10000 + 3 * index + (0, 1 or 2)``."""
    return 10000 + 3 * index + int(rng.integers(0, 3))


class PatientSimulator:
    """Simulates one patient into a :class:`ChunkRows`."""

    def __init__(self, out: ChunkRows, seed: int, index: int) -> None:
        self.out = out
        rng = patient_rng(seed, index)
        self.rng = rng
        subject_id = subject_id_for(index, rng)
        gender = "M" if rng.random() < 0.56 else "F"
        over89 = rng.random() < 0.045
        age0 = float(rng.uniform(90, 97)) if over89 else float(np.clip(rng.normal(63, 16.5), 18, 89.7))
        comorbid: set[str] = set()
        for m in COMORBIDITIES:
            p = sigmoid(logit(m.prevalence) + m.age_slope * (age0 - 65) / 10)
            if rng.random() < p and m.sex in (None, gender):
                comorbid.add(m.key)
        baseline = population_baseline(rng)
        if gender == "F":
            baseline[VAR_INDEX["hgb"]] -= 1.3
            baseline[VAR_INDEX["creat"]] -= 0.2
        weight = float(rng.normal(84 if gender == "M" else 71, 15))
        if "obesity" in comorbid:
            weight += 28
        height = float(rng.normal(176 if gender == "M" else 162, 7))
        self.p = Patient(
            index=index, subject_id=subject_id, gender=gender, age0=age0, over89=over89,
            comorbid=set(), codes={}, warfarin=False, weight=float(np.clip(weight, 38, 210)),
            height=float(np.clip(height, 140, 205)), baseline=baseline,
            ethnicity=pick(rng, _ETHNICITY), language=pick(rng, _LANGUAGE),
            religion=pick(rng, _RELIGION), marital=pick(rng, _MARITAL),
        )
        self.ctx = Ctx(rng, self.p, out)
        for key in sorted(comorbid):
            self._add_comorbidity(key)

    def _add_comorbidity(self, key: str) -> None:
        p = self.p
        if key in p.comorbid:
            return
        p.comorbid.add(key)
        m = conditions.COMORBIDITY_BY_KEY[key]
        p.codes[key] = [pick(self.rng, m.codes)] + [c for c, pr in m.extra_codes if self.rng.random() < pr]
        for var, shift in m.baseline:
            p.baseline[VAR_INDEX[var]] += shift
        if key == "afib" and self.rng.random() < 0.45:
            p.warfarin = True
            p.baseline[VAR_INDEX["inr"]] += math.log(2.3)
            p.baseline[VAR_INDEX["ptt"]] += math.log(1.15)

    # ------------------------------------------------------------------ patient level
    def run(self) -> None:
        rng, p = self.rng, self.p
        n_adm = int(rng.choice(5, p=[0.78, 0.14, 0.05, 0.02, 0.01])) + 1
        t = _EPOCH_2100 + int(rng.integers(0, _SPAN_MINUTES - 8 * 365 * MIN_PER_DAY))
        first_t0: int | None = None
        death_min: int | None = None
        died_in_hospital = False
        last_disch = t
        for _ in range(n_adm):
            adm = self._admission(t, first_t0)
            first_t0 = adm.t0 if first_t0 is None else first_t0
            last_disch = adm.minutes(adm.disch_h)
            if adm.dies:
                death_min = last_disch
                died_in_hospital = True
                break
            # chronically ill patients come back sooner (readmission is learnable from the record)
            chronic_now = len(p.comorbid & {"chf", "ckd", "copd", "cirrhosis"})
            gap = 2 + rng.exponential(250 / (1 + 1.5 * chronic_now))
            t = last_disch + int(gap * MIN_PER_DAY) + int(rng.integers(0, 600))
        assert first_t0 is not None
        if not died_in_hospital:  # deaths after discharge (known from social security records)
            age_last = p.age0 + (last_disch - first_t0) / MIN_PER_YEAR
            chronic = len(p.comorbid & {"chf", "ckd", "copd", "cirrhosis"})
            if rng.random() < sigmoid(-1.6 + 0.045 * (age_last - 65) + 0.25 * chronic):
                death_min = last_disch + int((1 + rng.exponential(300)) * MIN_PER_DAY)
        # dob: real age, or shifted to ~300 years for patients older than 89 (as MIMIC does)
        age_recorded = (300 + rng.uniform(0, 0.9)) if p.over89 else p.age0
        dob = midnight(first_t0 - int(age_recorded * MIN_PER_YEAR))
        dod = midnight(death_min) if death_min is not None else NULL_TIME
        dod_hosp = dod if died_in_hospital else NULL_TIME
        dod_ssn = dod if death_min is not None and (not died_in_hospital or rng.random() < 0.75) else NULL_TIME
        self.out.add("patients", (p.subject_id, p.gender, dob, dod, dod_hosp, dod_ssn,
                                  1 if death_min is not None else 0))

    # ------------------------------------------------------------------ admission level
    def _choose_condition(self, age: float) -> Condition:
        p, rng = self.p, self.rng
        weights = []
        for c in CONDITIONS:
            w = c.weight * math.exp((c.age_shift * (age - 63) - c.age_shift**2 / 2) / 16.5**2)
            for key in p.comorbid:
                w *= conditions.COMORBIDITY_BY_KEY[key].condition_weights.get(c.key, 1.0)
            if c.key == "dka" and "dm" not in p.comorbid:
                w *= 0.15
            if c.key == "cirrhosis" and "cirrhosis" not in p.comorbid:
                w *= 0.1
            weights.append(w)
        w_arr = np.array(weights)
        return CONDITIONS[int(rng.choice(len(CONDITIONS), p=w_arr / w_arr.sum()))]

    def _admission(self, t_start: int, first_t0: int | None) -> Admission:
        rng, p, out = self.rng, self.p, self.out
        age = p.age0 + (0.0 if first_t0 is None else (t_start - first_t0) / MIN_PER_YEAR)
        cond = self._choose_condition(age)
        if cond.requires:
            self._add_comorbidity(cond.requires)
        adm_idx = out.n_adm
        out.n_adm += 1
        sev = float(np.exp(np.clip(rng.normal(0, 0.35), -0.9, 0.9)))
        elective = cond.admission_type == "ELECTIVE"
        # admittime: elective mornings, emergencies any time (more in the afternoon/evening)
        day0 = midnight(t_start)
        clock = rng.uniform(6.5, 9.5) if elective else (rng.normal(15, 5) % 24)
        t0 = day0 + int(clock * 60)

        injury = None
        diagnosis_text = str(rng.choice(cond.diagnosis))
        primary = pick(rng, cond.primary)
        if cond.key == "trauma":
            injury = pick(rng, [(inj, inj[4]) for inj in conditions.INJURIES])
            diagnosis_text, primary = injury[0], injury[1]
        if cond.key == "stroke" and primary in ("430", "431"):
            diagnosis_text = "INTRACRANIAL HEMORRHAGE"
        tpa = cond.key == "stroke" and primary not in ("430", "431") and rng.random() < 0.15

        shock = rng.random() < min(0.95, cond.p_shock * sev**1.5)
        vent = rng.random() < min(0.98, cond.p_vent * sev) or cond.p_vent >= 1.0
        aki = cond.key == "aki" or rng.random() < min(0.95, cond.p_aki * sev**1.2)
        mort = sigmoid(logit(cond.mortality) + 1.8 * math.log(sev) + 0.03 * (age - 65)
                        + 0.7 * shock + 0.4 * (vent and cond.key != "cabg") + 0.3 * aki)
        dies = rng.random() < mort

        # ---- timeline
        icu = rng.random() < (0.9 if cond.key == "hip" else 0.97)
        segments: list[Segment] = []
        surgery_h = None
        if elective:
            surgery_h = float(rng.uniform(1.0, 3.0))
            icu_in = surgery_h + float(rng.uniform(3, 6))
        elif rng.random() < 0.78:
            icu_in = float(rng.uniform(0.1, 2.5))
        else:
            icu_in = float(rng.uniform(4, 60))
        vent_iv = None
        if vent:
            if cond.key == "cabg":
                vdur = float(rng.uniform(5, 14))
            else:
                vdur = float(np.clip(rng.lognormal(math.log(40 * sev), 0.7), 6, 24 * 21))
            vent_iv = (icu_in + float(rng.uniform(0, 0.3 if elective else 3)), 0.0)
            vent_iv = (vent_iv[0], vent_iv[0] + vdur)
        # length of stay follows condition and severity (learnable from the first ICU day), with noise
        icu_h = 24 * float(rng.lognormal(math.log(_ICU_LOS_SCALE * cond.icu_los * sev**1.2), 0.45))
        if vent_iv:
            icu_h = max(icu_h, vent_iv[1] - icu_in + float(rng.uniform(6, 30)))
        icu_h = float(np.clip(icu_h, 10, 24 * 35))
        ward_h = float(np.clip(24 * rng.lognormal(math.log(cond.ward_los), 0.7), 8, 24 * 30))
        if rng.random() < 0.06:
            ward_h = float(rng.uniform(1, 6))  # discharged (almost) straight from the ICU

        first_unit = pick(rng, cond.careunits)
        floor1 = int(rng.choice(_FLOOR_WARDS))
        floor2 = int(rng.choice(_FLOOR_WARDS))
        if not icu:
            los = float(np.clip(24 * rng.lognormal(math.log(cond.ward_los + 1.5), 0.6), 12, 24 * 30))
            segments.append(Segment(False, None, floor1, 0.0, los))
            vent_iv, shock = None, False
        else:
            if icu_in > 3.5:
                segments.append(Segment(False, None, floor1, 0.0, icu_in))
            icu_ward = int(rng.choice(_CAREUNIT_WARDS[first_unit]))
            segments.append(Segment(True, first_unit, icu_ward, icu_in, icu_in + icu_h))
            t_cur = icu_in + icu_h
            # a return to the ICU (bounce-back) is likelier after a severe, ventilated stay
            chronic_now = len(p.comorbid & {"chf", "ckd", "copd", "cirrhosis"})
            bounce = sigmoid(logit(0.035) + 2.5 * math.log(sev) + 0.4 * chronic_now + 0.8 * vent)
            if rng.random() < bounce and ward_h > 36:
                w1 = ward_h * float(rng.uniform(0.3, 0.6))
                segments.append(Segment(False, None, floor2, t_cur, t_cur + w1))
                t_cur += w1
                icu2 = 24 * float(rng.lognormal(math.log(1.5), 0.5))
                segments.append(Segment(True, first_unit, icu_ward, t_cur, t_cur + icu2))
                t_cur += icu2
                ward_h -= w1
            segments.append(Segment(False, None, floor2, t_cur, t_cur + ward_h))
        if dies:
            icu_segs = [s for s in segments if s.icu]
            if icu_segs and rng.random() < 0.8:
                seg = icu_segs[0]
                death_h = seg.start + (seg.end - seg.start) * float(rng.uniform(0.2, 1.0))
                death_h = max(death_h, seg.start + 2.0)
                segments = [s for s in segments if s.start < death_h]
                segments[-1].end = death_h
            death_h = segments[-1].end
        disch_h = segments[-1].end
        if vent_iv:
            vent_iv = (vent_iv[0], min(vent_iv[1], disch_h, icu_end_at(segments, vent_iv[0])))

        # ---- physiology
        eff = Effects.empty()
        offset = surgery_h or 0.0
        for var, amp, peak, rise, tau in cond.effects:
            eff.add(var, amp * sev, offset + peak, rise, tau)
        for var, amp, peak, rise, tau in conditions.HOSPITAL:
            eff.add(var, amp * sev, peak, rise, tau)
        if cond.key == "trauma" and injury is not None and injury[3]:
            eff.add("gcs", -3.5 * sev, 0, 6, 96)
        shock_iv = None
        if shock:
            # sepsis arrives in shock; other conditions may deteriorate later in the ICU stay
            start = 0.0 if cond.key == "sepsis" else float(rng.uniform(icu_in, icu_in + min(icu_h, 120) / 2))
            s_sev = sev * float(rng.uniform(0.7, 1.3))
            for var, amp, peak, rise, tau in conditions.SHOCK:
                eff.add(var, amp * s_sev, start + peak, rise, tau)
            p_start = max(start + float(rng.uniform(0.5, 3)), icu_in + 0.3) if icu else None
            if p_start is not None:
                p_end = min(p_start + float(rng.lognormal(math.log(30 * s_sev), 0.5)),
                            icu_end_at(segments, p_start))
                if p_end > p_start + 1:
                    shock_iv = (p_start, p_end)
        aki_peak = None
        if aki:
            a_sev = sev * float(rng.lognormal(0, 0.25))
            shift = -24.0 if cond.key == "aki" else float(rng.uniform(0, 36))
            for var, amp, peak, rise, tau in conditions.AKI:
                eff.add(var, amp * a_sev, shift + peak, rise, tau)
            aki_peak = shift + 48
        if vent_iv:
            for var, amp, peak, rise, tau in conditions.RESP_FAILURE:
                eff.add(var, amp, vent_iv[0] + peak, rise, tau)
            eff.step("gcs", -6, vent_iv[0], 0.5)  # sedation while intubated
            eff.step("gcs", 6, vent_iv[1], 2.0)
            eff.step("po2", 25, vent_iv[0], 1.0)  # supplemental oxygen on the ventilator
            eff.step("po2", -25, vent_iv[1], 1.0)
        transfusions: list[float] = []
        n_units = int(rng.poisson(cond.transfusions * sev)) if cond.transfusions else 0
        if cond.key == "gi_bleed":
            n_units = max(n_units, 1 if sev > 1.1 else 0)
        for _ in range(n_units):
            at = float(rng.uniform(offset + 2, offset + 36))
            if at < disch_h - 2:
                transfusions.append(at)
                eff.step("hgb", 1.0, at, 2.0, 800)
        transfusions.sort()
        dialysis: list[float] = []
        if aki_peak is not None and icu and (sev > 1.25 or "ckd" in p.comorbid) and rng.random() < 0.4:
            at = max(aki_peak - 12, icu_in + 2)
            while at < disch_h - 6:
                dialysis.append(at)
                eff.step("creat", -math.log(1.9), at, 4, 30)
                eff.step("bun", -math.log(2.0), at, 4, 30)
                eff.step("k", -1.0, at, 4, 24)
                eff.step("phos", -1.0, at, 4, 30)
                at += float(rng.uniform(40, 56))
        if dies:
            decline = float(rng.uniform(8, 36))
            for var, amp, _peak, _rise, _tau in conditions.TERMINAL:
                eff.add(var, amp, death_h, decline, math.inf)
            if icu and shock_iv is None and rng.random() < 0.6:
                seg_end = death_h
                p_start = max(death_h - decline * 0.6, icu_start_at(segments, death_h))
                if p_start < seg_end - 1:
                    shock_iv = (p_start, seg_end)
        heparin_iv = None
        if "heparin_drip" in cond.drugs and icu:
            start = icu_in + 0.5
            heparin_iv = (start, min(start + 48, icu_end_at(segments, start)))
            eff.step("ptt", math.log(2.3), heparin_iv[0], 6)
            eff.step("ptt", -math.log(2.3), heparin_iv[1], 6)
        insulin_iv = None
        if cond.key == "dka" and icu:
            start = max(icu_in, 0.5)
            insulin_iv = (start, min(start + 30 * sev**0.5, icu_end_at(segments, start)))
        baseline = p.baseline + rng.normal(0, 0.02, size=p.baseline.shape)  # admission-level jitter
        traj = Trajectory(baseline, eff)

        source = None
        if cond.infection:
            source = pick(rng, cond.infection)

        a = Admission(
            adm=adm_idx, t0=t0, age=age, cond=cond, sev=sev, dies=dies, disch_h=disch_h,
            segments=segments, traj=traj, shock=shock_iv, vent=vent_iv, aki=aki,
            dialysis=dialysis, transfusions=transfusions, insulin_drip=insulin_iv,
            heparin_drip=heparin_iv,
            source=source, injury=injury, diagnosis_text=diagnosis_text, primary=primary, tpa=tpa,
        )
        for seg in segments:
            if seg.icu:
                seg.stay = out.n_stay
                out.n_stay += 1
        a.abx = choose_antibiotics(rng, a)
        ctx = self.ctx
        order_labs(ctx, a)
        for seg in a.icu_stays:
            icu_stay(ctx, a, seg)
        prescriptions(ctx, a)
        microbiology(ctx, a)
        icd_codes(ctx, a)
        transfers(ctx, a)
        admission_row(ctx, a)
        return a


def simulate_chunk(seed: int, start: int, stop: int) -> ChunkRows:
    """Rows of patients ``start .. stop-1`` (admission / stay indices local to this chunk)."""
    out = ChunkRows()
    for index in range(start, stop):
        before = planted.mark(out)
        PatientSimulator(out, seed, index).run()
        planted.plant_errors(out, seed, index, before)  # deliberate inconsistencies, own random stream
    return out
