"""Latent physiology: every admission is a set of smooth trajectories that labs and vitals sample.

A trajectory is ``baseline + sum of effects``. Each effect belongs to a clinical process (the
primary condition, a complication such as shock or AKI, a treatment such as a transfusion, the
terminal decline of a patient who dies) and has a time course: a linear ramp up to its peak, then an
exponential return with time constant ``tau`` (hours; ``inf`` for a lasting change). Variables
marked ``log`` combine effects multiplicatively (an amplitude of ``ln 3`` triples creatinine).

Derived quantities are computed from the latent ones so that they stay consistent with each other:
anion gap = Na - Cl - HCO3; pCO2 follows HCO3 (metabolic compensation) plus a respiratory part;
pH from Henderson-Hasselbalch; hematocrit, RBC and MCHC from hemoglobin; PT from INR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np


@dataclass(frozen=True)
class Var:
    name: str
    mean: float  # population mean, natural units
    sd: float  # between-patient spread (on the log scale for log variables)
    log: bool
    low: float
    high: float


VARIABLES: Final[tuple[Var, ...]] = (
    Var("hr", 82, 9, False, 25, 185),
    Var("sbp", 119, 13, False, 45, 230),
    Var("dbp", 63, 8, False, 20, 130),
    Var("rr", 17, 2, False, 6, 45),
    Var("spo2", 97.8, 1.0, False, 62, 100),
    Var("temp", 36.85, 0.2, False, 33.5, 41.5),
    Var("gcs", 15, 0, False, 3, 15),
    Var("na", 139, 3.0, False, 108, 175),
    Var("k", 4.1, 0.35, False, 2.0, 8.5),
    Var("cl", 101, 2.0, False, 75, 135),  # plus 0.75 x the sodium deviation (Trajectory.full)
    Var("hco3", 24.5, 2.0, False, 5, 48),
    Var("bun", 17, 0.35, True, 3, 220),
    Var("creat", 0.9, 0.18, True, 0.25, 18),
    Var("glucose", 105, 0.12, True, 30, 1200),
    Var("ca", 8.9, 0.35, False, 5.5, 13.5),  # at albumin 3.6 (see Trajectory.full)
    Var("mg", 2.0, 0.2, False, 0.8, 5.0),
    Var("phos", 3.5, 0.6, False, 0.8, 12),
    Var("wbc", 7.8, 0.3, True, 0.3, 90),
    Var("hgb", 13.0, 1.3, False, 4.0, 19.5),
    Var("plt", 215, 0.3, True, 8, 1000),
    Var("mcv", 90, 4, False, 65, 115),
    Var("mch", 30, 1.8, False, 20, 38),
    Var("rdw", 14.6, 1.3, False, 11, 25),
    Var("inr", 1.05, 0.05, True, 0.85, 12),
    Var("ptt", 30.5, 0.08, True, 20, 150),
    Var("lactate", 1.1, 0.25, True, 0.4, 22),
    Var("pco2x", 0, 2.0, False, -15, 60),  # respiratory component of pCO2 (mm Hg)
    Var("po2", 92, 8, False, 35, 450),
    Var("tbili", 0.6, 0.35, True, 0.1, 40),
    Var("alt", 24, 0.4, True, 4, 6000),
    Var("ast", 27, 0.35, True, 6, 8000),
    Var("alp", 80, 0.25, True, 20, 1500),
    Var("albumin", 3.6, 0.4, False, 1.2, 5.3),
    Var("trop", 0.006, 0.3, True, 0.002, 25),
    Var("ck", 110, 0.4, True, 15, 40000),
    Var("ldh", 190, 0.2, True, 80, 8000),
    Var("lipase", 35, 0.35, True, 4, 15000),
    Var("bnp", 120, 0.7, True, 8, 60000),
    Var("neut", 64, 6, False, 20, 96),
    Var("a1c", 5.5, 0.3, False, 4.2, 16),
    Var("vanco", 14, 0.25, True, 3, 70),
    Var("cvp", 8, 2.5, False, -3, 30),
)

VAR_INDEX: Final[dict[str, int]] = {v.name: i for i, v in enumerate(VARIABLES)}
N_VARS: Final = len(VARIABLES)
IS_LOG: Final = np.array([v.log for v in VARIABLES])
LOW: Final = np.array([v.low for v in VARIABLES])
HIGH: Final = np.array([v.high for v in VARIABLES])

DERIVED: Final[tuple[str, ...]] = ("hct", "rbc", "mchc", "aniongap", "pco2", "ph", "tco2", "be",
                                  "pt", "lymph", "map")
ALL_INDEX: Final[dict[str, int]] = {
    **VAR_INDEX, **{name: N_VARS + i for i, name in enumerate(DERIVED)}
}


def population_baseline(rng: np.random.Generator) -> np.ndarray:
    """A patient's own normal values (log scale for log variables)."""
    mean = np.array([np.log(v.mean) if v.log else v.mean for v in VARIABLES])
    sd = np.array([v.sd for v in VARIABLES])
    return mean + sd * np.clip(rng.standard_normal(N_VARS), -2.2, 2.2)


