"""The system prompt of an LLM agent, built from the task and its kernel profile.

It tells the model what the kernel holds (for data-set profiles: every table with its row count and
columns, read from the Parquet schemas on the host, never by asking the kernel), the helper
functions, the rules of an episode, the answer format, and how to act under the chosen protocol.
Nothing here reads the ground truth or the reference solution.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from kernelgym.kernel.paths import dataset_dir
from kernelgym.tasks import TaskInfo

Protocol = Literal["tools", "text", "medagentgym", "medagentgym-text"]

PROFILE_NOTES: dict[str, str] = {
    "ehr": (
        "The kernel holds the EHR database of a hospital in the MIMIC-III schema (same table and "
        "column names, ICD-9 codes, itemids; dates are shifted into the future). Every table is a "
        "pandas DataFrame in the namespace under its lower-case name.\n\n"
        "Helpers already defined:\n"
        "- `sql(query) -> pandas.DataFrame`: DuckDB SQL over the same tables (lower-case table names).\n"
        "- `pd` (pandas) and `np` (numpy) are imported.\n"
        "- `submit(answer)`: records your final answer (a JSON value: number, string, bool, list, dict or None)."
    ),
}
PROFILE_NOTES["ehr-mimic3"] = PROFILE_NOTES["ehr"].replace(
    "The kernel holds the EHR database of a hospital", "The kernel holds the MIMIC-III database (real, de-identified)", 1)
"""What a profile's kernel provides, in the model's words. ``biomed`` is described from its data
set catalog (:func:`biomed_note`); other profiles from their preload code."""


def biomed_note() -> str:
    """The ``biomed`` kernel in the model's words: its libraries and every data set with its columns."""
    from kernelgym.kernel.biomed import CATALOG

    sets = "\n".join(f"- `{d.name}`: {d.description} (source: {d.source})" for d in CATALOG.values())
    return (
        "The kernel is a biostatistics and bioinformatics workbench. Imported: `np` (numpy), `pd` (pandas), "
        "`scipy` and `stats` (scipy.stats), `sm` (statsmodels.api), `smf` (statsmodels.formula.api), "
        "`lifelines` with `CoxPHFitter`, `KaplanMeierFitter` and `logrank_test`, `sklearn` (scikit-learn; "
        "import its submodules), `Bio`, `Align`, `SeqUtils` and `Seq` (Biopython).\n\n"
        "Public data sets are loaded as pandas DataFrames under these names (`datasets` prints them with "
        f"rows, columns, source and license):\n{sets}\n\n"
        "`submit(answer)` records your final answer (a JSON value: number, string, bool, list, dict or None)."
    )

_TYPE_NAMES = (
    ("timestamp", "datetime"), ("date", "date"), ("int", "int"), ("uint", "int"), ("double", "float"),
    ("float", "float"), ("decimal", "float"), ("bool", "bool"), ("string", "str"), ("large_string", "str"),
    ("dictionary", "category"), ("list", "list"),
)


def _type_name(arrow_type: object) -> str:
    text = str(arrow_type)
    for prefix, name in _TYPE_NAMES:
        if text.startswith(prefix):
            return name
    return text


@lru_cache(maxsize=16)
def _tables_cached(root: str, stamp: tuple[tuple[str, float], ...]) -> tuple[tuple[str, int, tuple[tuple[str, str], ...]], ...]:
    import pyarrow.parquet as pq

    out = []
    for name, _ in stamp:
        meta = pq.read_metadata(Path(root) / name)
        schema = meta.schema.to_arrow_schema()
        cols = tuple((f.name, _type_name(f.type)) for f in schema if not f.name.startswith("__"))
        out.append((Path(name).stem, int(meta.num_rows), cols))
    return tuple(out)


def dataset_tables(name: str) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """``[(table, rows, [(column, type), ...]), ...]`` for every Parquet file of a built data set.

    Read from the Parquet footers only (fast, no data loaded); empty if the data set is not built.
    """
    root = dataset_dir(name)
    if not root.is_dir():
        return []
    files = sorted(root.glob("*.parquet"))
    stamp = tuple((p.name, p.stat().st_mtime) for p in files)
    return [(t, n, list(cols)) for t, n, cols in _tables_cached(str(root), stamp)]


def describe_tables(name: str, *, max_chars: int = 12_000) -> str:
    lines = []
    for table, rows, cols in dataset_tables(name):
        lines.append(f"- {table} ({rows:,} rows): " + ", ".join(f"{c} {t}" for c, t in cols))
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = text[:max_chars].rsplit("\n", 1)[0] + "\n- ... (more tables: list them in the kernel)"
    return text


