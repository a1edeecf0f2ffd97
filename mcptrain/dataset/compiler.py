"""Turn one service's specs into canonical rows (docs/rows.md).

Rows come out without `split` (chosen later, by `splits`) and, unless the item says
which tools it offers, without `tools`: the service's list is the same for every such
row, so `CompiledService.tools` holds it once and the exporters splice it into each
line (`offered_tools`). An item with its own `tools:` (a subset of the service's, or
inline definitions such as an imported BFCL item's functions) carries exactly those. Everything here is a pure function of the
service's own files and the project settings in `row_settings`, which is what makes
the per-service build cache sound.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mcptrain.dataset.knowledge import row_mistakes, system_text
from mcptrain.errors import StageError
from mcptrain.specs import models as s
from mcptrain.specs.loader import ServiceBundle
from mcptrain.specs.templates import TemplateExpansionError, expand_queries, render_value

# Bump when the rows compiled from unchanged specs change: it invalidates the build cache.
ROWS_FORMAT = 2  # 2: rows carry `common_mistakes` (knowledge.row_mistakes)

Row = dict[str, Any]


@dataclass(frozen=True)
class CompiledService:
    name: str
    tools: list[dict[str, Any]]  # OpenAI-style function tools, in toolset order
    rows: list[Row]


def row_settings(project: s.ProjectSpec) -> dict[str, Any]:
    """The project settings that change compiled rows (part of each cache key)."""
    return {
        "rows_format": ROWS_FORMAT,
        "system_prompt": project.system_prompt,
        "max_template_expansions": project.max_template_expansions,
        "domain_knowledge": project.prompt.domain_knowledge,
    }


def compile_service(bundle: ServiceBundle, project: s.ProjectSpec) -> CompiledService:
    tool_specs = [t for ts in bundle.toolsets for t in ts.spec.tools]
    tools = [function_tool(t) for t in tool_specs]
    vocabularies = [v.spec for v in bundle.vocabularies]
    compiler = _Compiler(bundle.name, project, tool_specs, vocabularies)
    for ex_file in bundle.examples:
        for ex in ex_file.spec.examples:
            compiler.example(ex)
    for ec_file in bundle.edge_cases:
        for case in ec_file.spec.edge_cases:
            compiler.edge_case(case)
    for sc_file in bundle.tests:
        for sc in sc_file.spec.scenarios:
            compiler.scenario(sc)
    return CompiledService(bundle.name, tools, compiler.rows)


def offered_tools(row: Row, service_tools: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The tools a row offers: its own, else its service's."""
    own = row.get("tools")
    return own if own is not None else service_tools[row["service"]]


def function_tool(tool: s.ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.inputSchema},
    }


def category_of(calls: list[tuple[str, dict[str, Any]]], *, sequence: bool, shared_verbs: set[str]) -> str:
    """The BFCL category of an expected answer.

    Every row lists all of its service's tools, so by BFCL's letter (several functions
    offered) every single call would be `multiple`. A single call is `multiple` when
    the service offers another tool with the same verb (create_payment next to
    create_invoice): the model must choose between look-alikes. Otherwise `simple`.
    """
    if sequence:
        return "multi_turn"
    if len(calls) > 1:
        return "parallel" if len({name for name, _ in calls}) == 1 else "parallel_multiple"
    return "multiple" if verb_of(calls[0][0]) in shared_verbs else "simple"


def verb_of(tool_name: str) -> str:
    return tool_name.replace(".", "_").replace("-", "_").split("_", 1)[0].lower()


def behaviour_reply(expect: s.ExpectSpec) -> str:
    """The assistant's text turn for a behaviour (clarify, ask_for_details, refuse, no_tool)."""
    if expect.action == "clarify":
        return expect.question or expect.response or "Could you tell me a bit more about what you need?"
    if expect.action == "ask_for_details":
        if expect.question or expect.response:
            return expect.question or expect.response or ""
        fields = [f.replace("_", " ") for f in expect.required_fields or []]
        listed = fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + f" and {fields[-1]}"
        return f"I can do that, but I need a few more details first: the {listed}. Could you provide them?"
    if expect.action == "refuse":
        if expect.response:
            return expect.response
        return f"I can't help with that: {expect.reason}" if expect.reason else "I can't help with that request."
    if expect.action == "use_tool":
        return expect.response or "I'll use one of the available tools for that."
    return expect.response or "I can answer that directly; it doesn't need any of the tools."


