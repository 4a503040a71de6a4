"""The ``power`` task family: sample size and power calculations (in the style of N-PowerAI).

Host side only. Six designs x {sample size, power} = 12 categories. Each instance is a study
scenario in prose with its parameters embedded; the ground truth is computed with statsmodels'
power classes (``TTestPower``, ``TTestIndPower``, ``FTestAnovaPower``, ``GofChisquarePower``) and,
for the Cox model, Schoenfeld's formula for the number of events (Schoenfeld 1983, Biometrika 70:499):

    D = (z_{1-alpha/2} + z_{1-beta})^2 / (p (1 - p) (log HR)^2),   N = D / P(event)

Sample sizes are graded as exact integers (rounded up), power within +/-0.01. Every number in a
prompt is printed at the precision the ground truth uses, and scenarios whose required sample
size lies within 1e-3 of an integer are rejected (a solver's rounding noise must not decide the
grade). The reference solution recomputes the answer in the kernel with the same libraries.
"""

from __future__ import annotations

import contextlib
import math
import random
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "1"

SIZE = Grader(rule="numeric", abs_tol=0.0)
POWER = Grader(rule="numeric", abs_tol=0.01)
SIZE_FORMAT = "an integer: the number of participants, rounded up to the next whole number"
POWER_FORMAT = "a number between 0 and 1, e.g. 0.8123 (graded within +/-0.01)"

ALPHAS = (0.01, 0.025, 0.05, 0.05, 0.05, 0.10)
POWERS = (0.80, 0.80, 0.85, 0.90, 0.90, 0.95)
MAX_N = 5000


@dataclass(frozen=True)
class Outcome:
    name: str
    unit: str
    population: str
    mean: tuple[float, float]
    sd: tuple[float, float]
    decimals: int
    better: int = -1
    """+1 if an intervention is hoped to raise the outcome, -1 to lower it."""


OUTCOMES = (
    Outcome("systolic blood pressure", "mmHg", "adults with stage 1 hypertension", (128, 160), (8, 20), 0),
    Outcome("HbA1c", "%", "adults with type 2 diabetes", (6.8, 9.5), (0.6, 1.6), 1),
    Outcome("LDL cholesterol", "mg/dL", "patients with hypercholesterolaemia", (110, 190), (18, 45), 0),
    Outcome("pain score on a 0-100 visual analogue scale", "points", "patients with chronic low back pain",
            (40, 70), (12, 25), 0),
    Outcome("FEV1", "L", "adults with moderate COPD", (1.4, 2.8), (0.35, 0.8), 2, 1),
    Outcome("body weight", "kg", "adults with obesity", (88, 120), (9, 18), 1),
    Outcome("eGFR", "mL/min/1.73 m2", "patients with chronic kidney disease stage 3", (35, 58), (8, 18), 0, 1),
    Outcome("haemoglobin", "g/dL", "patients with iron-deficiency anaemia", (8.5, 11.5), (0.9, 1.8), 1, 1),
    Outcome("six-minute walk distance", "m", "patients with heart failure", (280, 450), (50, 110), 0, 1),
    Outcome("PHQ-9 depression score", "points", "adults with moderate depression", (12, 18), (3.5, 6.5), 1),
    Outcome("fasting plasma glucose", "mg/dL", "adults with prediabetes", (102, 125), (10, 25), 0),
    Outcome("resting heart rate", "beats/min", "patients with persistent atrial fibrillation", (80, 105), (9, 16), 0),
    Outcome("serum uric acid", "mg/dL", "patients with gout", (7.0, 9.5), (1.0, 2.0), 1),
    Outcome("CD4 count", "cells/uL", "adults starting antiretroviral therapy", (250, 450), (80, 180), 0, 1),
    Outcome("serum phosphate", "mg/dL", "patients on haemodialysis", (5.0, 7.5), (0.8, 1.6), 1),
    Outcome("total sleep time", "minutes", "adults with chronic insomnia", (320, 390), (35, 70), 0, 1),
)

