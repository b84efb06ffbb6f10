"""The layering rules of docs/architecture.md, read from the source (every import, also inside
functions): core imports neither Qt nor the faces nor the demos; scene imports no GUI; demos
import no face; core.surfaces has no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "surgiplan"


def imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


FORBIDDEN = {
    "core": ("PySide6", "pyvistaqt", "surgiplan.gui", "surgiplan.cli", "surgiplan.demo", "surgiplan.scene"),
    "scene": ("PySide6", "pyvistaqt", "surgiplan.gui", "surgiplan.cli"),
    "demo": ("PySide6", "surgiplan.gui", "surgiplan.cli"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_outward(layer):
    bad = []
    for f in sorted((PKG / layer).rglob("*.py")):
        for mod in imports_of(f):
            if any(mod == x or mod.startswith(x + ".") for x in FORBIDDEN[layer]):
                bad.append(f"{f.relative_to(PKG.parent)} imports {mod}")
    assert not bad, "\n".join(bad)


def _module_graph(root: Path) -> dict[str, set[str]]:
    """Module -> core modules it imports at module level (``from pkg import sub`` -> ``pkg.sub``)."""
    names = {}
    for f in root.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph = {}
    for name, f in names.items():
        deps = set()
        for node in ast.parse(f.read_text(encoding="utf-8")).body:  # what runs at import time
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in names]
                deps.update(subs or ([node.module] if node.module in names else []))
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in names)
        graph[name] = deps - {name}
    return graph


def test_core_has_no_import_circle_at_import_time():
    graph = _module_graph(PKG / "core")
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                # a package importing its own submodule and back is Python's normal re-export
                pairs = zip(cycle, cycle[1:], strict=False)
                if not all(b.startswith(a + ".") or a.startswith(b + ".") for a, b in pairs):
                    raise AssertionError(f"import circle: {' -> '.join(cycle)}")
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])


def test_core_surfaces_has_no_import_circle():
    pkg = "surgiplan.core.surfaces."
    graph = {f.stem: {m[len(pkg):] for m in imports_of(f) if m.startswith(pkg)}
             for f in (PKG / "core" / "surfaces").glob("*.py")}

    def visit(node, path):
        for dep in graph.get(node, ()):
            assert dep not in path, f"import circle: {' -> '.join([*path, dep])}"
            visit(dep, [*path, dep])

    for mod in graph:
        visit(mod, [mod])
