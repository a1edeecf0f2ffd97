"""Convert the seed's JSON documents into spec files.

Four documents, told apart by their keys (a file may also mix the sections):

- per-tool: `service`, `version`, `tool`, `training_examples[]` (`user_query`,
  `correct_tool` + `correct_parameters` or `correct_sequence`, `common_mistakes`),
  `edge_cases[]` (`correct_behavior`), `domain_vocabulary`;
- `/mcp/training-dataset`: `training_examples[].messages` in OpenAI chat form;
- `/mcp/test-dataset`: `test_scenarios[]`;
- `/.well-known/mcp-training-data.json`: `service`, `version`, `owners`, `endpoints`.

Nothing here touches the disk: `plan_import` returns the files to write and every
problem as a Diagnostic at `file:line:col` and JSON path. Ids are stable
(`<folder>-seed-001` in document order, skipping ids the repository uses); items the
repository already has (same query) are skipped, so importing twice adds nothing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mcptrain.errors import Diagnostic
from mcptrain.importers import seed_shapes as shapes
from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed_shapes import SeedItemError
from mcptrain.locations import Loc, dotted
from mcptrain.specs import models as s
from mcptrain.specs.loader import Specs
from mcptrain.specs.validator import normalize_query
from mcptrain.specs.yaml import dump_yaml

CHUNK = 1000  # items per written file: keeps each far below the loader's size limit
KNOWN_TOP = {"service", "version", "metadata", "owners", "owner", "team", "description", "critical",
             "endpoints", "generated_at", "updated_at", "created_at", "schema_version", "format",
             "$schema", "contact", "documentation", "license", "name", "tool", "tools",
             "training_examples", "edge_cases", "domain_vocabulary", "test_scenarios"}
_SECTIONS = ("tool", "tools", "training_examples", "edge_cases", "domain_vocabulary", "test_scenarios")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


@dataclass(frozen=True)
class PlannedFile:
    rel: str  # relative to the repository root
    text: str
    summary: str


@dataclass
class SeedImport:
    files: list[PlannedFile]
    diagnostics: list[Diagnostic]
    summaries: dict[str, str]  # document path -> what it was and what it held

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def document_kind(data: dict[str, Any]) -> str | None:
    """What a document is, from its keys; None if it is no seed document."""
    rows = data.get("training_examples")
    if "test_scenarios" in data and not any(k in data for k in ("tool", "tools", "training_examples")):
        return "test dataset"
    if isinstance(rows, list) and rows and all(isinstance(r, dict) and "messages" in r for r in rows):
        return "training dataset"
    if any(k in data for k in _SECTIONS):
        return "per-tool document"
    if "endpoints" in data or "service" in data:
        return "discovery document"
    return None


def plan_import(docs: list[JsonDocument], existing: Specs) -> SeedImport:
    conv = _Converter(existing)
    for doc in docs:
        kind = document_kind(doc.data)
        if kind is None:
            keys = ", ".join(repr(k) for k in list(doc.data)[:6]) or "none"
            conv.diags.append(doc.diagnostic((), "not a seed document: expected 'tool', 'training_examples', "
                                             f"'test_scenarios' or 'endpoints' at the top level (found {keys})"))
        else:
            conv.docs.append((doc, kind))
    conv.convert()
    failed = any(d.severity == "error" for d in conv.diags)
    return SeedImport([] if failed else conv.files(), conv.diags, conv.summaries)


@dataclass
class _Draft:
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


class _Converter:
    def __init__(self, existing: Specs) -> None:
        self.docs: list[tuple[JsonDocument, str]] = []
        self.diags: list[Diagnostic] = []
        self.summaries: dict[str, str] = {}
        self.drafts: dict[str, _Draft] = {}
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
                    self._remember(name, "train", e.id, e.query or e.template or "")
            for ec in bundle.edge_cases:
                for c in ec.spec.edge_cases:
                    self._remember(name, "train", c.id, c.query)
            for ts2 in bundle.tests:
                for sc in ts2.spec.scenarios:
                    self._remember(name, "test", sc.id, sc.query)
            for voc in bundle.vocabularies:
                for term in voc.spec.terms:
                    self._new_values(term.parameter, term.values)
                for rule in voc.spec.rules:
                    self.vocab.add(_rule_key(rule.model_dump(exclude_defaults=True)))

    def _remember(self, service: str, split: str, ident: str, query: str) -> None:
        self.ids.add(ident)
        self.queries.setdefault((service, split), set()).add(normalize_query(query))

    # ------------------------------------------------------------ driving

    def convert(self) -> None:
        order = sorted(self.docs, key=lambda dk: dk[1] != "discovery document")  # it names owners best
        doc_service = {id(doc): self._service_info(doc) for doc, _ in order}
        named = {v for v in doc_service.values() if v}
        known = named or set(self.folders) | self.declared  # else the repository's only service
        self.default = next(iter(known)) if len(known) == 1 else None
        for doc, _ in self.docs:
            self.counts[doc.path] = Counter()
            for key in doc.data:
                if key not in KNOWN_TOP:
                    self._ignore(doc, (), key)
            self._attempt(doc, self._doc_tools, doc, doc_service[id(doc)] or self.default)
        for doc, kind in self.docs:
            svc = doc_service[id(doc)]
            tool_names = shapes.doc_tool_names(doc.data)
            for section, handler in (("training_examples", self._example), ("edge_cases", self._edge_case),
                                     ("test_scenarios", self._scenario)):
                rows = doc.data.get(section)
                if rows is None:
                    continue
                if not isinstance(rows, list):
                    self.diags.append(doc.diagnostic((section,), f"expected an array (got {describe(rows)})"))
                    continue
                for i, row in enumerate(rows):
                    self._attempt(doc, handler, doc, (section, i), row, svc, tool_names)
            if "domain_vocabulary" in doc.data:
                self._attempt(doc, self._vocabulary, doc, svc, tool_names)
            self.summaries[doc.path] = _summary(kind, self.counts[doc.path], doc.data)
        self._finish()

    def _attempt(self, doc: JsonDocument, step: Any, *args: Any) -> None:
        """Run one conversion step; a SeedItemError becomes an error and the rest goes on."""
        try:
            step(*args)
        except SeedItemError as e:
            self.diags.append(doc.diagnostic(e.loc, e.message, hint=e.hint))
        except RecursionError:  # a hostile document; check_item's depth limit catches the rest
            self.diags.append(doc.diagnostic(args[1] if len(args) > 1 and isinstance(args[1], tuple) else (),
                                             "nesting is too deep"))

    def _ignore(self, doc: JsonDocument, loc: Loc, key: str) -> None:
        shape = dotted(tuple("*" if isinstance(p, int) else p for p in loc))
        entry = self.ignored.setdefault((doc.path, shape, key), [doc, (*loc, key), 0])
        entry[2] += 1

    def _keys(self, doc: JsonDocument, loc: Loc, item: dict[str, Any], known: set[str]) -> None:
        for key in item:
            if key not in known:
                self._ignore(doc, loc, key)

    def _finish(self) -> None:
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

    # ------------------------------------------------------------ services and tools

    def _service_info(self, doc: JsonDocument) -> str | None:
        data = doc.data
        meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
        where: Loc = ("service",) if "service" in data else ("metadata", "service")
        raw = data.get("service", meta.get("service"))
        if raw is None and "endpoints" in data and isinstance(data.get("name"), str):
            where, raw = ("name",), data["name"]
        info: dict[str, Any] = raw if isinstance(raw, dict) else {}
        name = info.get("name") if info else raw
        if name is None:
            return None
        if not isinstance(name, str) or not _ID.match(name):
            self.diags.append(doc.diagnostic((*where, "name") if info else where,
                              f"expected a service name of letters, digits, '.', '_', ':', '-' (got {name!r})"))
            return None
        draft = self._draft(name)
        if draft.named_at is None:
            draft.named_at = (doc, where)
        fields = {
            "version": info.get("version", data.get("version", meta.get("version"))),
            "owners": info.get("owners", data.get("owners", data.get("owner", data.get("team")))),
            "description": info.get("description", data.get("description")),
            "critical": info.get("critical", data.get("critical")),
        }
        for key, value in fields.items():
            if value is None:
                continue
            try:
                value = shapes.service_field(key, value)
            except SeedItemError as e:
                self.diags.append(doc.diagnostic(where if key not in data else (key,), e.message))
                continue
            old = draft.info.setdefault(key, value)
            if old != value:
                self.diags.append(doc.diagnostic((key,) if key in data else where,
                                  f"{key} {value!r} differs from {old!r} given earlier; keeping {old!r}",
                                  severity="warning"))
        return name

    def _draft(self, name: str) -> _Draft:
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
            self.drafts[name] = _Draft(name, folder, name in self.declared)
        return self.drafts[name]

    def _doc_tools(self, doc: JsonDocument, service: str | None) -> None:
        found: list[tuple[Loc, Any, str | None]] = []
        if "tool" in doc.data:
            found.append((("tool",), doc.data["tool"], service))
        if isinstance(doc.data.get("tools"), list):
            found += [(("tools", i), t, service) for i, t in enumerate(doc.data["tools"])]
        for i, row in enumerate(doc.data.get("training_examples") or []):  # OpenAI rows carry `tools`
            if isinstance(row, dict) and isinstance(row.get("tools"), list):
                svc = shapes.row_service(row) or service
                found += [(("training_examples", i, "tools", j), t, svc) for j, t in enumerate(row["tools"])]
        for loc, raw, svc in found:
            self._attempt(doc, self._tool, doc, loc, raw, svc)

    def _tool(self, doc: JsonDocument, loc: Loc, raw: Any, service: str | None) -> None:
        if not isinstance(raw, dict):
            raise SeedItemError(loc, f"expected a tool object (got {describe(raw)})")
        if isinstance(raw.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
            loc, raw = (*loc, "function"), raw["function"]
        self._keys(doc, loc, raw, {"name", "title", "description", "inputSchema", "input_schema",
                                   "parameters", "outputSchema", "output_schema", "annotations", "type",
                                   "strict"})
        tool = {k: raw[k] for k in ("name", "title", "description") if k in raw}
        tool["inputSchema"] = raw.get("inputSchema", raw.get("input_schema", raw.get("parameters")))
        if tool["inputSchema"] is None:
            tool["inputSchema"] = {"type": "object", "properties": {}}
        for key in ("outputSchema", "output_schema"):
            if key in raw:
                tool["outputSchema"] = raw[key]
        if "annotations" in raw:
            tool["annotations"] = raw["annotations"]
        shapes.check_item(s.ToolSpec, tool, loc)
        name = tool["name"]
        if name in self.tools:
            _, schema, where = self.tools[name]
            if schema != tool["inputSchema"]:
                self.diags.append(doc.diagnostic((*loc, "name"), f"tool {name!r} is already defined in {where} "
                                  "with a different inputSchema; not imported", severity="warning",
                                  hint="compare the two and update the spec by hand"))
            return
        if service is None:
            raise SeedItemError(loc, f"cannot tell which service tool {name!r} belongs to",
                      hint='add "service" to the document, or import it with the service\'s discovery document')
        self.tools[name] = (service, tool["inputSchema"], doc.path)
        self._draft(service).add("tools", tool, doc)
        self.counts[doc.path]["tool"] += 1

    def _service_for(self, loc: Loc, explicit: str | None, tools: list[str]) -> str:
        """The row's or document's own service, else the owner of a tool it calls, else
        the one service this import names (or the repository has)."""
        if explicit:
            if not _ID.match(explicit):
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

    def _place(self, doc: JsonDocument, loc: Loc, service: str, kind: str, item: dict[str, Any]) -> None:
        """Dedupe, give a stable id, validate, and add to the service's draft."""
        split = "test" if kind == "scenarios" else "train"
        query = normalize_query(item["query"])
        seen = self.queries.setdefault((service, split), set())
        if query in seen:
            self.counts[doc.path]["already present"] += 1
            return
        draft = self._draft(service)
        seed_id = item.get("id")
        if isinstance(seed_id, str) and _ID.match(seed_id) and seed_id not in self.ids:
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

    # ------------------------------------------------------------ training examples

    def _example(self, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
        if not isinstance(row, dict):
            raise SeedItemError(loc, f"expected an object (got {describe(row)})")
        if "messages" in row:
            return self._message_row(doc, loc, row, svc)
        behaviour_only = "correct_behavior" in row and not any(
            row.get(k) for k in ("correct_tool", "correct_sequence", "correct_calls"))
        if behaviour_only:
            return self._edge_case(doc, loc, row, svc, tools)
        self._keys(doc, loc, row, {"id", "user_query", "query", "correct_tool", "correct_parameters",
                                   "parameters", "correct_sequence", "correct_calls", "explanation",
                                   "common_mistakes", "created_at", "service"})
        default_tool = tools[0] if len(tools) == 1 else None
        item: dict[str, Any] = {"id": row.get("id"), "query": shapes.read_text(row, loc, "user_query", "query")}
        used: list[str] = []
        if row.get("correct_sequence") is not None:
            item["sequence"] = self._sequence(doc, (*loc, "correct_sequence"), row["correct_sequence"])
            used = [next(iter(st["call"])) for st in item["sequence"]]
        elif row.get("correct_calls") is not None:
            calls = shapes.read_array(row["correct_calls"], (*loc, "correct_calls"))
            item["calls"] = [dict([shapes.read_call(c, (*loc, "correct_calls", j))]) for j, c in enumerate(calls)]
            used = [next(iter(c)) for c in item["calls"]]
        else:
            name = row.get("correct_tool", default_tool)
            if not isinstance(name, str) or not name:
                raise SeedItemError(loc, "an example needs 'correct_tool' and 'correct_parameters', or 'correct_sequence'")
            params = shapes.read_arguments(row.get("correct_parameters", row.get("parameters")),
                                (*loc, "correct_parameters"))
            item["call"] = {name: params}
            used = [name]
        notes: list[str] = []
        mistakes = []
        for j, m in enumerate(shapes.read_array(row.get("common_mistakes") or [], (*loc, "common_mistakes"))):
            mistake = self._mistake(doc, (*loc, "common_mistakes", j), m, default_tool or used[0])
            if isinstance(mistake, str):
                notes.append(f"Common mistake: {mistake}")
            else:
                mistakes.append(mistake)
        explanation = "\n".join([*([row["explanation"]] if isinstance(row.get("explanation"), str) else []), *notes])
        if explanation:
            item["explanation"] = explanation
        if mistakes:
            item["common_mistakes"] = mistakes
        item["source"] = "imported"
        shapes.copy_created(row, item)
        service = self._service_for(loc, shapes.row_service(row) or svc, used)
        self._place(doc, loc, service, "examples", item)

    def _sequence(self, doc: JsonDocument, loc: Loc, raw: Any) -> list[dict[str, Any]]:
        known: dict[str, Any] = {}
        steps = []
        for j, step in enumerate(shapes.read_array(raw, loc, non_empty=True)):
            name, args = shapes.read_call(step, (*loc, j))
            args, missing = shapes.fill_placeholders(args, known)
            for value in missing:
                self.diags.append(doc.diagnostic((*loc, j), f"{value!r} refers to a value no earlier step's "
                                  "result provides; the model would learn to write it literally",
                                  severity="warning", hint="add the earlier step's 'result'"))
            out: dict[str, Any] = {"call": {name: args}}
            result = next((step[k] for k in ("result", "output", "returns") if k in step), None)
            if result is not None:
                out["result"] = result
                shapes.flatten_result(result, known)
            steps.append(out)
        return steps

    def _mistake(self, doc: JsonDocument, loc: Loc, raw: Any, tool: str) -> dict[str, Any] | str:
        if isinstance(raw, str):
            return raw
        if not isinstance(raw, dict):
            raise SeedItemError(loc, f"expected an object or a string (got {describe(raw)})")
        self._keys(doc, loc, raw, {"wrong", "wrong_parameters", "wrong_params", "wrong_tool", "reason",
                                   "why", "explanation"})
        reason = next((raw[k] for k in ("reason", "why", "explanation") if isinstance(raw.get(k), str)), None)
        if not reason:
            raise SeedItemError(loc, "a common mistake needs a 'reason'")
        name = raw.get("wrong_tool", tool)
        if "wrong" in raw:
            wrong = raw["wrong"]
            if isinstance(wrong, dict) and len(wrong) == 1 and next(iter(wrong)) in self.tools \
                    and isinstance(next(iter(wrong.values())), (dict, type(None))):
                return {"wrong": {next(iter(wrong)): next(iter(wrong.values())) or {}}, "reason": reason}
            return {"wrong": {name: shapes.read_arguments(wrong, (*loc, "wrong"))}, "reason": reason}
        key = "wrong_parameters" if "wrong_parameters" in raw else "wrong_params"
        if key not in raw and "wrong_tool" not in raw:
            raise SeedItemError(loc, "a common mistake needs 'wrong' or 'wrong_parameters'")
        return {"wrong": {name: shapes.read_arguments(raw.get(key), (*loc, key))}, "reason": reason}

    def _message_row(self, doc: JsonDocument, loc: Loc, row: dict[str, Any], svc: str | None) -> None:
        self._keys(doc, loc, row, {"messages", "tools", "id", "created_at", "metadata", "service",
                                   "parallel_tool_calls"})
        msgs = shapes.read_array(row["messages"], (*loc, "messages"))
        users = [i for i, m in enumerate(msgs) if isinstance(m, dict) and m.get("role") == "user"]
        if not users:
            raise SeedItemError((*loc, "messages"), "no message with role 'user'")
        if len(users) > 1:
            self.diags.append(doc.diagnostic((*loc, "messages", users[1]), "a conversation with several user "
                              "turns cannot be expressed as one example yet; skipped", severity="warning"))
            return
        first = users[0]
        query = shapes.read_content(msgs[first].get("content"), (*loc, "messages", first, "content"))
        turns: list[list[tuple[str, dict[str, Any], Any]]] = []
        results: dict[Any, Any] = {}
        ordered: list[Any] = []
        reply: str | None = None
        for i in range(first + 1, len(msgs)):
            m, mloc = msgs[i], (*loc, "messages", i)
            if not isinstance(m, dict):
                raise SeedItemError(mloc, f"expected a message object (got {describe(m)})")
            if m.get("role") == "assistant":
                calls = m.get("tool_calls") or ([{"function": m["function_call"]}] if m.get("function_call") else [])
                if calls:
                    turns.append([(*shapes.read_call(c, (*mloc, "tool_calls", j)), c.get("id") if isinstance(c, dict) else None)
                                  for j, c in enumerate(shapes.read_array(calls, (*mloc, "tool_calls")))])
                elif m.get("content"):
                    reply = shapes.read_content(m["content"], (*mloc, "content"))
            elif m.get("role") in ("tool", "function"):
                content = shapes.maybe_json(m.get("content"))
                ordered.append(content)
                if m.get("tool_call_id") is not None:
                    results[m["tool_call_id"]] = content
        item: dict[str, Any] = {"id": row.get("id"), "query": query}
        flat = [c for turn in turns for c in turn]
        service = self._service_for(loc, shapes.row_service(row) or svc, [c[0] for c in flat])
        if not flat:
            if reply is None:
                raise SeedItemError((*loc, "messages"), "no assistant message with tool_calls or content")
            asks = reply.rstrip().endswith("?")
            item["expect"] = {"action": "clarify", "question": reply} if asks else {"action": "no_tool", "response": reply}
            shapes.copy_created(row, item)
            return self._place(doc, loc, service, "edge_cases", item)
        if len(turns) == 1 and len(flat) == 1:
            item["call"] = {flat[0][0]: flat[0][1]}
        elif len(turns) == 1:
            item["calls"] = [{name: args} for name, args, _ in flat]
        else:
            steps = []
            for k, (name, args, call_id) in enumerate(flat):
                step: dict[str, Any] = {"call": {name: args}}
                result = results.get(call_id) if call_id in results else (ordered[k] if k < len(ordered) else None)
                if result is not None:
                    step["result"] = result
                steps.append(step)
            item["sequence"] = steps
        item["source"] = "imported"
        shapes.copy_created(row, item)
        self._place(doc, loc, service, "examples", item)

    # ------------------------------------------------------------ edge cases and scenarios

    def _edge_case(self, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
        if not isinstance(row, dict):
            raise SeedItemError(loc, f"expected an object (got {describe(row)})")
        self._keys(doc, loc, row, {"id", "scenario", "user_query", "query", "correct_behavior",
                                   "expected_behavior", "expect", "created_at", "tool", "service",
                                   "correct_tool", "correct_sequence", "correct_calls"})
        key = next((k for k in ("correct_behavior", "expected_behavior", "expect") if k in row), "correct_behavior")
        behaviour = row.get(key)
        bloc = (*loc, key)
        if isinstance(behaviour, str):
            behaviour = {"action": behaviour}
        if not isinstance(behaviour, dict):
            raise SeedItemError(bloc, f"expected an object with 'action' (got {describe(behaviour)})")
        raw_action = behaviour.get("action")
        if raw_action is None or shapes.is_call_action(raw_action):  # an "edge case" that is really a call
            name = behaviour.get("tool", behaviour.get("correct_tool"))
            if isinstance(name, str):
                params = behaviour.get("parameters", behaviour.get("correct_parameters"))
                converted = {"user_query": shapes.read_text(row, loc, "user_query", "query"), "correct_tool": name,
                             "correct_parameters": params}
                return self._example(doc, loc, {**converted, **{k: row[k] for k in ("id", "created_at") if k in row}},
                                     svc, tools)
        action = shapes.action_of(raw_action)
        if action is None:
            raise SeedItemError((*bloc, "action") if raw_action is not None else bloc,
                      f"expected one of 'clarify', 'ask_for_details', 'refuse', 'no_tool' (got {raw_action!r})")
        self._keys(doc, bloc, behaviour, {"action", "question", "required_fields", "reason", "response",
                                          "message", "reply"})
        expect: dict[str, Any] = {"action": action}
        for name in ("question", "reason"):
            if behaviour.get(name) is not None:
                expect[name] = behaviour[name]
        fields = behaviour.get("required_fields")
        if fields is not None:
            expect["required_fields"] = [fields] if isinstance(fields, str) else fields
        response = next((behaviour[k] for k in ("response", "message", "reply") if behaviour.get(k)), None)
        if response is not None:
            expect["response"] = response
        item: dict[str, Any] = {"id": row.get("id")}
        if isinstance(row.get("scenario"), str):
            item["scenario"] = row["scenario"]
        item["query"] = shapes.read_text(row, loc, "user_query", "query")
        tool = row.get("tool") or (tools[0] if len(tools) == 1 else None)
        if tool is not None:
            item["tool"] = tool
        item["expect"] = expect
        shapes.copy_created(row, item)
        service = self._service_for(loc, shapes.row_service(row) or svc, [tool] if tool else [])
        self._place(doc, loc, service, "edge_cases", item)

    def _scenario(self, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
        if not isinstance(row, dict):
            raise SeedItemError(loc, f"expected an object (got {describe(row)})")
        self._keys(doc, loc, row, {"id", "priority", "query", "user_query", "expected_tool", "expected_params",
                                   "expected_parameters", "expected_arguments", "expected_sequence",
                                   "expected_calls", "expected_action", "expected_behavior",
                                   "min_accuracy_required", "category", "tags", "service", "description"})
        item: dict[str, Any] = {"id": row.get("id")}
        raw_priority = row.get("priority", "normal")
        priority = shapes.PRIORITIES.get(str(raw_priority).strip().lower())
        if priority is None:
            raise SeedItemError((*loc, "priority"), f"expected one of 'critical', 'high', 'normal' (got {raw_priority!r})")
        item["priority"] = priority
        item["query"] = shapes.read_text(row, loc, "query", "user_query")
        used: list[str] = []
        if row.get("expected_sequence") is not None:
            item["expect"] = {"sequence": self._sequence(doc, (*loc, "expected_sequence"), row["expected_sequence"])}
            used = [next(iter(st["call"])) for st in item["expect"]["sequence"]]
        elif row.get("expected_calls") is not None:
            calls = shapes.read_array(row["expected_calls"], (*loc, "expected_calls"))
            item["expect"] = {"calls": [dict([shapes.read_call(c, (*loc, "expected_calls", j))]) for j, c in enumerate(calls)]}
            used = [next(iter(c)) for c in item["expect"]["calls"]]
        elif row.get("expected_action") is not None or row.get("expected_behavior") is not None:
            key = "expected_action" if row.get("expected_action") is not None else "expected_behavior"
            raw = row[key]
            behaviour = raw if isinstance(raw, dict) else {"action": raw}
            action = shapes.action_of(behaviour.get("action"))
            if action is None:
                raise SeedItemError((*loc, key), f"expected one of 'clarify', 'ask_for_details', 'refuse', 'no_tool' "
                          f"(got {behaviour.get('action')!r})")
            item["expect"] = {**{k: v for k, v in behaviour.items() if k != "action"}, "action": action}
        elif "expected_tool" in row and row["expected_tool"] in (None, "", "none", "no_tool"):
            item["expect"] = {"action": "no_tool"}
        elif isinstance(row.get("expected_tool"), str):
            key = next((k for k in ("expected_params", "expected_parameters", "expected_arguments") if k in row),
                       "expected_params")
            item["expect"] = {"call": {row["expected_tool"]: shapes.read_arguments(row.get(key), (*loc, key))}}
            used = [row["expected_tool"]]
        else:
            raise SeedItemError(loc, "a test scenario needs 'expected_tool' (with 'expected_params'), "
                      "'expected_sequence', 'expected_calls' or 'expected_action'")
        if row.get("min_accuracy_required") is not None:
            item["min_accuracy_required"] = shapes.read_accuracy(row["min_accuracy_required"], (*loc, "min_accuracy_required"))
        if row.get("category") is not None:
            item["category"] = row["category"]
        tags = list(row.get("tags") or []) if isinstance(row.get("tags"), list) else []
        if str(raw_priority).strip().lower() != priority:
            tags.append(f"seed-priority:{raw_priority}")
        if tags:
            item["tags"] = tags
        service = self._service_for(loc, shapes.row_service(row) or svc, used)
        self._place(doc, loc, service, "scenarios", item)

    # ------------------------------------------------------------ vocabulary

    def _vocabulary(self, doc: JsonDocument, svc: str | None, tools: list[str]) -> None:
        raw = doc.data["domain_vocabulary"]
        entries: list[tuple[Any, Any, Loc]]
        if isinstance(raw, dict):
            entries = [(k, v, ("domain_vocabulary", k)) for k, v in raw.items()]
        elif isinstance(raw, list):
            entries = []
            for i, v in enumerate(raw):
                name = next((v[k] for k in ("parameter", "param", "term", "name", "field") if k in v), None) \
                    if isinstance(v, dict) else None
                if name is None:
                    raise SeedItemError(("domain_vocabulary", i), "a vocabulary entry in a list needs 'parameter' (or 'term')")
                entries.append((name, v, ("domain_vocabulary", i)))
        else:
            raise SeedItemError(("domain_vocabulary",), f"expected an object or an array (got {describe(raw)})")
        service = self._service_for(("domain_vocabulary",), svc, tools)
        draft = self._draft(service)
        scope = tools or [t for t, (owner, _, _) in self.tools.items() if owner == service]
        for key, entry, loc in entries:
            self._attempt(doc, self._vocabulary_entry, doc, loc, str(key), entry, scope, draft)

    def _vocabulary_entry(self, doc: JsonDocument, loc: Loc, key: str, entry: Any, tools: list[str],
                          draft: _Draft) -> None:
        if isinstance(entry, str):
            entry = {"rule": entry}
        if not isinstance(entry, dict):
            raise SeedItemError(loc, f"expected an object (got {describe(entry)})")
        self._keys(doc, loc, entry, {"rule", "examples", "our_values", "user_might_say", "parameter", "param",
                                     "term", "name", "field", "description"})
        param = str(entry.get("parameter", entry.get("param", key)))
        targets = self._parameters(param, tools)
        if not targets:
            draft.unmapped.append(f"{Path(doc.path).name} {dotted(loc)}: {json.dumps(entry, ensure_ascii=False)}")
            self.diags.append(doc.diagnostic(loc, f"not imported: {param!r} is not a parameter of "
                              f"{', '.join(tools) or 'any known tool'}", severity="warning",
                              hint="name the parameter as 'tool.parameter' to import it as a rule or term"))
            return
        for target in targets:
            schema = self._param_schema(target)
            if "rule" in entry or "examples" in entry:
                rule: dict[str, Any] = {"parameter": target}
                text = str(entry.get("rule") or "")
                unit = shapes.unit_of(text, schema)
                if unit:
                    rule["unit"] = unit
                if text:
                    rule["rule"] = text
                examples = shapes.rule_examples(entry.get("examples"))
                if examples:
                    rule["examples"] = examples
                shapes.check_item(s.RuleSpec, rule, loc)
                if _rule_key(rule) in self.vocab:
                    self.counts[doc.path]["already present"] += 1
                else:
                    self.vocab.add(_rule_key(rule))
                    draft.add("rules", rule, doc)
                    self.counts[doc.path]["vocabulary rule"] += 1
            if "our_values" in entry or "user_might_say" in entry:
                values = shapes.term_values(entry, loc)
                shapes.check_item(s.TermSpec, {"parameter": target, "values": values}, loc)
                values = self._new_values(target, values)
                term = {"parameter": target, "values": values}
                if not values:
                    self.counts[doc.path]["already present"] += 1
                else:
                    draft.add("terms", term, doc)
                    self.counts[doc.path]["vocabulary term"] += 1

    def _new_values(self, parameter: str, values: dict[str, list[str]]) -> dict[str, list[str]]:
        """What `values` adds to the vocabulary already known for `parameter` (and remember it)."""
        new: dict[str, list[str]] = {}
        for canonical, phrases in values.items():
            fresh = [p for p in phrases if (parameter, canonical, p.lower()) not in self.vocab]
            if fresh or (parameter, canonical) not in self.vocab:
                new[canonical] = fresh
            self.vocab.add((parameter, canonical))
            self.vocab.update((parameter, canonical, p.lower()) for p in phrases)
        return new

    def _parameters(self, param: str, tools: list[str]) -> list[str]:
        if "." in param:
            tool, name = param.rsplit(".", 1)
            return [param] if name in self._props(tool) else []
        return [f"{t}.{param}" for t in tools if param in self._props(t)]

    def _props(self, tool: str) -> dict[str, Any]:
        schema = self.tools.get(tool, ("", {}, ""))[1]
        props = schema.get("properties") if isinstance(schema, dict) else None
        return props if isinstance(props, dict) else {}

    def _param_schema(self, target: str) -> dict[str, Any]:
        tool, name = target.rsplit(".", 1)
        value = self._props(tool).get(name)
        return value if isinstance(value, dict) else {}

    # ------------------------------------------------------------ writing

    def files(self) -> list[PlannedFile]:
        out: list[PlannedFile] = []
        for d in self.drafts.values():
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
                                           _plural(len(chunk), noun)))
            terms, rules = d.items.get("terms", []), d.items.get("rules", [])
            if terms or rules:  # entries that fit no parameter ride along as comments
                srcs = list({**d.sources.get("terms", {}), **d.sources.get("rules", {})})
                notes = ["Not imported (no such parameter); map them by hand:", *d.unmapped] if d.unmapped else []
                out.append(PlannedFile(f"{d.folder}/vocabulary.yaml",
                                       _render("Vocabulary", d.name, {"terms": terms, "rules": rules}, 2, srcs, notes),
                                       f"{_plural(len(terms), 'term')}, {_plural(len(rules), 'rule')}"))
        return out


# ---------------------------------------------------------------- pure helpers


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


def _summary(kind: str, counts: Counter[str], data: dict[str, Any]) -> str:
    parts = [_plural(n, what) for what, n in counts.items() if n and what != "already present"]
    parts += [f"{n} already present" for what, n in counts.items() if n and what == "already present"]
    if kind == "discovery document":
        service = data.get("service")
        name = service.get("name") if isinstance(service, dict) else service
        parts.insert(0, f"{name} {data.get('version', '')}".strip())
        endpoints = data.get("endpoints")
        if isinstance(endpoints, dict) and endpoints:
            parts.append(f"endpoints not fetched: {', '.join(map(str, endpoints))}; download and import them too")
    return f"{kind}" + (f" ({'; '.join(parts)})" if parts else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rule_key(rule: dict[str, Any]) -> tuple[str, ...]:
    return ("rule", json.dumps(rule, sort_keys=True, default=str))