def _profile_datasets(profile: str) -> list[str]:
    try:
        from kernelgym.runtime.profiles import profile_datasets

        return profile_datasets(profile)
    except Exception:
        return []


def _preload_source(profile: str) -> str:
    try:
        from kernelgym.runtime.profiles import profile_dir

        return (profile_dir(profile) / "preload.py").read_text()
    except Exception:
        return ""


def describe_profile(profile: str) -> str:
    """What the kernel of ``profile`` holds: its notes (or preload code), data tables and columns."""
    parts = []
    note = biomed_note() if profile == "biomed" else PROFILE_NOTES.get(profile)
    if note:
        parts.append(note)
    else:
        preload = _preload_source(profile).strip()
        if preload:
            parts.append(
                "The kernel ran this code at start (its names are defined in the namespace):\n"
                f"```python\n{preload[:4000]}\n```\n`submit(answer)` records your final answer."
            )
        else:
            parts.append("`submit(answer)` records your final answer.")
    for ds in _profile_datasets(profile):
        tables = describe_tables(ds)
        if tables:
            parts.append(f"Tables of the `{ds}` data set (rows) and their columns:\n{tables}")
    return "\n\n".join(parts)


def _protocol_text(protocol: Protocol) -> str:
    if protocol == "tools":
        return (
            "Use the tools. `run_cell(code)` runs `code` as the next notebook cell and "
            "returns what it printed, its last value and any traceback. `submit_answer(answer)` "
            "submits your final answer (a JSON value) and ends the task. Call exactly one tool per "
            "message; before the call, you may explain your reasoning briefly."
        )
    return (
        "Reply with a brief explanation of your reasoning, then exactly one fenced code "
        "block:\n```python\n# your code\n```\nThe block runs as the next notebook cell and the next "
        "message shows its output. Text outside the block is not run. To give your final answer, "
        "call `submit(answer)` inside a code block (for example `submit(42)`); the task ends when "
        "`submit()` has run."
    )


def system_prompt(
    task: TaskInfo,
    *,
    protocol: Protocol = "tools",
    max_turns: int | None = None,
    max_observation_chars: int | None = None,
    feedback: bool = False,
) -> str:
    """The system prompt for ``task``: environment, inputs, rules, answer format and protocol."""
    how = {"tools": "with `submit_answer(answer)`",
           "medagentgym": "by calling `submit(answer)` in the code of a `validate_code` action",
           "medagentgym-text": "by setting `answer` in the code of a `validate_code` action"}.get(
        protocol, "by calling `submit(answer)` in a code block")
    rules = [
        "Variables, imports and files persist from one cell to the next, as in a notebook.",
        "Run one cell per turn"
        + (f"; you have at most {max_turns} cells in total." if max_turns else "."),
        "Print summaries (shape, head(), value_counts(), the numbers you need), not whole tables: "
        + (f"an output longer than {max_observation_chars:,} characters is cut in the middle."
           if max_observation_chars else "long outputs are cut in the middle."),
        "There is no internet access, and nothing in the kernel or its files holds the answer: compute it from the data.",
        "Answer from the data, not from general knowledge; if the data cannot answer the question, answer as the question says.",
        f"When you are sure, give your final answer once, {how}.",
    ]
    if feedback:
        rules.append("If a submitted answer is wrong you will be told, and may try again while cells remain.")
    sections = [
        "You are an expert in biomedical and clinical data science. You solve a task by running Python code in a "
        "persistent Jupyter kernel (IPython) that already holds the task's data.",
        "## The kernel\n" + describe_profile(task.profile),
    ]
    if task.inputs:
        shown = "\n".join(f"- `{k} = {json.dumps(v, default=str)}`" for k, v in task.inputs.items() if k.isidentifier())
        if shown:
            sections.append("## Variables of this task (already defined)\n" + shown)
    sections.append("## Rules\n" + "\n".join(f"- {r}" for r in rules))
    if task.answer_format:
        sections.append(f"## Answer format\n{task.answer_format}")
    if protocol == "medagentgym":  # MedAgentGym's action names as tools (kernelgym.llm.medagentgym_protocol)
        from kernelgym.llm.medagentgym_protocol import protocol_text

        sections.append("## How to act\n" + protocol_text(task))
    elif protocol == "medagentgym-text":  # MedAgentGym's own format: the action as JSON in the text
        from kernelgym.llm.medagentgym_protocol import text_protocol_text

        sections.append("## How to act\n" + text_protocol_text(task))
    else:
        sections.append("## How to act\n" + _protocol_text(protocol))
    return "\n\n".join(sections)
