"""The Ray backend's kernel host without a cluster: :class:`KernelHost` is a plain class under its actor."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest

from kernelgym.episode import EpisodeConfig
from kernelgym.llm.client import DEFAULT_MAX_CONCURRENT_REQUESTS, ModelSettings, request_limit
from kernelgym.runs.ray_backend import KernelHost


@pytest.mark.parametrize(("explicit", "cap"), [(None, 16), (3, 3)])
def test_a_hosts_model_request_cap_follows_its_slots(monkeypatch: pytest.MonkeyPatch, explicit: int | None, cap: int) -> None:
    """Bug: on Ray an LLM agent's request cap was 8 per kernel host whatever the host's slots (the cap
    follows the run's concurrency through a context variable the runner sets in the driver only), so a
    host of 16 slots ran 16 episodes with at most 8 model requests at once: benchmarks/ray_llm_throughput.py
    measured about half the throughput of a local run at 16 in flight on one node. An explicit
    ``max_concurrent_requests`` still wins."""
    settings = ModelSettings(model="openai:stub-model", base_url="http://127.0.0.1:9/v1", max_concurrent_requests=explicit)
    seen: list[int] = []

    async def episode(inst: Any, agent: Any, *, config: EpisodeConfig, rollout: int) -> tuple[Any, Any]:
        seen.append(request_limit(settings))
        return SimpleNamespace(model_dump_json=lambda: "{}"), nbformat.v4.new_notebook()

    monkeypatch.setattr("kernelgym.episode.run_episode", episode)
    assert DEFAULT_MAX_CONCURRENT_REQUESTS < 16
    host = KernelHost(slots=16, pool_size=0)

    async def main() -> dict[str, Any]:
        out = await host.run(SimpleNamespace(id="t"), lambda: None, EpisodeConfig(), 0)
        if explicit is None:  # the call's setting does not leak into its caller
            assert request_limit(settings) == DEFAULT_MAX_CONCURRENT_REQUESTS
        return out

    assert asyncio.run(main()).keys() == {"result", "notebook"}
    assert seen == [cap]
