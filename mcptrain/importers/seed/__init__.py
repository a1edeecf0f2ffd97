"""Convert the seed's JSON documents into spec files.

Four documents, told apart by their keys (a file may also mix the sections), one
module each:

- per-tool (`tool.py`, `vocabulary.py`): `service`, `version`, `tool`,
  `training_examples[]` (`user_query`, `correct_tool` + `correct_parameters` or
  `correct_sequence`, `common_mistakes`), `edge_cases[]` (`correct_behavior`),
  `domain_vocabulary`;
- `/mcp/training-dataset` (`training.py`): `training_examples[].messages` in OpenAI chat form;
- `/mcp/test-dataset` (`scenarios.py`): `test_scenarios[]`;
- `/.well-known/mcp-training-data.json` (`discovery.py`): `service`, `version`, `owners`, `endpoints`.

What they share: `conversion.py` (the import in progress and its diagnostics),
`spec_files.py` (the files written), `shapes.py` (reading loose JSON shapes). This
module recognises each document's kind (`KINDS`) and hands each section's rows to
their importer (`SECTIONS`).

Nothing here touches the disk: `plan_import` returns the files to write and every
problem as a Diagnostic at `file:line:col` and JSON path. Ids are stable
(`<folder>-seed-001` in document order, skipping ids the repository uses); items the
repository already has (same query) are skipped, so importing twice adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from mcptrain.errors import Diagnostic
from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed import discovery, scenarios, shapes, tool, training, vocabulary
from mcptrain.importers.seed.conversion import Conversion
from mcptrain.importers.seed.spec_files import PlannedFile, plan_files, plural
from mcptrain.locations import Loc
from mcptrain.specs.loader import Specs

KNOWN_TOP = {"service", "version", "metadata", "owners", "owner", "team", "description", "critical",
             "endpoints", "generated_at", "updated_at", "created_at", "schema_version", "format",
             "$schema", "contact", "documentation", "license", "name", "tool", "tools",
             "training_examples", "edge_cases", "domain_vocabulary", "test_scenarios",
             # the discovery document's own sections (`mcptrain export` writes them)
             "mcp_version", "training_data", "test_data", "consent", "authentication"}


class DocumentKind(Protocol):
    name: str  # as the summary line says it
    read_first: bool  # its service fields win over the other documents'

    def recognises(self, data: dict[str, Any]) -> bool:
        """Whether a document with these top-level keys is of this kind."""
        ...

    def summarise(self, data: dict[str, Any], parts: list[str]) -> list[str]:
        """The summary line's parts, given what was imported from the document."""
        ...


# In the order they are tried: the first kind that recognises a document is its kind.
KINDS: dict[str, DocumentKind] = {
    "test dataset": scenarios.TestDataset(),
    "training dataset": training.TrainingDataset(),
    "per-tool document": tool.ToolDocument(),
    "discovery document": discovery.DiscoveryDocument(),
}

RowImporter = Callable[[Conversion, JsonDocument, Loc, Any, str | None, list[str]], None]


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
    kind = _kind_of(data)
    return kind.name if kind else None


def plan_import(docs: list[JsonDocument], existing: Specs) -> SeedImport:
    conv = Conversion(existing)
    found: list[tuple[JsonDocument, DocumentKind]] = []
    for doc in docs:
        kind = _kind_of(doc.data)
        if kind is None:
            keys = ", ".join(repr(k) for k in list(doc.data)[:6]) or "none"
            conv.diags.append(doc.diagnostic((), "not a seed document: expected 'tool', 'training_examples', "
                                             f"'test_scenarios' or 'endpoints' at the top level (found {keys})"))
        else:
            found.append((doc, kind))
    summaries = _convert(conv, found)
    failed = any(d.severity == "error" for d in conv.diags)
    return SeedImport([] if failed else plan_files(list(conv.drafts.values())), conv.diags, summaries)


def _kind_of(data: dict[str, Any]) -> DocumentKind | None:
    return next((kind for kind in KINDS.values() if kind.recognises(data)), None)


def _training_example(conv: Conversion, doc: JsonDocument, loc: Loc, row: Any, svc: str | None,
                      tools: list[str]) -> None:
    if isinstance(row, dict) and "messages" in row:  # the training dataset's chat form
        return training.message_row(conv, doc, loc, row, svc)
    tool.example(conv, doc, loc, row, svc, tools)


# The sections holding rows, in the order they are imported.
SECTIONS: dict[str, RowImporter] = {
    "training_examples": _training_example,
    "edge_cases": tool.edge_case,
    "test_scenarios": scenarios.scenario,
}


def _convert(conv: Conversion, found: list[tuple[JsonDocument, DocumentKind]]) -> dict[str, str]:
    """Import every document's sections; what each document was and held, by path."""
    order = sorted(found, key=lambda dk: not dk[1].read_first)
    doc_service = {id(doc): discovery.read_service(conv, doc) for doc, _ in order}
    named = {v for v in doc_service.values() if v}
    known = named or set(conv.folders) | conv.declared  # else the repository's only service
    conv.default = next(iter(known)) if len(known) == 1 else None
    for doc, _ in found:
        conv.counts[doc.path] = Counter()
        for key in doc.data:
            if key not in KNOWN_TOP:
                conv.ignore(doc, (), key)
        conv.attempt(doc, (), partial(tool.read_tools, conv, doc, doc_service[id(doc)] or conv.default))
    for doc, _ in found:
        tool.check_named_tool(conv, doc)
    summaries: dict[str, str] = {}
    for doc, kind in found:
        svc = doc_service[id(doc)]
        tool_names = shapes.doc_tool_names(doc.data)
        for section, importer in SECTIONS.items():
            rows = doc.data.get(section)
            if rows is None:
                continue
            if not isinstance(rows, list):
                conv.diags.append(doc.diagnostic((section,), f"expected an array (got {describe(rows)})"))
                continue
            for i, row in enumerate(rows):
                conv.attempt(doc, (section, i), partial(importer, conv, doc, (section, i), row, svc, tool_names))
        if "domain_vocabulary" in doc.data:
            conv.attempt(doc, (), partial(vocabulary.read_vocabulary, conv, doc, svc, tool_names))
        summaries[doc.path] = _summary(kind, conv.counts[doc.path], doc.data)
    conv.finish()
    return summaries


def _summary(kind: DocumentKind, counts: Counter[str], data: dict[str, Any]) -> str:
    parts = [plural(n, what) for what, n in counts.items() if n and what != "already present"]
    parts += [f"{n} already present" for what, n in counts.items() if n and what == "already present"]
    parts = kind.summarise(data, parts)
    return f"{kind.name}" + (f" ({'; '.join(parts)})" if parts else "")
