"""The seed's three documents for one service, built from its specs.

- `/.well-known/mcp-training-data.json`: who the service is, where its data is, what it
  holds (counts, tools), the consent it gives and whom to ask;
- `/mcp/training-dataset`: the service's tools (MCP's shape), its examples as chat
  conversations (an assistant turn's calls in the chapter's form, `{"tool_call": {"name",
  "parameters"}}` as JSON text; a list of them for parallel calls; tool results as `tool`
  turns), its edge cases in the per-tool document's shape (`correct_behavior`), `metadata`;
- `/mcp/test-dataset`: `test_scenarios[]` (`expected_tool` + `expected_params`,
  `expected_calls`, `expected_sequence` or `expected_action`).

Templates are expanded (one conversation per rendering); a dialogue is its whole
conversation. Scenarios the test payload cannot carry (a dialogue: a scenario there is one
`query`; alternative answers: one expected answer) are counted in `skipped`, never dropped
silently. `mcptrain import seed` reads all three back into the same specs (tested).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcptrain.specs import models as s
from mcptrain.specs.dialogue import TurnSpec
from mcptrain.specs.loader import ServiceBundle
from mcptrain.specs.templates import expand_queries, fill_value

DISCOVERY_PATH = "/.well-known/mcp-training-data.json"
TRAINING_PATH = "/mcp/training-dataset"
TEST_PATH = "/mcp/test-dataset"
MCP_VERSION = "2025-06-18"  # the MCP revision the published tools are described in
FORMAT = "openai_chat"


@dataclass
class Published:
    discovery: dict[str, Any]
    training: dict[str, Any]
    test: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # "<id>: why"

    def documents(self) -> dict[str, dict[str, Any]]:
        """URL path -> document."""
        return {DISCOVERY_PATH: self.discovery, TRAINING_PATH: self.training, TEST_PATH: self.test}


def publish_service(bundle: ServiceBundle, limit: int, base_url: str = "") -> Published:
    if bundle.service is None:
        raise ValueError(f"service {bundle.name!r} has no service.yaml")
    svc = bundle.service.spec
    skipped: list[str] = []
    rows = [r for ex in bundle.examples for e in ex.spec.examples for r in _example_rows(e, limit, skipped)]
    edges = [r for ec in bundle.edge_cases for c in ec.spec.edge_cases for r in _edge_rows(c, limit)]
    scenarios = [r for t in bundle.tests for sc in t.spec.scenarios for r in _scenario(sc, skipped)]
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for ts in bundle.toolsets for t in ts.spec.tools]
    sources = Counter(r.get("source", "human") for r in rows)
    dates = sorted(str(r["created_at"]) for r in [*rows, *edges] if r.get("created_at"))
    training = {"service": svc.name, "version": svc.version, "format": FORMAT, "tools": tools,
                "training_examples": rows, "edge_cases": edges,
                "metadata": {"total_examples": len(rows) + len(edges), "human_curated": sources["human"],
                             "production_validated": sources["production"] + sources["production_correction"],
                             "synthetic": sources["synthetic"], "imported": sources["imported"],
                             **({"last_updated": dates[-1]} if dates else {})}}
    test = {"service": svc.name, "version": svc.version, "test_scenarios": scenarios}
    return Published(_discovery(svc, training, test, tools, base_url), training, test, skipped)


def _discovery(svc: s.ServiceSpec, training: dict[str, Any], test: dict[str, Any], tools: list[dict[str, Any]],
               base_url: str) -> dict[str, Any]:
    scenarios = test["test_scenarios"]
    accuracies = [sc["min_accuracy_required"] for sc in scenarios if "min_accuracy_required" in sc]
    consent = svc.consent.model_dump(mode="json", exclude_none=True)
    return {
        "service": svc.name, "version": svc.version, "mcp_version": MCP_VERSION,
        "description": svc.description, "owners": list(svc.owners),
        "endpoints": {"training_dataset": TRAINING_PATH, "test_dataset": TEST_PATH},
        "training_data": {
            "available": bool(training["training_examples"] or training["edge_cases"]),
            "endpoint": base_url + TRAINING_PATH, "authentication": "bearer", "format": FORMAT,
            "metadata": {"total_examples": training["metadata"]["total_examples"],
                         "tools_covered": [t["name"] for t in tools],
                         **({"last_updated": training["metadata"]["last_updated"]}
                            if "last_updated" in training["metadata"] else {}),
                         "quality": "human_curated", "anonymized": True},
            "consent": consent,
            "contact": svc.contact.model_dump(mode="json", exclude_none=True) if svc.contact else {},
        },
        "test_data": {
            "available": bool(scenarios), "endpoint": base_url + TEST_PATH,
            "critical_scenarios": sum(1 for sc in scenarios if sc["priority"] == "critical"),
            "total_scenarios": len(scenarios),
            **({"min_accuracy_required": max(accuracies)} if accuracies else {}),
        },
    }


def _renderings(row: Any, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, query, template values) for each rendering of a row (one when it is no template)."""
    if row.template is None:
        return [(row.id, row.query or "", {})]
    found = expand_queries(row.template, row.vars or {}, limit)
    return [(f"{row.id}-{e.index + 1:03d}", e.query, e.values) for e in found]


