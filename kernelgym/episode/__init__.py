"""Episodes: instance + agent + kernel -> result + notebook.

:func:`run_episode` drives one agent through one task in a fresh kernel:
prompt -> (agent action -> cell execution -> observation)* -> answer -> verification. The types an
agent deals with (:class:`Action`, :class:`Observation`) and what a run records
(:class:`EpisodeResult`) are in :mod:`kernelgym.episode.types`; what the agent sees of a cell's
outputs in :mod:`kernelgym.episode.observe`.
"""

from kernelgym.episode.loop import run_episode, wrong_answer_feedback
from kernelgym.episode.observe import render_outputs, strip_ansi, truncate
from kernelgym.episode.types import (
    ERROR_STOPS,
    Action,
    Agent,
    EpisodeConfig,
    EpisodeResult,
    Observation,
    StopReason,
    agent_label,
    is_error,
)

__all__ = [
    "ERROR_STOPS", "Action", "Agent", "EpisodeConfig", "EpisodeResult", "Observation", "StopReason", "agent_label", "is_error",
    "render_outputs", "run_episode", "strip_ansi", "truncate", "wrong_answer_feedback",
]
