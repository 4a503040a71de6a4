"""The biomed profile and its families: power analysis, biostatistics on real data, bioinformatics.

For every category: generation is deterministic (also across processes with different hash seeds),
the reference solution passes in a real ``biomed`` kernel, answers just inside each tolerance band
pass and answers just outside fail. Code-writing categories: a right function passes, a wrong one
fails, and one that raises fails without breaking the verifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kernelgym import notebook as nbk
from kernelgym import tasks
from kernelgym.episode import Action, EpisodeConfig, EpisodeResult, run_episode
from kernelgym.families import bioinfo, biostat, power
from kernelgym.grading import Grader, grade, grade_function
from kernelgym.tasks import Category, Draft, Instance

pytestmark = [pytest.mark.kernel]

FAMILIES = {"power": power, "biostat": biostat, "bioinfo": bioinfo}
CATEGORIES = [(fam, name) for fam, mod in FAMILIES.items() for name in mod.CATEGORIES]
IDS = [f"{fam}/{name}" for fam, name in CATEGORIES]


@pytest.fixture(scope="module", autouse=True)
def _stop_biomed_fork_servers() -> Iterator[None]:
    """Leave the test process as we found it: stop the biomed fork server(s) these tests started
    (other modules count the fork servers of this process)."""
    yield
    from kernelgym.runtime import forkclient

    forkclient.stop_zygotes(lambda z: any(os.path.join("kernels", "biomed") in p or "kernelgym-biomed" in p
                                          for p in z.preloads))


@pytest.fixture(scope="module")
def contexts() -> Iterator[dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        yield {fam: stack.enter_context(mod.open_context()) for fam, mod in FAMILIES.items()}


def drafts(ctx: Any, fam: str, name: str, n: int, seed: str = "test") -> list[Draft]:
    cat: Category = FAMILIES[fam].CATEGORIES[name]
    rng = random.Random(f"{seed}/{fam}/{name}")
    out: list[Draft] = []
    for _ in range(n * 10):
        d = cat.generate(ctx, rng)
        if d is not None:
            out.append(d)
        if len(out) == n:
            break
    assert len(out) == n, f"{fam}/{name}: only {len(out)} drafts in {n * 10} attempts"
    return out


# ---------------------------------------------------------------- catalogue


def test_category_counts() -> None:
    assert len(power.CATEGORIES) == 12
    assert {n.rsplit("_", 2)[0] for n in power.CATEGORIES} >= {"one_sample_t", "paired_t", "two_sample_t", "chi2_independence"}
    assert len(biostat.CATEGORIES) >= 15
    functions = [n for n in bioinfo.CATEGORIES if n.endswith("_function")]
    assert len(bioinfo.CATEGORIES) - len(functions) >= 15 and len(functions) >= 5


def test_specs_use_the_biomed_profile_and_its_kernel_lists_the_data() -> None:
    from kernelgym.kernel.biomed import CATALOG
    from kernelgym.runtime.profiles import profile_datasets, profiles

    assert "biomed" in profiles() and profile_datasets("biomed") == ["biomed"]
    for fam in FAMILIES:
        spec = tasks.load_spec(tasks.resource_dir("task_specs") / f"{fam}.yaml")
        assert spec.profile == "biomed" and spec.generator is not None
    assert {"rossi", "gbsg2", "lung", "waltons", "breast_cancer", "diabetes"} <= set(CATALOG)
    assert all(info.source and info.license for info in CATALOG.values())


# ---------------------------------------------------------------- generation


@pytest.mark.slow
@pytest.mark.parametrize(("fam", "name"), CATEGORIES, ids=IDS)
def test_generation_is_deterministic(contexts: dict[str, Any], fam: str, name: str) -> None:
    a = drafts(contexts[fam], fam, name, 2)
    b = drafts(contexts[fam], fam, name, 2)
    assert [d.model_dump() for d in a] == [d.model_dump() for d in b]
    json.dumps([d.model_dump() for d in a])  # serialisable for the task store
    for d in a:
        assert d.reference and "submit(" in d.reference[-1]
        if isinstance(d.answer, str) and len(d.answer) >= 6:
            assert all(d.answer not in cell for cell in d.reference), "the reference hard-codes the answer"


_DIGEST = """
import hashlib, json, random, sys
from kernelgym.families import bioinfo, biostat, power
out = {}
for fam, mod in {"power": power, "biostat": biostat, "bioinfo": bioinfo}.items():
    with mod.open_context() as ctx:
        for name, cat in mod.CATEGORIES.items():
            rng = random.Random(f"proc/{fam}/{name}")
            d = None
            while d is None:
                d = cat.generate(ctx, rng)
            out[f"{fam}/{name}"] = hashlib.sha256(json.dumps(d.model_dump(), sort_keys=True).encode()).hexdigest()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_generation_is_deterministic_across_processes(contexts: dict[str, Any]) -> None:
    """Regression: nothing may depend on hash randomisation (set order) or on process state."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout)
    for fam, name in CATEGORIES:
        rng = random.Random(f"proc/{fam}/{name}")
        d = None
        while d is None:
            d = FAMILIES[fam].CATEGORIES[name].generate(contexts[fam], rng)
        mine = hashlib.sha256(json.dumps(d.model_dump(), sort_keys=True).encode()).hexdigest()
        assert theirs[f"{fam}/{name}"] == mine, f"{fam}/{name} differs between processes"


# ---------------------------------------------------------------- tolerance bands


def _band(e: float, g: Grader) -> float:
    return max(g.abs_tol, g.rel_tol * abs(e), 0.0)


def _numeric_variants(e: float, g: Grader) -> tuple[list[Any], list[Any]]:
    band = _band(e, g)
    if band == 0:
        assert float(e).is_integer(), "an exact numeric answer must be an integer"
        return [int(e), float(e)], [e + 1, e - 1]
    return [e + 0.9 * band, e - 0.9 * band], [e + 1.1 * band, e - 1.1 * band]


def _perturb(x: Any, g: Grader) -> Any:
    """``x`` changed just outside the band (numbers) or by one letter (strings)."""
    if isinstance(x, bool):
        return not x
    if isinstance(x, (int, float)):
        band = _band(x, g)
        return x + 1 if band == 0 else x + 1.1 * band
    if isinstance(x, str):
        return x[:-1] + ("A" if x[-1:] != "A" else "C") if x else "X"
    if isinstance(x, list):
        return [_perturb(x[0], g), *x[1:]] if x else ["X"]
    if isinstance(x, dict):
        if not x:
            return {"X": 1}
        k = sorted(x)[0]
        return {**x, k: _perturb(x[k], g)}
    raise AssertionError(f"cannot perturb {x!r}")


def _nudge(x: Any, g: Grader) -> Any:
    """``x`` changed just inside the band (numbers); other values unchanged."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return x
    band = _band(x, g)
    return x if band == 0 else x + 0.9 * band


