"""Agents: the built-in ``reference``, ``replay`` and ``llm`` (LangChain chat models) agents, and
loading agents by name.

An agent is any class whose instances have ``async act(self, obs) -> kernelgym.Action``. Load one
by a built-in name or as ``module:Class``; options given as ``key=value`` are passed to its
constructor. A new agent instance is made for every episode.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kernelgym import _plugins
from kernelgym.episode import Agent


class AgentLoadError(ValueError):
    """An agent name or its options are wrong; the message says what to do."""


def load_agent(name: str, options: dict[str, Any] | None = None) -> Callable[[], Agent]:
    """Return a factory making a fresh agent per episode, for a built-in name or ``module:Class``."""
    known = _plugins.registered(_plugins.AGENTS)
    target = known.get(name, name)
    if ":" not in target:
        raise AgentLoadError(
            f"unknown agent {name!r}: use one of {', '.join(sorted(known))} or 'module:Class'"
        )
    try:
        cls = _plugins.load(target)
    except _plugins.PluginError as exc:
        raise AgentLoadError(f"agent {name!r}: {exc}") from None
    act = getattr(cls, "act", None)
    if act is None or not inspect.iscoroutinefunction(act):
        raise AgentLoadError(f"{target}: an agent needs an 'async def act(self, obs) -> Action' method")
    opts = dict(options or {})
    try:
        inspect.signature(cls).bind(**opts)
    except TypeError as exc:
        raise AgentLoadError(f"{target}: bad options {opts}: {exc}") from None
    label = name

    def factory() -> Agent:
        agent = cls(**opts)
        if not getattr(agent, "name", None):
            try:
                agent.name = label
            except AttributeError:
                pass
        return agent

    return factory