INTERVENTIONS = (
    "a new once-daily oral agent", "a structured exercise programme", "a nurse-led education programme",
    "a once-weekly injectable therapy", "a smartphone coaching app", "a dietary intervention",
    "a pharmacist-led medication review", "a combination tablet", "a supervised rehabilitation programme",
    "an extended-release formulation",
)
CONTROLS = ("placebo", "usual care", "the current standard treatment", "an attention-control programme")

EVENTS = (
    "death from any cause", "disease progression", "first hospitalisation for heart failure", "relapse",
    "a major adverse cardiovascular event", "treatment failure", "first severe exacerbation",
)
COX_POPULATIONS = (
    "patients with metastatic colorectal cancer", "patients with heart failure with reduced ejection fraction",
    "adults with newly diagnosed multiple myeloma", "patients after acute myocardial infarction",
    "patients with severe COPD", "patients with relapsed lymphoma", "kidney transplant recipients",
)

CONTINGENCY = (
    ("smoking status", ("never", "former", "current"), "chronic cough", ("yes", "no")),
    ("BMI category", ("normal", "overweight", "obese"), "hypertension", ("yes", "no")),
    ("influenza vaccination", ("vaccinated", "unvaccinated"), "laboratory-confirmed influenza", ("yes", "no")),
    ("physical activity level", ("low", "moderate", "high"), "self-rated health", ("poor", "fair", "good")),
    ("education level", ("primary", "secondary", "tertiary"), "cancer screening uptake", ("yes", "no")),
    ("sex", ("female", "male"), "diabetic retinopathy grade", ("none", "mild", "severe")),
    ("alcohol use", ("none", "moderate", "heavy"), "fatty liver on ultrasound", ("absent", "mild", "marked")),
    ("statin use", ("yes", "no"), "muscle symptoms", ("yes", "no")),
    ("shift work", ("yes", "no"), "sleep disorder", ("yes", "no")),
    ("age group", ("18-39", "40-64", "65+"), "frailty status", ("robust", "pre-frail", "frail")),
)


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def open_context() -> Iterator[None]:
    """Nothing to open: the scenarios are synthetic."""
    yield None


def _cells(*cells: str) -> list[str]:
    return [textwrap.dedent(c).strip() for c in cells]


