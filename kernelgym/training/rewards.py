"""Reward functions for RL trainers: verl's ``compute_score`` and a TRL ``reward_funcs`` function.

Both grade the model's final answer on the host with kernelgym's own graders
(:func:`kernelgym.grading.grade`) and weigh it by the reward rule for the submissions before it
(:mod:`kernelgym.grading.attempts`), so a reward is the ``reward`` that ``kernelgym run`` records for
the same answers: 1.0 or 0.0 for most rules, the AUROC for ``auroc`` tasks, 0.0 when no answer is
found. Every submission in the completion counts as an attempt (a ``submit(...)`` call, literal or
not, and a ``submit_answer`` call); with the default rule ``first`` a completion that submitted more
than once earns 0, so a model is not rewarded for trying several answers. The rule comes from
``extra_info["reward_rule"]`` (``kernelgym export verl --reward-rule``) or a ``reward_rule`` column.

The answer is read from the model's output, last one wins:

- a ``submit_answer`` tool call, as a message's ``tool_calls`` (conversational completions) or as the
  JSON a chat template writes into the text (``{"name": "submit_answer", "arguments": {...}}``);
- a ``submit(<literal>)`` call in the text (the ``text`` protocol's code block).

A ``submit(...)`` whose argument is computed (``submit(len(df))``) has no value without the kernel:
to reward such episodes, run them (``kernelgym.training.rollout``, the Gymnasium environment, or the TRL
environment :class:`kernelgym.training.rollout.KernelgymToolEnv`, whose ``get_reward`` runs the verifier).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from kernelgym.grading import Grader, grade
from kernelgym.grading.attempts import attempt_reward

_MISSING = object()
_SUBMIT_CALL = re.compile(r"(?<![\w.])submit\(")
_SUBMIT_ANSWER = re.compile(r'"name"\s*:\s*"submit_answer"')
_MAX_LITERAL = 20_000


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return _MISSING
    if isinstance(value, dict) and "answer" in value:
        return value["answer"]
    return _MISSING


def _tool_call_answers(text: str) -> list[tuple[int, Any]]:
    """``(position, answer)`` of every ``{"name": "submit_answer", "arguments": ...}`` JSON object in ``text``."""
    decoder = json.JSONDecoder()
    found = []
    for m in _SUBMIT_ANSWER.finditer(text):
        start = text.rfind("{", 0, m.start())
        while start != -1 and m.start() - start < _MAX_LITERAL:
            try:
                obj, end = decoder.raw_decode(text, start)
            except ValueError:
                obj, end = None, start
            if end > m.start() and isinstance(obj, dict) and obj.get("name") == "submit_answer":
                answer = _arguments(obj.get("arguments", obj.get("parameters")))
                if answer is not _MISSING:
                    found.append((m.start(), answer))
                break
            start = text.rfind("{", 0, start)  # an object nested before "name": look further back
    return found


def _submit_call_answers(text: str) -> list[tuple[int, Any]]:
    """``(position, value)`` of every ``submit(<literal>)`` in ``text``."""
    found = []
    for m in _SUBMIT_CALL.finditer(text):
        start = m.end()
        end = text.find(")", start)
        while end != -1 and end - start <= _MAX_LITERAL:
            try:
                value = ast.literal_eval(text[start:end])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                end = text.find(")", end + 1)
                continue
            found.append((m.start(), value))
            break
    return found


def extract_answer(completion: Any) -> tuple[bool, Any]:
    """``(found, answer)``: the last answer the model gave in ``completion`` (text or messages)."""
    if isinstance(completion, list):  # conversational: messages, newest last
        for message in reversed(completion):
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            for call in reversed(message.get("tool_calls") or []):
                fn = call.get("function", call) if isinstance(call, dict) else {}
                if fn.get("name") == "submit_answer":
                    answer = _arguments(fn.get("arguments", fn.get("args")))
                    if answer is not _MISSING:
                        return True, answer
            found, answer = extract_answer(_text(message.get("content")))
            if found:
                return True, answer
        return False, None
    text = _text(completion)
    hits = _tool_call_answers(text) + _submit_call_answers(text)
    if not hits:
        return False, None
    return True, max(hits, key=lambda h: h[0])[1]


def count_submissions(completion: Any) -> int:
    """How many submissions ``completion`` (text or messages) makes: ``submit(...)`` calls in its text
    (computed arguments included) and ``submit_answer`` tool calls, of assistant messages only."""
    if isinstance(completion, list):
        n = 0
        for message in completion:
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            for call in message.get("tool_calls") or []:
                fn = call.get("function", call) if isinstance(call, dict) else {}
                n += fn.get("name") == "submit_answer"
            n += count_submissions(_text(message.get("content")))
        return n
    text = _text(completion)
    return len(_SUBMIT_CALL.findall(text)) + len(_tool_call_answers(text))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _ground_truth(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _grader(value: Any) -> Grader:
    if isinstance(value, Grader):
        return value
    if isinstance(value, str) and value:
        return Grader.model_validate_json(value)
    if isinstance(value, dict):
        return Grader.model_validate(value)
    return Grader()


def score_answer(completion: Any, ground_truth: Any, grader: Any = None, reward_rule: str | None = None) -> float:
    """The reward of one completion: its last answer graded against ``ground_truth``, weighted by
    ``reward_rule`` (default ``first``) for the submissions before it (0.0 if none)."""
    found, answer = extract_answer(completion)
    if not found:
        return 0.0
    score = float(grade(answer, _ground_truth(ground_truth), _grader(grader)).score)
    return attempt_reward(score, max(1, count_submissions(completion)), reward_rule)


def compute_score(
    data_source: str | None, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl's custom reward function (``custom_reward_function.path=<this file>``, ``name=compute_score``).

    Reads the rows of ``kernelgym export verl``: ``ground_truth`` is the JSON-encoded ground truth and
    ``extra_info["grader"]`` the JSON-encoded grading rule.
    """
    grader = (extra_info or {}).get("grader")
    return score_answer(solution_str, ground_truth, grader, (extra_info or {}).get("reward_rule"))


