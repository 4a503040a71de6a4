"""The package's shape, as docs/architecture.md states it: layers whose imports point one way.

Every ``import`` of every module is read with ``ast`` (also imports inside functions and under
``TYPE_CHECKING``): a module may import only from its own layer or the layers listed before it, no
two modules import each other through any chain, and the core layers reach content packages
(``families``, ``importers``, ``datasets``, ``calculators``) only by name, through entry points.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import kernelgym

PACKAGE = Path(kernelgym.__file__).resolve().parent

LAYERS: list[set[str]] = [
    {"_package", "_plugins", "_compat", "_libc"},
    {"kernel"},
    {"grading", "calculators"},
    {"runtime"},
    {"datasets"},
    {"tasks"},
    {"importers"},
    {"families"},
    {"notebook"},
    {"llm"},
    {"episode"},
    {"agents"},
    {"jupyter"},
    {"regrade"},
    {"runs"},
    {"training", "view"},
    {"cli"},
]
"""Each layer may import from itself and from the layers above it in this list."""
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
CONTENT = {"calculators", "datasets", "importers", "families"}
"""Reached by name (task-spec YAML, entry points); only the CLI imports them directly."""
FACADE = {"kernelgym", "kernelgym.__main__"}
"""The package's lazy top-level names and ``python -m kernelgym``: above every layer."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The kernelgym modules ``name`` imports (a ``from package import name`` of a submodule counts as
    that submodule)."""
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_pkg else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("kernelgym") and target != name:
                found.add(target)
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    """Every module's kernelgym imports (read when a test needs it, not at collection)."""
    return {name: _imports(name, path) for name, path in MODULES.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = sorted({_top(m) for m in MODULES if m not in FACADE and _top(m) not in RANK})
    assert not unplaced, f"add these to LAYERS (and docs/architecture.md): {unplaced}"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """The imports of ``graph`` that point the wrong way (up a layer, or into content from the core)."""
    wrong = []
    for module, targets in graph.items():
        if module in FACADE:
            continue
        for target in targets:
            if target == "kernelgym":
                continue  # importing the package itself runs only its lazy facade
            src, dst = _top(module), _top(target)
            if RANK[dst] > RANK[src]:
                wrong.append(f"{module} -> {target} (layer {src} may not import {dst})")
            elif dst in CONTENT and src not in CONTENT and src != "cli":
                wrong.append(f"{module} -> {target} (reach content by name: kernelgym._plugins)")
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other through some chain (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_imports_point_up_the_layer_list_only() -> None:
    wrong = upward_imports(_graph())
    assert not wrong, "imports pointing the wrong way:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    assert not cycles(_graph()), f"import cycles: {cycles(_graph())}"


def test_the_kernel_side_imports_nothing_of_the_host_side() -> None:
    """Saved verifier cells import kernelgym.kernel inside sandboxed kernels that cannot see the rest."""
    leaks = {m: sorted(t for t in ts if not t.startswith("kernelgym.kernel") and t != "kernelgym")
             for m, ts in _graph().items() if m.startswith("kernelgym.kernel")}
    assert not any(leaks.values()), leaks


def test_few_top_level_modules_and_no_huge_files() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top
    big = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > 1000 and p.relative_to(PACKAGE).parts[0] not in ("families", "datasets")}
    assert not big, f"split these (over 1,000 lines): {big}"


def test_a_cycle_or_an_upward_import_would_be_caught() -> None:
    """The checkers above can fail: on a copy of the real graph with one made-up import up a layer
    (runtime -> episode) and one made-up cycle (grading.rules <-> grading.evidence)."""
    graph = {m: set(t) for m, t in _graph().items()}
    graph["kernelgym.runtime.pool"].add("kernelgym.episode.loop")
    graph["kernelgym.grading.rules"].add("kernelgym.grading.evidence")
    assert upward_imports(graph) == ["kernelgym.runtime.pool -> kernelgym.episode.loop (layer runtime may not import episode)"]
    assert any({"kernelgym.grading.rules", "kernelgym.grading.evidence"} <= set(c) for c in cycles(graph))