def _num(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def _pct(p: float) -> str:
    return f"{p * 100:g}%"


def _near_integer(x: float) -> bool:
    return abs(x - round(x)) < 1e-3


def _sided(rng: random.Random) -> tuple[str, str]:
    """(prose, statsmodels alternative for a positive effect size)."""
    return ("two-sided", "two-sided") if rng.random() < 0.75 else ("one-sided", "larger")


def _design(rng: random.Random) -> tuple[float, float]:
    return rng.choice(ALPHAS), rng.choice(POWERS)


def _means(rng: random.Random, o: Outcome, d_range: tuple[float, float]) -> tuple[float, float, float] | None:
    """A baseline mean, an alternative mean and an SD (rounded as printed) with |d| in d_range."""
    sd = round(rng.uniform(*o.sd), o.decimals)
    d = rng.uniform(*d_range)
    m0 = round(rng.uniform(*o.mean), o.decimals)
    m1 = round(m0 + o.better * d * sd, o.decimals)
    if sd <= 0 or m1 == m0 or m1 <= 0:
        return None
    return m0, m1, sd


def _power_ok(p: float) -> bool:
    return 0.15 <= p <= 0.985


def _n_for_some_power(rng: random.Random, effect: float, alpha: float, two_sided: bool, lo: int, hi: int) -> int:
    """A sample size that gives roughly a power drawn in [0.25, 0.95] (normal approximation).

    Keeps the exact power (computed afterwards with statsmodels) inside the accepted range most of
    the time, so that few scenarios are drawn and rejected.
    """
    z = NormalDist().inv_cdf
    z_alpha = z(1 - alpha / 2) if two_sided else z(1 - alpha)
    n = ((z_alpha + z(rng.uniform(0.25, 0.95))) / effect) ** 2
    return max(lo, min(hi, round(n)))


# ---------------------------------------------------------------- t-tests


def _ttest_one(rng: random.Random, paired: bool, solve_n: bool) -> Draft | None:
    from statsmodels.stats.power import TTestPower

    o = rng.choice(OUTCOMES)
    got = _means(rng, o, (0.2, 1.1) if solve_n else (0.15, 0.9))
    if got is None:
        return None
    m0, m1, sd = got
    delta = round(abs(m1 - m0), o.decimals)
    alpha, target = _design(rng)
    sided, alt = _sided(rng)
    intervention = rng.choice(INTERVENTIONS)
    u, dec = o.unit, o.decimals
    direction = "reduction" if m1 < m0 else "increase"
    if paired:
        weeks = rng.choice((4, 6, 8, 12, 16, 24))
        setup = (
            f"In a pre-post study of {o.population}, {o.name} will be measured in each patient before "
            f"and after {weeks} weeks of {intervention}. The investigators expect a mean {direction} of "
            f"{_num(delta, dec)} {u}, and from a pilot study the standard deviation of the within-patient "
            f"changes is {_num(sd, dec)} {u}. The analysis is a {sided} paired t-test at a significance "
            f"level of {alpha:g}."
        )
        effect = f"effect_size = {_num(delta, dec)} / {_num(sd, dec)}  # mean change / SD of the changes"
        es = delta / sd
        who = "patients (pairs of measurements)"
    else:
        setup = (
            f"Among {o.population}, the mean {o.name} is known to be {_num(m0, dec)} {u}. Investigators "
            f"expect that patients given {intervention} will have a mean {o.name} of {_num(m1, dec)} {u}, "
            f"with a standard deviation of {_num(sd, dec)} {u}. They plan a single-arm study analysed "
            f"with a {sided} one-sample t-test against the known mean, at a significance level of {alpha:g}."
        )
        effect = f"effect_size = abs({_num(m1, dec)} - {_num(m0, dec)}) / {_num(sd, dec)}  # Cohen's d"
        es = abs(m1 - m0) / sd
        who = "patients"
    if solve_n:
        n = TTestPower().solve_power(effect_size=es, nobs=None, alpha=alpha, power=target, alternative=alt)
        if not (2 < n < MAX_N) or _near_integer(n):
            return None
        question = f"{setup} How many {who} must be enrolled to achieve {_pct(target)} power?"
        code = f"""
            import math
            from statsmodels.stats.power import TTestPower

            n = TTestPower().solve_power(effect_size=effect_size, alpha={alpha!r}, power={target!r}, alternative={alt!r})
            print(effect_size, n)
            submit(math.ceil(n))
            """
        return Draft(question=question, answer=math.ceil(n), reference=_cells(effect, code))
    n = _n_for_some_power(rng, es, alpha, alt == "two-sided", 6, 400) + 1
    p = float(TTestPower().power(effect_size=es, nobs=n, alpha=alpha, alternative=alt))
    if not _power_ok(p):
        return None
    question = f"{setup} The study can enrol {n} {who}. What is its statistical power?"
    code = f"""
        from statsmodels.stats.power import TTestPower

        power = TTestPower().power(effect_size=effect_size, nobs={n}, alpha={alpha!r}, alternative={alt!r})
        print(effect_size, power)
        submit(round(float(power), 4))
        """
    return Draft(question=question, answer=round(p, 6), reference=_cells(effect, code))


def _ttest_two(rng: random.Random, solve_n: bool) -> Draft | None:
    from statsmodels.stats.power import TTestIndPower

    o = rng.choice(OUTCOMES)
    got = _means(rng, o, (0.2, 1.1) if solve_n else (0.15, 0.9))
    if got is None:
        return None
    m0, m1, sd = got
    alpha, target = _design(rng)
    sided, alt = _sided(rng)
    u, dec = o.unit, o.decimals
    setup = (
        f"A randomised controlled trial in {o.population} will compare {rng.choice(INTERVENTIONS)} with "
        f"{rng.choice(CONTROLS)}, allocating patients 1:1. The expected mean {o.name} at follow-up is "
        f"{_num(m0, dec)} {u} in the control arm and {_num(m1, dec)} {u} in the intervention arm, with a "
        f"common standard deviation of {_num(sd, dec)} {u}. The primary analysis is a {sided} two-sample "
        f"t-test (equal variances) at a significance level of {alpha:g}."
    )
    es = abs(m1 - m0) / sd
    effect = f"effect_size = abs({_num(m1, dec)} - {_num(m0, dec)}) / {_num(sd, dec)}  # Cohen's d"
    if solve_n:
        n = TTestIndPower().solve_power(effect_size=es, nobs1=None, alpha=alpha, power=target, ratio=1.0, alternative=alt)
        if not (2 < n < MAX_N) or _near_integer(n):
            return None
        question = f"{setup} How many patients are needed in each group to achieve {_pct(target)} power?"
        code = f"""
            import math
            from statsmodels.stats.power import TTestIndPower

            n = TTestIndPower().solve_power(effect_size=effect_size, alpha={alpha!r}, power={target!r}, ratio=1.0, alternative={alt!r})
            print(effect_size, n)
            submit(math.ceil(n))
            """
        return Draft(question=question, answer=math.ceil(n), reference=_cells(effect, code))
    n = _n_for_some_power(rng, es / math.sqrt(2), alpha, alt == "two-sided", 6, 600) + 1
    p = float(TTestIndPower().power(effect_size=es, nobs1=n, alpha=alpha, ratio=1.0, alternative=alt))
    if not _power_ok(p):
        return None
    question = f"{setup} The trial can enrol {n} patients per group. What is its statistical power?"
    code = f"""
        from statsmodels.stats.power import TTestIndPower

        power = TTestIndPower().power(effect_size=effect_size, nobs1={n}, alpha={alpha!r}, ratio=1.0, alternative={alt!r})
        print(effect_size, power)
        submit(round(float(power), 4))
        """
    return Draft(question=question, answer=round(p, 6), reference=_cells(effect, code))


# ---------------------------------------------------------------- one-way ANOVA


def _anova(rng: random.Random, solve_n: bool) -> Draft | None:
    from statsmodels.stats.power import FTestAnovaPower

    o = rng.choice(OUTCOMES)
    k = rng.choice((3, 3, 4, 5))
    sd = round(rng.uniform(*o.sd), o.decimals)
    base = rng.uniform(*o.mean)
    f_target = rng.uniform(0.12, 0.55) if solve_n else rng.uniform(0.1, 0.45)
    offsets = [rng.uniform(-1, 1) for _ in range(k)]
    mean_off = sum(offsets) / k
    spread = math.sqrt(sum((x - mean_off) ** 2 for x in offsets) / k)
    if spread < 1e-6:
        return None
    means = [round(base + (x - mean_off) / spread * f_target * sd, o.decimals) for x in offsets]
    if min(means) <= 0 or len(set(means)) < k:
        return None
    mu = sum(means) / k
    f = math.sqrt(sum((m - mu) ** 2 for m in means) / k) / sd
    alpha, target = _design(rng)
    u, dec = o.unit, o.decimals
    arms = ", ".join(f"arm {chr(65 + i)}" for i in range(k))
    setup = (
        f"A {k}-arm randomised trial in {o.population} compares {k} treatment strategies ({arms}), "
        f"with equal allocation. The expected mean {o.name} is "
        f"{', '.join(_num(m, dec) for m in means)} {u} in {arms} respectively, with a common "
        f"within-group standard deviation of {_num(sd, dec)} {u}. The analysis is a one-way ANOVA F-test "
        f"at a significance level of {alpha:g}, with effect size Cohen's f (the standard deviation of the "
        f"group means, population formula, divided by the within-group standard deviation)."
    )
    means_src = "[" + ", ".join(_num(m, dec) for m in means) + "]"
    effect = f"""
        import numpy as np

        means = np.array({means_src})
        effect_size = means.std(ddof=0) / {_num(sd, dec)}  # Cohen's f
        """
    if solve_n:
        n = float(FTestAnovaPower().solve_power(effect_size=f, nobs=None, alpha=alpha, power=target, k_groups=k))
        if not (k + 1 < n < MAX_N) or _near_integer(n):
            return None
        question = (
            f"{setup} What total sample size (all arms together) is needed for {_pct(target)} power? Report "
            f"the total N given by the power equation, rounded up to the next integer (do not round it to "
            f"a multiple of the number of arms)."
        )
        code = f"""
            import math
            from statsmodels.stats.power import FTestAnovaPower

            n_total = FTestAnovaPower().solve_power(effect_size=effect_size, alpha={alpha!r}, power={target!r}, k_groups={k})
            print(effect_size, n_total)
            submit(math.ceil(n_total))
            """
        return Draft(question=question, answer=math.ceil(n), reference=_cells(effect, code))
    per = max(4, round(_n_for_some_power(rng, f, alpha, True, 8, 5000) * (1 + 0.3 * (k - 2)) / k))
    p = float(FTestAnovaPower().power(effect_size=f, nobs=per * k, alpha=alpha, k_groups=k))
    if not _power_ok(p):
        return None
    question = f"{setup} The trial will enrol {per} patients per arm ({per * k} in total). What is the power of the F-test?"
    code = f"""
        from statsmodels.stats.power import FTestAnovaPower

        power = FTestAnovaPower().power(effect_size=effect_size, nobs={per * k}, alpha={alpha!r}, k_groups={k})
        print(effect_size, power)
        submit(round(float(power), 4))
        """
    return Draft(question=question, answer=round(p, 6), reference=_cells(effect, code))


# ---------------------------------------------------------------- chi-square test of independence


def _table(rng: random.Random, r: int, c: int) -> list[list[float]] | None:
    """Joint cell proportions with 3 decimals that sum to exactly 1."""
    raw = [[rng.uniform(0.3, 3.0) for _ in range(c)] for _ in range(r)]
    total = sum(map(sum, raw))
    cells = [[round(x / total, 3) for x in row] for row in raw]
    milli = [[round(x * 1000) for x in row] for row in cells]
    milli[-1][-1] += 1000 - sum(map(sum, milli))
    if min(min(row) for row in milli) < 10:
        return None
    return [[m / 1000 for m in row] for row in milli]


def _cohen_w(table: list[list[float]]) -> float:
    rows = [sum(row) for row in table]
    cols = [sum(col) for col in zip(*table)]
    return math.sqrt(
        sum((table[i][j] - rows[i] * cols[j]) ** 2 / (rows[i] * cols[j]) for i in range(len(rows)) for j in range(len(cols)))
    )


def _chi2(rng: random.Random, solve_n: bool) -> Draft | None:
    from statsmodels.stats.power import GofChisquarePower

    row_name, row_levels, col_name, col_levels = rng.choice(CONTINGENCY)
    table = _table(rng, len(row_levels), len(col_levels))
    if table is None:
        return None
    w = _cohen_w(table)
    if not 0.08 <= w <= 0.6:
        return None
    df = (len(row_levels) - 1) * (len(col_levels) - 1)
    alpha, target = _design(rng)
    width = max(len(x) for x in row_levels) + 2
    header = " " * width + "  ".join(f"{x:>8}" for x in col_levels)
    lines = [header] + [
        f"{lvl:<{width}}" + "  ".join(f"{v:>8.3f}" for v in row) for lvl, row in zip(row_levels, table)
    ]
    grid = "\n".join("    " + line for line in lines)
    setup = (
        f"A cross-sectional study will test whether {row_name} is associated with {col_name}. Under the "
        f"alternative hypothesis, the expected proportions of the {len(row_levels)}x{len(col_levels)} "
        f"table (rows: {row_name}; columns: {col_name}) are:\n\n{grid}\n\nThe analysis is a chi-square "
        f"test of independence at a significance level of {alpha:g}, with Cohen's effect size w computed "
        f"from this table (cell proportions compared with the products of their margins)."
    )
    table_src = "[" + ", ".join("[" + ", ".join(f"{v:.3f}" for v in row) + "]" for row in table) + "]"
    effect = f"""
        import numpy as np

        p = np.array({table_src})
        expected = np.outer(p.sum(axis=1), p.sum(axis=0))
        effect_size = np.sqrt(((p - expected) ** 2 / expected).sum())  # Cohen's w
        dof = (p.shape[0] - 1) * (p.shape[1] - 1)
        """
    if solve_n:
        n = float(GofChisquarePower().solve_power(effect_size=w, nobs=None, alpha=alpha, power=target, n_bins=df + 1))
        if not (5 < n < 20 * MAX_N) or _near_integer(n):
            return None
        question = f"{setup}\n\nWhat total sample size is needed for {_pct(target)} power?"
        code = f"""
            import math
            from statsmodels.stats.power import GofChisquarePower

            n = GofChisquarePower().solve_power(effect_size=effect_size, alpha={alpha!r}, power={target!r}, n_bins=dof + 1)
            print(effect_size, dof, n)
            submit(math.ceil(n))
            """
        return Draft(question=question, answer=math.ceil(n), reference=_cells(effect, code))
    n = 10 * round(_n_for_some_power(rng, w, alpha, True, 40, 50000) * (1 + 0.3 * (df - 1)) / 10)
    p = float(GofChisquarePower().power(effect_size=w, nobs=n, alpha=alpha, n_bins=df + 1))
    if not _power_ok(p):
        return None
    question = f"{setup}\n\nThe study will include {n} participants in total. What is the power of the test?"
    code = f"""
        from statsmodels.stats.power import GofChisquarePower

        power = GofChisquarePower().power(effect_size=effect_size, nobs={n}, alpha={alpha!r}, n_bins=dof + 1)
        print(effect_size, dof, power)
        submit(round(float(power), 4))
        """
    return Draft(question=question, answer=round(p, 6), reference=_cells(effect, code))


# ---------------------------------------------------------------- Cox proportional hazards (Schoenfeld)


def schoenfeld_events(hr: float, alpha: float, power: float, p_treat: float) -> float:
    """Events needed to detect ``hr`` with a two-sided test (Schoenfeld 1983)."""
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return z**2 / (p_treat * (1 - p_treat) * math.log(hr) ** 2)


def schoenfeld_power(hr: float, alpha: float, events: float, p_treat: float) -> float:
    """Power of a two-sided test of ``hr`` after ``events`` events (normal approximation, one tail)."""
    from scipy.stats import norm

    return float(norm.cdf(abs(math.log(hr)) * math.sqrt(events * p_treat * (1 - p_treat)) - norm.ppf(1 - alpha / 2)))


def _cox(rng: random.Random, solve_n: bool) -> Draft | None:
    hr = round(rng.uniform(0.45, 0.85) if rng.random() < 0.8 else rng.uniform(1.2, 1.9), 2)
    pe = round(rng.uniform(0.2, 0.85), 2)
    ratio, p_treat, p_src = rng.choice(((1, 1 / 2, "1 / 2"), (1, 1 / 2, "1 / 2"), (2, 2 / 3, "2 / 3"), (3, 3 / 4, "3 / 4")))
    alpha, target = _design(rng)
    event = rng.choice(EVENTS)
    alloc = "1:1" if ratio == 1 else f"{ratio}:1 (intervention:control)"
    setup = (
        f"A randomised trial in {rng.choice(COX_POPULATIONS)} will compare {rng.choice(INTERVENTIONS)} with "
        f"{rng.choice(CONTROLS)} on time to {event}, with {alloc} allocation. The anticipated hazard ratio "
        f"(intervention vs control) is {hr:.2f}. Over the planned follow-up, a proportion {pe:.2f} of all "
        f"patients is expected to experience {event}. The analysis is a two-sided test of the treatment "
        f"effect in a Cox proportional hazards model at a significance level of {alpha:g}."
    )
    if solve_n:
        d = schoenfeld_events(hr, alpha, target, p_treat)
        n = d / pe
        if not (10 < n < 20 * MAX_N) or _near_integer(n):
            return None
        question = (
            f"{setup} Using Schoenfeld's formula for the required number of events, how many patients "
            f"must be enrolled in total for {_pct(target)} power? Divide the (unrounded) number of events "
            f"by the event proportion and round the total up to the next integer."
        )
        code = f"""
            import math
            from scipy.stats import norm

            p = {p_src}  # proportion allocated to the intervention
            z = norm.ppf(1 - {alpha!r} / 2) + norm.ppf({target!r})
            events = z ** 2 / (p * (1 - p) * math.log({hr:.2f}) ** 2)  # Schoenfeld
            n_total = events / {pe:.2f}
            print(events, n_total)
            submit(math.ceil(n_total))
            """
        return Draft(question=question, answer=math.ceil(n), reference=_cells(code))
    n = 10 * round(_n_for_some_power(rng, abs(math.log(hr)) * math.sqrt(p_treat * (1 - p_treat) * pe), alpha, True, 60, 20000) / 10)
    power = schoenfeld_power(hr, alpha, n * pe, p_treat)
    if not _power_ok(power):
        return None
    question = (
        f"{setup} The trial will enrol {n} patients. Using Schoenfeld's formula (expected events = "
        f"patients x event proportion), what is its power to detect the anticipated hazard ratio?"
    )
    code = f"""
        import math
        from scipy.stats import norm

        p = {p_src}  # proportion allocated to the intervention
        events = {n} * {pe:.2f}
        power = norm.cdf(abs(math.log({hr:.2f})) * math.sqrt(events * p * (1 - p)) - norm.ppf(1 - {alpha!r} / 2))
        print(events, power)
        submit(round(float(power), 4))
        """
    return Draft(question=question, answer=round(power, 6), reference=_cells(code))


# ---------------------------------------------------------------- categories


def _category(name: str, description: str, solve_n: bool, fn: Callable[[random.Random, bool], Draft | None]) -> Category:
    def generate(ctx: Any, rng: random.Random) -> Draft | None:
        for _ in range(10):
            draft = fn(rng, solve_n)
            if draft is not None:
                return draft
        return None

    return Category(
        name=name, description=description, grader=SIZE if solve_n else POWER,
        answer_format=SIZE_FORMAT if solve_n else POWER_FORMAT, generate=generate,
    )


_DESIGNS: tuple[tuple[str, str, Callable[[random.Random, bool], Draft | None]], ...] = (
    ("one_sample_t", "a one-sample t-test against a known mean", lambda r, s: _ttest_one(r, False, s)),
    ("paired_t", "a paired t-test of pre-post changes", lambda r, s: _ttest_one(r, True, s)),
    ("two_sample_t", "a two-sample t-test in a 1:1 randomised trial", _ttest_two),
    ("anova", "a one-way ANOVA F-test across k arms (Cohen's f)", _anova),
    ("chi2_independence", "a chi-square test of independence on an r x c table (Cohen's w)", _chi2),
    ("cox", "a Cox proportional hazards comparison (Schoenfeld's formula)", _cox),
)

CATEGORIES: dict[str, Category] = {}
for _name, _what, _fn in _DESIGNS:
    CATEGORIES[f"{_name}_sample_size"] = _category(
        f"{_name}_sample_size", f"Sample size for {_what}, from a study scenario.", True, _fn
    )
    CATEGORIES[f"{_name}_power"] = _category(f"{_name}_power", f"Power of {_what}, from a study scenario.", False, _fn)
del _name, _what, _fn