def _example_rows(ex: s.ExampleSpec, limit: int, skipped: list[str]) -> list[dict[str, Any]]:
    out = []
    for ident, query, values in _renderings(ex, limit):
        turns = _dialogue(ex.messages) if ex.messages is not None else [{"role": "user", "content": query}]
        if ex.call is not None:
            turns.append(_calls_turn([fill_value(ex.call, values, ("call",))]))
        elif ex.calls is not None:
            turns.append(_calls_turn([fill_value(c, values, ("calls",)) for c in ex.calls]))
        elif ex.sequence is not None:
            for step in ex.sequence:
                turns.append(_calls_turn([fill_value(step.call, values, ("sequence",))]))
                if step.result is not None:
                    turns.append({"role": "tool", "content": json.dumps(step.result, ensure_ascii=False)})
        else:
            turns.append({"role": "assistant", "content": ex.question or ex.response or ex.reason or ""})
        row: dict[str, Any] = {"id": ident, "messages": turns, "source": ex.source, "quality": ex.quality}
        if ex.explanation:
            row["explanation"] = ex.explanation
        if ex.common_mistakes:
            row["common_mistakes"] = [m.model_dump(mode="json", exclude_none=True) for m in ex.common_mistakes]
        if ex.created_at:
            row["created_at"] = ex.created_at.isoformat()
        out.append(row)
    return out


def _dialogue(messages: list[TurnSpec]) -> list[dict[str, Any]]:
    """A dialogue's turns as chat messages, calls in the chapter's form like the answer's
    (`import seed` reads the turns before the last user turn back as `messages:`)."""
    out: list[dict[str, Any]] = []
    for turn in messages:
        if turn.user is not None:
            out.append({"role": "user", "content": turn.user})
        elif turn.assistant is not None:
            out.append({"role": "assistant", "content": turn.assistant})
        elif turn.call is not None or turn.calls is not None:
            out.append(_calls_turn([turn.call] if turn.call is not None else list(turn.calls or [])))
        else:
            out.append({"role": "tool", "content": json.dumps(turn.result, ensure_ascii=False)})
    return out


def _calls_turn(calls: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    items = [{"tool_call": {"name": name, "parameters": args}} for call in calls for name, args in call.items()]
    content = items[0] if len(items) == 1 else items
    return {"role": "assistant", "content": json.dumps(content, ensure_ascii=False)}


def _edge_rows(case: s.EdgeCaseSpec, limit: int) -> list[dict[str, Any]]:
    out = []
    behaviour = case.expect.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    for ident, query, _ in _renderings(case, limit):
        row: dict[str, Any] = {"id": ident, "user_query": query, "correct_behavior": behaviour}
        if case.scenario:
            row["scenario"] = case.scenario
        if case.tool:
            row["tool"] = case.tool
        if case.created_at:
            row["created_at"] = case.created_at.isoformat()
        out.append(row)
    return out


def _scenario(sc: s.ScenarioSpec, skipped: list[str]) -> list[dict[str, Any]]:
    expect = sc.expect
    if expect.one_of is not None:
        skipped.append(f"{sc.id}: a scenario with alternative answers (the test payload holds one expected answer)")
        return []
    if sc.messages is not None or sc.query is None:
        skipped.append(f"{sc.id}: a scenario with a dialogue (a test scenario is one query)")
        return []
    row: dict[str, Any] = {"id": sc.id, "priority": sc.priority, "query": sc.query}
    if expect.call is not None:
        ((name, args),) = expect.call.items()
        row.update(expected_tool=name, expected_params=args)
    elif expect.calls is not None:
        row["expected_calls"] = [{"name": n, "parameters": a} for c in expect.calls for n, a in c.items()]
    elif expect.sequence is not None:
        row["expected_sequence"] = [{"tool": n, "parameters": a, **({"result": st.result} if st.result is not None else {})}
                                    for st in expect.sequence for n, a in st.call.items()]
    else:
        row["expected_action"] = expect.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    if sc.min_accuracy_required is not None:
        row["min_accuracy_required"] = sc.min_accuracy_required
    if sc.category:
        row["category"] = sc.category
    if sc.tags:
        row["tags"] = list(sc.tags)
    return [row]
