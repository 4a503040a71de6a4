"""Kernel side of MedAgentGym's tasks and actions (imports nothing of the host side).

- :func:`run_program`: the BioCoder harness. The verifier cell calls it (through
  :func:`kernelgym.kernel.verify.emit_function_evidence`) after the agent is done: it takes the
  source of the agent's function, inserts it at ``<<insert solution here>>`` in the task's context
  program, runs the program as ``__main__`` in a fresh namespace and returns what it printed (its
  SHA-256 and a preview). The host compares that with the reference program's output, which never
  enters the kernel.
- :func:`request_info` and :func:`debug`: MedAgentGym's ``request_info`` and ``debug`` actions,
  as kernelgym cells (``--protocol medagentgym``; see ``docs/medagentgym.md``).

:func:`normalise_output`, :func:`insert_solution` and :func:`run_source` are also used on the host
by the importer, so that the expected output is computed exactly as the agent's is.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import linecache
import sys
import textwrap
from typing import Any

MARKER = "<<insert solution here>>"
PREVIEW_CHARS = 2000
PROGRAM_FILE = "<medagentgym-program>"


# ---------------------------------------------------------------- BioCoder harness


def normalise_output(text: str) -> str:
    """A program's stdout as compared: line ends unified, trailing spaces and blank lines dropped."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def output_evidence(text: str) -> dict[str, str]:
    """``{"sha256", "stdout"}`` of a program's output: the hash decides, the preview is for people."""
    norm = normalise_output(text)
    return {"sha256": hashlib.sha256(norm.encode("utf-8")).hexdigest(), "stdout": norm[:PREVIEW_CHARS]}


def insert_solution(context: str, source: str) -> str:
    """``context`` with ``source`` at the marker, indented like the marker's line (as MedAgentGym
    inserts a solution; a marker inside a class body receives a method)."""
    lines = context.split("\n")
    code = textwrap.dedent(source).strip("\n")
    for i, line in enumerate(lines):
        if MARKER in line:
            if line.strip() == MARKER:
                indent = line[: len(line) - len(line.lstrip())]
                block = [indent + part if part.strip() else part for part in code.split("\n")]
                return "\n".join(lines[:i] + block + lines[i + 1 :])
            return context.replace(MARKER, code, 1)
    raise ValueError(f"the context has no {MARKER} marker")


def run_source(program: str) -> dict[str, str]:
    """Run ``program`` as ``__main__`` in a fresh namespace; return :func:`output_evidence` of its
    stdout. Raises what the program raises (``SystemExit(0)`` is a normal end)."""
    linecache.cache[PROGRAM_FILE] = (len(program), None, program.splitlines(True), PROGRAM_FILE)
    code = compile(program, PROGRAM_FILE, "exec")
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(code, namespace)
        except SystemExit as stop:
            if stop.code not in (None, 0):
                raise RuntimeError(f"the program exited with status {stop.code!r}") from None
    return output_evidence(out.getvalue())


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def run_program(name: str, context: str) -> dict[str, str]:
    """Insert the source of the agent's function ``name`` into ``context`` and run the program."""
    import inspect

    fn = _user_namespace().get(name)
    if isinstance(fn, property):  # a method written with @property (its source keeps the decorator)
        fn = fn.fget
    elif isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    if not callable(fn):
        raise NameError(f"no function named {name!r} is defined")
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise RuntimeError(f"cannot read the source of {name!r} ({exc}); define it with `def` in a code cell") from None
    return run_source(insert_solution(context, source))


# ---------------------------------------------------------------- MedAgentGym actions


def _tables() -> dict[str, Any]:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - every profile has pandas
        return {}
    return {k: v for k, v in _user_namespace().items() if not k.startswith("_") and isinstance(v, pd.DataFrame)}


def _table_name(data_path: str, tables: dict[str, Any]) -> str | None:
    """``"./mimic_iii/ADMISSIONS.csv"`` -> ``"admissions"`` when such a table is loaded."""
    base = str(data_path or "").strip().replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for ext in (".csv.gz", ".csv", ".parquet"):
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
    by_lower = {k.lower(): k for k in tables}
    return by_lower.get(base.lower())


