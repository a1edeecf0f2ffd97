"""The spec files an import writes: one set per service draft, rendered as YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.importers.seed.conversion import Draft
from mcptrain.specs import models as s
from mcptrain.specs.yaml import dump_yaml

CHUNK = 1000  # items per written file: keeps each far below the loader's size limit


@dataclass(frozen=True)
class PlannedFile:
    rel: str  # relative to the repository root
    text: str
    summary: str


def plan_files(drafts: list[Draft]) -> list[PlannedFile]:
    out: list[PlannedFile] = []
    for d in drafts:
        if not d.declared:
            body: dict[str, Any] = {"name": d.name, **{k: d.info[k] for k in ("version",) if k in d.info},
                    "owners": d.info.get("owners", []),
                    **{k: d.info[k] for k in ("critical", "description") if k in d.info}}
            srcs = [Path(d.named_at[0].path).name] if d.named_at else ["the seed"]
            out.append(PlannedFile(f"{d.folder}/service.yaml", _render("Service", None, body, 2, srcs), d.name))
        for kind, rel, key, depth, noun in (("ToolSet", "tools.yaml", "tools", 2, "tool"),
                                            ("Examples", "examples/imported.yaml", "examples", 3, "example"),
                                            ("EdgeCases", "edge_cases.yaml", "edge_cases", 2, "edge case"),
                                            ("TestScenarios", "tests/imported.yaml", "scenarios", 3, "scenario")):
            items = d.items.get(key, [])
            srcs = list(d.sources.get(key, {}))
            for n, start in enumerate(range(0, len(items), CHUNK)):
                chunk = items[start:start + CHUNK]
                name = rel if n == 0 else rel.replace(".yaml", f"-{n + 1}.yaml")
                out.append(PlannedFile(f"{d.folder}/{name}", _render(kind, d.name, {key: chunk}, depth, srcs),
                                       plural(len(chunk), noun)))
        terms, rules = d.items.get("terms", []), d.items.get("rules", [])
        if terms or rules:  # entries that fit no parameter ride along as comments
            srcs = list({**d.sources.get("terms", {}), **d.sources.get("rules", {})})
            notes = ["Not imported (no such parameter); map them by hand:", *d.unmapped] if d.unmapped else []
            out.append(PlannedFile(f"{d.folder}/vocabulary.yaml",
                                   _render("Vocabulary", d.name, {"terms": terms, "rules": rules}, 2, srcs, notes),
                                   f"{plural(len(terms), 'term')}, {plural(len(rules), 'rule')}"))
    return out


def _render(kind: str, service: str | None, body: dict[str, Any], depth: int, sources: list[str],
            notes: list[str] | None = None) -> str:
    head = [f"# yaml-language-server: $schema={'../' * depth}schemas/{kind}.json",
            f"# Imported by `mcptrain import seed` from {', '.join(sources)}; edit freely."]
    head += [f"#   {n}" if i else f"# {n}" for i, n in enumerate(notes or [])]
    data: dict[str, Any] = {"apiVersion": s.API_VERSION, "kind": kind}
    if service is not None:
        data["service"] = service
    data.update(body)
    return "\n".join(head) + "\n" + dump_yaml(data)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