class _Compiler:
    def __init__(self, service: str, project: s.ProjectSpec, tool_specs: list[s.ToolSpec],
                 vocabularies: list[s.VocabularySpec] | None = None) -> None:
        self.service = service
        self.system = {"role": "system", "content": system_text(project.system_prompt, vocabularies or [],
                                                                project.prompt.domain_knowledge)}
        self.rules = [r for v in vocabularies or [] for r in v.rules]
        self.limit = project.max_template_expansions
        self.shared_verbs = _shared_verbs([t.name for t in tool_specs])
        self.by_name = {t.name: function_tool(t) for t in tool_specs}
        self.rows: list[Row] = []

    def offered(self, tools: list[str | s.ToolSpec] | None) -> dict[str, Any]:
        """The row fields of an item's own `tools:` (none when it offers its service's)."""
        if tools is None:
            return {}
        return {"tools": [self.by_name[t] if isinstance(t, str) else function_tool(t) for t in tools]}

    def example(self, ex: s.ExampleSpec) -> None:
        meta = {"kind": "example", "source": ex.source, "quality": ex.quality,
                "created_at": _date(ex.created_at), **self.offered(ex.tools)}
        if ex.template is None:
            assert ex.query is not None
            self.add_answer(ex.id, ex.id, ex.query, ex, **meta)
            return
        assert ex.vars is not None
        try:
            expansions = expand_queries(ex.template, ex.vars, self.limit)
            for exp in expansions:
                rendered = _render_answer(ex, exp.values)
                self.add_answer(f"{ex.id}#{exp.index}", ex.id, exp.query, rendered, **meta)
        except TemplateExpansionError as e:  # validate passed, so this is a bug
            raise StageError(f"{self.service}: example {ex.id!r}: {e.message}") from e

    def edge_case(self, case: s.EdgeCaseSpec) -> None:
        self.add_behaviour(case.id, case.query, case.expect, kind="edge_case",
                           target_tools=[case.tool] if case.tool else [],
                           created_at=_date(case.created_at), **self.offered(case.tools))

    def scenario(self, sc: s.ScenarioSpec) -> None:
        meta: dict[str, Any] = {"kind": "scenario", "priority": sc.priority,
                                "min_accuracy_required": sc.min_accuracy_required, "tags": list(sc.tags),
                                **self.offered(sc.tools)}
        if sc.expect.action is not None:
            self.add_behaviour(sc.id, sc.query, sc.expect, category=sc.category, **meta)
        else:
            self.add_answer(sc.id, sc.id, sc.query, sc.expect, category=sc.category, **meta)

    def add_answer(self, row_id: str, source_id: str, query: str, answer: Any,
                   category: str | None = None, **meta: Any) -> None:
        """A row whose target is tool calls: one call, parallel calls, or a sequence."""
        turns: list[dict[str, Any]] = []
        calls: list[tuple[str, dict[str, Any]]] = []
        if answer.sequence is not None:
            last = len(answer.sequence) - 1
            for j, step in enumerate(answer.sequence):
                ((name, args),) = step.call.items()
                calls.append((name, args))
                turns.append(_assistant_calls([(name, args)]))
                if j < last:  # the final result has nothing after it to inform
                    turns.append({"role": "tool", "name": name, "content": _result_text(step.result)})
        else:
            calls = [next(iter(c.items())) for c in (answer.calls or [answer.call])]
            turns.append(_assistant_calls(calls))
        shared = self.shared_verbs if "tools" not in meta else _shared_verbs(
            [t["function"]["name"] for t in meta["tools"]])
        category = category or category_of(calls, sequence=answer.sequence is not None, shared_verbs=shared)
        target = sorted({name for name, _ in calls})
        # An ExampleSpec documents its own mistakes; a template's rendered answer (ExpectSpec) has none.
        mistakes = row_mistakes(calls if answer.sequence is None else [],
                                getattr(answer, "common_mistakes", ()), self.rules)
        self.add(row_id, source_id, query, turns, category=category, target_tools=target,
                 common_mistakes=mistakes, **meta)

    def add_behaviour(self, row_id: str, query: str, expect: s.ExpectSpec, *,
                      category: str | None = None, **meta: Any) -> None:
        turn = {"role": "assistant", "content": behaviour_reply(expect)}
        category = category or ("relevance" if expect.action == "no_tool" else "edge_case")
        self.add(row_id, row_id, query, [turn], category=category, expected_action=expect.action,
                 required_fields=list(expect.required_fields) if expect.required_fields else None, **meta)

    def add(self, row_id: str, source_id: str, query: str, turns: list[dict[str, Any]], **fields: Any) -> None:
        row: Row = {
            "id": row_id, "source_id": source_id, "service": self.service,
            "kind": "example", "category": "simple", "priority": "normal",
            "min_accuracy_required": None, "expected_action": None, "required_fields": None,
            "source": "human", "quality": "gold", "created_at": None, "tags": [], "target_tools": [],
            "common_mistakes": [],
            "messages": [self.system, {"role": "user", "content": query}, *turns],
        }
        row.update(fields)
        self.rows.append(row)


def _shared_verbs(tool_names: list[str]) -> set[str]:
    verbs = Counter(verb_of(n) for n in tool_names)
    return {v for v, n in verbs.items() if n > 1}


def _assistant_calls(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in calls],
    }


def _render_answer(ex: s.ExampleSpec, values: dict[str, Any]) -> Any:
    """The example's calls with this expansion's values filled in (same shape as the spec)."""
    def calls(c: dict[str, Any]) -> dict[str, Any]:
        return {name: render_value(args, values, (name,)) for name, args in c.items()}

    if ex.call is not None:
        return s.ExpectSpec(call=calls(ex.call))
    if ex.calls is not None:
        return s.ExpectSpec(calls=[calls(c) for c in ex.calls])
    assert ex.sequence is not None
    return s.ExpectSpec(sequence=[
        s.StepSpec(call=calls(st.call), result=render_value(st.result, values, ("result",)))
        for st in ex.sequence
    ])


def _result_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, sort_keys=True, ensure_ascii=False)


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
