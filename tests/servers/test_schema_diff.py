"""The semver impact of each kind of tool-schema change: promotion's rules, per tool and parameter."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mcptrain.servers.schema_diff import bump_of, diff_tools

BASE: list[dict[str, Any]] = [{
    "name": "create_payment", "description": "Charge.",
    "inputSchema": {"type": "object", "required": ["amount"], "properties": {
        "amount": {"type": "integer"},
        "currency": {"type": "string", "enum": ["USD", "EUR"]},
        "filter": {"type": "object", "properties": {"status": {"type": "string"}}},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}}}]


def _changed(edit: Any) -> list[tuple[str, str, str]]:
    new = copy.deepcopy(BASE)
    edit(new[0]["inputSchema"], new)
    return [(c.subject, c.what, c.impact) for c in diff_tools(BASE, new)]


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda s, t: s["properties"].pop("currency"), [("create_payment.currency", "parameter currency removed", "major")]),
    (lambda s, t: s["properties"]["amount"].update(type="string"),
     [("create_payment.amount", "type changed from integer to string", "major")]),
    (lambda s, t: (s["properties"].update(invoice={"type": "string"}), s["required"].append("invoice")),
     [("create_payment.invoice", "new required parameter invoice", "major")]),
    (lambda s, t: s["required"].append("currency"), [("create_payment.currency", "parameter currency became required", "major")]),
    (lambda s, t: s["properties"]["currency"]["enum"].remove("EUR"),
     [("create_payment.currency", "enum value 'EUR' removed", "major")]),
    (lambda s, t: t.clear(), [("create_payment", "tool create_payment removed", "major")]),
    (lambda s, t: s["properties"]["filter"]["properties"].pop("status"),
     [("create_payment.filter.status", "parameter status removed", "major")]),
    (lambda s, t: s["properties"]["tags"]["items"]["enum"].append("c"),
     [("create_payment.tags[]", "enum value 'c' added", "minor")]),
    (lambda s, t: s["properties"].update(note={"type": "string"}),
     [("create_payment.note", "optional parameter note added", "minor")]),
    (lambda s, t: s["required"].clear(), [("create_payment.amount", "parameter amount is no longer required", "minor")]),
    (lambda s, t: t.append({"name": "refund", "description": "x", "inputSchema": {"type": "object"}}),
     [("refund", "tool refund added", "minor")]),
    (lambda s, t: t[0].update(description="Charge a customer."), [("create_payment", "description changed", "patch")]),
    (lambda s, t: s["properties"]["amount"].update(description="cents"),
     [("create_payment.amount", "description changed", "patch")]),
])
def test_each_change_has_its_impact(edit: Any, expected: list[tuple[str, str, str]]) -> None:
    assert _changed(edit) == expected


def test_the_bump_is_the_strongest_impact() -> None:
    new = copy.deepcopy(BASE)
    new[0]["description"] = "x"
    new[0]["inputSchema"]["properties"]["note"] = {"type": "string"}
    assert bump_of(diff_tools(BASE, new)) == "minor"
    assert bump_of(diff_tools(BASE, BASE)) is None
