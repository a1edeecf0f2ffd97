"""Small projects written into tmp dirs for the build tests (JSON is valid YAML)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

WORDS = (
    "amber basil cedar delta ember fjord garnet harbor iris jasper kelp lotus maple nectar onyx pebble quartz "
    "raven sable tundra umber violet willow xenon yarrow zephyr acorn birch comet dune falcon glacier heron "
    "indigo juniper kestrel lagoon meadow nimbus orchid prairie quill reef spruce thistle upland vale walnut"
).split()
HEADER = {"apiVersion": "mcptrain/v1"}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**HEADER, **data}, indent=1) + "\n", encoding="utf-8")
    return path


def tool(name: str, *params: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "description": f"The {name} operation.",
            "inputSchema": {"type": "object", "properties": {p: {"type": "string"} for p in params},
                            "required": list(required)}}


def phrase(rng: random.Random, n: int = 7) -> str:
    return " ".join(rng.sample(WORDS, n))


def write_project(root: Path, **settings: Any) -> Path:
    write(root / "mcptrain.yaml", {"kind": "Project", "name": "tiny", **settings})
    return root


def write_service(root: Path, name: str, *, tools: int = 5, examples_per_tool: int = 6, seed: int = 0,
                  critical: bool = False, extra_examples: list[dict[str, Any]] | None = None,
                  edge_cases: list[dict[str, Any]] | None = None,
                  scenarios: list[dict[str, Any]] | None = None) -> list[str]:
    """A service with `tools` tools named `<name>_<verb>` and distinct random queries."""
    rng = random.Random(f"{name}-{seed}")
    verbs = ["create", "get", "list", "update", "delete", "close", "open", "send"][:tools]
    names = [f"{name}_{v}" for v in verbs]
    d = root / "specs" / name
    write(d / "service.yaml", {"kind": "Service", "name": name, "owners": ["@t/t"], "critical": critical})
    write(d / "tools.yaml", {"kind": "ToolSet", "service": name,
                             "tools": [tool(n, "ref", "note", required=("ref",)) for n in names]})
    examples = [
        {"id": f"{name}-{t}-{i}", "query": f"{phrase(rng)} {i}", "call": {n: {"ref": f"R-{t}{i}"}}}
        for t, n in enumerate(names) for i in range(examples_per_tool)
    ]
    write(d / "examples" / "main.yaml", {"kind": "Examples", "service": name,
                                         "examples": examples + (extra_examples or [])})
    if edge_cases:
        write(d / "edge_cases.yaml", {"kind": "EdgeCases", "service": name, "edge_cases": edge_cases})
    if scenarios:
        write(d / "tests" / "scenarios.yaml", {"kind": "TestScenarios", "service": name, "scenarios": scenarios})
    return names


def add_example(root: Path, service: str, example: dict[str, Any]) -> None:
    path = root / "specs" / service / "examples" / "main.yaml"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["examples"].append(example)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def all_rows(datasets: Path) -> list[dict[str, Any]]:
    return [r for f in sorted(datasets.glob("*.jsonl")) for r in read_rows(f)]
