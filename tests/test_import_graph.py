"""The house has no import circles, data flows one way, and training code stays apart from the runtime packages.

The graph is built from the source: every `import` / `from ... import` anywhere in a module (inside functions
too, since a lazy import that closes a circle is still a circle), resolved to lumiere_eval's own modules;
imports under `if TYPE_CHECKING:` never run and are left out.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import lumiere_eval

PACKAGE_ROOT = Path(lumiere_eval.__file__).parent


def module_files() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package) for every module of lumiere_eval."""
    modules = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    return modules


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imports_of(name: str, modules: dict[str, tuple[Path, bool]]) -> set[str]:
    """The lumiere_eval modules that module `name` imports (a `from package import module` names the module)."""
    path, package = modules[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".") if package else name.split(".")[:-1]
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    return {m for m in found if m in modules and m != name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_cycle_finder_finds_a_circle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_lumiere_eval():
    modules = module_files()
    graph = {name: imports_of(name, modules) for name in modules}
    assert "lumiere_eval.extractors.weight_files" in graph["lumiere_eval.extractors.base"]
    assert import_cycles(graph) == []


# README: extractors turn videos into features, metrics turn features into numbers, the runner records them, the
# human study and dashboard read the records. (importer package, package it must never import)
ONE_WAY = (("lumiere_eval.extractors", "lumiere_eval.metrics"),
           ("lumiere_eval.metrics", "lumiere_eval.runner"),
           ("lumiere_eval.runner", "lumiere_eval.human_study"))


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def upstream_imports(graph: dict[str, set[str]], rules=ONE_WAY) -> list[str]:
    """Every import that runs against a rule, as "importer -> imported"."""
    return [f"{name} -> {target}" for importer, forbidden in rules for name in sorted(graph) if _inside(name, importer)
            for target in sorted(graph[name]) if _inside(target, forbidden)]


def test_the_one_way_check_finds_an_upstream_import():
    graph = {"lumiere_eval.metrics.values": {"lumiere_eval.runner.cache", "lumiere_eval.metrics.stats"},
             "lumiere_eval.runner.report": {"lumiere_eval.metrics"}, "lumiere_eval.metrics": set()}
    assert upstream_imports(graph) == ["lumiere_eval.metrics.values -> lumiere_eval.runner.cache"]


def test_data_flows_one_way():
    modules = module_files()
    graph = {name: imports_of(name, modules) for name in modules}
    # the check sees lazy imports inside functions (the ones these rules were broken by)
    assert "lumiere_eval.demo.simulated_study" in graph["lumiere_eval.demo.default_run"]
    assert upstream_imports(graph) == []


def test_loading_generators_and_extractors_never_imports_training_or_the_renderer():
    probe = ("import json, sys\n"
             "import lumiere_eval.models.lumiere.generators, lumiere_eval.extractors\n"
             "from lumiere_eval.extractors import extractor_class\n"
             "for name in ('i3d-native', 'i3d-cdfvd', 'clip', 'synthetic-i3d', 'synthetic-c3d', 'synthetic-clip'):\n"
             "    extractor_class(name)\n"
             "from lumiere_eval.extractors import weights\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lumiere_eval'))))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "lumiere_eval.models.lumiere.generators" in loaded and "lumiere_eval.extractors.i3d" in loaded
    assert "lumiere_eval.datasets.synthetic" not in loaded
    assert not [m for m in loaded if m.startswith("lumiere_eval.training")]