def answer_variants(expected: Any, g: Grader) -> tuple[list[Any], list[Any]]:
    """(answers that must pass, answers that must fail) for an expected answer under grader ``g``."""
    if g.rule == "numeric":
        return _numeric_variants(expected, g)
    if g.rule == "exact":
        inside = [expected, f"  {expected} "] + ([] if g.case_sensitive else [expected.lower()])
        return inside, [_perturb(expected, g), expected[:-1]]
    if g.rule == "set":
        inside = [list(reversed(expected))]
        outside = [expected[:-1] if expected else ["X"], [*expected, "NotAnItem"]]
        return inside, outside
    if g.rule == "list":
        inside = [expected, [_nudge(x, g) for x in expected]]
        outside = [_perturb(expected, g), expected[:-1] if expected else ["X"], list(reversed(expected)) + ["X"]]
        if len(expected) > 1 and expected[0] != expected[-1]:
            outside.append(list(reversed(expected)))
        return inside, outside
    raise AssertionError(f"no variants for rule {g.rule}")


@pytest.mark.parametrize(("fam", "name"), CATEGORIES, ids=IDS)
def test_answers_inside_the_band_pass_and_just_outside_fail(contexts: dict[str, Any], fam: str, name: str) -> None:
    cat = FAMILIES[fam].CATEGORIES[name]
    for d in drafts(contexts[fam], fam, name, 2):
        if d.verifier == "function":
            expected = d.answer
            assert len(expected) == len(d.verifier_args["inputs"]) >= 5
            ok = {"defined": True, "outputs": copy.deepcopy(expected), "errors": [None] * len(expected)}
            assert grade_function(ok, expected, cat.grader).passed
            nudged = {**ok, "outputs": [_nudge(x, cat.grader) for x in expected]}
            assert grade_function(nudged, expected, cat.grader).passed
            for i in (0, len(expected) - 1):
                wrong = copy.deepcopy(ok)
                wrong["outputs"][i] = _perturb(expected[i], cat.grader)
                verdict = grade_function(wrong, expected, cat.grader)
                assert not verdict.passed and verdict.score == pytest.approx(1 - 1 / len(expected))
                raised = copy.deepcopy(ok)
                raised["outputs"][i], raised["errors"][i] = None, "ValueError: boom"
                assert not grade_function(raised, expected, cat.grader).passed
            assert not grade_function({**ok, "defined": False}, expected, cat.grader).passed
            continue
        inside, outside = answer_variants(d.answer, cat.grader)
        for a in inside:
            assert grade(a, d.answer, cat.grader).passed, (a, d.answer, cat.grader)
        for a in outside:
            assert not grade(a, d.answer, cat.grader).passed, (a, d.answer, cat.grader)
        assert not grade(None, d.answer, cat.grader).passed


