# Preload of the kernelgym `biomed` profile: runs in the kernel's user namespace at start.
# numpy, scipy, pandas, statsmodels, lifelines, scikit-learn and Biopython imported; the public data
# sets bundled with those packages loaded as pandas DataFrames (rossi, gbsg2, lung, breast_cancer,
# diabetes, ...); `datasets` lists them (rows, columns, source, license); submit().
import numpy as np
import pandas as pd
import scipy
from scipy import stats
import statsmodels.api as sm
import statsmodels.formula.api as smf
import lifelines
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
import sklearn
import Bio
from Bio import Align, SeqUtils
from Bio.Seq import Seq

from kernelgym.kernel import submit
from kernelgym.kernel.biomed import DatasetListing as _DatasetListing, load_datasets as _load_datasets

_frames = _load_datasets()
globals().update(_frames)
datasets = _DatasetListing(_frames)
del _DatasetListing, _load_datasets, _frames
