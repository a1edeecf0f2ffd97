"""The import in progress, shared by the importers of every seed document kind.

A `Conversion` knows what the repository already has (tools, ids, queries, vocabulary),
collects what the documents add as one `Draft` per service, and every problem as a
Diagnostic. `place` is the one way an example, edge case or scenario gets in: deduped
by query, given a stable id, validated against its spec model.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mcptrain.errors import Diagnostic
from mcptrain.importers.json_document import JsonDocument
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.locations import Loc, dotted
from mcptrain.specs import models as s
from mcptrain.specs.loader import Specs
from mcptrain.specs.validator import asked_text, normalize_query

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")  # ids and service names


@dataclass
class Draft:
    """One service's share of the import."""

    name: str
    folder: str  # specs/<dir>
    declared: bool
    info: dict[str, Any] = field(default_factory=dict)
    named_at: tuple[JsonDocument, Loc] | None = None
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sources: dict[str, dict[str, None]] = field(default_factory=dict)  # kind -> ordered doc names
    unmapped: list[str] = field(default_factory=list)

    def add(self, kind: str, item: dict[str, Any], doc: JsonDocument) -> None:
        self.items.setdefault(kind, []).append(item)
        self.sources.setdefault(kind, {})[Path(doc.path).name] = None

    @property
    def prefix(self) -> str:
        return self.folder.rsplit("/", 1)[-1]


