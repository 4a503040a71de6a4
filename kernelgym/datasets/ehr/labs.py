"""Laboratory tests: which panels are drawn when, and the measured values (``labevents``).

Panels are ordered the way hospital labs are: an admission panel, morning labs every day (more in
the ICU), repeats that the condition calls for (lactate in shock, blood gases while ventilated,
troponins for chest pain, vancomycin troughs), and sometimes outpatient labs in the weeks before
the admission (no ``hadm_id``, as in MIMIC). Values are the admission's latent physiology at the
draw time plus measurement noise, rounded to the item's precision; the anion gap is computed from
the reported sodium, chloride and bicarbonate of the same draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog
from .model import MIN_PER_DAY, Admission, Ctx, midnight
from .physiology import ALL_INDEX, VARIABLES

_RELATIVE_NOISE = {v.name for v in VARIABLES if v.log} | {"pt", "rbc"}


@dataclass(frozen=True)
class _PanelSpec:
    itemids: np.ndarray
    var: np.ndarray  # row in Trajectory.full() of each item
    relative: np.ndarray  # multiplicative (log-normal) measurement noise
    noise: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scale: np.ndarray  # 10 ** decimals


def _panel_spec(itemids: tuple[int, ...]) -> _PanelSpec:
    items = [catalog.LAB_BY_ID[i] for i in itemids]
    return _PanelSpec(
        itemids=np.array(itemids, dtype=np.int64),
        var=np.array([ALL_INDEX[i.var] for i in items]),
        relative=np.array([i.var in _RELATIVE_NOISE for i in items]),
        noise=np.array([i.noise for i in items]),
        low=np.array([i.low for i in items], dtype=np.float64),
        high=np.array([i.high for i in items], dtype=np.float64),
        scale=np.array([10.0 ** i.decimals for i in items]),
    )


_PANEL_SPECS = {name: _panel_spec(ids) for name, ids in catalog.PANELS.items()}


def order_labs(ctx: Ctx, a: Admission) -> None:
    """Schedule the admission's lab draws and write their results (``labevents`` rows)."""
    draws = _schedule(ctx, a)
    if draws:
        _measure(ctx, a, draws)


def _schedule(ctx: Ctx, a: Admission) -> dict[str, list[float]]:
    """Draw times (hours since admittime) by panel."""
    rng, cond = ctx.rng, a.cond
    disch = a.disch_h
    clock0 = (a.t0 % MIN_PER_DAY) / 60.0
    draws: dict[str, list[float]] = {}

    def order(hours: float, *panels: str) -> None:
        if 0.1 < hours < disch - 0.3:
            for panel in panels:
                draws.setdefault(panel, []).append(hours)

    in_icu = [(s.start, s.end) for s in a.icu_stays]

    def icu_at(h: float) -> bool:
        return any(s <= h < e for s, e in in_icu)

    t_first = float(rng.uniform(0.3, 1.5))
    first = ["bmp", "lytes", "cbc", "coags" if rng.random() < 0.7 else "cbc"]
    if rng.random() < 0.5 or "lfts" in cond.panels:
        first.append("lfts")
    if rng.random() < 0.35:
        first.append("diff")
    if rng.random() < 0.15:
        first.append("lipase")
    if rng.random() < 0.1:
        first.append("ldh")
    if "dm" in ctx.p.comorbid and rng.random() < 0.3:
        first.append("a1c")
    first += [p for p in cond.panels if p != "cardiac"]
    order(t_first, *dict.fromkeys(first))
    if "cardiac" in cond.panels or (rng.random() < 0.2):
        for i in range(3 if "cardiac" in cond.panels else 1):
            order(t_first + 8 * i + float(rng.uniform(-0.5, 0.5)), "cardiac")
    # morning labs
    day = 1
    while True:
        h = 24 * day - clock0 + 4 + float(rng.uniform(0, 2))
        if h >= disch - 0.3:
            break
        icu_now = icu_at(h)
        panels = ["bmp", "cbc"]
        if icu_now or rng.random() < 0.6:
            panels.append("lytes")
        if icu_now or ctx.p.warfarin or a.heparin_drip or rng.random() < 0.3:
            panels.append("coags")
        panels += list(cond.daily_panels)
        if rng.random() < 0.12:
            panels.append("lfts")
        if rng.random() < 0.25:
            panels.append("diff")
        order(h, *dict.fromkeys(panels))
        if icu_now and rng.random() < 0.7:
            order(h + 11 + float(rng.uniform(0, 2)), "bmp", "cbc")
        day += 1
    # condition / ICU specific repeats
    lactate_until = 0.0
    if cond.key in ("sepsis", "trauma", "gi_bleed") or a.shock:
        lactate_until = 24.0 + (a.shock[1] - a.shock[0] if a.shock else 0)
    h = t_first + 6
    while h < min(lactate_until, disch):
        order(h + float(rng.uniform(-1, 1)), "lactate")
        h += 6
    if a.vent:
        h, n = a.vent[0] + 1, 0
        while h < a.vent[1]:
            jitter = float(rng.uniform(-0.5, 0.5))
            order(h + jitter, *(("abg", "lactate") if n % 3 == 0 else ("abg",)))
            h += 6 if n < 4 else 12
            n += 1
    if cond.key == "dka":
        for h in np.arange(t_first + 4, t_first + 28, 4):
            order(float(h) + float(rng.uniform(-0.5, 0.5)), "bmp")
    if cond.key == "gi_bleed":
        for h in np.arange(t_first + 6, t_first + 36, 6):
            order(float(h) + float(rng.uniform(-0.5, 0.5)), "cbc")
    if "vancomycin" in a.abx:
        h = t_first + 48 + float(rng.uniform(-4, 4))
        while h < min(disch, 24 * 10):
            order(h, "vanco")
            h += 24 * float(rng.uniform(2, 3))
    # outpatient labs before the admission (no hadm_id)
    if rng.random() < 0.25:
        pre = -24 * float(rng.uniform(3, 60)) + float(rng.uniform(8, 17)) - clock0
        for panel in ("bmp", "cbc"):
            draws.setdefault(panel, []).append(pre)
    return draws


