"""Kernel side of the ``ehr`` profile: load the EHR tables and provide ``sql()``.

DataFrames are loaded from the Parquet files of the built data set; ``sql()`` queries the same
files through DuckDB. The DuckDB connection is opened lazily, inside the kernel, on first use (never
in a process that forks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernelgym.kernel.paths import dataset_dir

_HOW_TO_MAKE = {
    "ehr": "run `kernelgym data build ehr`",
    "mimic3": "import it with `kernelgym data import mimic3 PATH`",
}


def data_path(name: str = "ehr") -> Path:
    """The folder of the EHR data set this kernel reads (``ehr``, ``mimic3``, ``ehr-predict``...)."""
    path = dataset_dir(name)
    if not (path / "manifest.json").is_file():
        how = _HOW_TO_MAKE.get(name, "run `kernelgym kernels install` (it prepares every profile's data)")
        raise FileNotFoundError(
            f"the {name} data set is not at {path}; {how} "
            "(or set KERNELGYM_HOME to where it was built)"
        )
    return path


def load_tables(name: str = "ehr") -> dict[str, Any]:
    """Every table of data set ``name`` as a pandas DataFrame, by lower-case MIMIC name."""
    import pandas as pd

    root = data_path(name)
    return {p.stem: pd.read_parquet(p) for p in sorted(root.glob("*.parquet"))}


class SQL:
    """``sql(query) -> DataFrame`` over the EHR tables (DuckDB; table names in lower case)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._con: Any = None

    def _connect(self) -> Any:
        import duckdb

        con = duckdb.connect(":memory:")
        for p in sorted(self._root.glob("*.parquet")):
            con.execute(f"CREATE VIEW {p.stem} AS SELECT * FROM read_parquet('{p.as_posix()}')")
        return con

    def __call__(self, query: str) -> Any:
        if self._con is None:
            self._con = self._connect()
        return self._con.execute(query).df()

    def __repr__(self) -> str:
        return "sql(query) -> pandas.DataFrame  # DuckDB over the EHR tables"
