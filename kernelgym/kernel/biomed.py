"""Kernel side of the ``biomed`` profile: public biomedical data sets that ship inside PyPI packages.

Every set is read from files bundled with an installed package (lifelines, scikit-learn,
statsmodels); nothing is downloaded. :func:`load_datasets` returns them as pandas DataFrames by the
names they get in the kernel; :data:`CATALOG` documents each one (source, license, what it holds),
and :class:`DatasetListing` is the ``datasets`` object an agent sees in the kernel.

The host-side task families import the same loaders, so the kernel and the ground truth read
identical data. This module imports nothing of the host side.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace
from typing import Any, Callable

__all__ = ["CATALOG", "DatasetListing", "DatasetInfo", "load_dataset", "load_datasets", "manifest"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    package: str
    loader: Callable[[], Any]
    source: str
    license: str
    description: str


def _lifelines(fn: str) -> Callable[[], Any]:
    def load() -> Any:
        import lifelines.datasets as ld

        return getattr(ld, fn)()

    return load


def _sklearn(fn: str, **kw: Any) -> Callable[[], Any]:
    def load() -> Any:
        import sklearn.datasets as skd

        return getattr(skd, fn)(as_frame=True, **kw).frame

    return load


def _statsmodels(mod: str) -> Callable[[], Any]:
    def load() -> Any:
        import importlib

        return importlib.import_module(f"statsmodels.datasets.{mod}").load_pandas().data

    return load


_LIFELINES = "distributed with lifelines (MIT)"
CATALOG: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo(
            "rossi", "lifelines", _lifelines("load_rossi"),
            "Rossi, Berk & Lenihan (1980), recidivism of released prisoners; R carData", _LIFELINES,
            "week (time to arrest or censoring at 52), arrest (1=event), fin (financial aid), age, race, "
            "wexp (work experience), mar (married), paro (parole), prio (prior convictions)",
        ),
        DatasetInfo(
            "gbsg2", "lifelines", _lifelines("load_gbsg2"),
            "German Breast Cancer Study Group 2 (Schumacher et al. 1994); R TH.data", _LIFELINES,
            "time (days to recurrence-free survival event), cens (1=event), horTh (hormonal therapy), "
            "age, menostat, tsize (mm), tgrade, pnodes, progrec, estrec",
        ),
        DatasetInfo(
            "lung", "lifelines", _lifelines("load_lung"),
            "NCCTG advanced lung cancer trial (Loprinzi et al. 1994); R survival", _LIFELINES,
            "time (days), status (1=death, 0=censored), age, sex (1=male, 2=female), ph.ecog, ph.karno, "
            "pat.karno, meal.cal, wt.loss; contains missing values",
        ),
        DatasetInfo(
            "waltons", "lifelines", _lifelines("load_waltons"),
            "lifelines example: lifespans of two groups of Drosophila", _LIFELINES,
            "T (days), E (1=death observed), group ('control' or 'miR-137')",
        ),
        DatasetInfo(
            "larynx", "lifelines", _lifelines("load_larynx"),
            "Kardaun (1983) laryngeal cancer; Klein & Moeschberger, R KMsurv", _LIFELINES,
            "time (years), death (1=event), age, Stage_II/Stage_III/Stage_IV indicators (stage I = all 0)",
        ),
        DatasetInfo(
            "kidney_transplant", "lifelines", _lifelines("load_kidney_transplant"),
            "kidney transplant survival, Klein & Moeschberger, R KMsurv", _LIFELINES,
            "time (days), death (1=event), age, black_male, white_male, black_female indicators "
            "(white female = all 0)",
        ),
        DatasetInfo(
            "leukemia", "lifelines", _lifelines("load_leukemia"),
            "Freireich et al. (1963) remission times in acute leukemia", _LIFELINES,
            "t (weeks in remission), status (1=relapse), sex, logWBC, Rx (1=placebo, 0=6-MP)",
        ),
        DatasetInfo(
            "stanford_heart", "lifelines", _lifelines("load_stanford_heart_transplants"),
            "Stanford heart transplant program (Crowley & Hu 1977); R survival jasa1", _LIFELINES,
            "counting-process format: start, stop, event, age, year, surgery, transplant, id",
        ),
        DatasetInfo(
            "psychiatric_patients", "lifelines", _lifelines("load_psychiatric_patients"),
            "Woolson (1981) psychiatric inpatients; Klein & Moeschberger", _LIFELINES,
            "Age, T (years of follow-up), C (1=death), sex (1=male, 2=female)",
        ),
        DatasetInfo(
            "breast_cancer", "scikit-learn", _sklearn("load_breast_cancer"),
            "Wisconsin Diagnostic Breast Cancer (UCI, Street, Wolberg & Mangasarian 1993)",
            "CC BY 4.0 (UCI); distributed with scikit-learn (BSD-3-Clause)",
            "30 cell-nucleus features (mean/error/worst radius, texture, ...) and target "
            "(0=malignant, 1=benign)",
        ),
        DatasetInfo(
            "diabetes", "scikit-learn", _sklearn("load_diabetes", scaled=False),
            "Efron, Hastie, Johnstone & Tibshirani (2004) diabetes progression",
            "distributed with scikit-learn (BSD-3-Clause)",
            "age, sex (1 or 2), bmi, bp, s1..s6 serum measurements (unscaled), target (disease "
            "progression one year after baseline)",
        ),
        DatasetInfo(
            "heart", "statsmodels", _statsmodels("heart"),
            "Stanford heart transplant survival (Miller 1976, Biometrika 63:449)",
            "distributed with statsmodels (BSD-3-Clause)",
            "survival (days), censors (1=death observed, 0=censored), age",
        ),
        DatasetInfo(
            "china_smoking", "statsmodels", _statsmodels("china_smoking"),
            "Liu (1992) smoking and lung cancer in eight Chinese cities, Int J Epidemiol 21:197",
            "distributed with statsmodels (BSD-3-Clause)",
            "one row per city (index): smoking_yes_cancer_yes, smoking_yes_cancer_no, "
            "smoking_no_cancer_yes, smoking_no_cancer_no (counts)",
        ),
        DatasetInfo(
            "randhie", "statsmodels", _statsmodels("randhie"),
            "RAND Health Insurance Experiment (Deb & Trivedi 2002)",
            "public domain; distributed with statsmodels (BSD-3-Clause)",
            "mdvis (outpatient visits), lncoins, idp, lpi, fmde, physlm, disea, hlthg, hlthf, hlthp",
        ),
    ]
}


def load_dataset(name: str) -> Any:
    """One data set as a fresh pandas DataFrame."""
    return CATALOG[name].loader()


def load_datasets() -> dict[str, Any]:
    """Every data set of the catalog as a pandas DataFrame, by its name in the kernel."""
    return {name: info.loader() for name, info in CATALOG.items()}


class DatasetListing:
    """The ``datasets`` object of a biomed kernel: one line per data set.

    ``print(datasets)`` lists every set with its rows, columns, source and license;
    ``datasets["rossi"]`` gives the details of one set; ``datasets.to_frame()`` a DataFrame.
    """

    def __init__(self, frames: dict[str, Any]) -> None:
        self._rows = []
        for name, info in CATALOG.items():
            df = frames[name]
            self._rows.append(
                {
                    "name": name, "rows": int(df.shape[0]), "columns": int(df.shape[1]),
                    "source": info.source, "license": info.license,
                    "description": info.description, "column_names": [str(c) for c in df.columns],
                }
            )

    def __iter__(self) -> Any:
        return iter(r["name"] for r in self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, name: str) -> dict[str, Any]:
        for r in self._rows:
            if r["name"] == name:
                return dict(r)
        raise KeyError(name)

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self._rows).set_index("name")

    def __repr__(self) -> str:
        width = max(len(r["name"]) for r in self._rows)
        lines = [f"{len(self._rows)} data sets (pandas DataFrames in this kernel); datasets['name'] for details"]
        for r in self._rows:
            lines.append(
                f"{r['name']:<{width}}  {r['rows']:>6} rows x {r['columns']:>2} columns  "
                f"source: {r['source']}  license: {r['license']}"
            )
        return "\n".join(lines)


def manifest() -> SimpleNamespace:
    """The data set builder of the ``biomed`` profile: nothing to build, the data ship with packages.

    Its fingerprint changes with the versions of the packages that carry the data, so cached task
    instances (whose ground truth comes from this data) are regenerated when a package changes.
    """
    parts = []
    for pkg in ("lifelines", "scikit-learn", "statsmodels", "scipy", "biopython", "numpy", "pandas"):
        try:
            parts.append(f"{pkg}={version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{pkg}=missing")
    return SimpleNamespace(fingerprint=hashlib.sha256(";".join(parts).encode()).hexdigest()[:16], packages=parts)
