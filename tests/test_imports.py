"""The import graph: one direction of flow, no cycles. Every import in zsc — top level, inside a
function, under TYPE_CHECKING — is an edge; a cycle, or a stage importing a later one, fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "zsc"

# The order of the stages (README, "The pipeline"): a module may import only from its own rank
# or lower ones. Orchestration sits above the pipeline: profiles -> profile_results -> batch ->
# report -> cli (a profile says what to compute; its results view reads back what was computed).
RANK = {
    "_version": 0, "errors": 0, "config": 0, "io": 0, "registry": 0, "resources": 0,
    "versions": 0, "images": 0, "gallery": 0, "malloc": 0,
    "data": 1, "encoders": 2, "embed": 3, "reduce": 4, "_umap": 4, "cluster": 5, "settings": 5.5,
    "metrics": 6, "results": 7, "pipeline": 8, "recipe": 8, "pretrain": 8, "baselines": 8,
    "cuts": 8, "explore": 9,
    "analysis": 9, "claims": 9.5, "profiles": 10, "notebooks": 10, "profile_results": 10.5,
    "batch": 11, "report": 12,
    "book": 13, "cli": 13, "__main__": 13,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """zsc modules imported by one module (relative imports resolved; `from p import m` is an
    edge to the module p.m when m is one, else to p)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "zsc"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "zsc":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    return {m for m in out if m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def rank(module: str) -> int:
    """A module's stage: its own entry or its package's."""
    parts = module.split(".")[1:]
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANK:
            return RANK[".".join(parts[:n])]
    raise AssertionError(f"zsc.{parts[0]} has no place in the stage order: add it to RANK")


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_a_cycle_and_a_back_edge():
    """The checks below can fail: a made-up graph with both faults is caught."""
    g = {"zsc.data": {"zsc.embed"}, "zsc.embed": {"zsc.data"}, "zsc.cli": set()}
    assert cycles(g) == [["zsc.data", "zsc.embed"]]
    assert rank("zsc.data") < rank("zsc.embed")


def test_every_module_is_seen():
    g = graph()
    assert {"zsc.cli", "zsc.batch.grid", "zsc.report.build", "zsc.profiles", "zsc.profile_results",
            "zsc.report.prose"} <= set(g)
    assert "zsc.notebooks" in g["zsc.batch.grid"]  # lazy and relative imports resolved


def package(module: str) -> str:
    """The top-level part of zsc a module belongs to (`zsc.batch.grid` -> `batch`)."""
    return module.split(".")[1] if module != "zsc" else "zsc"


def package_edges(g: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(package(a), package(b)) for a, targets in g.items() for b in targets
            if "zsc" not in (a, b) and package(a) != package(b)}


def test_the_package_check_sees_a_two_way_import():
    g = {"zsc.batch.grid": {"zsc.report.build"}, "zsc.report.build": {"zsc.batch.run"}}
    assert two_way(package_edges(g)) == [("batch", "report")]


def two_way(edges: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, b in edges if a < b and (b, a) in edges)


def test_no_two_packages_import_each_other():
    """Files may form no cycle, and neither may packages: batch -> report -> batch hid behind a
    special rank for `report.notebooks` until it moved below both (`zsc.notebooks`)."""
    assert two_way(package_edges(graph())) == []


def test_a_profile_its_results_and_its_prose_live_apart():
    """Issue 24, item 5: `profiles` reads the YAML and expands the batch stages and reads no
    results; `profile_results` reads them back (above it); the sentences are `report.prose`'s,
    which neither the profile nor its results view needs, and the build calls all three."""
    g = graph()
    assert "zsc.results" not in g["zsc.profiles"]
    assert {"zsc.profiles", "zsc.results"} <= g["zsc.profile_results"]
    assert not {m for m in g if m.startswith("zsc.report")} & (g["zsc.profiles"]
                                                               | g["zsc.profile_results"])
    assert {"zsc.profiles", "zsc.profile_results", "zsc.report.prose"} <= g["zsc.report.build"]
    assert "zsc.report.build" not in g["zsc.report.prose"]


def test_no_import_cycles():
    assert cycles(graph()) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m != "zsc"))
def test_no_stage_imports_a_later_one(module):
    later = sorted(t for t in graph()[module] if t != "zsc" and rank(t) > rank(module))
    assert not later, f"{module} (stage {rank(module)}) imports later stages: {later}"


def test_only_the_root_imports_the_root():
    """`from . import __version__` made every stage a neighbour of the root (and, through its
    lazy `recommended`, of recipe): the version lives in zsc._version."""
    assert sorted(m for m, targets in graph().items() if "zsc" in targets) == []


def test_no_private_scikit_learn_import():
    """scikit-learn's private modules change without notice (they pinned zsc below 1.10)."""
    private = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for m in mods:
                if m.startswith("sklearn") and (any(p.startswith("_") for p in m.split("."))
                                                or any(n.startswith("_") for n in names)):
                    private.append(f"{name}: {m}")
    assert private == []