# ---------------------------------------------------------------- reference cells on the host


@pytest.fixture(scope="module")
def kernel_namespace() -> dict[str, Any]:
    """The user namespace of a biomed kernel, built by running the profile's preload in-process."""
    from kernelgym.runtime.profiles import profile_dir

    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile((profile_dir("biomed") / "preload.py").read_text(), "preload.py", "exec"), ns)  # noqa: S102
    return ns


@pytest.mark.slow
@pytest.mark.parametrize(("fam", "name"), CATEGORIES, ids=IDS)
def test_reference_cells_reproduce_the_answer_on_the_host(
    contexts: dict[str, Any], kernel_namespace: dict[str, Any], fam: str, name: str
) -> None:
    """More drafts than the kernel run can afford: each reference, run in a copy of the kernel's
    namespace, recomputes the ground truth (biostat: lifelines in the reference against the host's
    statsmodels shortcuts for Kaplan-Meier and log-rank)."""
    cat = FAMILIES[fam].CATEGORIES[name]
    for d in drafts(contexts[fam], fam, name, 4, seed="host"):
        submitted: list[Any] = []
        ns = {**kernel_namespace, **copy.deepcopy(d.inputs), "submit": submitted.append, "print": lambda *a, **k: None}
        with contextlib.redirect_stdout(None):
            for cell in d.reference:
                exec(cell, ns)  # noqa: S102 - the family's own reference solution
        assert submitted, "the reference never submitted"
        if d.verifier == "function":
            fn = ns[d.verifier_args["name"]]
            outputs = [fn(*copy.deepcopy(args)) for args in d.verifier_args["inputs"]]
            evidence = {"defined": True, "outputs": json.loads(json.dumps(outputs)), "errors": [None] * len(outputs)}
            verdict = grade_function(evidence, d.answer, cat.grader)
        else:
            from kernelgym.kernel import to_jsonable

            verdict = grade(to_jsonable(submitted[-1]), d.answer, cat.grader)
        assert verdict.passed, (d.question, verdict.explanation)


# ---------------------------------------------------------------- ground truth against published values


def test_power_ground_truth_matches_published_values() -> None:
    from statsmodels.stats.power import TTestIndPower

    # Cohen (1988): d = 0.5, two-sided alpha 0.05, power 0.8 -> 64 per group
    assert math.ceil(TTestIndPower().solve_power(0.5, alpha=0.05, power=0.8)) == 64
    # Schoenfeld: HR 0.7, 1:1, two-sided 0.05, power 0.8 -> 247 events
    assert math.ceil(power.schoenfeld_events(0.7, 0.05, 0.8, 0.5)) == 247
    assert power.schoenfeld_power(0.7, 0.05, power.schoenfeld_events(0.7, 0.05, 0.8, 0.5), 0.5) == pytest.approx(0.8, abs=1e-9)


