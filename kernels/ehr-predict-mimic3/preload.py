# Preload of the kernelgym `ehr-predict-mimic3` profile: clinical prediction on the imported MIMIC-III data. The tables of
# the MIMIC-III schema hold the training cohort in full and the test cohort only up to each
# admission's prediction time; `cohort` lists both, `train_labels` the training labels.
# Every table as a pandas DataFrame, sql(), submit(); scikit-learn is installed.
import numpy as np
import pandas as pd
import sklearn.linear_model
import sklearn.ensemble
import sklearn.pipeline
import sklearn.preprocessing
import sklearn.impute

from kernelgym.kernel import submit
from kernelgym.kernel.ehr import SQL as _SQL, data_path as _data_path, load_tables as _load_tables

globals().update(_load_tables("ehr-predict-mimic3"))
sql = _SQL(_data_path("ehr-predict-mimic3"))
del _SQL, _data_path, _load_tables
