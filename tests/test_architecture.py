"""The import rules of docs/architecture.md, read from every module's source (ast).

Rooms, lowest first; a module may import its own room and any lower one, never a higher
one nor another room of its own rank (training and evaluation know nothing of each other).
Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path
from typing import get_args

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mcptrain"

RANK = {
    # the floor: small nouns every room may use
    "__init__": 0, "errors": 0, "files": 0, "fingerprint": 0, "locations": 0, "suggestions": 0,
    "output": 0, "git": 0, "redaction": 0, "replies": 0, "content": 0,
    "specs": 1,
    "workspace": 2,
    "dataset": 3, "importers": 3, "forge": 3, "publishing": 3, "sources": 4, "feedback": 3,
    "training": 4, "evaluation": 4,
    "gates": 5,
    "promotion": 6,
    "reconciler": 7, "servers": 7,
    "commands": 8,
    "cli": 9, "__main__": 10,
}
HEAVY = ("torch", "transformers", "peft", "ray")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, resolved (`from mcptrain.x import y` is mcptrain.x.y
    when that is a module)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((node.lineno, sub if sub in MODULES else node.module))
    return out


def test_every_module_has_a_room() -> None:
    assert {room(m) for m in MODULES} <= set(RANK)


def test_imports_flow_one_way() -> None:
    wrong = []
    for module, path in MODULES.items():
        mine = room(module)
        for line, target in imports(path):
            if not target.startswith("mcptrain"):
                continue
            theirs = room(target)
            floor = RANK[mine] == RANK[theirs] == 0  # the floor's nouns may use each other
            if theirs != mine and not floor and RANK[theirs] >= RANK[mine]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports {target}")
    assert wrong == []


def test_no_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for _, target in imports(path):
            if target.startswith("mcptrain") and room(target) != room(module):
                graph[room(module)].add(room(target))
    seen: dict[str, int] = {}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert seen.get(node) != 1, f"import cycle: {' -> '.join((*trail, node))}"
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, (*trail, node))
        seen[node] = 2

    for node in sorted(graph):
        visit(node, ())


def test_specs_import_nothing_of_the_later_rooms() -> None:
    later = {"dataset", "training", "evaluation", "gates", "reconciler", "commands", "workspace"}
    found = [(m, t) for m, p in MODULES.items() if room(m) == "specs"
             for _, t in imports(p) if t.startswith("mcptrain") and room(t) in later]
    assert found == []


def test_only_training_imports_the_heavy_libraries() -> None:
    found = [f"{p.relative_to(PACKAGE.parent)}:{line}: {t}" for m, p in MODULES.items() if room(m) != "training"
             for line, t in imports(p) if t.split(".")[0] in HEAVY]
    assert found == []


def test_only_output_prints() -> None:
    found = []
    for module, path in MODULES.items():
        if module == "mcptrain.output":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{module}:{node.lineno}: print(")
        found += [f"{module}:{line}: {t}" for line, t in imports(path) if t.startswith("rich")]
    assert found == []


def test_backends_are_chosen_only_by_the_registry() -> None:
    registry = PACKAGE / "training" / "backends" / "__init__.py"
    compare = re.compile(r"backend\s*(==|!=)|(==|!=)\s*project\.backend")
    found = [f"{p.relative_to(PACKAGE.parent)}:{n}" for p in MODULES.values() if p != registry
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if compare.search(line)]
    assert found == []


def test_every_backend_name_in_the_spec_is_registered() -> None:
    from mcptrain.specs.models import ProjectSpec
    from mcptrain.training.backends import BACKENDS

    names = get_args(ProjectSpec.model_fields["backend"].annotation)
    assert sorted(names) == sorted(BACKENDS)
    assert all(backend.name == name for name, backend in BACKENDS.items())


@pytest.mark.parametrize("literal", [".mcptrain", "datasets"])
def test_repository_folders_are_spelled_once(literal: str) -> None:
    found = [f"{p.relative_to(PACKAGE.parent)}:{node.lineno}" for p in MODULES.values()
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value == literal]
    assert len(found) == 1 and found[0].startswith("mcptrain/workspace.py:"), found