def test_bioinfo_helpers_match_rosalind_samples() -> None:
    # Rosalind ORF and REVP sample data sets and answers
    orf = "AGCCATGTAGCTAACTCAGGTTACATGGGGATGACCCCGCGACTTGGATTAGAGTCTCTTTTGGAATAAGCCTGAATGATCCGAGTAGCATCTCAG"
    assert set(bioinfo.orf_proteins(orf)) == {"MLLGSFRLIPKETLIQVAGSSPCNLS", "M", "MGMTPRLGLESLLE", "MTPRLGLESLLE"}
    assert bioinfo.reverse_palindromes("TCAATGCATGCGGGTCTATATGCAT") == [
        [4, 6], [5, 4], [6, 6], [7, 4], [17, 4], [18, 4], [20, 6], [21, 4]]
    r = random.Random(0)
    for _ in range(200):
        a = bioinfo.protein(r, r.randint(0, 30))
        b = bioinfo.protein(r, r.randint(0, 30))
        assert bioinfo.edit_distance(a, b) == bioinfo._edit_distance_dp(a, b)
    assert bioinfo.edit_distance("KITTEN", "SITTING") == 3


def test_biostat_ground_truth_matches_published_values(contexts: dict[str, Any]) -> None:
    """lifelines on gbsg2/rossi reproduces numbers printed in its documentation and in R."""
    from lifelines import CoxPHFitter

    rossi = contexts["biostat"].frames["rossi"]
    cph = CoxPHFitter().fit(rossi, "week", "arrest")
    assert cph.hazard_ratios_["fin"] == pytest.approx(0.6843, abs=5e-4)  # R coxph: exp(coef) 0.6843
    assert cph.hazard_ratios_["prio"] == pytest.approx(1.0958, abs=5e-4)


# ---------------------------------------------------------------- real kernels


