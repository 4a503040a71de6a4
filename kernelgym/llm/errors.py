"""Exceptions of kernelgym's LLM agents. Imports nothing, so the episode loop and the runner can
catch :class:`FatalModelError` without importing LangChain."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model call failed."""


class FatalModelError(ModelError):
    """A failure that no retry and no other episode can fix: bad credentials (HTTP 401/403), an
    unknown model (404), no quota, an unreachable server, a missing provider package or API key.

    The episode loop and the runner let it propagate, so the whole run stops at once with one clear
    message (``kernelgym run`` exits with code 1) instead of recording one error per episode.
    """


class ModelCallError(ModelError):
    """A model call failed after its retries (or with an error that retrying cannot fix, such as a
    rejected request); it ends the episode, not the run."""
