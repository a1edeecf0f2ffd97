"""What one service's rows need to know about every service: the tools a row offers
(`specs/scope.py`), each service's `instructions` and `context`, and the system prompt
they make together.

A row's system prompt is the project's `system_prompt` (followed, with
`prompt.domain_knowledge`, by the vocabulary of every service it offers:
`knowledge.system_text`), then its context rendered with
`context_template` (project < service < row, field by field), then the `instructions` of
every service whose tools the row offers, in the row's service order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.dataset.knowledge import system_text
from mcptrain.fingerprint import canonical_json
from mcptrain.specs import models as s
from mcptrain.specs.dialogue import ContextSpec, merge_contexts
from mcptrain.specs.loader import Loaded, ServiceBundle
from mcptrain.specs.scope import Scope, ToolIndex
from mcptrain.specs.templates import render_context


def function_tool(tool: s.ToolSpec, name: str | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name or tool.name, "description": tool.description, "parameters": tool.inputSchema},
    }


@dataclass
class Directory:
    index: ToolIndex
    instructions: dict[str, str]
    contexts: dict[str, ContextSpec | None]
    vocabularies: dict[str, list[s.VocabularySpec]] = field(default_factory=dict)
    _tool_lists: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)
    _said: dict[tuple[str, ...], dict[str, dict[str, dict[str, list[str]]]]] = field(default_factory=dict)

    @classmethod
    def of(cls, bundles: Mapping[str, ServiceBundle]) -> Directory:
        services = {n: b.service.spec for n, b in bundles.items() if b.service is not None}
        return cls(
            ToolIndex.build({n: [t for ts in b.toolsets for t in ts.spec.tools] for n, b in bundles.items()},
                            {n: spec.uses for n, spec in services.items()}),
            {n: spec.instructions for n, spec in services.items() if spec.instructions},
            {n: spec.context for n, spec in services.items()},
            {n: [v.spec for v in b.vocabularies] for n, b in bundles.items()},
        )

    def tools(self, scope: Scope) -> list[dict[str, Any]]:
        """The row's function tools; rows with the same services share one list object
        (the exporters serialise each distinct list once); an item's own `tools:` its own."""
        if scope.restricted:
            return [function_tool(t.spec, t.offered) for t in scope.tools]
        key = tuple(scope.services)
        if key not in self._tool_lists:
            self._tool_lists[key] = [function_tool(t.spec, t.offered) for t in scope.tools]
        return self._tool_lists[key]

    def said(self, scope: Scope) -> dict[str, dict[str, dict[str, list[str]]]]:
        """The vocabulary's canonical values of the row's offered tools, by offered name and
        top-level parameter: `{tool: {parameter: {canonical: [what users say instead]}}}`
        (the decoder's `vocabulary_values`, training/grounding.py). Like `tools`, rows with the
        same services share one map (read, never changed)."""
        if scope.restricted:
            return self._terms(scope)
        key = tuple(scope.services)
        if key not in self._said:
            self._said[key] = self._terms(scope)
        return self._said[key]

    def _terms(self, scope: Scope) -> dict[str, dict[str, dict[str, list[str]]]]:
        out: dict[str, dict[str, dict[str, list[str]]]] = {}
        for tool in scope.tools:
            # Its own service's terms name it plainly; another service's in the row name it
            # as the row offers it (qualified where two services share the name).
            sources = [(v, tool.spec.name) for v in self.vocabularies.get(tool.service, [])]
            sources += [(v, tool.offered) for other in scope.services if other != tool.service
                        for v in self.vocabularies.get(other, [])]
            for vocabulary, called in sources:
                for term in vocabulary.terms:
                    name, _, parameter = term.parameter.rpartition(".")  # tool names may hold dots
                    if name == called:
                        out.setdefault(tool.offered, {})[parameter] = {
                            str(canonical): list(said) for canonical, said in term.values.items()}
        return out

    def system_prompt(self, project: s.ProjectSpec, scope: Scope, service: str,
                      row_context: ContextSpec | None) -> str:
        context = merge_contexts(project.context, self.contexts.get(service), row_context)
        vocabularies = [v for name in scope.services for v in self.vocabularies.get(name, [])]
        parts = [system_text(project.system_prompt, vocabularies, project.prompt.domain_knowledge),
                 render_context(project.context_template, context)]
        parts += [f"# {name}\n{self.instructions[name].strip()}" for name in scope.services
                  if name in self.instructions]
        return "\n\n".join(p for p in parts if p)


def interface_fingerprint(root: Path, bundle: ServiceBundle) -> str:
    """What other services' rows read of `bundle` (its tool, service and vocabulary files:
    a row offering its tools carries their canonical values, and with domain knowledge on
    its vocabulary in the system turn), hashed."""
    h = hashlib.sha256(canonical_json({"service": bundle.name}, ensure_ascii=True).encode())
    head: list[Loaded[Any]] = [bundle.service] if bundle.service is not None else []
    for loaded in [*head, *bundle.toolsets, *bundle.vocabularies]:
        h.update(b"\0" + loaded.path.encode() + b"\0")
        h.update(hashlib.sha256((root / loaded.path).read_bytes()).digest())
    return h.hexdigest()
