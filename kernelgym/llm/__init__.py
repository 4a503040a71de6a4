"""LLM agents through LangChain: any chat model, any OpenAI-compatible server.

- :mod:`kernelgym.llm.client`: builds a chat model with ``init_chat_model`` and calls it robustly
  (retries with backoff, Retry-After, a shared concurrency limit, fatal errors that stop a run).
- :mod:`kernelgym.llm.prompts`: the system prompt built from a task and its kernel profile.
- :mod:`kernelgym.llm.protocol`: the two action protocols (``tools`` and ``text``).
- :class:`kernelgym.agents.langchain.LangChainAgent`: the agent ``kernelgym run --model`` uses.

Only :mod:`kernelgym.llm.errors` is imported eagerly; the rest needs the ``llm`` extra
(``pip install 'kernelgym[llm]'``).
"""

from __future__ import annotations

from kernelgym.llm.errors import FatalModelError, ModelCallError, ModelError

__all__ = ["FatalModelError", "ModelCallError", "ModelError"]