class Conversion:
    def __init__(self, existing: Specs) -> None:
        self.diags: list[Diagnostic] = []
        self.drafts: dict[str, Draft] = {}
        self.tools: dict[str, tuple[str, dict[str, Any], str]] = {}  # name -> service, schema, where
        self.ids: set[str] = set()
        self.queries: dict[tuple[str, str], set[str]] = {}  # (service, train|test) -> normalised
        self.folders: dict[str, str] = {}
        self.declared: set[str] = set()
        self.counters: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = {}
        self.ignored: dict[tuple[str, str, str], list[Any]] = {}
        self.tests: list[tuple[str, dict[str, Any], JsonDocument, Loc]] = []
        self.default: str | None = None
        self.vocab: set[tuple[str, ...]] = set()  # (param, canonical[, phrase]) and rule keys
        for name, bundle in existing.services.items():
            files = bundle.files()
            if bundle.service is not None:
                self.declared.add(name)
            parts = Path(files[0].path).parts if files else ()
            if len(parts) >= 3 and parts[0] == "specs":
                self.folders[name] = f"specs/{parts[1]}"
            for ts in bundle.toolsets:
                for tool in ts.spec.tools:
                    self.tools.setdefault(tool.name, (name, tool.inputSchema, ts.path))
            for ex in bundle.examples:
                for e in ex.spec.examples:
                    self._remember(name, "train", e.id, e.template or asked_text(e))
            for ec in bundle.edge_cases:
                for c in ec.spec.edge_cases:
                    self._remember(name, "train", c.id, c.query or c.template or "")
            for ts2 in bundle.tests:
                for sc in ts2.spec.scenarios:
                    self._remember(name, "test", sc.id, asked_text(sc))
            for voc in bundle.vocabularies:
                for term in voc.spec.terms:
                    self.new_values(term.parameter, term.values)
                for rule in voc.spec.rules:
                    self.vocab.add(rule_key(rule.model_dump(exclude_defaults=True)))

    def _remember(self, service: str, split: str, ident: str, query: str) -> None:
        self.ids.add(ident)
        self.queries.setdefault((service, split), set()).add(normalize_query(query))

    # ------------------------------------------------------------ diagnostics

    def attempt(self, doc: JsonDocument, loc: Loc, step: Callable[[], None]) -> None:
        """Run one conversion step; a SeedItemError becomes an error and the rest goes on."""
        try:
            step()
        except SeedItemError as e:
            self.diags.append(doc.diagnostic(e.loc, e.message, hint=e.hint))
        except RecursionError:  # a hostile document; check_item's depth limit catches the rest
            self.diags.append(doc.diagnostic(loc, "nesting is too deep"))

    def ignore(self, doc: JsonDocument, loc: Loc, key: str) -> None:
        shape = dotted(tuple("*" if isinstance(p, int) else p for p in loc))
        entry = self.ignored.setdefault((doc.path, shape, key), [doc, (*loc, key), 0])
        entry[2] += 1

    def keys(self, doc: JsonDocument, loc: Loc, item: dict[str, Any], known: set[str]) -> None:
        for key in item:
            if key not in known:
                self.ignore(doc, loc, key)

    def finish(self) -> None:
        for (_, _, key), (doc, loc, n) in self.ignored.items():
            more = f" (in {n} items)" if n > 1 else ""
            self.diags.append(doc.diagnostic(loc, f"ignored key {key!r}{more}; mcptrain has no place for it",
                                             severity="warning"))
        for service, item, doc, loc in self.tests:
            if normalize_query(item["query"]) in self.queries.get((service, "train"), set()):
                self.diags.append(doc.diagnostic((*loc, "query"), "query equals a training query of "
                                  f"{service} (contamination); `mcptrain validate` will reject it",
                                  severity="warning", hint="rephrase the test scenario"))
        for draft in self.drafts.values():
            if not draft.declared and not draft.info.get("owners") and draft.named_at:
                doc, loc = draft.named_at
                self.diags.append(doc.diagnostic(loc, f"service {draft.name!r} has no owners; "
                                  "`mcptrain validate` requires them", severity="warning",
                                  hint=f"add 'owners: [\"@org/team\"]' to {draft.folder}/service.yaml"))

    # ------------------------------------------------------------ services

    def draft(self, name: str) -> Draft:
        if name not in self.drafts:
            folder = self.folders.get(name)
            if folder is None:
                taken = set(self.folders.values()) | {d.folder for d in self.drafts.values()}
                short = re.sub(r"[^A-Za-z0-9._-]+", "-", re.sub(r"[-_](service|svc)$", "", name))
                folder = f"specs/{short}"
                n = 1
                while folder in taken:
                    n += 1
                    folder = f"specs/{short}-{n}"
            self.drafts[name] = Draft(name, folder, name in self.declared)
        return self.drafts[name]

    def service_for(self, loc: Loc, explicit: str | None, tools: list[str]) -> str:
        """The row's or document's own service, else the owner of a tool it calls, else
        the one service this import names (or the repository has)."""
        if explicit:
            if not ID.match(explicit):
                raise SeedItemError(loc, f"expected a service name of letters, digits, '.', '_', ':', '-' "
                                    f"(got {explicit!r})")
            return explicit
        for name in tools:
            if name in self.tools:
                return self.tools[name][0]
        if self.default:
            return self.default
        raise SeedItemError(loc, "cannot tell which service this belongs to",
                  hint='add "service" to the document (or its metadata), or import it together with '
                       "the service's per-tool or discovery document")

    # ------------------------------------------------------------ placing items

    def place(self, doc: JsonDocument, loc: Loc, service: str, kind: str, item: dict[str, Any]) -> None:
        """Dedupe, give a stable id, validate, and add to the service's draft."""
        split = "test" if kind == "scenarios" else "train"
        from mcptrain.importers.seed.dialogue import asked

        query = normalize_query(asked(item))
        seen = self.queries.setdefault((service, split), set())
        if query in seen:
            self.counts[doc.path]["already present"] += 1
            return
        draft = self.draft(service)
        seed_id = item.get("id")
        if isinstance(seed_id, str) and ID.match(seed_id) and seed_id not in self.ids:
            ident = seed_id
        else:
            tag = {"examples": "seed", "edge_cases": "seed-edge", "scenarios": "seed-test"}[kind]
            ident = self._next_id(f"{draft.prefix}-{tag}")
            if seed_id is not None:
                self.diags.append(doc.diagnostic((*loc, "id"), f"id {seed_id!r} is already used or not a valid "
                                  f"id; imported as {ident!r}", severity="warning"))
        item = {"id": ident, **{k: v for k, v in item.items() if k != "id"}}
        models: dict[str, type[BaseModel]] = {"examples": s.ExampleSpec, "edge_cases": s.EdgeCaseSpec,
                                              "scenarios": s.ScenarioSpec}
        model = models[kind]
        shapes.check_item(model, item, loc)
        self.ids.add(ident)
        seen.add(query)
        draft.add(kind, item, doc)
        self.counts[doc.path][{"examples": "example", "edge_cases": "edge case", "scenarios": "scenario"}[kind]] += 1
        if kind == "scenarios":
            self.tests.append((service, item, doc, loc))

    def _next_id(self, prefix: str) -> str:
        while True:
            self.counters[prefix] += 1
            ident = f"{prefix}-{self.counters[prefix]:03d}"
            if ident not in self.ids:
                return ident

    # ------------------------------------------------------------ vocabulary known so far

    def new_values(self, parameter: str, values: dict[str, list[str]]) -> dict[str, list[str]]:
        """What `values` adds to the vocabulary already known for `parameter` (and remember it)."""
        new: dict[str, list[str]] = {}
        for canonical, phrases in values.items():
            fresh = [p for p in phrases if (parameter, canonical, p.lower()) not in self.vocab]
            if fresh or (parameter, canonical) not in self.vocab:
                new[canonical] = fresh
            self.vocab.add((parameter, canonical))
            self.vocab.update((parameter, canonical, p.lower()) for p in phrases)
        return new


def rule_key(rule: dict[str, Any]) -> tuple[str, ...]:
    return ("rule", json.dumps(rule, sort_keys=True, default=str))