@dataclass
class Effects:
    """Effects on the latent variables, as parallel arrays (one entry per effect)."""

    var: list[int]
    amp: list[float]
    start: list[float]  # hours since admission when the ramp starts
    peak: list[float]  # hours since admission of the peak
    tau: list[float]  # decay time constant after the peak (hours, inf = lasting)

    @classmethod
    def empty(cls) -> Effects:
        return cls([], [], [], [], [])

    def add(self, var: str, amp: float, peak: float, rise: float = 12.0, tau: float = 48.0) -> None:
        self.var.append(VAR_INDEX[var])
        self.amp.append(amp)
        self.start.append(peak - max(rise, 0.25))
        self.peak.append(peak)
        self.tau.append(tau)

    def step(self, var: str, amp: float, at: float, rise: float = 1.0, tau: float = np.inf) -> None:
        """A change that is complete ``rise`` hours after ``at`` (and lasts, by default)."""
        self.add(var, amp, at + rise, rise, tau)


class Trajectory:
    """Evaluates an admission's latent state (and derived quantities) at any times."""

    def __init__(self, baseline: np.ndarray, effects: Effects) -> None:
        self.baseline = baseline
        self._var = np.asarray(effects.var, dtype=np.int64)
        self._amp = np.asarray(effects.amp, dtype=np.float64)
        self._start = np.asarray(effects.start, dtype=np.float64)
        self._peak = np.asarray(effects.peak, dtype=np.float64)
        tau = np.asarray(effects.tau, dtype=np.float64)
        self._inv_tau = np.where(np.isfinite(tau), 1.0 / np.maximum(tau, 1e-6), 0.0)

    def latent(self, hours: np.ndarray) -> np.ndarray:
        """``(N_VARS, len(hours))`` values in natural units, clipped to physiological ranges."""
        t = np.asarray(hours, dtype=np.float64)[None, :]
        state = np.repeat(self.baseline[:, None], t.shape[1], axis=1)
        if self._var.size:
            start, peak = self._start[:, None], self._peak[:, None]
            ramp = np.clip((t - start) / (peak - start), 0.0, 1.0)
            decay = np.exp(-np.maximum(t - peak, 0.0) * self._inv_tau[:, None])
            np.add.at(state, self._var, self._amp[:, None] * ramp * decay)
        state[IS_LOG] = np.exp(state[IS_LOG])
        return np.clip(state, LOW[:, None], HIGH[:, None])

    def full(self, hours: np.ndarray) -> np.ndarray:
        """Latent plus derived rows (indexed by :data:`ALL_INDEX`)."""
        x = self.latent(hours)
        v = VAR_INDEX
        x[v["ca"]] += 0.8 * (x[v["albumin"]] - 3.6)  # total calcium follows albumin
        x[v["cl"]] += 0.75 * (x[v["na"]] - 139.0)  # chloride moves with sodium
        hgb, mch = x[v["hgb"]], x[v["mch"]]
        hct = hgb * 2.96
        hco3 = x[v["hco3"]]
        slope = np.where(hco3 < 24.0, 1.2, 0.7)  # expected pCO2 change per mEq/L of HCO3
        pco2 = np.clip(40.0 + slope * (hco3 - 24.0) + x[v["pco2x"]], 12.0, 130.0)
        ph = 6.1 + np.log10(hco3 / (0.0307 * pco2))
        derived = np.stack([
            hct,
            hgb / mch * 10.0,
            hgb / hct * 100.0,
            x[v["na"]] - x[v["cl"]] - hco3,
            pco2,
            ph,
            hco3 + 0.03 * pco2,
            0.93 * (hco3 - 24.4 + 14.8 * (ph - 7.4)),
            11.8 * x[v["inr"]],
            np.clip(93.0 - x[v["neut"]], 1.0, 70.0),
            (x[v["sbp"]] + 2.0 * x[v["dbp"]]) / 3.0,
        ])
        return np.vstack([x, derived])