def kernelgym_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
    """A reward function for TRL (``GRPOTrainer(reward_funcs=kernelgym_reward)``).

    The dataset's columns arrive as keyword arguments: rows of ``kernelgym export verl`` carry
    ``reward_model`` (with ``ground_truth``) and ``extra_info`` (with ``grader``); a dataset may
    instead have ``ground_truth`` and ``grader`` columns. With TRL's ``environment_factory``, the
    environments' own rewards (graded by the verifier in the kernel) are used instead.
    """
    envs = kwargs.get("environments")
    if envs and all(hasattr(e, "get_reward") for e in envs):
        return [float(e.get_reward()) for e in envs]
    n = len(completions)
    truths = kwargs.get("ground_truth")
    graders = kwargs.get("grader")
    rules = kwargs.get("reward_rule")
    if rules is None and kwargs.get("extra_info") is not None:
        rules = [ei.get("reward_rule") if isinstance(ei, dict) else None for ei in kwargs["extra_info"]]
    if truths is None and kwargs.get("reward_model") is not None:
        truths = [rm.get("ground_truth") if isinstance(rm, dict) else None for rm in kwargs["reward_model"]]
    if graders is None and kwargs.get("extra_info") is not None:
        graders = [ei.get("grader") if isinstance(ei, dict) else None for ei in kwargs["extra_info"]]
    if truths is None:
        raise ValueError("kernelgym_reward needs the ground truth: a 'ground_truth' or 'reward_model' column")
    graders = graders if graders is not None else [None] * n
    rules = rules if rules is not None else [None] * n
    return [score_answer(c, t, g, r) for c, t, g, r in zip(completions, truths, graders, rules)]
