"""The `/mcp/test-dataset` payload: `test_scenarios[]`, each a query and what a model
should do with it (`expected_tool` + `expected_params`, `expected_sequence`,
`expected_calls` or `expected_action`), with a priority and an accuracy to reach.
"""

from __future__ import annotations

from typing import Any

from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.conversion import Conversion
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.importers.seed.tool import read_sequence
from mcptrain.locations import Loc


class TestDataset:
    name = "test dataset"
    read_first = False

    def recognises(self, data: dict[str, Any]) -> bool:
        return "test_scenarios" in data and not any(k in data for k in ("tool", "tools", "training_examples"))

    def summarise(self, data: dict[str, Any], parts: list[str]) -> list[str]:
        return parts


def scenario(conv: Conversion, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
    if not isinstance(row, dict):
        raise SeedItemError(loc, f"expected an object (got {describe(row)})")
    conv.keys(doc, loc, row, {"id", "priority", "query", "user_query", "expected_tool", "expected_params",
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
        item["expect"] = {"sequence": read_sequence(conv, doc, (*loc, "expected_sequence"), row["expected_sequence"])}
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
    service = conv.service_for(loc, shapes.row_service(row) or svc, used)
    conv.place(doc, loc, service, "scenarios", item)
