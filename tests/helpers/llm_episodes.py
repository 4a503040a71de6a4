"""The LLM agent driven against :class:`helpers.openai_stub.OpenAIStub`: the agent, one episode, the
requests the server saw (shared by the tests of ``tests/llm``)."""

from __future__ import annotations

import asyncio
from typing import Any

import nbformat

from helpers.openai_stub import OpenAIStub
from kernelgym.agents import load_agent
from kernelgym.episode import EpisodeConfig, EpisodeResult, run_episode
from kernelgym.tasks import Instance

KEY_ENV = "KG_TEST_STUB_KEY"
"""The environment variable the tests put the stub's API key in."""
MODEL = "openai:stub-model"


def make_agent(stub: OpenAIStub, **opts: Any) -> Any:
    """kernelgym's LLM agent pointed at ``stub`` (``opts``: more ``-O`` options)."""
    options = {"model": MODEL, "base_url": stub.url, "api_key_env": KEY_ENV, "retry_base_delay": "0.05", **opts}
    return load_agent("llm", options)()


def play(inst: Instance, agent: Any, **cfg: Any) -> tuple[EpisodeResult, nbformat.NotebookNode]:
    """One episode of ``agent`` on ``inst`` in a real kernel (``cfg``: EpisodeConfig fields)."""
    return asyncio.run(run_episode(inst, agent, config=EpisodeConfig(**cfg)))


def chat_bodies(stub: OpenAIStub) -> list[dict[str, Any]]:
    """The JSON bodies of the chat requests ``stub`` received, in order."""
    return [r.body for r in stub.chat_requests()]