def _measure(ctx: Ctx, a: Admission, draws: dict[str, list[float]]) -> None:
    """Values of every drawn panel; also remembers them on the admission (for coding, repletion)."""
    rng, subj = ctx.rng, ctx.p.subject_id
    all_times = np.unique(np.concatenate([np.asarray(h) for h in draws.values()]))
    x = a.traj.full(all_times)
    parts: list[dict[str, np.ndarray]] = []
    day0 = midnight(a.t0)
    for panel, hours in draws.items():
        spec = _PANEL_SPECS[panel]
        times = np.sort(np.asarray(hours))
        latent = x[spec.var][:, np.searchsorted(all_times, times)]
        noise = rng.standard_normal(latent.shape) * spec.noise[:, None]
        v = np.where(spec.relative[:, None], latent * np.exp(noise), latent + noise)
        v = np.clip(v, spec.low[:, None], spec.high[:, None])
        vals = (np.round(v * spec.scale[:, None]) / spec.scale[:, None]).T  # draws x items
        if panel == "bmp":  # anion gap from the reported Na, Cl and HCO3
            vals[:, 4] = vals[:, 0] - vals[:, 2] - vals[:, 3]
        minutes = a.t0 + np.round(times * 60).astype(np.int64)
        n, m = vals.shape
        parts.append({
            "subject_id": np.full(n * m, subj, dtype=np.int64),
            "adm": np.repeat(np.where(times < 0, -1, a.adm), m),
            "itemid": np.tile(spec.itemids, n),
            "charttime": np.repeat(minutes, m),
            "valuenum": vals.reshape(-1),
        })
        a.lab_values.update(zip(spec.itemids.tolist(), vals[times >= 0].T))  # panels share no item
        if panel in ("bmp", "lytes"):  # low K / Mg are repleted the same day
            days = (minutes - day0) // MIN_PER_DAY
            limit, found = (3.5, a.low_k_days) if panel == "bmp" else (1.7, a.low_mg_days)
            found.update(np.unique(days[(vals[:, 1] < limit) & (days >= 0)]).tolist())
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order_idx = np.lexsort((merged["itemid"], merged["charttime"]))
    ctx.out.add_arrays("labevents", {k: v[order_idx] for k, v in merged.items()})
