"""The ``biostat`` task family: biostatistics on the real public data sets of the ``biomed`` profile.

Host side only. Every instance names a data set that is preloaded in the kernel (lifelines' rossi,
gbsg2, lung, ...; scikit-learn's breast_cancer and diabetes; statsmodels' heart, china_smoking and
randhie), a sample (all rows, or a stated subgroup), the codings of the variables it uses, and one
analysis. The ground truth comes from the reference libraries (lifelines, scipy, statsmodels,
scikit-learn) run on the host on the same data, loaded with the same loaders as the kernel
(:mod:`kernelgym.kernel.biomed`).

Each instance's reference solution has two cells: the data preparation (copy, codings, subgroup,
missing values), which is also what the host runs to build the sample, and the analysis, which
recomputes the answer in the kernel and submits it. Several categories are analyses with several
steps in the style of BioDSBench (dichotomise then model; tertiles then Kaplan-Meier; split, scale,
fit and score; Kaplan-Meier estimates turned into a number needed to treat).

Draws whose answer would be fragile are rejected: a Kaplan-Meier curve that touches 0.5 exactly,
medians not reached, p-values below 1e-6 (graded relative to their size, they would hinge on
floating-point noise), models that do not converge, numbers needed to treat within 1e-6 of an
integer, and groups with fewer than 5 rows.
"""

from __future__ import annotations

import contextlib
import math
import random
import textwrap
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "2"  # 2: cox_hr and nnt_km balanced (issue 17)

TIME = Grader(rule="numeric", abs_tol=1e-6, rel_tol=1e-6)
PROB = Grader(rule="numeric", abs_tol=0.001)
PVALUE = Grader(rule="numeric", rel_tol=0.01)
RATIO = Grader(rule="numeric", rel_tol=0.005)
RATIO_CI = Grader(rule="list", rel_tol=0.005)
COEF = Grader(rule="numeric", rel_tol=1e-4, abs_tol=1e-6)
CORR = Grader(rule="numeric", abs_tol=0.001)
AUROC = Grader(rule="numeric", abs_tol=0.005)
PROP = Grader(rule="numeric", abs_tol=0.0005)
PROP_CI = Grader(rule="list", abs_tol=0.0005)
INTEGER = Grader(rule="numeric", abs_tol=0.0)

MIN_GROUP = 5
MIN_P = 1e-6


# ---------------------------------------------------------------- data set descriptions


@dataclass(frozen=True)
class Var:
    """A variable of a data set, after the stated codings."""

    col: str
    desc: str
    kind: str = "numeric"  # numeric | binary
    code: str | None = None  # a line creating/recoding the column from the raw data set
    text: str | None = None  # the same coding, in words (told to the agent)
    lo: float | None = None  # range of thresholds for subgroup filters (numeric variables)
    hi: float | None = None
    step: float = 1.0


@dataclass(frozen=True)
class Dataset:
    name: str
    about: str
    vars: tuple[Var, ...]
    time: str | None = None
    event: str | None = None
    unit: str = ""
    event_text: str = ""
    nan: bool = False

    def var(self, col: str) -> Var:
        return next(v for v in self.vars if v.col == col)

    def of_kind(self, kind: str) -> list[Var]:
        return [v for v in self.vars if v.kind == kind]

    def filterable(self) -> list[Var]:
        return [v for v in self.vars if v.lo is not None]


def _bin(col: str, desc: str, code: str | None = None, text: str | None = None) -> Var:
    return Var(col, desc, "binary", code, text)


def _num(col: str, desc: str, lo: float | None = None, hi: float | None = None, step: float = 1.0,
         code: str | None = None, text: str | None = None) -> Var:
    return Var(col, desc, "numeric", code, text, lo, hi, step)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "gbsg2", "German Breast Cancer Study Group 2 (time: days to recurrence or death; cens = 1 if the "
            "event was observed)",
            (
                _bin("horTh", "hormonal therapy", 'df["horTh"] = (df["horTh"] == "yes").astype(int)',
                     "horTh = 1 if horTh is 'yes', else 0 (recoded in place)"),
                _bin("post", "postmenopausal status", 'df["post"] = (df["menostat"] == "Post").astype(int)',
                     "post = 1 if menostat is 'Post', else 0"),
                _bin("grade3", "tumour grade III", 'df["grade3"] = (df["tgrade"] == "III").astype(int)',
                     "grade3 = 1 if tgrade is 'III', else 0"),
                _num("age", "age (years)", 35, 65),
                _num("tsize", "tumour size (mm)", 15, 40),
                _num("pnodes", "number of positive lymph nodes", 1, 8),
                _num("progrec", "progesterone receptor (fmol/l)", 10, 200, 5),
                _num("estrec", "estrogen receptor (fmol/l)", 10, 200, 5),
            ),
            time="time", event="cens", unit="days", event_text="recurrence-free survival",
        ),
        Dataset(
            "rossi", "Rossi recidivism data (week: weeks to re-arrest, censored at 52; arrest = 1 if re-arrested)",
            (
                _bin("fin", "financial aid after release"),
                _bin("race", "race (1 = black)"),
                _bin("wexp", "full-time work experience"),
                _bin("mar", "married at release"),
                _bin("paro", "released on parole"),
                _num("age", "age at release (years)", 19, 30),
                _num("prio", "number of prior convictions", 1, 6),
            ),
            time="week", event="arrest", unit="weeks", event_text="time to re-arrest",
        ),
        Dataset(
            "lung", "NCCTG advanced lung cancer trial (time: days; status = 1 for death, 0 censored)",
            (
                _bin("female", "female sex", 'df["female"] = (df["sex"] == 2).astype(int)', "female = 1 if sex == 2, else 0"),
                _num("age", "age (years)", 50, 70),
                _num("ph.ecog", "ECOG performance score (physician)"),
                _num("ph.karno", "Karnofsky score (physician)", 60, 90, 10),
                _num("wt.loss", "weight loss in the last six months (pounds)", 0, 15),
            ),
            time="time", event="status", unit="days", event_text="overall survival", nan=True,
        ),
        Dataset(
            "waltons", "Drosophila lifespans (T: days; E = 1 if death was observed)",
            (_bin("mir137", "the miR-137 group", 'df["mir137"] = (df["group"] == "miR-137").astype(int)',
                  "mir137 = 1 if group is 'miR-137', else 0 ('control')"),),
            time="T", event="E", unit="days", event_text="survival",
        ),
        Dataset(
            "larynx", "laryngeal cancer patients (time: years; death = 1 if death was observed; stage I has all "
            "stage indicators 0)",
            (_bin("Stage_IV", "stage IV disease"), _bin("Stage_III", "stage III disease"),
             _bin("Stage_II", "stage II disease"), _num("age", "age (years)", 55, 75)),
            time="time", event="death", unit="years", event_text="overall survival",
        ),
        Dataset(
            "kidney_transplant", "kidney transplant recipients (time: days; death = 1 if death was observed)",
            (_bin("black_male", "black male"), _bin("white_male", "white male"), _bin("black_female", "black female"),
             _num("age", "age at transplant (years)", 25, 60)),
            time="time", event="death", unit="days", event_text="overall survival",
        ),
        Dataset(
            "leukemia", "acute leukemia remission times (t: weeks; status = 1 if relapse was observed; Rx = 1 for "
            "placebo, 0 for 6-MP)",
            (_bin("Rx", "placebo (vs 6-MP)"), _bin("sex", "sex coded 1"), _num("logWBC", "log white blood cell count", 2.0, 3.5, 0.1)),
            time="t", event="status", unit="weeks", event_text="remission",
        ),
        Dataset(
            "heart", "Stanford heart transplant survival (survival: days; censors = 1 if death was observed)",
            (_num("age", "age (years)", 35, 55),),
            time="survival", event="censors", unit="days", event_text="survival",
        ),
        Dataset(
            "psychiatric_patients", "psychiatric inpatients (T: years of follow-up; C = 1 if death was observed)",
            (_bin("male", "male sex", 'df["male"] = (df["sex"] == 1).astype(int)', "male = 1 if sex == 1, else 0"),
             _num("Age", "age at admission (years)", 20, 45)),
            time="T", event="C", unit="years", event_text="survival",
        ),
        Dataset(
            "breast_cancer", "Wisconsin Diagnostic Breast Cancer (30 nucleus features; target 0 = malignant, 1 = benign)",
            (
                _bin("malignant", "malignant diagnosis", 'df["malignant"] = 1 - df["target"]', "malignant = 1 - target"),
                _num("mean radius", "mean radius", 11, 18, 0.5),
                _num("mean texture", "mean texture", 15, 25, 0.5),
                _num("mean smoothness", "mean smoothness"),
                _num("mean symmetry", "mean symmetry"),
                _num("mean fractal dimension", "mean fractal dimension"),
                _num("texture error", "texture error"),
                _num("smoothness error", "smoothness error"),
                _num("symmetry error", "symmetry error"),
                _num("fractal dimension error", "fractal dimension error"),
                _num("worst smoothness", "worst smoothness"),
                _num("mean compactness", "mean compactness"),
            ),
        ),
        Dataset(
            "diabetes", "diabetes progression (age, sex coded 1/2, bmi, bp, six serum measures s1-s6, target = "
            "disease progression after one year; unscaled)",
            (
                _bin("sex2", "sex coded 2", 'df["sex2"] = (df["sex"] == 2).astype(int)', "sex2 = 1 if sex == 2, else 0"),
                _bin("obese", "obesity (BMI >= 30)", 'df["obese"] = (df["bmi"] >= 30).astype(int)', "obese = 1 if bmi >= 30, else 0"),
                _bin("high_prog", "progression above 140", 'df["high_prog"] = (df["target"] > 140).astype(int)',
                     "high_prog = 1 if target > 140, else 0"),
                _num("age", "age (years)", 30, 60),
                _num("bmi", "body mass index", 22, 32, 0.5),
                _num("bp", "mean blood pressure", 80, 105),
                _num("s1", "s1 (total cholesterol)"),
                _num("s2", "s2 (LDL)"),
                _num("s3", "s3 (HDL)"),
                _num("s4", "s4 (total cholesterol / HDL)"),
                _num("s5", "s5 (log serum triglycerides)"),
                _num("s6", "s6 (blood sugar)"),
                _num("target", "disease progression"),
            ),
        ),
    ]
}
SURVIVAL = [d for d in DATASETS.values() if d.time]
# data sets whose Kaplan-Meier curves usually fall below 0.5 (rossi and kidney_transplant rarely do)
MEDIAN_SETS = [d for d in SURVIVAL if d.name not in ("rossi", "kidney_transplant")]


