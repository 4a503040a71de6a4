# Preload of the kernelgym `ehr-mimic3` profile: the `ehr` profile on real MIMIC-III data, imported
# with `kernelgym data import mimic3 PATH`. Every table as a pandas DataFrame, sql(), submit().
import numpy as np
import pandas as pd

from kernelgym.kernel import submit
from kernelgym.kernel.ehr import SQL as _SQL, data_path as _data_path, load_tables as _load_tables

globals().update(_load_tables("mimic3"))
sql = _SQL(_data_path("mimic3"))
del _SQL, _data_path, _load_tables
