from __future__ import annotations

import copy
from typing import Any

import pytest

from mcptrain.promotion.semver import FIRST_VERSION, bump, compare_surfaces, next_version


def surface() -> dict[str, Any]:
    schema = {"type": "object",
              "properties": {"amount": {"type": "integer", "minimum": 1},
                             "currency": {"type": "string", "enum": ["USD", "EUR"]},
                             "note": {"type": "string"}},
              "required": ["amount"]}
    service = {"owners": ["@acme/payments"],
               "tools": {"create_payment": {"description": "Charge.", "inputSchema": schema},
                         "get_payment": {"description": "Read one.",
                                         "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}},
               "ids": {"examples": ["pay-1", "pay-2"], "edge_cases": [], "scenarios": ["T-1"]},
               "content": {"examples": "e1", "edge_cases": "c1", "vocabulary": "v1", "scenarios": "s1",
                           "service": "x1"}}
    return {"format": 1, "base_model": "base", "backend": "lora", "training": {"learning_rate": 0.002},
            "services": {"payment-service": service}}


def tool(s: dict[str, Any], name: str = "create_payment") -> dict[str, Any]:
    schema: dict[str, Any] = s["services"]["payment-service"]["tools"][name]["inputSchema"]
    return schema


def change(edit: Any) -> tuple[str | None, list[str]]:
    before, after = surface(), surface()
    edit(after)
    result = next_version("1.4.2", before, after)
    return result.level, [r.text for r in result.reasons]


def test_the_first_version_is_1_0_0() -> None:
    result = next_version(None, None, surface())
    assert (result.version, result.level) == (FIRST_VERSION, "major")
    assert [r.text for r in result.reasons] == ["the first version of this model"]


def test_nothing_changed_keeps_the_version() -> None:
    result = next_version("1.4.2", surface(), surface())
    assert (result.level, result.version, result.reasons) == (None, "1.4.2", [])


def _rename_tool(s: dict[str, Any]) -> None:
    tools = s["services"]["payment-service"]["tools"]
    tools["charge"] = tools.pop("create_payment")


def _rename_param(s: dict[str, Any]) -> None:
    props = tool(s)["properties"]
    props["memo"] = props.pop("note")


def _new_service(s: dict[str, Any]) -> None:
    s["services"]["order-service"] = copy.deepcopy(s["services"]["payment-service"])
    s["services"]["order-service"]["tools"] = {}


MAJOR = [
    (lambda s: s["services"]["payment-service"]["tools"].pop("get_payment"),
     "payment-service: tool get_payment removed"),
    (_rename_tool, "payment-service: tool create_payment renamed to charge"),
    (lambda s: tool(s)["properties"].pop("note"), "payment-service: create_payment: parameter note removed"),
    (_rename_param, "payment-service: create_payment: parameter note renamed to memo"),
    (lambda s: tool(s)["properties"]["amount"].update(type="string"),
     "payment-service: create_payment.amount: type changed from integer to string"),
    (lambda s: tool(s)["properties"].update(customer_id={"type": "string"}) or tool(s)["required"].append("customer_id"),
     "payment-service: create_payment: new required parameter customer_id"),
    (lambda s: tool(s)["required"].append("note"), "payment-service: create_payment: parameter note became required"),
    (lambda s: tool(s)["properties"]["currency"]["enum"].remove("EUR"),
     "payment-service: create_payment.currency: enum value 'EUR' removed"),
    (lambda s: tool(s)["properties"]["amount"].update(minimum=100),
     "payment-service: create_payment.amount: minimum tightened: 1 -> 100"),
    (lambda s: s["services"].pop("payment-service"),
     "service payment-service removed (with its tools: create_payment, get_payment)"),
]


@pytest.mark.parametrize(("edit", "reason"), MAJOR)
def test_major_changes(edit: Any, reason: str) -> None:
    level, reasons = change(edit)
    assert level == "major" and reason in reasons, reasons
    assert next_version("1.4.2", surface(), _applied(edit)).version == "2.0.0"


def test_a_narrowed_type_is_major_and_a_widened_one_minor() -> None:
    level, reasons = change(lambda s: tool(s)["properties"]["note"].update(type="integer") or
                            tool(s)["properties"]["amount"].update(type="number"))
    assert "payment-service: create_payment.amount: type widened from integer to number" in reasons
    narrowed_before = surface()
    tool(narrowed_before)["properties"]["amount"]["type"] = "number"
    result = next_version("1.4.2", narrowed_before, surface())
    assert result.level == "major"
    assert [r.text for r in result.reasons] == [
        "payment-service: create_payment.amount: type narrowed from number to integer"]


MINOR = [
    (lambda s: s["services"]["payment-service"]["tools"].update(
        refund={"description": "Refund.", "inputSchema": {"type": "object", "properties": {"x": {"type": "boolean"}}}}),
     "payment-service: tool refund added"),
    (lambda s: tool(s)["properties"].update(customer_id={"type": "string"}),
     "payment-service: create_payment: optional parameter customer_id added"),
    (lambda s: tool(s)["properties"]["currency"]["enum"].append("GBP"),
     "payment-service: create_payment.currency: enum value 'GBP' added"),
    (_new_service, "service order-service added (tools: none)"),
    (lambda s: tool(s)["required"].remove("amount"),
     "payment-service: create_payment: parameter amount is no longer required"),
    (lambda s: tool(s)["properties"]["amount"].pop("minimum"),
     "payment-service: create_payment.amount: minimum 1 dropped"),
]


@pytest.mark.parametrize(("edit", "reason"), MINOR)
def test_minor_changes(edit: Any, reason: str) -> None:
    level, reasons = change(edit)
    assert (level, reasons) == ("minor", [reason])
    assert next_version("1.4.2", surface(), _applied(edit)).version == "1.5.0"


PATCH = [
    (lambda s: s["services"]["payment-service"]["content"].update(examples="e2") or
     s["services"]["payment-service"]["ids"]["examples"].append("pay-3"),
     "payment-service: examples changed (+1 -0)"),
    (lambda s: s["services"]["payment-service"]["content"].update(edge_cases="c2"),
     "payment-service: edge cases changed (+0 -0)"),
    (lambda s: s["services"]["payment-service"]["content"].update(vocabulary="v2"),
     "payment-service: vocabulary changed"),
    (lambda s: s["services"]["payment-service"]["content"].update(scenarios="s2") or
     s["services"]["payment-service"]["ids"]["scenarios"].remove("T-1"),
     "payment-service: test scenarios changed (+0 -1)"),
    (lambda s: s["training"].update(learning_rate=0.001), "hyperparameters: learning_rate 0.002 -> 0.001"),
    (lambda s: s["services"]["payment-service"]["tools"]["create_payment"].update(description="Charge a customer."),
     "payment-service: create_payment: description changed"),
]


@pytest.mark.parametrize(("edit", "reason"), PATCH)
def test_patch_changes(edit: Any, reason: str) -> None:
    level, reasons = change(edit)
    assert (level, reasons) == ("patch", [reason])
    assert next_version("1.4.2", surface(), _applied(edit)).version == "1.4.3"


def test_the_highest_level_wins_and_every_reason_is_listed() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["training"]["learning_rate"] = 0.01
        tool(s)["properties"]["currency"]["enum"].append("GBP")
        tool(s)["properties"].pop("note")

    result = next_version("1.4.2", surface(), _applied(edit))
    assert result.version == "2.0.0"
    assert [r.level for r in result.reasons] == ["major", "minor", "patch"]


def test_a_base_model_change_is_minor() -> None:
    assert compare_surfaces(surface(), _applied(lambda s: s.update(base_model="other")))[0].text == \
        "base model changed: base -> other"


def test_bump_rejects_a_version_that_is_not_semver() -> None:
    with pytest.raises(ValueError, match="not a semantic version: '1.2'"):
        bump("1.2", "patch")


def _applied(edit: Any) -> dict[str, Any]:
    s = surface()
    edit(s)
    return s


def pydantic_surface() -> dict[str, Any]:
    """A tool as FastMCP writes it: a model-typed parameter is a `$ref` into `$defs`, an
    Optional one an anyOf with null."""
    s = surface()
    s["services"]["payment-service"]["tools"]["ship"] = {"description": "Ship.", "inputSchema": {
        "type": "object", "required": ["to"],
        "$defs": {"Address": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "country": {"type": "string", "enum": ["US", "MX"]}}}},
        "properties": {"to": {"$ref": "#/$defs/Address"},
                       "limit": {"anyOf": [{"type": "integer", "maximum": 100}, {"type": "null"}], "default": None}}}}
    return s


