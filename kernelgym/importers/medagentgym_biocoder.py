"""BioCoder records of MedAgentGym: the reference program run at import time to decide whether its
output can grade a solution (:class:`BioCoderChecker`), and the record as a ``function`` task."""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

from kernelgym.grading import DUMMIES, Grader
from kernelgym.importers.medagentgym_records import NotGradable, Record, _instance, _need
from kernelgym.kernel import medagentgym as kmag

BIOCODER_MAX_SECONDS = 2.0
"""Reference programs slower than this are left out: the verifier allows 5 s per program."""
SUBMIT_DONE = "define the function, then call submit('done'); graded by the program's output"


# ---------------------------------------------------------------- BioCoder


BIOCODER_PROMPT = (
    "You are an expert in writing bioinformatics code. You have a Jupyter kernel with numpy, scipy, pandas, "
    "scikit-learn and Biopython.\n\n{question}\n\n{answer_format}"
)
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


def _function_name(signature: str, solution: str) -> str:
    names = _DEF.findall(signature or "")
    if not names:
        try:
            tree = ast.parse(solution or "")
        except SyntaxError:
            tree = None
        names = [n.name for n in (tree.body if tree else []) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not names:
        raise NotGradable("bad_signature", f"no function name in the signature {signature!r}")
    return names[0]


_UNSEEDED = re.compile(r"\b(?:random|np\.random|numpy\.random)\.(?:random|randint|randrange|choice|choices|sample|"
                       r"shuffle|uniform|gauss|normal|rand|randn|permutation|binomial|poisson)\s*\(")
_SEEDED = re.compile(r"\bseed\s*\(|default_rng\s*\(\s*\w|RandomState\s*\(\s*\w")


def _marker_line(context: str) -> str | None:
    for line in context.split("\n"):
        if kmag.MARKER in line:
            return line
    return None


class BioCoderChecker:
    """Runs a record's programs: the reference (three times, in two processes), the record's ``code``,
    and the context with each of :data:`kernelgym.grading.DUMMIES` (functions that solve nothing), to
    decide whether its output can grade a solution."""

    def __init__(self, timeout: float = 30.0) -> None:
        from kernelgym.importers.medagentgym_programs import ProgramRunner

        self.first = ProgramRunner(hash_seed=0, timeout=timeout)
        self.second = ProgramRunner(hash_seed=12345, timeout=timeout)

    def close(self) -> None:
        self.first.close()
        self.second.close()

    def expected_output(self, name: str, context: str, solution: str, code: str) -> tuple[dict[str, str], str | None]:
        """The reference output, and a note when the record's own ``code`` fails where the context with
        the solution runs; raises :class:`NotGradable`."""
        program = kmag.insert_solution(context, solution)
        ref = self.first.run(program)
        if not ref.ok or ref.evidence is None:
            raise NotGradable("reference_failed", f"the reference program fails here: {ref.error}")
        out = ref.evidence
        if not out["stdout"] and out["sha256"] == kmag.output_evidence("")["sha256"]:
            raise NotGradable("reference_prints_nothing",
                              "the reference program prints nothing: any program that prints nothing would pass")
        if ref.seconds > BIOCODER_MAX_SECONDS:
            raise NotGradable("reference_too_slow",
                              f"the reference program takes {ref.seconds:.1f} s; the verifier allows 5 s")
        if _UNSEEDED.search(program) and not _SEEDED.search(program):
            raise NotGradable("nondeterministic_reference",
                              "the reference program draws random numbers without setting a seed")
        for runner in (self.second, self.first):
            again = runner.run(program)
            if not again.ok or again.evidence != out:
                raise NotGradable("nondeterministic_reference",
                                  "the reference program prints something else on another run (random state or hash order)")
        passing = self.passing_dummies(name, context, solution, out)
        if len(passing) == len(DUMMIES):
            raise NotGradable("output_independent_of_solution",
                              "the context prints the same with any function, even one that does nothing (it defines "
                              "the function itself or never calls it): its output cannot grade a solution")
        if passing:
            raise NotGradable("dummy_function_passes",
                              f"the context prints the reference's output with a function that does not solve the task "
                              f"({'; '.join(passing)}): a guess would pass")
        note = None
        if code and code.strip() and code.strip() != program.strip():
            given = self.first.run(code)
            if given.ok and given.evidence != out:
                raise NotGradable("reference_mismatch",
                                  "the record's reference program (`code`) and its context with its solution print "
                                  "different outputs")
            if not given.ok:  # e.g. a method pasted into its class without indentation
                note = (f"the record's `code` fails ({given.error}); MedAgentGym's expected output is that error "
                        "message. Graded by the context with the solution inserted at the marker's indentation")
        return out, note

    def passing_dummies(self, name: str, context: str, solution: str, expected: dict[str, str]) -> list[str]:
        """The labels of :data:`kernelgym.grading.DUMMIES` with which the context prints ``expected``:
        each dummy defined as ``name`` (a method if the solution's first parameter is ``self`` or
        ``cls``, with the solution's decorators), inserted at the marker and run as the verifier would."""
        method, decorators = _definition_shape(name, solution)
        passing = []
        for dummy in DUMMIES:
            program = kmag.insert_solution(context, dummy.source(name, method=method, decorators=decorators))
            res = self.first.run(program)
            if res.ok and res.evidence == expected:
                passing.append(dummy.label)
        return passing


def _definition_shape(name: str, solution: str) -> tuple[bool, list[str]]:
    """Whether the solution's ``name`` is a method (first parameter ``self`` or ``cls``, not a
    ``@staticmethod``), and its decorator lines."""
    try:
        tree = ast.parse(textwrap.dedent(solution))
    except SyntaxError:
        return bool(re.search(rf"def\s+{re.escape(name)}\s*\(\s*(?:self|cls)\b", solution)), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            decorators = [f"@{ast.unparse(d)}" for d in node.decorator_list]
            params = node.args.posonlyargs + node.args.args
            method = bool(params) and params[0].arg in ("self", "cls") and "@staticmethod" not in decorators
            return method, decorators
    return False, []


def convert_biocoder(rec: Record, checker: BioCoderChecker, notes: list[str]) -> dict[str, Any]:
    problem, solution, context = _need(rec, "problem", "solution", "context")
    signature = str(rec.data.get("signature") or "")
    code = str(rec.data.get("code") or "")
    context, solution = str(context), str(solution)
    line = _marker_line(context)
    if line is None:
        raise NotGradable("no_marker", f"the context has no {kmag.MARKER} marker")
    name = _function_name(signature, solution)
    if name not in _DEF.findall(solution):
        raise NotGradable("bad_signature", f"the reference solution does not define {name!r}")
    expected, note = checker.expected_output(name, context, solution, code)
    if note:
        notes.append(note)
    kind = "method" if line != line.lstrip() or re.search(r"\(\s*self\b", signature) else "function"
    # the reference defines the function as an agent would: a top-level function after the context's code
    # above the marker (its imports, helpers and decorators: a decorator runs when the function is defined)
    prelude = context.split(kmag.MARKER, 1)[0].rstrip() if line == line.lstrip() else ""
    reference = ([prelude] if prelude.strip() else []) + [solution, "submit('done')"]
    question = (
        f"{str(problem).strip()}\n\nWrite a Python function with this signature:\n\n{textwrap.indent(signature or name, '    ')}\n\n"
        f"Define it in a code cell of this kernel. After you finish, its source is inserted at {kmag.MARKER} in the "
        "context program below (also in the variable `context`), the program is run, and what it prints must equal "
        "what it prints with the reference solution. Only the function's source is inserted: put any helper inside it "
        "(it can use the context's imports and functions; a decorator from the context must be defined in the kernel "
        "before you define the function). "
        "You can run that check yourself (it shows what the program prints, not whether it is right): "
        f"`from kernelgym.kernel.medagentgym import run_program; print(run_program({name!r}, context)['stdout'])`."
        "\n\nThe context code around the function:\n\n"
        f"```python\n{context}\n```"
    )
    return _instance(
        kind, question, [expected], Grader(rule="list", case_sensitive=True), rec.split, answer_format=SUBMIT_DONE,
        inputs={"context": context}, reference=reference, verifier="function",
        verifier_args={"name": "kernelgym.kernel.medagentgym:run_program", "inputs": [[name, context]]},
    )

