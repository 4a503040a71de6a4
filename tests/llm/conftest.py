"""The HTTP test server the LLM tests talk to: one per test module, its API key in the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from helpers.llm_episodes import KEY_ENV
from helpers.openai_stub import OpenAIStub


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    os.environ[KEY_ENV] = "sk-stub"
    with OpenAIStub(api_key="sk-stub") as server:
        yield server
