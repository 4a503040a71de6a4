"""What happens in an ICU stay: charted vitals (``chartevents``), urine and drain output
(``outputevents``), infusions and boluses (``inputevents_mv``).

Vitals are charted hourly on the hour, as Metavision does: the latent trajectory plus slow drift and
beat-to-beat noise. Patients with an arterial line get ABP items (and NIBP every four hours);
temperature, GCS and heart rhythm every four hours; ventilator settings while intubated; finger
stick glucose for diabetics (hourly on an insulin drip). Urine output follows kidney function and
perfusion. Infusions are charted as chains of rate segments sharing one ``linkorderid``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import catalog
from .catalog import GCS_EYE, GCS_MOTOR, GCS_VERBAL, GCS_VERBAL_ETT, RHYTHMS
from .model import MIN_PER_DAY, Admission, Ctx, Segment, shift_of
from .physiology import ALL_INDEX, VAR_INDEX

# Text values of chartevents.value for text items; chart rows refer to them by index.
TEXT_VALUES: tuple[str, ...] = (*GCS_EYE, *GCS_VERBAL, GCS_VERBAL_ETT, *GCS_MOTOR, *RHYTHMS)
_EYE0, _VERB0 = 0, len(GCS_EYE)
_ETT = _VERB0 + len(GCS_VERBAL)
_MOT0 = _ETT + 1
_RHY0 = _MOT0 + len(GCS_MOTOR)
# GCS total -> (eye, verbal, motor)
_GCS_PARTS = {
    3: (1, 1, 1), 4: (1, 1, 2), 5: (1, 1, 3), 6: (1, 2, 3), 7: (2, 2, 3), 8: (2, 2, 4),
    9: (2, 3, 4), 10: (2, 3, 5), 11: (3, 3, 5), 12: (3, 4, 5), 13: (3, 4, 6), 14: (4, 4, 6),
    15: (4, 5, 6),
}
_GCS_TABLE = np.array([_GCS_PARTS.get(g, (1, 1, 1)) for g in range(16)], dtype=np.int64)

# Chart items' display order within one charttime.
_CHART_ORDER = (220045, 220048, 220179, 220180, 220181, 220050, 220051, 220052, 220074, 220210,
                224690, 220277, 223761, 220739, 223900, 223901, 223835, 220339, 224685, 225664,
                226512, 224639, 226730)
_ORDER_LUT = np.full(max(_CHART_ORDER) + 1, len(_CHART_ORDER), dtype=np.int64)
_ORDER_LUT[list(_CHART_ORDER)] = np.arange(len(_CHART_ORDER))

_ANTIBIOTIC_ITEMS = {  # drug key -> (inputevents_mv itemid, dosing interval in hours)
    "vancomycin": (225798, 12), "piptazo": (225893, 8), "cefepime": (225851, 12),
    "meropenem": (225883, 8), "ceftriaxone": (225855, 24), "azithromycin": (225845, 24),
    "levofloxacin": (225879, 24), "metronidazole": (225884, 8),
}


def icu_stay(ctx: Ctx, a: Admission, seg: Segment) -> None:
    """Chart one ICU stay: vitals and assessments, then its outputs and inputs."""
    rng, p = ctx.rng, ctx.p
    t_in, t_out = a.minutes(seg.start), a.minutes(seg.end)
    first = -(-t_in // 60) * 60  # next full hour
    grid = np.arange(first, t_out + 1, 60, dtype=np.int64)
    if grid.size == 0:
        grid = np.array([t_in + 5], dtype=np.int64)
    hours = (grid - a.t0) / 60.0
    n = grid.size
    x = a.traj.full(hours)
    nurses = rng.integers(14000, 21600, 6)
    afib = "afib" in p.comorbid

    # vitals: latent + slow drift + beat-to-beat noise
    names = ("hr", "sbp", "dbp", "rr", "spo2", "temp")
    drift_sd = np.array([6.0, 8.0, 5.0, 2.0, 0.8, 0.15])
    white_sd = np.array([3.5 * (2 if afib else 1), 6.0, 4.0, 2.0, 1.0, 0.12])
    n_knots = n // 6 + 2
    knots = rng.standard_normal((6, n_knots)) * drift_sd[:, None]
    pos = np.arange(n) / 6.0
    i0 = pos.astype(np.int64)
    frac = pos - i0
    drift = knots[:, i0] * (1 - frac) + knots[:, i0 + 1] * frac
    vit = np.stack([x[ALL_INDEX[v]] for v in names]) + drift + rng.standard_normal((6, n)) * white_sd[:, None]
    hr = np.clip(np.round(vit[0]), 30, 190)
    sbp = np.clip(np.round(vit[1]), 50, 240)
    dbp = np.clip(np.round(np.minimum(vit[2], vit[1] - 15)), 20, 140)
    mbp = np.round((sbp + 2 * dbp) / 3)
    rr = np.clip(np.round(vit[3]), 6, 50)
    spo2 = np.clip(np.round(vit[4]), 60, 100)
    temp_f = np.round(np.clip(vit[5], 33, 42) * 9 / 5 + 32, 1)
    aline = a.vent is not None or a.shock is not None or a.cond.key in ("cabg", "trauma")
    idx = np.arange(n)
    phase = int(rng.integers(0, 4))

    items: list[np.ndarray] = []
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    texts: list[np.ndarray] = []

    def emit(itemid: int, mask: np.ndarray, vals: np.ndarray, text: np.ndarray | None = None) -> None:
        k = int(mask.sum())
        if k == 0:
            return
        items.append(np.full(k, itemid, dtype=np.int64))
        times.append(grid[mask])
        values.append(vals[mask].astype(np.float64))
        texts.append(np.full(k, -1, dtype=np.int64) if text is None else text[mask])

    u = rng.random((8, n))
    emit(220045, u[0] < 0.97, hr)
    rhythm = np.where(hr > 100, 1, np.where(hr < 60, 2, 0)) + _RHY0
    if afib:
        rhythm = np.full(n, _RHY0 + 3)
    emit(220048, (idx % 4 == phase) & (u[1] < 0.9), np.full(n, np.nan), rhythm)
    nibp = (u[2] < 0.92) if not aline else ((idx % 4 == phase) & (u[2] < 0.9))
    emit(220179, nibp, sbp)
    emit(220180, nibp, dbp)
    emit(220181, nibp, mbp)
    if aline:
        a_noise = rng.normal(0, 3, (2, n))
        asbp = np.clip(np.round(sbp + a_noise[0] - 3), 45, 240)
        adbp = np.clip(np.round(dbp + a_noise[1] - 4), 18, 140)
        a_mask = u[3] < 0.93
        emit(220050, a_mask, asbp)
        emit(220051, a_mask, adbp)
        emit(220052, a_mask, np.round((asbp + 2 * adbp) / 3))
    emit(220210, u[4] < 0.95, rr)
    central_line = a.shock is not None or a.cond.key == "cabg" or (a.vent is not None and a.sev > 1.1)
    if central_line:
        cvp = np.clip(np.round(x[ALL_INDEX["cvp"]] + rng.normal(0, 2.0, n)), -2, 35)
        emit(220074, rng.random(n) < 0.85, cvp)
    emit(220277, u[5] < 0.95, spo2)
    emit(223761, (idx % 4 == (phase + 1) % 4) & (u[6] < 0.95), temp_f)
    # GCS (text value + numeric score); verbal is "No Response-ETT" while intubated
    gcs_total = np.clip(np.round(x[ALL_INDEX["gcs"]] + rng.normal(0, 0.6, n)), 3, 15).astype(np.int64)
    parts = _GCS_TABLE[gcs_total]
    g_mask = (idx % 4 == phase) & (u[7] < 0.9)
    on_vent = np.zeros(n, dtype=bool)
    if a.vent:
        on_vent = (hours >= a.vent[0]) & (hours <= a.vent[1])
    emit(220739, g_mask, parts[:, 0].astype(float), _EYE0 + parts[:, 0] - 1)
    verbal_text = np.where(on_vent, _ETT, _VERB0 + parts[:, 1] - 1)
    emit(223900, g_mask, np.where(on_vent, 1, parts[:, 1]).astype(float), verbal_text)
    emit(223901, g_mask, parts[:, 2].astype(float), _MOT0 + parts[:, 2] - 1)
    if a.vent:
        v_mask = on_vent & (idx % 4 == (phase + 2) % 4)
        need = np.clip((97 - x[ALL_INDEX["spo2"]]) * 6, 0, 60)
        fio2 = np.clip(np.round((40 + need + rng.normal(0, 5, n)) / 5) * 5, 30, 100)
        emit(223835, v_mask, fio2)
        emit(220339, v_mask, np.clip(np.round((5 + need / 8 + rng.normal(0, 1, n))), 5, 18))
        emit(224685, v_mask, np.round(p.weight * 6.5 + rng.normal(0, 40, n)))
        emit(224690, on_vent & (u[4] < 0.9), np.clip(rr + np.round(rng.normal(0, 1.5, n)), 8, 40))
    glucose = x[ALL_INDEX["glucose"]] * np.exp(rng.normal(0, 0.08, n))
    if a.insulin_drip and seg.start <= a.insulin_drip[0] < seg.end:
        fs = (hours >= a.insulin_drip[0]) & (hours <= a.insulin_drip[1])
        fs |= ("dm" in p.comorbid) & (idx % 6 == 0)
        emit(225664, fs, np.round(np.clip(glucose, 20, 999)))
    elif "dm" in p.comorbid:
        emit(225664, idx % 6 == 0, np.round(np.clip(glucose, 20, 999)))
    # weights and height: once at admission to the unit, daily weights for heart failure
    w_now = p.weight + (3.5 * a.sev if a.cond.key == "chf" else 0)
    first_mask = idx == 0
    emit(226512, first_mask, np.full(n, round(w_now, 1)))
    if rng.random() < 0.6:
        emit(226730, first_mask, np.full(n, round(p.height)))
    if a.cond.key == "chf":
        clock = (grid // 60) % 24
        daily = (clock == 4) & (idx > 0)
        w_series = np.round(w_now - np.minimum(hours / 24, 4) * 0.9 * a.sev + rng.normal(0, 0.3, n), 1)
        emit(224639, daily, w_series)

    if items:
        item_a = np.concatenate(items)
        time_a = np.concatenate(times)
        order_idx = np.lexsort((_ORDER_LUT[item_a], time_a))
        time_a = time_a[order_idx]
        k = time_a.size
        shift = shift_of(time_a)
        ctx.out.add_arrays("chartevents", {
            "subject_id": np.full(k, p.subject_id, dtype=np.int64),
            "adm": np.full(k, a.adm, dtype=np.int64),
            "stay": np.full(k, seg.stay, dtype=np.int64),
            "itemid": item_a[order_idx],
            "charttime": time_a,
            "storetime": time_a + rng.integers(1, 45, k),
            "cgid": nurses[shift],
            "valuenum": np.concatenate(values)[order_idx],
            "text": np.concatenate(texts)[order_idx],
        })

    _outputs(ctx, a, seg, grid, hours, x, nurses)
    _inputs(ctx, a, seg, nurses)


def _outputs(ctx: Ctx, a: Admission, seg: Segment, grid: np.ndarray, hours: np.ndarray,
             x: np.ndarray, nurses: np.ndarray) -> None:
    """Urine (Foley hourly, or voids), chest tube, nasogastric and stool output."""
    rng, p = ctx.rng, ctx.p
    n = grid.size
    creat0 = math.exp(p.baseline[VAR_INDEX["creat"]])
    kidney = (creat0 / x[ALL_INDEX["creat"]]) ** 1.6
    perfusion = np.clip((x[ALL_INDEX["map"]] - 45) / 30, 0.15, 1.2)
    diuresis = 1.7 if a.cond.key == "chf" else 1.0
    rate = p.weight * 0.9 * kidney * perfusion * diuresis * rng.lognormal(0, 0.35, n)
    cols: list[tuple[np.ndarray, int, np.ndarray]] = []
    if rng.random() < 0.85:
        mask = rng.random(n) < 0.88
        cols.append((grid[mask], 226559, np.round(np.clip(rate[mask], 0, 1500))))
    else:
        mask = (np.arange(n) % 5 == 2) & (rng.random(n) < 0.8)
        cols.append((grid[mask], 226560, np.round(np.clip(rate[mask] * 5, 50, 1500) / 10) * 10))
    if a.cond.key == "cabg":
        mask = hours <= hours[0] + 24
        ct = np.round(np.clip(120 * np.exp(-(hours[mask] - hours[0]) / 10) * rng.lognormal(0, 0.4, int(mask.sum())), 0, 500))
        cols.append((grid[mask], 226588, ct))
    if a.cond.key == "gi_bleed":
        mask = (np.arange(n) % 4 == 1) & (hours < 48)
        cols.append((grid[mask], 226575, np.round(rng.uniform(20, 300, int(mask.sum())) / 10) * 10))
    if rng.random() < 0.4:
        mask = rng.random(n) < 0.03
        cols.append((grid[mask], 226579, np.round(rng.uniform(100, 600, int(mask.sum())) / 25) * 25))
    t = np.concatenate([c[0] for c in cols])
    if t.size == 0:
        return
    item = np.concatenate([np.full(c[0].size, c[1], dtype=np.int64) for c in cols])
    val = np.concatenate([c[2] for c in cols]).astype(np.float64)
    order_idx = np.lexsort((item, t))
    t = t[order_idx]
    k = t.size
    ctx.out.add_arrays("outputevents", {
        "subject_id": np.full(k, p.subject_id, dtype=np.int64),
        "adm": np.full(k, a.adm, dtype=np.int64),
        "stay": np.full(k, seg.stay, dtype=np.int64),
        "charttime": t,
        "itemid": item[order_idx],
        "value": val[order_idx],
        "storetime": t + rng.integers(5, 90, k),
        "cgid": nurses[shift_of(t)],
    })


def _inputs(ctx: Ctx, a: Admission, seg: Segment, nurses: np.ndarray) -> None:
    """Infusions, boluses and scheduled IV medications given during the stay."""
    rng, p, out = ctx.rng, ctx.p, ctx.out
    lo, hi = seg.start, seg.end
    wt = round(p.weight + (3.5 * a.sev if a.cond.key == "chf" else 0), 1)
    subj = p.subject_id

    def cg(h: float) -> int:
        return int(nurses[int(shift_of(np.int64(a.minutes(h))))])

    def push(itemid: int, h: float, amount: float, status: str = "FinishedRunning") -> None:
        if not lo <= h < hi - 0.05:
            return
        item = catalog.INPUT_BY_ID[itemid]
        start = a.minutes(h)
        out.add("inputevents_mv", (
            subj, a.adm, seg.stay, start, start + 1, itemid, float(amount), item.amountuom,
            None, None, start + int(rng.integers(0, 50)), cg(h), 0, item.ordercategoryname,
            item.secondary, "Main order parameter", item.ordercategorydescription, wt,
            item.totalamount, "ml" if item.totalamount else None, 0, 0, 0, status,
            float(amount), float(amount),
        ))

    def drip(itemid: int, h0: float, h1: float, rate_fn: Any, seg_h: tuple[float, float] = (1.0, 4.0),
             per_kg: bool = False, amount_scale: float = 1.0) -> None:
        """A continuous infusion charted as a chain of rate segments (one order chain)."""
        h0, h1 = max(h0, lo), min(h1, hi)
        if h1 - h0 < 0.25:
            return
        item = catalog.INPUT_BY_ID[itemid]
        h, n = h0, 0
        while h < h1 - 1e-6:
            end = min(h + float(rng.uniform(*seg_h)), h1)
            rate = float(rate_fn((h - h0) / max(h1 - h0, 1e-6)))
            start_m, end_m = a.minutes(h), a.minutes(end)
            minutes = max(end_m - start_m, 1)
            per_min = rate * (wt if per_kg else 1.0) / (1.0 if per_kg else 60.0)
            amount = per_min * minutes * amount_scale
            last = end >= h1 - 1e-6
            out.add("inputevents_mv", (
                subj, a.adm, seg.stay, start_m, end_m, itemid, round(amount, 6), item.amountuom,
                round(rate, 6), item.rateuom, end_m + int(rng.integers(0, 40)), cg(h), n,
                item.ordercategoryname, item.secondary, "Main order parameter",
                item.ordercategorydescription, wt, item.totalamount,
                "ml" if item.totalamount else None, int(item.totalamount is not None), 0, 0,
                "FinishedRunning" if last and not a.dies else ("Stopped" if last else "Changed"),
                round(amount, 6), round(rate, 6),
            ))
            h, n = end, n + 1

    def bolus_fluid(itemid: int, h: float, volume: float) -> None:
        dur = int(rng.choice([30, 60]))
        if not lo <= h < hi - dur / 60 - 0.05:
            return
        start = a.minutes(h)
        out.add("inputevents_mv", (
            subj, a.adm, seg.stay, start, start + dur, itemid, float(volume), "ml", None, None,
            start + dur + int(rng.integers(0, 30)), cg(h), 0, "03-IV Fluid Bolus", None,
            "Main order parameter", "Bolus", wt, float(volume), "ml", 0, 0, 0,
            "FinishedRunning", float(volume), float(volume),
        ))

    cond = a.cond
    # vasopressors for shock: norepinephrine titrated up then weaned; phenylephrine if severe
    if a.shock:
        s0, s1 = a.shock
        peak = float(np.clip(0.08 * a.sev * rng.lognormal(0, 0.4), 0.03, 0.6))
        dying = a.dies and s1 >= a.disch_h - 0.01
        drip(221906, s0, s1, lambda f: 0.02 + peak * (f if dying else math.sin(math.pi * min(f * 1.3, 1.0)) + 0.05),
             per_kg=True, amount_scale=1 / 1000)
        if a.sev > 1.3 and rng.random() < 0.4:
            drip(221749, s0 + 2, s1 - 2, lambda f: 0.5 + 1.5 * math.sin(math.pi * f), per_kg=True,
                 amount_scale=1 / 1000)
    if a.vent:
        v0, v1 = a.vent
        drip(222168, v0 + 0.2, v1 - 0.5, lambda f: float(rng.uniform(15, 50)), per_kg=True,
             amount_scale=1 / 1000)
        if rng.random() < 0.7:
            drip(221744, v0 + 0.2, v1 - 0.5, lambda f: float(rng.choice([25, 50, 75, 100])),
                 amount_scale=1 / 1000)
    if a.insulin_drip:
        i0, i1 = a.insulin_drip
        drip(223258, i0, i1, lambda f: max(1.0, round(0.1 * wt * (1 - 0.6 * f))), seg_h=(1, 3))
        drip(220949, i0 + (i1 - i0) * 0.4, i1 + 4, lambda f: 125.0, seg_h=(4, 8))
    if cond.key in ("sepsis", "dka", "gi_bleed", "aki", "pancreatitis", "trauma") or a.shock:
        n_bolus = int(rng.integers(1, 4))
        for i in range(n_bolus):
            bolus_fluid(225828 if cond.key in ("trauma", "pancreatitis") else 225158,
                        lo + 0.3 + i * float(rng.uniform(0.8, 3)), float(rng.choice([500, 1000])))
    if rng.random() < 0.5:
        drip(225158, lo + 1, min(hi, lo + 24 * float(rng.uniform(0.5, 2))), lambda f: float(rng.choice([75, 100, 125])), seg_h=(4, 10))
    for h in a.transfusions:
        if lo <= h < hi - 2:
            drip(225168, h, h + 2, lambda f: 175.0, seg_h=(2, 2))
    # scheduled medications during the stay
    for drug in a.abx:
        itemid, every = _ANTIBIOTIC_ITEMS[drug]
        h = max(lo + float(rng.uniform(0.3, 2)), 0.5)
        while h < min(hi, 24 * 9):
            push(itemid, h, 1)
            h += every + float(rng.uniform(-0.5, 0.5))
    if cond.key == "chf":
        h = lo + float(rng.uniform(0.5, 3))
        while h < min(hi, lo + 72):
            push(221794, h, float(rng.choice([20, 40, 80])))
            h += 12 + float(rng.uniform(-1, 1))
    if a.heparin_drip:
        drip(225152, *a.heparin_drip, lambda f: float(rng.choice([800, 1000, 1200, 1400])), seg_h=(4, 8))
    elif cond.key not in ("gi_bleed",) and not (a.injury and a.injury[3]):
        h = lo + float(rng.uniform(1, 8))
        while h < hi:
            push(225975, h, 1)
            h += 8 + float(rng.uniform(-0.5, 0.5))
    if cond.key == "gi_bleed":
        h = lo + float(rng.uniform(0.3, 2))
        while h < hi:
            push(225910, h, 1)
            h += 12
        if "cirrhosis" in p.comorbid:
            drip(225155, lo + 0.5, min(hi, lo + 72), lambda f: 50.0, seg_h=(6, 12), amount_scale=1 / 1000)
    if "afib" in p.comorbid or a.cond.key == "cabg":
        for _ in range(int(rng.integers(0, 3))):
            push(225974, float(rng.uniform(lo, hi)), 5)
    for d in sorted(a.low_k_days):
        h = 24 * d + 7 - (a.t0 % MIN_PER_DAY) / 60 + float(rng.uniform(0, 3))
        push(225166, h, float(rng.choice([20, 40])))
    for d in sorted(a.low_mg_days):
        h = 24 * d + 7 - (a.t0 % MIN_PER_DAY) / 60 + float(rng.uniform(0, 3))
        push(222011, h, 2)
    if "dm" in p.comorbid and not a.insulin_drip:
        h = lo + float(rng.uniform(1, 6))
        while h < hi:
            if rng.random() < 0.5:
                push(223262, h, float(rng.integers(2, 9)))
            h += 6
