"""Data flows one way: the command line, then the public API, then the assembly layer (names to
objects), then the engine, then methods, hypergradients and models, then the leaves. Every
import of a maxl module (lazy ones and type-only ones included) is read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, ...]] = [  # top to bottom; a module imports its own layer or lower
    ("maxl", "maxl.__main__", "maxl.cli"),
    ("maxl.compare", "maxl.gain_map", "maxl.sweep", "maxl.bench", "maxl.report"),
    ("maxl.config_file", "maxl.method_variants"),
    ("maxl.tuning", "maxl.jobs"),
    ("maxl.api", "maxl.trained"),
    ("maxl.assembly",),
    ("maxl.engine",),  # the loop
    ("maxl.engine.sampling", "maxl.engine.saving"),
    ("maxl.engine.assembled_run",),
    ("maxl.callbacks", "maxl.checkpoint", "maxl.analysis", "maxl.step", "maxl.tensorboard_log"),
    ("maxl.fit_state",),
    ("maxl.methods",),
    ("maxl.labeler", "maxl.hypergrad"),
    ("maxl.models",),
    (
        "maxl.data",
        "maxl.task",
        "maxl.hierarchy",
        "maxl.losses",
        "maxl.config",
        "maxl.errors",
        "maxl.run_folder",
        "maxl.distributed",
        "maxl.global_batch_norm",
        "maxl.interrupt",
        "maxl.summaries",
        "maxl.phases",
        "maxl.types",
    ),
]


def module_files() -> dict[str, Path]:
    files = {}
    for path in SOURCE.rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
        files[name.removesuffix(".__init__")] = path
    return files


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The maxl modules `name` imports anywhere in its file (`from maxl.a import b` is the
    module maxl.a.b when that exists, else maxl.a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base == "maxl" or base.startswith("maxl."):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in known else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "maxl"}
    found.discard(name)
    return found


def layer_of(name: str) -> int:
    """The index of the layer whose longest matching prefix names the module."""
    best, index = -1, None
    for position, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or (prefix != "maxl" and name.startswith(prefix + "."))
            if matches and len(prefix) > best:
                best, index = len(prefix), position
    if index is None:
        raise AssertionError(f"{name} is in no layer of tests/test_layering.py; place it")
    return index


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def test_the_graph_is_read_from_the_source(graph: dict[str, set[str]]) -> None:
    assert "maxl.engine" in graph["maxl.assembly.run"]
    assert "maxl.assembly" in graph["maxl.cli"]
    assert "maxl.hypergrad" in graph["maxl.labeler"]


def test_no_module_imports_a_layer_above_it(graph: dict[str, set[str]]) -> None:
    upward = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if layer_of(target) < layer_of(name)
    ]
    assert not upward


def test_the_engine_resolves_no_names(graph: dict[str, set[str]]) -> None:
    registries = ("maxl.assembly", "maxl.cli", "maxl.config_file")
    engine = [name for name in graph if name == "maxl.engine" or name.startswith("maxl.engine.")]
    assert len(engine) > 1
    assert not [t for name in engine for t in graph[name] if t.startswith(registries)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (as a path that returns to its start), or None."""
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name, [name])):
            return cycle
    return None


def test_find_cycle_finds_one_in_a_small_graph() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_there_is_no_import_cycle(graph: dict[str, set[str]]) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])
