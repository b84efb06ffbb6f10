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