def _closest(values: list[str], keyterm: str, limit: int = 5) -> list[str]:
    import difflib

    scored = []
    key = keyterm.lower()
    for v in values:
        ratio = difflib.SequenceMatcher(None, key, v.lower()).ratio()
        if ratio >= 0.7:
            scored.append((-ratio, v))
    return [v for _, v in sorted(scored)[:limit]]


def request_info(data_path: str = "", info_type: str = "term", keyterm: str = "") -> None:
    """MedAgentGym's ``request_info`` over the tables loaded in this kernel; prints the answer.

    ``info_type``: ``column_names`` (of the table named by ``data_path``), ``column_values`` (the
    distinct values of column ``keyterm``, when there are at most 10) or ``term`` (which tables and
    columns hold the value ``keyterm`` exactly, else the closest text values).
    """
    from pandas.api.types import is_numeric_dtype

    tables = _tables()
    if not tables:
        print("This kernel has no data tables: the task gives its data in its variables.")
        return
    table = _table_name(data_path, tables)
    if info_type in ("column_names", "column_values"):
        if table is None:
            print(f"No table {data_path!r}. The tables are: {sorted(tables)}")
            return
        df = tables[table]
        if info_type == "column_names":
            print(f"The column names of {table} are: {list(df.columns)}")
            return
        column = {str(c).lower(): c for c in df.columns}.get(str(keyterm).lower())
        if column is None:
            print(f"The column name {keyterm!r} does not exist in {table}.")
            return
        values = df[column].dropna().unique()
        if len(values) <= 10:
            print(f"The column values include: {sorted(map(str, values))}")
        else:
            print(f"Too many values in the column ({len(values):,}): ask with info_type='term' for one value.")
        return
    if info_type != "term":
        print(f"Unknown info_type {info_type!r}: use 'column_names', 'column_values' or 'term'.")
        return
    if not str(keyterm).strip():
        print("The keyterm is empty.")
        return
    results: dict[str, str] = {}
    for name in [table] if table else sorted(tables):
        df = tables[name]
        hits, texts = [], []
        for col in df.columns:
            series = df[col]
            if series.dtype == object or str(series.dtype).startswith(("string", "str")):
                uniq = series.dropna().astype(str).unique()
                if (uniq == str(keyterm)).any():
                    hits.append(str(col))
                elif len(texts) < 50_000:
                    texts.extend(uniq[: 50_000 - len(texts)].tolist())
            elif is_numeric_dtype(series):
                try:
                    number = float(keyterm)
                except (TypeError, ValueError):
                    continue
                if (series == number).any():
                    hits.append(str(col))
        if hits:
            results[name] = f'The table contains the keyterm "{keyterm}" under the following columns {hits}.'
        else:
            near = _closest(texts, str(keyterm))
            results[name] = (f"The table does not contain the keyterm {keyterm}."
                             + (f" The closest values are: {near}" if near else ""))
    lines = [f'The requested information related to the keyterm "{keyterm}" is as follows:']
    lines += [f"- {name}: {text}" for name, text in results.items()]
    print("\n".join(lines))


def debug(code: str = "", error_msg: str = "") -> None:
    """MedAgentGym's ``debug``: run ``code`` (if given) in the kernel's namespace and, if it fails,
    show the traceback with the values of every frame's local variables; with no code, show the
    last error of the kernel that way."""
    from IPython.core.ultratb import VerboseTB

    fmt: Any = None
    for kwargs in ({"theme_name": "nocolor"}, {"color_scheme": "NoColor"}, {}):  # IPython 9, 8, any
        try:
            fmt = VerboseTB(**kwargs)
            break
        except (TypeError, ValueError, KeyError):
            continue
    if code and code.strip():
        name = f"<debug-{abs(hash(code)) % 10**8}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        try:
            exec(compile(code, name, "exec"), _user_namespace())
        except BaseException as exc:  # noqa: BLE001 - showing the error is the point
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # from the code's frame
            print("\n".join(fmt.structured_traceback(type(exc), exc, tb)))
            return
        print("The code ran without an error.")
        return
    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if exc is None:
        print("No error to debug: no cell has failed yet." + (f" (Given error message: {error_msg})" if error_msg else ""))
        return
    print("\n".join(fmt.structured_traceback(type(exc), exc, exc.__traceback__)))
