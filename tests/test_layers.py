"""The package's import graph: one direction, no circle, no private name across modules.

Every ``import`` of every module is read with ast (function-level imports too: a lazy
import is still a dependency), so the layering in docs/design.md is checked, not hoped for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "polytests"

# Rooms from the bottom up: a module may import its own room and the rooms below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("polytests.errors", "polytests.locks", "polytests.neurons", "polytests.progress", "polytests.text",
     "polytests._lazy"),
    ("polytests.stats", "polytests.settings"),
    ("polytests.corpora", "polytests.training_data"),
    ("polytests.engine",),
    ("polytests.claims",),
    ("polytests.verdicts",),
    ("polytests.reports",),
    ("polytests.commands",),
    ("polytests.session", "polytests.plugin", "polytests.cli", "polytests"),
)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(imported module, names taken from it) for every polytests import in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, ()) for a in node.names if a.name.split(".")[0] == "polytests"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "polytests":
                continue
            names = tuple(a.name for a in node.names)
            # ``from polytests.reports import figures`` imports the submodule, not the package.
            subs = [n for n in names if f"{target}.{n}" in known]
            out += [(f"{target}.{n}", ()) for n in subs]
            rest = tuple(n for n in names if n not in subs)
            if rest or not subs:
                out.append((target, rest))
    return out


def graph(root: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[str, list]]:
    mods = modules(root)
    known = set(mods)
    edges, detail = {}, {}
    for name, path in mods.items():
        found = [(t, names) for t, names in imports_of(name, path, known) if t != name]
        edges[name] = {t for t, _ in found if t in known}
        detail[name] = found
    return edges, detail


def layer_of(module: str) -> int:
    best = None
    for rank, rooms in enumerate(LAYERS):
        for room in rooms:
            if module == room or module.startswith(room + "."):
                if best is None or len(room) > len(best[1]):
                    best = (rank, room)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add its room to LAYERS")
    return best[0]


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
            for a, targets in sorted(edges.items()) for b in sorted(targets)
            if b != "polytests" and layer_of(b) > layer_of(a)]


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def private_imports(detail: dict[str, list]) -> list[str]:
    """A private name (``_x``) taken from another module, or a private module (``_x.py``)
    imported from outside its own package."""
    bad = []
    for name, found in sorted(detail.items()):
        for target, names in found:
            bad += [f"{name} imports {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
            parts = target.split(".")
            private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")]
            if private and not name.startswith(".".join(parts[: private[0]]) + "."):
                bad.append(f"{name} imports private module {target}")
    return bad


def public_class_collisions(root: Path = PACKAGE) -> list[str]:
    seen: dict[str, list[str]] = {}
    for name, path in modules(root).items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                seen.setdefault(node.name, []).append(name)
    return [f"class {cls} in {', '.join(where)}" for cls, where in sorted(seen.items()) if len(where) > 1]


def test_no_import_circle():
    edges, _ = graph()
    assert circles(edges) == []


def test_no_import_points_up_the_layers():
    edges, _ = graph()
    assert upward_imports(edges) == []


def test_no_private_name_imported_across_modules():
    _, detail = graph()
    assert private_imports(detail) == []


def test_no_two_public_classes_share_a_name():
    assert public_class_collisions() == []


def test_no_two_modules_share_a_name_across_rooms():
    """``store.py`` in two folders, or ``calibrate``/``calibration``, make a reader open the wrong file."""
    stems: dict[str, list[str]] = {}
    for name in modules():
        stem = name.rpartition(".")[2]
        if stem not in ("__init__", "polytests") and not name.endswith(f".{stem}.{stem}"):
            stems.setdefault(stem, []).append(name)
    allowed = {"models"}  # the engine's models package and the claims' pydantic model module
    assert {s: w for s, w in stems.items() if len(w) > 1 and s not in allowed} == {}


@pytest.fixture
def bad_package(tmp_path):
    """A copy of a two-layer package with one import pointing up and one circle."""
    root = tmp_path / "polytests"
    (root / "engine").mkdir(parents=True)
    (root / "claims").mkdir()
    (root / "__init__.py").write_text("")
    (root / "engine" / "__init__.py").write_text("")
    (root / "claims" / "__init__.py").write_text("")
    (root / "engine" / "store.py").write_text("from polytests.claims.model import Claim\n")
    (root / "claims" / "model.py").write_text("from polytests.engine.store import x\nfrom ._hidden import _y\n")
    (root / "engine" / "_hidden.py").write_text("")
    return root


def test_the_checks_fail_on_a_bad_import(bad_package):
    edges, detail = graph(bad_package)
    assert upward_imports(edges) == [
        "polytests.engine.store (layer 3) imports polytests.claims.model (layer 4)"]
    assert circles(edges) == [["polytests.claims.model", "polytests.engine.store"]]
    (bad_package / "claims" / "model.py").write_text("from polytests.engine._hidden import _y\n")
    _, detail = graph(bad_package)
    assert private_imports(detail) == ["polytests.claims.model imports polytests.engine._hidden._y",
                                       "polytests.claims.model imports private module polytests.engine._hidden"]
