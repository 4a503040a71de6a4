"""The system prompt tells the model what its kernel holds, and only what it really holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from kernelgym.kernel.biomed import CATALOG
from kernelgym.llm.prompts import describe_profile, system_prompt
from kernelgym.runtime.profiles import kernel_name, spec_manager
from kernelgym.tasks import select

pytestmark = [pytest.mark.kernel]


def test_biomed_prompt_names_every_data_set_with_its_columns_and_source() -> None:
    text = describe_profile("biomed")
    for info in CATALOG.values():
        assert f"- `{info.name}`: {info.description}" in text and info.source in text
    assert "```python" not in text  # described in words, not by dumping the preload code


@pytest.mark.slow
def test_every_name_the_biomed_prompt_promises_is_defined_in_a_real_biomed_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the prompt of biomed tasks was the preload source (which names none of the data
    sets); now it lists names, and each one must exist in the kernel the model will use."""
    names = sorted(set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", describe_profile("biomed"))) - {"submit"})
    assert {"rossi", "lung", "np", "CoxPHFitter", "datasets"} <= set(names)
    monkeypatch.setenv("KERNELGYM_FORK", "0")  # an ordinary kernel: no fork server left behind
    km = KernelManager(kernel_name=kernel_name("biomed"), kernel_spec_manager=spec_manager())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        out: list[str] = []
        reply = kc.execute_interactive(
            f"print(sorted(n for n in {names!r} if n not in globals()))", timeout=120,
            output_hook=lambda m: out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None,
        )
        assert reply["content"]["status"] == "ok"
        assert "".join(out).strip() == "[]", out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_ehr_prompt_lists_the_tables_of_the_built_data(ehr_data: Path) -> None:
    task = select("ehr", split="test", limit=1)[0].public()
    prompt = system_prompt(task, protocol="text", max_turns=7)
    assert "## The kernel" in prompt and "sql(query)" in prompt and "at most 7 cells" in prompt
    for table in ("patients", "admissions", "labevents"):
        assert re.search(rf"^- {table} \([\d,]+ rows\): .*\bsubject_id int\b", prompt, re.M), table
