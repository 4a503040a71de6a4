# Preload of the kernelgym `ehr` profile: runs in the kernel's user namespace at start.
# Every EHR table as a pandas DataFrame (patients, admissions, labevents, ...), sql(), submit().
import numpy as np
import pandas as pd

from kernelgym.kernel import submit
from kernelgym.kernel.ehr import SQL as _SQL, data_path as _data_path, load_tables as _load_tables

globals().update(_load_tables())
sql = _SQL(_data_path())
del _SQL, _data_path, _load_tables
