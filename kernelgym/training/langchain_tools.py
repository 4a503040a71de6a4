"""LangChain tools bound to a live kernelgym kernel, for your own LangChain or LangGraph agents.

    from kernelgym.training.langchain_tools import TaskKernel

    async with TaskKernel("ehr/first_lab/00001") as kernel:
        agent = create_agent(model, kernel.tools(), system_prompt=kernel.system_prompt())
        await agent.ainvoke({"messages": [("user", kernel.task.prompt)]})
        grade = await kernel.grade()          # the verifier runs in the kernel, graded on the host
        kernel.save("episode.ipynb")          # the same notebook conventions as `kernelgym run`

A :class:`TaskKernel` is a fresh kernel of the task's profile with the task's inputs set, and a
notebook that records every cell the tools run (with their real outputs). Its tools are
``run_cell(code)`` and ``submit_answer(answer)``, the same two tools the built-in LLM agent uses;
they are async (use ``ainvoke``/``astream``, as LangGraph does in async code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.episode import render_outputs
from kernelgym.grading import Grade
from kernelgym.llm.prompts import system_prompt
from kernelgym.llm.protocol import (
    RUN_CELL,
    RUN_CELL_DESCRIPTION,
    SUBMIT_ANSWER,
    SUBMIT_ANSWER_DESCRIPTION,
    RunCellArgs,
    SubmitAnswerArgs,
)
from kernelgym.notebook.readers import answers_of
from kernelgym.runtime.kernel_session import KernelSession, SessionLimits
from kernelgym.runtime.tempdirs import owned_tempdir, remove_tree
from kernelgym.tasks import Instance, get_instance


class TaskKernel:
    """A live kernel for one task, with LangChain tools that run cells in it.

    ``max_turns`` (optional) caps the cells the tools may run; the tools then answer with an error.
    Every cell that calls ``submit()`` is a submission (:attr:`attempts`); :attr:`reward` is the final
    verdict's score weighted by ``reward_rule`` for the submissions before the last
    (:mod:`kernelgym.grading.attempts`; default ``first``: a pass after a wrong submission earns 0).
    """

    def __init__(
        self,
        task: Instance | str,
        *,
        limits: SessionLimits | None = None,
        max_observation_chars: int = 4000,
        max_turns: int | None = None,
        reward_rule: str = "first",
    ) -> None:
        from kernelgym.grading.attempts import parse_rule

        self.reward_rule = parse_rule(reward_rule).spelled()
        self.attempts = 0
        """Cells that called ``submit()``."""
        self.reward: float | None = None
        """Set by :meth:`grade`: the verdict's score weighted by the reward rule for the attempts."""
        self.instance = task if isinstance(task, Instance) else get_instance(task)
        self.task = self.instance.public()
        self.limits = limits or SessionLimits()
        self.max_observation_chars = max_observation_chars
        self.max_turns = max_turns
        self.notebook: NotebookNode = nbk.new_episode_notebook(self.instance)
        self.turns = 0
        self.submitted = False
        self.answer: Any = None
        self.result: Grade | None = None
        self._dir: Path | None = None
        self._session: KernelSession | None = None

    async def __aenter__(self) -> TaskKernel:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> TaskKernel:
        """Start the kernel and run the setup cell (the task's inputs)."""
        self._dir = owned_tempdir("taskkernel")
        self._session = KernelSession(self.instance.profile, self.notebook, cwd=self._dir, limits=self.limits)
        await self._session.start()
        setup = await self._session.run_cell(nbk.index_of_tag(self.notebook, nbk.TAG_SETUP))
        if setup.status != "ok":
            await self.close()
            raise RuntimeError(f"the setup cell of {self.instance.id} failed: {setup.error_name}")
        return self

    async def close(self) -> None:
        """Shut the kernel down (the notebook stays)."""
        if self._session is not None:
            await self._session.shutdown()
            self._session = None
        if self._dir is not None:
            remove_tree(self._dir)
            self._dir = None

    def system_prompt(self, protocol: str = "tools") -> str:
        """kernelgym's system prompt for this task (kernel contents, rules, answer format)."""
        return system_prompt(
            self.task, protocol=protocol, max_turns=self.max_turns,  # type: ignore[arg-type]
            max_observation_chars=self.max_observation_chars,
        )

    async def run_cell(self, code: str) -> str:
        """Run ``code`` as the next notebook cell; returns its outputs as the model sees them."""
        if self._session is None:
            return "Error: the kernel is not running (call start() first, or it was closed)."
        if self._session.dead:
            return "Error: the kernel died; nothing more can run in this task."
        if self.max_turns is not None and self.turns >= self.max_turns:
            return f"Error: the turn limit ({self.max_turns} cells) is reached; submit your answer."
        idx = nbk.add_action(self.notebook, code, self.turns + 1)
        outcome = await self._session.run_cell(idx)
        answers = answers_of(outcome.cell)
        self.turns += 1
        if answers:
            self.submitted, self.answer = True, answers[-1]
            self.attempts += 1
        if outcome.status == "dead":
            return "Error: the kernel died while running this cell."
        if outcome.status == "killed":
            return "Error: the cell did not stop after an interrupt; the kernel was killed."
        return render_outputs(outcome, self.max_observation_chars, self.limits.cell_timeout)

    async def submit_answer(self, answer: Any) -> str:
        """Submit ``answer`` (a JSON value) by running ``submit(answer)`` in the kernel."""
        return await self.run_cell(f"submit({nbk.python_literal(answer)})")

    def tools(self) -> list[Any]:
        """``[run_cell, submit_answer]`` as LangChain ``StructuredTool`` objects bound to this kernel."""
        from langchain_core.tools import StructuredTool

        async def run_cell(code: str) -> str:
            return await self.run_cell(code)

        async def submit_answer(answer: Any) -> str:
            return await self.submit_answer(answer)

        return [
            StructuredTool.from_function(
                coroutine=run_cell, name=RUN_CELL, description=RUN_CELL_DESCRIPTION, args_schema=RunCellArgs,
            ),
            StructuredTool.from_function(
                coroutine=submit_answer, name=SUBMIT_ANSWER, description=SUBMIT_ANSWER_DESCRIPTION,
                args_schema=SubmitAnswerArgs,
            ),
        ]

    async def grade(self) -> Grade:
        """Run the verifier cell in the kernel and grade its evidence on the host (once)."""
        if self.result is not None:
            return self.result
        inst = self.instance
        evidence: list[dict[str, Any]] = []
        if self._session is not None and not self._session.dead:
            vidx = nbk.add_verifier(self.notebook, inst.verifier, inst.verifier_args)
            out = await self._session.run_cell(vidx, timeout=60)
            evidence = nbk.evidence_of(out.cell)
        self.notebook.metadata["kernelgym"].update({  # before the verdict: the header cell shows them
            "agent": {"name": "langchain-tools", "model": None, "sampling": {}},
            "episode": {"turns": self.turns, "stop_reason": "answered" if self.submitted else "agent_stopped"},
        })
        from kernelgym.grading.attempts import attempt_fields

        answer, verdict = inst.verdict(evidence, no_evidence="no verifier evidence")
        counted = attempt_fields(self.attempts, verdict.score, self.reward_rule)
        nbk.write_result(self.notebook, nbk.result_record(inst, answer, verdict) | counted)
        self.reward = float(counted["reward"])
        self.result = verdict
        return verdict

    def save(self, path: str | Path) -> Path:
        """Write the notebook (validated, atomically)."""
        path = Path(path)
        nbk.write(self.notebook, path)
        return path

    def __repr__(self) -> str:
        state = "running" if self._session is not None else "stopped"
        return f"TaskKernel({self.instance.id!r}, {state}, turns={self.turns}, submitted={json.dumps(self.submitted)})"
