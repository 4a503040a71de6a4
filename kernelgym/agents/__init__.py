"""Agents: the built-in ``reference``, ``replay`` and ``llm`` (LangChain chat models) agents, and
loading agents by name.

An agent is any class whose instances have ``async act(self, obs) -> kernelgym.Action``. Load one
by a built-in name, as ``module:Class`` or as ``path/to/file.py:Class``; options are passed to its
constructor as keyword arguments, checked against its signature first. A new agent instance is made for every episode.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kernelgym import _plugins
from kernelgym.episode import Agent


class AgentLoadError(ValueError):
    """An agent name or its options are wrong; the message says what to do."""


def _bad_options(name: str, signature: inspect.Signature, opts: dict[str, Any], exc: TypeError) -> str:
    """One line: which option the agent does not take, and the ones it does."""
    params = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes = ", ".join(p.name for p in params) or "none"
    unknown = [k for k in opts if k not in {p.name for p in params}]
    if unknown:
        return f"agent {name!r} takes no option {unknown[0]!r} (its options: {takes})"
    return f"agent {name!r}: bad options {opts}: {exc} (its options: {takes})"


def load_agent(name: str, options: dict[str, Any] | None = None) -> Callable[[], Agent]:
    """Return a factory making a fresh agent per episode, for a built-in name, ``module:Class`` or
    ``path/to/file.py:Class``; raises :class:`AgentLoadError` (one line) for an unknown agent or an option
    its constructor does not take."""
    known = _plugins.registered(_plugins.AGENTS)
    target = known.get(name, name)
    if ":" not in target:
        raise AgentLoadError(
            f"unknown agent {name!r}: use one of {', '.join(sorted(known))}, 'module:Class' or 'path/to/file.py:Class'"
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
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(**opts)
        except TypeError as exc:
            raise AgentLoadError(_bad_options(name, signature, opts, exc)) from None
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