@pytest.fixture(scope="module")
def small_specs(kg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped specs of the three families with 2 instances per category (same seeds and order)."""
    folder = tmp_path_factory.mktemp("biomed-specs")
    for fam in FAMILIES:
        raw = yaml.safe_load((tasks.resource_dir("task_specs") / f"{fam}.yaml").read_text())
        raw["generator"]["per_category"] = 2
        raw.pop("categories", None)
        (folder / f"{fam}.yaml").write_text(yaml.safe_dump(raw))
    old = os.environ.get("KERNELGYM_SPECS")
    os.environ["KERNELGYM_SPECS"] = os.pathsep.join(filter(None, [str(folder), old]))
    tasks.clear_caches()
    yield folder
    if old is None:
        os.environ.pop("KERNELGYM_SPECS", None)
    else:
        os.environ["KERNELGYM_SPECS"] = old
    tasks.clear_caches()


@pytest.fixture(scope="module")
def reference_run(small_specs: Path, tmp_path_factory: pytest.TempPathFactory) -> list[EpisodeResult]:
    """One reference episode per category of the three families, in real biomed kernels."""
    from kernelgym.agents import load_agent
    from kernelgym.runs.runner import RunOptions, read_results, run

    insts = tasks.select(",".join(FAMILIES), per_category=1)
    out = tmp_path_factory.mktemp("biomed-run")
    run(insts, load_agent("reference"), out, RunOptions(concurrency=3, progress=False))
    results, bad = read_results(out)
    assert bad == 0
    return results


@pytest.mark.slow
def test_reference_solutions_pass_in_a_real_biomed_kernel(reference_run: list[EpisodeResult]) -> None:
    assert {(r.family, r.category) for r in reference_run} == set(CATEGORIES)
    failed = [(r.task_id, r.stop_reason, r.explanation, r.error) for r in reference_run if not r.passed]
    assert not failed, failed


def test_instances_match_the_first_drafts_of_the_full_generation(small_specs: Path) -> None:
    """The small specs only lower the count: ids, prompts and answers are those of the shipped family."""
    for fam in FAMILIES:
        for inst in tasks.instances(fam):
            assert inst.ground_truth is not None and inst.reference
            assert inst.profile == "biomed"
            if inst.verifier == "function":
                hidden = json.dumps(inst.verifier_args["inputs"])
                assert "verifier_args" not in inst.public().model_dump()
                assert hidden not in inst.prompt and hidden not in nbk.setup_source(inst)


class _Scripted:
    """An agent that runs the given cells, then submits 'done'."""

    name = "scripted"

    def __init__(self, *cells: str) -> None:
        self.cells = list(cells)
        self.outputs: list[str] = []

    async def act(self, obs: Any) -> Action:
        if obs.output is not None:
            self.outputs.append(obs.output)
        if self.cells:
            return Action.code(self.cells.pop(0))
        return Action.answer("done")


def _play(inst: Instance, agent: Any) -> tuple[EpisodeResult, Any]:
    return asyncio.run(run_episode(inst, agent, config=EpisodeConfig(max_turns=5)))


@pytest.mark.slow  # over 2.5 s on a quiet 2-core machine: not in the quick tier
def test_datasets_listing_exists_in_the_kernel(small_specs: Path) -> None:
    from kernelgym.kernel.biomed import CATALOG

    inst = tasks.select("biostat", per_category=1)[0]
    agent = _Scripted(
        "print(repr(datasets))\n"
        "import pandas as pd\n"
        "bad = [n for n in datasets if not isinstance(globals().get(n), pd.DataFrame) "
        "or len(globals()[n]) != datasets[n]['rows'] or globals()[n].shape[1] != datasets[n]['columns']]\n"
        "print('MISMATCHED', bad)"
    )
    _play(inst, agent)
    text = agent.outputs[0]
    assert "MISMATCHED []" in text
    lines = [line for line in text.splitlines() if "rows x" in line]
    assert len(lines) == len(CATALOG)
    for name, line in zip(CATALOG, lines):
        assert line.startswith(name) and "source:" in line and "license:" in line


def _function_instance() -> Instance:
    return next(i for i in tasks.instances("bioinfo") if i.category == "find_motif_function")


def test_code_writing_right_function_passes_and_verifier_cell_is_rendered(small_specs: Path) -> None:
    from kernelgym.agents import load_agent

    inst = _function_instance()
    result, nb = _play(inst, load_agent("reference")())
    assert result.passed and result.score == 1.0, result.explanation
    [cell] = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    assert cell.source == nbk.verifier_source(inst) and cell.metadata.kernelgym.checksum == nbk.checksum(cell.source, inst.id)
    assert repr(inst.verifier_args["inputs"][0][0]) in cell.source  # hidden inputs only here
    assert cell.metadata.kernelgym.verifier == "function"


def test_code_writing_wrong_function_fails(small_specs: Path) -> None:
    inst = _function_instance()
    result, _ = _play(inst, _Scripted("def find_motif(seq, motif):\n    return [seq.find(motif) + 1]"))
    assert not result.passed and result.score < 1.0
    assert "hidden inputs correct" in result.explanation


def test_code_writing_function_that_raises_fails_without_breaking_the_verifier(small_specs: Path) -> None:
    inst = _function_instance()
    n = len(inst.verifier_args["inputs"])
    agent = _Scripted(
        "def find_motif(seq, motif):\n"
        "    if len(seq) > 10:\n"
        "        raise ValueError('too long for me')\n"
        "    return [i + 1 for i in range(len(seq) - len(motif) + 1) if seq[i:i + len(motif)] == motif]"
    )
    result, nb = _play(inst, agent)
    assert not result.passed
    [cell] = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    assert not any(o.get("output_type") == "error" for o in cell.outputs)
    [evidence] = [o["data"]["application/vnd.kernelgym.evidence+json"] for o in cell.outputs if o.get("output_type") == "display_data"]
    assert evidence["defined"] and len(evidence["outputs"]) == len(evidence["errors"]) == n
    raised = [e for e in evidence["errors"] if e]
    assert raised and all(e.startswith("ValueError") for e in raised)
    assert 0 < result.score < 1  # the short inputs were still called and graded


def test_code_writing_function_that_exits_or_is_missing_fails(small_specs: Path) -> None:
    inst = _function_instance()
    result, _ = _play(inst, _Scripted("def find_motif(seq, motif):\n    raise SystemExit(3)"))
    assert not result.passed and result.score == 0.0 and result.stop_reason == "answered"
    result, _ = _play(inst, _Scripted("x = 1"))
    assert not result.passed and "no function named" in result.explanation