def ship(s: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = s["services"]["payment-service"]["tools"]["ship"]["inputSchema"]
    return schema


@pytest.mark.parametrize(("edit", "level", "reason"), [
    (lambda s: ship(s)["$defs"]["Address"]["properties"]["country"]["enum"].remove("MX"), "major",
     "payment-service: ship.to.country: enum value 'MX' removed"),
    (lambda s: ship(s)["$defs"]["Address"]["properties"].update(zip={"type": "string"}), "minor",
     "payment-service: ship.to: optional parameter zip added"),
    (lambda s: ship(s)["properties"]["limit"]["anyOf"][0].update(maximum=50), "major",
     "payment-service: ship.limit.anyOf[0]: maximum tightened: 100 -> 50"),
    (lambda s: ship(s)["properties"]["limit"]["anyOf"].pop(), "major", "payment-service: ship.limit: anyOf changed"),
])
def test_changes_inside_models_and_optionals_are_seen(edit: Any, level: str, reason: str) -> None:
    """A live server's model changed (seen by a user trying `mcptrain drift` on a FastMCP
    server: only a top-level change had been found)."""
    before, after = pydantic_surface(), pydantic_surface()
    edit(after)
    result = next_version("1.4.2", before, after)
    assert result.level == level and reason in [r.text for r in result.reasons], result.reasons
    assert next_version("1.4.2", pydantic_surface(), pydantic_surface()).level is None


def test_a_parameter_named_like_a_data_keyword_is_a_parameter() -> None:
    before = pydantic_surface()
    ship(before)["properties"]["default"] = {"$ref": "#/$defs/Address"}  # a "default address"
    after = copy.deepcopy(before)
    ship(after)["$defs"]["Address"]["properties"]["country"]["enum"].remove("MX")
    assert "payment-service: ship.default.country: enum value 'MX' removed" in [
        r.text for r in next_version("1.4.2", before, after).reasons]


def test_a_model_that_refers_to_itself_is_compared_without_looping() -> None:
    before = pydantic_surface()
    ship(before)["$defs"]["Address"]["properties"]["next"] = {"$ref": "#/$defs/Address"}
    after = copy.deepcopy(before)
    ship(after)["$defs"]["Address"]["properties"]["city"]["type"] = "integer"
    assert "payment-service: ship.to.city: type changed from string to integer" in [
        r.text for r in next_version("1.4.2", before, after).reasons]