# ---------------------------------------------------------------- context


@dataclass
class BiostatContext:
    frames: dict[str, Any]
    _cache: dict[Any, Any] = field(default_factory=dict)

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        """``fn()``, computed once per key (repeated draws of a popular sample cost nothing)."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


@contextlib.contextmanager
def open_context() -> Iterator[BiostatContext]:
    """The data sets of the biomed profile, loaded with the kernel's own loaders."""
    from kernelgym.kernel.biomed import load_datasets

    yield BiostatContext(frames=load_datasets())


# ---------------------------------------------------------------- samples


@dataclass
class Sample:
    """A data set, its codings, an optional subgroup, and the prepared DataFrame."""

    ds: Dataset
    lines: list[str]
    words: list[str]
    df: Any

    @property
    def prep(self) -> str:
        return "\n".join(self.lines)

    def intro(self) -> str:
        text = f"Use the `{self.ds.name}` DataFrame: {self.ds.about}."
        if self.words:
            text += " " + " ".join(self.words)
        return text


def _fmt(x: float) -> str:
    return f"{x:g}"


def _sample(ctx: BiostatContext, rng: random.Random, ds: Dataset, used: list[str], *, filter_p: float = 0.6,
            exclude: tuple[str, ...] = ()) -> Sample | None:
    """Prepare ``ds`` for the variables ``used``: codings, an optional subgroup, complete cases."""
    lines = [f"df = {ds.name}.copy()"]
    words: list[str] = []
    needed = list(dict.fromkeys([c for c in used if c]))
    codings = [ds.var(c) for c in needed if any(v.col == c for v in ds.vars) and ds.var(c).code]
    filt = None
    candidates = [v for v in ds.filterable() if v.col not in exclude]
    if candidates and rng.random() < filter_p:
        filt = rng.choice(candidates)
        steps = int(round((filt.hi - filt.lo) / filt.step))  # type: ignore[operator]
        value = round(filt.lo + filt.step * rng.randint(0, steps), 6)  # type: ignore[operator]
        op = rng.choice((">=", "<"))
        if filt.code and filt not in codings:
            codings.append(filt)
    for v in codings:
        lines.append(v.code)  # type: ignore[arg-type]
        words.append(f"Define {v.text}." if v.text else "")
    if filt is not None:
        lines.append(f"df = df[df[{filt.col!r}] {op} {value!r}]")
        words.append(f"Restrict the analysis to rows with {filt.col} {op} {_fmt(value)}.")
        needed.append(filt.col)
    if ds.nan:
        lines.append(f"df = df.dropna(subset={needed!r})")
        words.append(f"Drop rows with a missing value in {', '.join(needed)}.")
    lines.append("df = df.reset_index(drop=True)")
    df = ctx.memo(("sample", "\n".join(lines)), lambda: _prepare(ctx, ds.name, lines))
    if len(df) < 2 * MIN_GROUP:
        return None
    return Sample(ds, lines, [w for w in words if w], df)


def _prepare(ctx: BiostatContext, name: str, lines: list[str]) -> Any:
    """Run the preparation code (also the reference's first cell) on the data set. The result is
    cached and shared between draws: generators must not modify it in place."""
    env = {name: ctx.frames[name]}
    exec("\n".join(lines), env)  # noqa: S102 - our own preparation code
    return env["df"]


def _survival_cols(ds: Dataset) -> list[str]:
    return [ds.time, ds.event]  # type: ignore[list-item]


def _cells(*cells: str) -> list[str]:
    return [textwrap.dedent(c).strip() for c in cells]


def _r(x: float) -> float:
    """The stored ground truth: 10 significant digits (tolerances are far wider)."""
    return float(f"{float(x):.10g}")


def _group_ok(df: Any, col: str) -> bool:
    counts = df[col].value_counts()
    return set(counts.index) == {0, 1} and counts.min() >= MIN_GROUP


# ---------------------------------------------------------------- survival: Kaplan-Meier


# The host computes Kaplan-Meier estimates and log-rank tests with statsmodels (30-60 times faster
# than lifelines here); the reference solutions in the kernel use lifelines. The two agree exactly
# (tests/families/test_biomed_families.py runs the references of many drafts on the host and compares),
# except for medians where the curve touches 0.5 exactly, which are rejected.


def _km(df: Any, ds: Dataset) -> Any:
    from statsmodels.duration.survfunc import SurvfuncRight

    return SurvfuncRight(df[ds.time].to_numpy(float), df[ds.event].to_numpy(float))


def _km_at(sf: Any, t: float) -> float:
    """S(t) of a right-continuous Kaplan-Meier step function (events at t included)."""
    import numpy as np

    i = int(np.searchsorted(sf.surv_times, t, side="right"))
    return 1.0 if i == 0 else float(sf.surv_prob[i - 1])


def _km_median(df: Any, ds: Dataset) -> float | None:
    """The Kaplan-Meier median, or None if it is not reached or the curve touches 0.5 exactly."""
    sf = _km(df, ds)
    if (abs(sf.surv_prob - 0.5) < 1e-9).any():
        return None
    med = float(sf.quantile(0.5))
    return med if math.isfinite(med) else None


def _logrank_p(df: Any, ds: Dataset, group: str) -> float:
    from statsmodels.duration.survfunc import survdiff

    return float(survdiff(df[ds.time].to_numpy(float), df[ds.event].to_numpy(float), df[group].to_numpy())[1])


def gen_km_median(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = rng.choice(MEDIAN_SETS)
    binaries = ds.of_kind("binary")
    group = rng.choice(binaries) if binaries and rng.random() < 0.7 else None
    level = rng.choice((0, 1))
    s = _sample(ctx, rng, ds, _survival_cols(ds) + ([group.col] if group else []))
    if s is None:
        return None
    df = s.df
    who = "all rows of the sample"
    if group:
        df = df[df[group.col] == level]
        who = f"the rows with {group.col} == {level}"
    if len(df) < MIN_GROUP:
        return None
    med = ctx.memo(("km-median", s.prep, who), lambda: _km_median(df, ds))
    if med is None:
        return None
    sub = f"sub = df[df[{group.col!r}] == {level}]" if group else "sub = df"
    return Draft(
        question=(
            f"{s.intro()} What is the Kaplan-Meier median {ds.event_text} time ({ds.unit}) of {who}, with "
            f"{ds.time} as the time and {ds.event} as the event indicator?"
        ),
        answer=_r(med),
        reference=_cells(
            s.prep,
            f"""
            from lifelines import KaplanMeierFitter

            {sub}
            kmf = KaplanMeierFitter().fit(sub[{ds.time!r}], sub[{ds.event!r}])
            submit(float(kmf.median_survival_time_))
            """,
        ),
    )


def gen_km_survival_at(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = rng.choice(SURVIVAL)
    binaries = ds.of_kind("binary")
    group = rng.choice(binaries) if binaries and rng.random() < 0.7 else None
    level = rng.choice((0, 1))
    s = _sample(ctx, rng, ds, _survival_cols(ds) + ([group.col] if group else []))
    if s is None:
        return None
    df = s.df[s.df[group.col] == level] if group else s.df
    if len(df) < MIN_GROUP:
        return None
    times = sorted(df[ds.time])
    lo, hi = times[len(times) // 10], times[(9 * len(times)) // 10]
    if hi <= lo:
        return None
    scale = 1 if hi - lo > 20 else 10
    t = round(rng.uniform(lo, hi) * scale) / scale
    if t in set(df[ds.time]):
        return None  # a time that is also an observation time invites off-by-one conventions
    surv = _km_at(_km(df, ds), t)
    sub = f"sub = df[df[{group.col!r}] == {level}]" if group else "sub = df"
    who = f"the rows with {group.col} == {level}" if group else "all rows of the sample"
    return Draft(
        question=(
            f"{s.intro()} What is the Kaplan-Meier estimate of the probability of {ds.event_text} beyond "
            f"{_fmt(t)} {ds.unit} (that is, S({_fmt(t)})) for {who}, with {ds.time} as the time and {ds.event} as "
            f"the event indicator?"
        ),
        answer=_r(surv),
        reference=_cells(
            s.prep,
            f"""
            from lifelines import KaplanMeierFitter

            {sub}
            kmf = KaplanMeierFitter().fit(sub[{ds.time!r}], sub[{ds.event!r}])
            submit(round(float(kmf.survival_function_at_times({t!r}).iloc[0]), 6))
            """,
        ),
    )


def gen_km_median_by_tertile(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = rng.choice([d for d in MEDIAN_SETS if d.of_kind("numeric")])
    var = rng.choice(ds.of_kind("numeric"))
    which, label = rng.choice(((0, "lowest"), (2, "highest"), (1, "middle")))
    s = _sample(ctx, rng, ds, _survival_cols(ds) + [var.col], exclude=(var.col,))
    if s is None:
        return None
    import pandas as pd

    try:
        tert = pd.qcut(s.df[var.col], 3, labels=False)
    except ValueError:
        return None  # duplicate bin edges
    df = s.df[tert == which]
    if len(df) < MIN_GROUP:
        return None
    med = ctx.memo(("km-tertile", s.prep, var.col, which), lambda: _km_median(df, ds))
    if med is None:
        return None
    return Draft(
        question=(
            f"{s.intro()} Split the sample into tertiles of {var.col} ({var.desc}) with "
            f"pandas.qcut(df[{var.col!r}], 3, labels=False) (0 = lowest). What is the Kaplan-Meier median "
            f"{ds.event_text} time ({ds.unit}) in the {label} tertile, with {ds.time} as the time and {ds.event} "
            f"as the event indicator?"
        ),
        answer=_r(med),
        reference=_cells(
            s.prep,
            f"""
            import pandas as pd
            from lifelines import KaplanMeierFitter

            tertile = pd.qcut(df[{var.col!r}], 3, labels=False)
            sub = df[tertile == {which}]
            kmf = KaplanMeierFitter().fit(sub[{ds.time!r}], sub[{ds.event!r}])
            print(len(sub))
            submit(float(kmf.median_survival_time_))
            """,
        ),
    )


def gen_logrank_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = rng.choice([d for d in SURVIVAL if d.of_kind("binary")])
    group = rng.choice(ds.of_kind("binary"))
    s = _sample(ctx, rng, ds, _survival_cols(ds) + [group.col])
    if s is None or not _group_ok(s.df, group.col):
        return None
    p = ctx.memo(("logrank", s.prep, group.col), lambda: _logrank_p(s.df, ds, group.col))
    if not p >= MIN_P:
        return None
    return Draft(
        question=(
            f"{s.intro()} Compare the {ds.event_text} of the rows with {group.col} == 1 ({group.desc}) and "
            f"{group.col} == 0 with a log-rank test ({ds.time} = time, {ds.event} = event). What is its p-value?"
        ),
        answer=_r(p),
        reference=_cells(
            s.prep,
            f"""
            from lifelines.statistics import logrank_test

            a, b = df[df[{group.col!r}] == 1], df[df[{group.col!r}] == 0]
            result = logrank_test(a[{ds.time!r}], b[{ds.time!r}], event_observed_A=a[{ds.event!r}], event_observed_B=b[{ds.event!r}])
            print(result.test_statistic, result.p_value)
            submit(float(result.p_value))
            """,
        ),
    )


# ---------------------------------------------------------------- survival: Cox models


def _cox_fit(df: Any, ds: Dataset, covs: list[str]) -> Any | None:
    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            cph = CoxPHFitter().fit(df[[ds.time, ds.event, *covs]], duration_col=ds.time, event_col=ds.event)
        except Exception:
            return None
    return cph


def _cox_setup(ctx: BiostatContext, rng: random.Random, extra: int = 3) -> tuple[Dataset, list[str], str, Sample] | None:
    ds = rng.choice([d for d in SURVIVAL if len(d.vars) >= 2])
    covs = rng.sample([v.col for v in ds.vars], rng.randint(1, min(extra, len(ds.vars) - 1)) + 1)
    target = covs[0]
    s = _sample(ctx, rng, ds, _survival_cols(ds) + covs, exclude=tuple(covs))
    if s is None:
        return None
    if ds.var(target).kind == "binary" and not _group_ok(s.df, target):
        return None
    return ds, covs, target, s


def _cox_question(s: Sample, ds: Dataset, covs: list[str]) -> str:
    return (
        f"{s.intro()} Fit a Cox proportional hazards model of {ds.event_text} ({ds.time} = time, {ds.event} = "
        f"event) with the covariates {', '.join(covs)} (entered as they are, linearly, no penalty; Efron's "
        f"method for ties, the default of lifelines' CoxPHFitter and R's coxph)."
    )


_COX_FIT = """
from lifelines import CoxPHFitter

cph = CoxPHFitter().fit(df[{cols!r}], duration_col={time!r}, event_col={event!r})
cph.print_summary()
"""


def gen_cox_hr(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _cox_setup(ctx, rng)
    if got is None:
        return None
    ds, covs, target, s = got
    cph = ctx.memo(("cox", s.prep, tuple(covs)), lambda: _cox_fit(s.df, ds, covs))
    if cph is None:
        return None
    hr = float(cph.hazard_ratios_[target])
    return Draft(
        question=f"{_cox_question(s, ds, covs)} What is the hazard ratio of {target} (per unit increase)?",
        answer=_r(hr),
        reference=_cells(
            s.prep, _COX_FIT.format(time=ds.time, event=ds.event, cols=[ds.time, ds.event, *covs]),
            f"submit(float(cph.hazard_ratios_[{target!r}]))",
        ),
    )


def gen_cox_hr_ci(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _cox_setup(ctx, rng)
    if got is None:
        return None
    ds, covs, target, s = got
    cph = ctx.memo(("cox", s.prep, tuple(covs)), lambda: _cox_fit(s.df, ds, covs))
    if cph is None:
        return None
    row = cph.summary.loc[target]
    ci = [_r(row["exp(coef) lower 95%"]), _r(row["exp(coef) upper 95%"])]
    return Draft(
        question=(
            f"{_cox_question(s, ds, covs)} Give the 95% Wald confidence interval of the hazard ratio of {target} "
            f"(per unit increase) as [lower, upper]."
        ),
        answer=ci,
        reference=_cells(
            s.prep, _COX_FIT.format(time=ds.time, event=ds.event, cols=[ds.time, ds.event, *covs]),
            f"""
            row = cph.summary.loc[{target!r}]
            submit([float(row["exp(coef) lower 95%"]), float(row["exp(coef) upper 95%"])])
            """,
        ),
    )


def gen_cox_concordance(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _cox_setup(ctx, rng)
    if got is None:
        return None
    ds, covs, _, s = got
    cph = ctx.memo(("cox", s.prep, tuple(covs)), lambda: _cox_fit(s.df, ds, covs))
    if cph is None:
        return None
    return Draft(
        question=f"{_cox_question(s, ds, covs)} What is the model's concordance index (Harrell's C) on the data it was fitted to?",
        answer=_r(cph.concordance_index_),
        reference=_cells(
            s.prep, _COX_FIT.format(time=ds.time, event=ds.event, cols=[ds.time, ds.event, *covs]),
            "submit(round(float(cph.concordance_index_), 6))",
        ),
    )


def gen_cox_dichotomized_hr(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = rng.choice([d for d in SURVIVAL if d.of_kind("numeric")])
    var = rng.choice(ds.of_kind("numeric"))
    others = [v.col for v in ds.vars if v.col != var.col]
    adjust = rng.sample(others, rng.randint(0, min(2, len(others))))
    s = _sample(ctx, rng, ds, _survival_cols(ds) + [var.col] + adjust, exclude=(var.col, *adjust))
    if s is None:
        return None
    df = s.df.copy()
    df["high"] = (df[var.col] > df[var.col].median()).astype(int)
    if not _group_ok(df, "high"):
        return None
    covs = ["high", *adjust]
    cph = ctx.memo(("cox-high", s.prep, var.col, tuple(covs)), lambda: _cox_fit(df, ds, covs))
    if cph is None:
        return None
    adj = f" adjusted for {', '.join(adjust)} (entered linearly)" if adjust else " (no other covariates)"
    return Draft(
        question=(
            f"{s.intro()} Create a variable high = 1 if {var.col} ({var.desc}) is above the median of "
            f"{var.col} in this sample, else 0. Fit a Cox proportional hazards model of {ds.event_text} "
            f"({ds.time} = time, {ds.event} = event) with high{adj}, Efron's method for ties (lifelines' "
            f"default), no penalty. What is the hazard ratio of high?"
        ),
        answer=_r(cph.hazard_ratios_["high"]),
        reference=_cells(
            s.prep,
            f"""
            from lifelines import CoxPHFitter

            df["high"] = (df[{var.col!r}] > df[{var.col!r}].median()).astype(int)
            cph = CoxPHFitter().fit(df[{[ds.time, ds.event, *covs]!r}], duration_col={ds.time!r}, event_col={ds.event!r})
            submit(float(cph.hazard_ratios_["high"]))
            """,
        ),
    )


# ---------------------------------------------------------------- regression


TABULAR_OUTCOMES: list[tuple[str, str]] = [
    ("breast_cancer", "malignant"), ("rossi", "arrest"), ("gbsg2", "cens"), ("lung", "status"),
    ("diabetes", "high_prog"), ("diabetes", "obese"),
]


def _outcome_var(ds: Dataset, col: str) -> Var:
    if any(v.col == col for v in ds.vars):
        return ds.var(col)
    return _bin(col, col)


def _logit_setup(ctx: BiostatContext, rng: random.Random) -> tuple[Dataset, str, list[str], Sample] | None:
    name, outcome = rng.choice(TABULAR_OUTCOMES)
    ds = DATASETS[name]
    related = {"high_prog": ("target",), "obese": ("bmi",), "malignant": ()}.get(outcome, ())
    pool = [v.col for v in ds.vars if v.col != outcome and v.col not in related]
    if ds.time:
        pool = [c for c in pool if c not in (ds.time, ds.event)]
    covs = rng.sample(pool, rng.randint(1, min(3, len(pool))))
    s = _sample(ctx, rng, ds, [outcome, *covs], exclude=(outcome, *covs, *related))
    if s is None or not _group_ok(s.df, outcome):
        return None
    return ds, outcome, covs, s


def _logit(df: Any, outcome: str, covs: list[str]) -> Any | None:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            res = sm.Logit(df[outcome], sm.add_constant(df[covs])).fit(disp=0)
        except Exception:
            return None
    if not res.mle_retvals.get("converged", False):
        return None
    return res


def gen_logistic_or(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _logit_setup(ctx, rng)
    if got is None:
        return None
    ds, outcome, covs, s = got
    res = _logit(s.df, outcome, covs)
    if res is None:
        return None
    target = covs[0]
    odds = math.exp(float(res.params[target]))
    if not 1e-3 < odds < 1e3:
        return None
    return Draft(
        question=(
            f"{s.intro()} Fit an unpenalised logistic regression (maximum likelihood, with an intercept) of "
            f"{outcome} on {', '.join(covs)} (entered linearly). What is the odds ratio of {target} (per unit "
            f"increase)?"
        ),
        answer=_r(odds),
        reference=_cells(
            s.prep,
            f"""
            import numpy as np
            import statsmodels.api as sm

            model = sm.Logit(df[{outcome!r}], sm.add_constant(df[{covs!r}])).fit(disp=0)
            print(model.summary())
            submit(float(np.exp(model.params[{target!r}])))
            """,
        ),
    )


def gen_logistic_or_per_sd(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _logit_setup(ctx, rng)
    if got is None:
        return None
    ds, outcome, covs, s = got
    target = covs[0]
    if ds.var(target).kind != "numeric":
        return None
    df = s.df.copy()
    df["z"] = (df[target] - df[target].mean()) / df[target].std(ddof=1)
    res = _logit(df, outcome, ["z", *covs[1:]])
    if res is None:
        return None
    odds = math.exp(float(res.params["z"]))
    if not 1e-3 < odds < 1e3:
        return None
    others = f", adjusted for {', '.join(covs[1:])} (entered linearly)" if covs[1:] else ""
    return Draft(
        question=(
            f"{s.intro()} Standardise {target} in this sample (subtract its mean, divide by its sample "
            f"standard deviation, ddof=1) and fit an unpenalised logistic regression with an intercept of "
            f"{outcome} on the standardised {target}{others}. What is the odds ratio per one standard deviation "
            f"of {target}?"
        ),
        answer=_r(odds),
        reference=_cells(
            s.prep,
            f"""
            import numpy as np
            import statsmodels.api as sm

            df["z"] = (df[{target!r}] - df[{target!r}].mean()) / df[{target!r}].std(ddof=1)
            model = sm.Logit(df[{outcome!r}], sm.add_constant(df[{["z", *covs[1:]]!r}])).fit(disp=0)
            submit(float(np.exp(model.params["z"])))
            """,
        ),
    )


def gen_ols_coef(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = DATASETS["diabetes"]
    numeric = [v.col for v in ds.of_kind("numeric")]
    outcome = rng.choice(("target", "target", "bp", "s5", "bmi"))
    pool = [c for c in numeric + ["sex2"] if c != outcome]
    covs = rng.sample(pool, rng.randint(1, 5))
    s = _sample(ctx, rng, ds, [outcome, *covs], exclude=(outcome, *covs))
    if s is None:
        return None
    import statsmodels.api as sm

    res = sm.OLS(s.df[outcome], sm.add_constant(s.df[covs])).fit()
    target = covs[0]
    return Draft(
        question=(
            f"{s.intro()} Fit an ordinary least-squares linear regression (with an intercept) of {outcome} on "
            f"{', '.join(covs)}. What is the coefficient of {target}?"
        ),
        answer=_r(res.params[target]),
        reference=_cells(
            s.prep,
            f"""
            import statsmodels.api as sm

            model = sm.OLS(df[{outcome!r}], sm.add_constant(df[{covs!r}])).fit()
            submit(float(model.params[{target!r}]))
            """,
        ),
    )


def gen_poisson_irr(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    name = "randhie"
    pool = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    covs = rng.sample(pool, rng.randint(1, 4))
    key = ("poisson", tuple(covs))
    import statsmodels.api as sm

    df = ctx.frames[name]
    if key not in ctx._cache:
        ctx._cache[key] = sm.GLM(df["mdvis"], sm.add_constant(df[covs]), family=sm.families.Poisson()).fit()
    res = ctx._cache[key]
    target = covs[0]
    return Draft(
        question=(
            "Use the `randhie` DataFrame (RAND Health Insurance Experiment; mdvis = number of outpatient visits). "
            f"Fit a Poisson regression (GLM with log link and an intercept) of mdvis on {', '.join(covs)}. What is "
            f"the incidence rate ratio of {target} (per unit increase)?"
        ),
        answer=_r(math.exp(res.params[target])),
        reference=_cells(
            f"""
            import numpy as np
            import statsmodels.api as sm

            model = sm.GLM(randhie["mdvis"], sm.add_constant(randhie[{covs!r}]), family=sm.families.Poisson()).fit()
            submit(float(np.exp(model.params[{target!r}])))
            """
        ),
    )


# ---------------------------------------------------------------- two-group and k-group tests


TWO_GROUP: list[tuple[str, str]] = [
    ("gbsg2", "horTh"), ("gbsg2", "post"), ("gbsg2", "grade3"), ("rossi", "fin"), ("rossi", "race"),
    ("rossi", "wexp"), ("rossi", "mar"), ("lung", "female"), ("diabetes", "sex2"), ("diabetes", "obese"),
    ("breast_cancer", "malignant"), ("kidney_transplant", "white_male"), ("larynx", "Stage_IV"),
]


def _two_groups(ctx: BiostatContext, rng: random.Random) -> tuple[Sample, str, str] | None:
    name, group = rng.choice(TWO_GROUP)
    ds = DATASETS[name]
    related = {"obese": ("bmi",), "malignant": ()}.get(group, ())
    nums = [v.col for v in ds.of_kind("numeric") if v.col not in related]
    if ds.time:
        nums = nums + [ds.time]
    var = rng.choice(nums)
    s = _sample(ctx, rng, ds, [group, var], exclude=(var, group, *related))
    if s is None or not _group_ok(s.df, group):
        return None
    return s, group, var


def gen_ttest_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _two_groups(ctx, rng)
    if got is None:
        return None
    s, group, var = got
    from scipy import stats

    equal = rng.random() < 0.4
    a, b = s.df.loc[s.df[group] == 1, var], s.df.loc[s.df[group] == 0, var]
    p = float(stats.ttest_ind(a, b, equal_var=equal).pvalue)
    if not p >= MIN_P:
        return None
    kind = "Student's t-test (equal variances)" if equal else "Welch's t-test (unequal variances)"
    return Draft(
        question=(
            f"{s.intro()} Compare {var} between the rows with {group} == 1 and {group} == 0 with a two-sided "
            f"{kind}. What is the p-value?"
        ),
        answer=_r(p),
        reference=_cells(
            s.prep,
            f"""
            from scipy import stats

            a = df.loc[df[{group!r}] == 1, {var!r}]
            b = df.loc[df[{group!r}] == 0, {var!r}]
            submit(float(stats.ttest_ind(a, b, equal_var={equal}).pvalue))
            """,
        ),
    )


def gen_mannwhitney_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _two_groups(ctx, rng)
    if got is None:
        return None
    s, group, var = got
    from scipy import stats

    a, b = s.df.loc[s.df[group] == 1, var], s.df.loc[s.df[group] == 0, var]
    p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    if not p >= MIN_P:
        return None
    return Draft(
        question=(
            f"{s.intro()} Compare {var} between the rows with {group} == 1 and {group} == 0 with a two-sided "
            f"Mann-Whitney U test (scipy.stats.mannwhitneyu defaults: normal approximation with continuity "
            f"correction and tie correction unless the samples are small and tie-free). What is the p-value?"
        ),
        answer=_r(p),
        reference=_cells(
            s.prep,
            f"""
            from scipy import stats

            a = df.loc[df[{group!r}] == 1, {var!r}]
            b = df.loc[df[{group!r}] == 0, {var!r}]
            submit(float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue))
            """,
        ),
    )


# k groups: (data set, grouping column, how it is made, words)
K_GROUPS: list[tuple[str, str, str | None, str]] = [
    ("gbsg2", "tgrade", None, "tumour grade (tgrade: I, II, III)"),
    ("lung", "ph.ecog", "df = df[df['ph.ecog'] <= 2]", "ECOG score (ph.ecog 0, 1 or 2; rows with 3 are excluded)"),
    ("diabetes", "bmi_cat", "df['bmi_cat'] = pd.cut(df['bmi'], [0, 25, 30, 100], right=False, labels=['<25', '25-30', '>=30'])",
     "BMI category (bmi_cat = pandas.cut(bmi, [0, 25, 30, 100], right=False): <25, 25-30, >=30)"),
    ("rossi", "prio_cat", "df['prio_cat'] = pd.cut(df['prio'], [-1, 0, 3, 100], labels=['0', '1-3', '4+'])",
     "number of prior convictions (prio_cat = pandas.cut(prio, [-1, 0, 3, 100]): 0, 1-3, 4+)"),
]


def _k_groups(ctx: BiostatContext, rng: random.Random) -> tuple[Sample, str, str, str, list[Any]] | None:
    name, gcol, make, words = rng.choice(K_GROUPS)
    ds = DATASETS[name]
    nums = [v.col for v in ds.of_kind("numeric") if v.col not in ("ph.ecog", "bmi", "prio")]
    var = rng.choice(nums)
    raw = "ph.ecog" if gcol == "ph.ecog" else "bmi" if gcol == "bmi_cat" else "prio" if gcol == "prio_cat" else gcol
    s = _sample(ctx, rng, ds, [var, raw], exclude=(var, raw))
    if s is None:
        return None
    s.words.append(f"Group the rows by {words}.")
    if make:
        s.lines.insert(-1, make)
    s.df, groups = ctx.memo(("k-groups", s.prep, var), lambda: _grouped(s.df, make, gcol, var))
    if len(groups) < 3 or min(len(g) for g in groups) < MIN_GROUP:
        return None
    return s, gcol, var, words, groups


def _grouped(df: Any, make: str | None, gcol: str, var: str) -> tuple[Any, list[Any]]:
    if make:
        env = {"df": df.copy(), "pd": __import__("pandas")}
        exec(make, env)  # noqa: S102 - our own preparation code
        df = env["df"].reset_index(drop=True)
    return df, [g.to_numpy() for _, g in sorted(df.groupby(gcol, observed=True)[var], key=lambda kv: str(kv[0]))]


_K_GROUP_CODE = """
groups = [g[{var!r}].to_numpy() for _, g in df.groupby({gcol!r}, observed=True)]
print([len(g) for g in groups])
"""


def gen_anova_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _k_groups(ctx, rng)
    if got is None:
        return None
    s, gcol, var, _, groups = got
    from scipy import stats

    p = float(stats.f_oneway(*groups).pvalue)
    if not p >= MIN_P:
        return None
    return Draft(
        question=f"{s.intro()} Compare the mean of {var} across the groups with a one-way ANOVA F-test. What is the p-value?",
        answer=_r(p),
        reference=_cells(
            "import pandas as pd\n" + s.prep,
            _K_GROUP_CODE.format(var=var, gcol=gcol) + "\nfrom scipy import stats\n\nsubmit(float(stats.f_oneway(*groups).pvalue))",
        ),
    )


def gen_kruskal_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _k_groups(ctx, rng)
    if got is None:
        return None
    s, gcol, var, _, groups = got
    from scipy import stats

    p = float(stats.kruskal(*groups).pvalue)
    if not p >= MIN_P:
        return None
    return Draft(
        question=f"{s.intro()} Compare {var} across the groups with a Kruskal-Wallis H test (tie-corrected, as scipy.stats.kruskal). What is the p-value?",
        answer=_r(p),
        reference=_cells(
            "import pandas as pd\n" + s.prep,
            _K_GROUP_CODE.format(var=var, gcol=gcol) + "\nfrom scipy import stats\n\nsubmit(float(stats.kruskal(*groups).pvalue))",
        ),
    )


# ---------------------------------------------------------------- contingency tables


PAIRS: list[tuple[str, str, str]] = [
    ("gbsg2", "horTh", "cens"), ("gbsg2", "grade3", "cens"), ("gbsg2", "post", "horTh"), ("gbsg2", "post", "cens"),
    ("rossi", "fin", "arrest"), ("rossi", "race", "arrest"), ("rossi", "wexp", "arrest"), ("rossi", "mar", "arrest"),
    ("rossi", "paro", "arrest"), ("rossi", "wexp", "mar"), ("lung", "female", "status"),
    ("diabetes", "sex2", "obese"), ("diabetes", "obese", "high_prog"), ("diabetes", "sex2", "high_prog"),
    ("kidney_transplant", "white_male", "death"), ("larynx", "Stage_IV", "death"),
]
SMALL_PAIRS: list[tuple[str, str, str]] = [
    ("leukemia", "Rx", "status"), ("leukemia", "sex", "status"), ("leukemia", "Rx", "sex"),
    ("psychiatric_patients", "male", "C"), ("larynx", "Stage_IV", "death"), ("larynx", "Stage_III", "death"),
    ("waltons", "mir137", "E"),
]


def _pair(ctx: BiostatContext, rng: random.Random, pairs: list[tuple[str, str, str]]) -> tuple[Sample, str, str, Any] | None:
    name, a, b = rng.choice(pairs)
    ds = DATASETS[name]
    s = _sample(ctx, rng, ds, [a, b], exclude=(a, b))
    if s is None:
        return None
    import numpy as np

    x, y = s.df[a].to_numpy(), s.df[b].to_numpy()
    lx, ly = np.unique(x), np.unique(y)
    if len(lx) != 2 or len(ly) != 2:
        return None
    table = np.array([[int(((x == i) & (y == j)).sum()) for j in ly] for i in lx])  # = pandas.crosstab
    if table.min() < 1:
        return None
    return s, a, b, table


def gen_chi2_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _pair(ctx, rng, PAIRS)
    if got is None:
        return None
    s, a, b, table = got
    from scipy import stats

    p = float(stats.chi2_contingency(table).pvalue)
    if not p >= MIN_P:
        return None
    return Draft(
        question=(
            f"{s.intro()} Test whether {a} and {b} are associated with a chi-square test of independence on their "
            f"2x2 table, with Yates' continuity correction (scipy.stats.chi2_contingency's default). What is the "
            f"p-value?"
        ),
        answer=_r(p),
        reference=_cells(
            s.prep,
            f"""
            import pandas as pd
            from scipy import stats

            table = pd.crosstab(df[{a!r}], df[{b!r}])
            print(table)
            submit(float(stats.chi2_contingency(table.to_numpy(), correction=True).pvalue))
            """,
        ),
    )


def gen_fisher_exact_p(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _pair(ctx, rng, SMALL_PAIRS)
    if got is None:
        return None
    s, a, b, table = got
    from scipy import stats

    p = float(stats.fisher_exact(table).pvalue)
    if not p >= MIN_P:
        return None
    return Draft(
        question=(
            f"{s.intro()} Test whether {a} and {b} are associated with a two-sided Fisher's exact test on their "
            f"2x2 table. What is the p-value?"
        ),
        answer=_r(p),
        reference=_cells(
            s.prep,
            f"""
            import pandas as pd
            from scipy import stats

            table = pd.crosstab(df[{a!r}], df[{b!r}])
            print(table)
            submit(float(stats.fisher_exact(table.to_numpy()).pvalue))
            """,
        ),
    )


RISKS: list[tuple[str, str, str]] = [  # data set, exposure, outcome
    ("rossi", "fin", "arrest"), ("rossi", "wexp", "arrest"), ("rossi", "paro", "arrest"), ("rossi", "mar", "arrest"),
    ("gbsg2", "horTh", "cens"), ("gbsg2", "grade3", "cens"), ("lung", "female", "status"),
    ("diabetes", "obese", "high_prog"), ("kidney_transplant", "white_male", "death"), ("leukemia", "Rx", "status"),
]


def gen_relative_risk(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    name, x, y = rng.choice(RISKS)
    ds = DATASETS[name]
    s = _sample(ctx, rng, ds, [x, y], exclude=(x, y))
    if s is None or not _group_ok(s.df, x):
        return None
    r1, r0 = s.df.loc[s.df[x] == 1, y].mean(), s.df.loc[s.df[x] == 0, y].mean()
    if r0 == 0 or r1 == 0:
        return None
    return Draft(
        question=(
            f"{s.intro()} What is the crude risk ratio of {y} == 1 for rows with {x} == 1 compared with rows with "
            f"{x} == 0 (proportion with {y} == 1 among {x} == 1, divided by that among {x} == 0), ignoring follow-up time?"
        ),
        answer=_r(r1 / r0),
        reference=_cells(
            s.prep,
            f"""
            risk = df.groupby({x!r})[{y!r}].mean()
            print(risk)
            submit(float(risk[1] / risk[0]))
            """,
        ),
    )


TREATMENTS: list[tuple[str, str, int, str, str]] = [  # data set, column, treated value, treatment, outcome words
    ("rossi", "fin", 1, "the rows with financial aid (fin == 1)", "re-arrest"),
    ("gbsg2", "horTh", 1, "the rows with hormonal therapy (horTh == 1)", "recurrence or death"),
    ("leukemia", "Rx", 0, "the rows treated with 6-MP (Rx == 0; Rx == 1 is placebo)", "relapse"),
    ("waltons", "mir137", 0, "the control group (mir137 == 0), taking miR-137 as the comparator", "death"),
]


def _nnt_ok(x: float) -> bool:
    return x > 0.01 and abs(1 / x - round(1 / x)) > 1e-6


def gen_nnt_crude(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    name, col, treated, what, outcome = rng.choice(TREATMENTS)
    ds = DATASETS[name]
    s = _sample(ctx, rng, ds, [col, ds.event or ""], exclude=(col,))
    if s is None or not _group_ok(s.df, col):
        return None
    ev = ds.event
    risk_t = s.df.loc[s.df[col] == treated, ev].mean()
    risk_c = s.df.loc[s.df[col] != treated, ev].mean()
    arr = float(risk_c - risk_t)
    if not _nnt_ok(arr):
        return None
    return Draft(
        question=(
            f"{s.intro()} Ignoring follow-up time, compare the proportion of rows with an observed {outcome} "
            f"({ev} == 1) between {what} and the other rows. What is the number needed to treat (1 / absolute "
            f"risk reduction), rounded up to the next whole number?"
        ),
        answer=math.ceil(1 / arr),
        reference=_cells(
            s.prep,
            f"""
            import math

            risk_treated = df.loc[df[{col!r}] == {treated}, {ev!r}].mean()
            risk_control = df.loc[df[{col!r}] != {treated}, {ev!r}].mean()
            arr = risk_control - risk_treated
            print(risk_treated, risk_control, arr)
            submit(math.ceil(1 / arr))
            """,
        ),
    )


def gen_nnt_km(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    name, col, treated, what, outcome = rng.choice(TREATMENTS)
    ds = DATASETS[name]
    s = _sample(ctx, rng, ds, [col, *_survival_cols(ds)], filter_p=0.3, exclude=(col,))
    if s is None or not _group_ok(s.df, col):
        return None
    times = sorted(s.df[ds.time])
    lo, hi = times[len(times) // 5], times[(4 * len(times)) // 5]
    t = round(rng.uniform(lo, hi))
    if t in set(s.df[ds.time]) or t <= 0:
        return None
    def surv(mask: Any) -> float:
        return _km_at(_km(s.df[mask], ds), t)

    diff = surv(s.df[col] == treated) - surv(s.df[col] != treated)
    if not _nnt_ok(diff):
        return None
    return Draft(
        question=(
            f"{s.intro()} Estimate the Kaplan-Meier probability of remaining free of {outcome} at {t} {ds.unit} "
            f"({ds.time} = time, {ds.event} = event) for {what} and for the other rows. What is the number needed "
            f"to treat at {t} {ds.unit} (1 / difference of the two survival probabilities), rounded up to the "
            f"next whole number?"
        ),
        answer=math.ceil(1 / diff),
        reference=_cells(
            s.prep,
            f"""
            import math
            from lifelines import KaplanMeierFitter

            def surv_at(sub, t):
                kmf = KaplanMeierFitter().fit(sub[{ds.time!r}], sub[{ds.event!r}])
                return float(kmf.survival_function_at_times(t).iloc[0])

            s_treated = surv_at(df[df[{col!r}] == {treated}], {t})
            s_control = surv_at(df[df[{col!r}] != {treated}], {t})
            print(s_treated, s_control)
            submit(math.ceil(1 / (s_treated - s_control)))
            """,
        ),
    )


def gen_mantel_haenszel_or(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    frame = ctx.frames["china_smoking"]
    cities = sorted(rng.sample(list(frame.index), rng.randint(3, len(frame.index))))
    import numpy as np
    from statsmodels.stats.contingency_tables import StratifiedTable

    def pooled() -> float:
        tables = [np.array([[r.smoking_yes_cancer_yes, r.smoking_yes_cancer_no], [r.smoking_no_cancer_yes, r.smoking_no_cancer_no]])
                  for r in frame.loc[cities].itertuples()]
        return float(StratifiedTable(tables).oddsratio_pooled)

    odds = ctx.memo(("mantel-haenszel", tuple(cities)), pooled)
    return Draft(
        question=(
            "Use the `china_smoking` DataFrame (lung cancer and smoking in Chinese cities, one row per city, "
            f"cities in the index). Restricted to the cities {', '.join(cities)}, what is the Mantel-Haenszel "
            "pooled odds ratio of lung cancer for smokers versus non-smokers, stratified by city?"
        ),
        answer=_r(odds),
        reference=_cells(
            f"""
            import numpy as np
            from statsmodels.stats.contingency_tables import StratifiedTable

            sub = china_smoking.loc[{cities!r}]
            tables = [np.array([[r.smoking_yes_cancer_yes, r.smoking_yes_cancer_no],
                                [r.smoking_no_cancer_yes, r.smoking_no_cancer_no]]) for r in sub.itertuples()]
            submit(float(StratifiedTable(tables).oddsratio_pooled))
            """
        ),
    )


# ---------------------------------------------------------------- correlation, proportions, prediction


CORR_SETS = ("diabetes", "breast_cancer", "gbsg2", "lung", "diabetes")


def gen_correlation(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    ds = DATASETS[rng.choice(CORR_SETS)]
    nums = [v.col for v in ds.of_kind("numeric")]
    x, y = rng.sample(nums, 2)
    s = _sample(ctx, rng, ds, [x, y], exclude=(x, y))
    if s is None:
        return None
    from scipy import stats

    method = rng.choice(("Pearson", "Spearman"))
    fn = "pearsonr" if method == "Pearson" else "spearmanr"
    r = float(getattr(stats, fn)(s.df[x], s.df[y]).statistic)
    if not math.isfinite(r):
        return None
    return Draft(
        question=f"{s.intro()} What is the {method} correlation coefficient between {x} and {y}?",
        answer=_r(r),
        reference=_cells(s.prep, f"from scipy import stats\n\nsubmit(round(float(stats.{fn}(df[{x!r}], df[{y!r}]).statistic), 6))"),
    )


CONDITIONS: list[tuple[str, str, str, float, float, float]] = [  # data set, column, operator, lo, hi, step
    ("breast_cancer", "mean radius", ">", 12, 20, 0.5), ("diabetes", "bmi", ">=", 24, 35, 0.5),
    ("diabetes", "target", ">", 80, 250, 10), ("gbsg2", "pnodes", ">", 1, 10, 1), ("gbsg2", "tsize", ">=", 15, 50, 5),
    ("rossi", "prio", ">=", 1, 8, 1), ("lung", "ph.ecog", ">=", 1, 2, 1), ("lung", "wt.loss", ">", 0, 20, 1),
    ("randhie", "mdvis", "==", 0, 3, 1), ("kidney_transplant", "age", ">=", 40, 65, 1),
]


def _condition(ctx: BiostatContext, rng: random.Random) -> tuple[Sample, str, int, int] | None:
    name, col, op, lo, hi, step = rng.choice(CONDITIONS)
    if name == "randhie":
        ds = Dataset("randhie", "RAND Health Insurance Experiment; mdvis = outpatient visits",
                     (_num("mdvis", "outpatient visits"), _bin("idp", "individual deductible plan"),
                      _num("disea", "number of chronic diseases", 5, 20)))
    else:
        ds = DATASETS[name]
    value = round(lo + step * rng.randint(0, int(round((hi - lo) / step))), 6)
    s = _sample(ctx, rng, ds, [col], filter_p=0.4, exclude=(col,))
    if s is None:
        return None
    s.lines.insert(-1, f"df['condition'] = (df[{col!r}] {op} {value!r}).astype(int)")
    s.words.append(f"The condition is {col} {op} {_fmt(value)}.")
    k = int(eval(f"(s.df[{col!r}] {op} {value!r}).sum()"))  # noqa: S307 - our own expression
    n = len(s.df)
    if k == 0 or k == n:
        return None
    return s, col, k, n


def gen_prevalence(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _condition(ctx, rng)
    if got is None:
        return None
    s, _, k, n = got
    return Draft(
        question=f"{s.intro()} What proportion of the rows of the sample meet the condition (a fraction between 0 and 1)?",
        answer=_r(k / n),
        reference=_cells(s.prep, "print(df['condition'].sum(), len(df))\nsubmit(round(float(df['condition'].mean()), 6))"),
    )


def gen_proportion_ci(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    got = _condition(ctx, rng)
    if got is None:
        return None
    s, _, k, n = got
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return Draft(
        question=(
            f"{s.intro()} Give the 95% Wilson score confidence interval of the proportion of rows that meet the "
            f"condition, as [lower, upper]."
        ),
        answer=[_r(lo), _r(hi)],
        reference=_cells(
            s.prep,
            """
            from statsmodels.stats.proportion import proportion_confint

            low, high = proportion_confint(int(df["condition"].sum()), len(df), alpha=0.05, method="wilson")
            submit([round(float(low), 6), round(float(high), 6)])
            """,
        ),
    )


AUROC_TASKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("breast_cancer", "malignant", ("mean radius", "mean texture", "mean smoothness", "mean symmetry",
                                    "mean fractal dimension", "texture error", "smoothness error", "symmetry error",
                                    "worst smoothness", "mean compactness")),
    ("diabetes", "high_prog", ("age", "sex2", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")),
    ("gbsg2", "cens", ("horTh", "post", "grade3", "age", "tsize", "pnodes", "progrec", "estrec")),
    ("rossi", "arrest", ("fin", "race", "wexp", "mar", "paro", "age", "prio")),
]


def gen_auroc_logistic(ctx: BiostatContext, rng: random.Random) -> Draft | None:
    name, outcome, pool = rng.choice(AUROC_TASKS)
    ds = DATASETS[name]
    feats = sorted(rng.sample(pool, rng.randint(2, min(6, len(pool)))), key=pool.index)
    test_size = rng.choice((0.2, 0.25, 0.3, 0.4))
    seed = rng.randint(0, 9999)
    c = rng.choice((1.0, 1.0, 0.1, 10.0))
    s = _sample(ctx, rng, ds, [outcome, *feats], filter_p=0.0)
    if s is None:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, x_te, y_tr, y_te = train_test_split(s.df[feats], s.df[outcome], test_size=test_size, random_state=seed,
                                              stratify=s.df[outcome])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(x_tr, y_tr)
    auc = float(roc_auc_score(y_te, model.predict_proba(x_te)[:, 1]))
    return Draft(
        question=(
            f"{s.intro()} Predict {outcome} from {', '.join(feats)}. Split the rows with scikit-learn's "
            f"train_test_split(X, y, test_size={test_size}, random_state={seed}, stratify=y), where X = "
            f"df[{feats!r}] and y = df[{outcome!r}]; fit a pipeline of StandardScaler and LogisticRegression(C={c}, "
            f"max_iter=1000) on the training part. What is the area under the ROC curve on the test part?"
        ),
        answer=_r(auc),
        reference=_cells(
            s.prep,
            f"""
            from sklearn.linear_model import LogisticRegression
            from sklearn.metrics import roc_auc_score
            from sklearn.model_selection import train_test_split
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            X, y = df[{feats!r}], df[{outcome!r}]
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size={test_size}, random_state={seed}, stratify=y)
            model = make_pipeline(StandardScaler(), LogisticRegression(C={c}, max_iter=1000)).fit(X_train, y_train)
            submit(round(float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])), 6))
            """,
        ),
    )


# ---------------------------------------------------------------- categories


_P_FORMAT = "a p-value (graded within 1% of its value)"


def _cat(name: str, description: str, grader: Grader, answer_format: str,
         fn: Callable[[BiostatContext, random.Random], Draft | None]) -> Category:
    def generate(ctx: BiostatContext, rng: random.Random) -> Draft | None:
        for _ in range(25):
            draft = fn(ctx, rng)
            if draft is not None:
                return draft
        return None

    return Category(name=name, description=description, grader=grader, answer_format=answer_format, generate=generate)


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in [
        _cat("km_median_survival", "Kaplan-Meier median survival time of a sample or group.", TIME,
             "a number in the data set's time unit (lifelines' median_survival_time_)", gen_km_median),
        _cat("km_survival_at", "Kaplan-Meier survival probability at a stated time.", PROB,
             "a probability between 0 and 1 (graded within +/-0.001)", gen_km_survival_at),
        _cat("km_median_by_tertile", "Multi-step: tertiles of a covariate, then the Kaplan-Meier median of one tertile.",
             TIME, "a number in the data set's time unit", gen_km_median_by_tertile),
        _cat("logrank_p", "Log-rank test p-value between two groups.", PVALUE, _P_FORMAT, gen_logrank_p),
        _cat("cox_hr", "Hazard ratio of a covariate in a Cox model.", RATIO,
             "a hazard ratio (graded within 0.5% of its value)", gen_cox_hr),
        _cat("cox_hr_ci", "95% confidence interval of a Cox hazard ratio.", RATIO_CI,
             "[lower, upper] (each graded within 0.5%)", gen_cox_hr_ci),
        _cat("cox_concordance", "Concordance index of a fitted Cox model.", PROB,
             "a number between 0 and 1 (graded within +/-0.001)", gen_cox_concordance),
        _cat("cox_dichotomized_hr", "Multi-step: dichotomise at the median, then a Cox hazard ratio.", RATIO,
             "a hazard ratio (graded within 0.5% of its value)", gen_cox_dichotomized_hr),
        _cat("logistic_or", "Odds ratio of a covariate in a logistic regression.", RATIO,
             "an odds ratio (graded within 0.5% of its value)", gen_logistic_or),
        _cat("logistic_or_per_sd", "Multi-step: standardise, then the odds ratio per standard deviation.", RATIO,
             "an odds ratio (graded within 0.5% of its value)", gen_logistic_or_per_sd),
        _cat("ols_coefficient", "Coefficient of a linear regression.", COEF,
             "a number (graded within 0.01% of its value)", gen_ols_coef),
        _cat("poisson_irr", "Incidence rate ratio of a Poisson regression.", RATIO,
             "a rate ratio (graded within 0.5% of its value)", gen_poisson_irr),
        _cat("ttest_p", "Two-sample t-test p-value (Student or Welch).", PVALUE, _P_FORMAT, gen_ttest_p),
        _cat("mannwhitney_p", "Mann-Whitney U test p-value.", PVALUE, _P_FORMAT, gen_mannwhitney_p),
        _cat("anova_p", "One-way ANOVA p-value across three groups.", PVALUE, _P_FORMAT, gen_anova_p),
        _cat("kruskal_p", "Kruskal-Wallis test p-value across three groups.", PVALUE, _P_FORMAT, gen_kruskal_p),
        _cat("chi2_p", "Chi-square test of independence p-value (2x2, Yates).", PVALUE, _P_FORMAT, gen_chi2_p),
        _cat("fisher_exact_p", "Fisher's exact test p-value on a small 2x2 table.", PVALUE, _P_FORMAT, gen_fisher_exact_p),
        _cat("relative_risk", "Crude risk ratio between exposed and unexposed rows.", COEF,
             "a ratio (graded within 0.01% of its value)", gen_relative_risk),
        _cat("nnt_crude", "Number needed to treat from crude proportions.", INTEGER,
             "an integer (rounded up)", gen_nnt_crude),
        _cat("nnt_km", "Multi-step: number needed to treat from Kaplan-Meier estimates at a time.", INTEGER,
             "an integer (rounded up)", gen_nnt_km),
        _cat("mantel_haenszel_or", "Mantel-Haenszel pooled odds ratio across strata.", COEF,
             "an odds ratio (graded within 0.01% of its value)", gen_mantel_haenszel_or),
        _cat("correlation", "Pearson or Spearman correlation of two variables.", CORR,
             "a number between -1 and 1 (graded within +/-0.001)", gen_correlation),
        _cat("prevalence", "Proportion of a sample meeting a condition.", PROP,
             "a fraction between 0 and 1 (graded within +/-0.0005)", gen_prevalence),
        _cat("proportion_ci", "Wilson 95% confidence interval of a proportion.", PROP_CI,
             "[lower, upper] (each graded within +/-0.0005)", gen_proportion_ci),
        _cat("auroc_logistic", "Multi-step: stated split and seed, scale, fit a logistic regression, test AUROC.",
             AUROC, "a number between 0 and 1 (graded within +/-0.005)", gen_auroc_logistic),
    ]
}

# Balanced answers (issue 17): a few fits come up again and again (cox_hr) and a few NNTs dominate
# (nnt_km); at most ``max_share`` of a split may have one answer (within the grader's tolerance).
for _name, _share in (("cox_hr", 0.1), ("nnt_km", 0.15)):
    CATEGORIES[_name] = CATEGORIES[_name].model_copy(update={"max_share": _share})
