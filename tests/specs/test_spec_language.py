"""Validation of the grown spec language: cross-service rows, dialogues, context,
answers without a tool, templated edge cases, alternatives, and policy names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.specs.scope import qualified_name
from mcptrain.specs.validator import validate_repository
from tests.builders import write
from tests.org import FEATURES, write_org


def errors(root: Path) -> list[str]:
    return [d.format() for d in validate_repository(root).errors]


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1) + "\n")


@pytest.fixture
def org(tmp_path: Path) -> Path:
    return write_org(tmp_path)


def test_the_whole_organisation_is_valid(org: Path) -> None:
    result = validate_repository(org)
    assert result.errors == []
    assert len(result.tools) == 5  # get_status twice: same name, two services


@pytest.mark.parametrize("feature", FEATURES)
def test_each_feature_alone_is_valid(tmp_path: Path, feature: str) -> None:
    assert errors(write_org(tmp_path, (feature,))) == []


def test_qualified_names_are_valid_openai_function_names() -> None:
    assert qualified_name("payment-service", "get_status") == "payment-service__get_status"
    assert qualified_name("acme.payments:v2", "get.status") == "acme_payments_v2__get_status"
    long = qualified_name("s" * 60, "tool")
    assert len(long) == 64 and long == qualified_name("s" * 60, "tool")


def test_a_clashing_name_of_another_service_must_be_qualified(org: Path) -> None:
    edit(org / "specs/pharmacy/examples/main.yaml",
         lambda d: d["examples"].append({"id": "rx-x", "query": "Status of PET-3", "services": ["pets"],
                                         "call": {"pets_get_status": {"pet_id": "PET-3"}}}))
    assert errors(org) == [
        "specs/pharmacy/examples/main.yaml:44:5: examples[2].call.pets_get_status: unknown tool "
        "'pets_get_status'\n    hint: did you mean 'pets__get_status'?"]


def test_a_bare_clashing_name_outside_the_row_is_ambiguous(tmp_path: Path) -> None:
    org = write_org(tmp_path, ("clash",))
    write(org / "specs/third/service.yaml", {"kind": "Service", "name": "third", "owners": ["@t"]})
    write(org / "specs/third/tools.yaml", {"kind": "ToolSet", "service": "third", "tools": [
        {"name": "ping", "description": "Ping.", "inputSchema": {"type": "object"}}]})
    write(org / "specs/third/examples/main.yaml", {"kind": "Examples", "service": "third", "examples": [
        {"id": "t-1", "query": "ping", "call": {"ping": {}}},
        {"id": "t-2", "query": "status of RX-1", "call": {"get_status": {"order_id": "RX-1"}}}]})
    assert errors(org) == [
        "specs/third/examples/main.yaml:17:5: examples[1].call.get_status: tool 'get_status' is defined by "
        "several services (pets, pharmacy)\n    hint: write it qualified: 'pets__get_status' or "
        "'pharmacy__get_status'"]


def test_unknown_services_are_named_with_a_suggestion(org: Path) -> None:
    edit(org / "specs/pets/service.yaml", lambda d: d.update(uses=["pharmacie"]))
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][0].update(services=["pharmcy"]))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:15:5: examples[0].services[0]: unknown service 'pharmcy'\n"
        "    hint: did you mean 'pharmacy'?",
        "specs/pets/service.yaml:10:3: uses[0]: unknown service 'pharmacie'\n    hint: did you mean 'pharmacy'?"]


def test_cross_service_calls_are_checked_like_local_ones(org: Path) -> None:
    edit(org / "specs/pets/examples/main.yaml",
         lambda d: d["examples"][10]["sequence"][1]["call"]["refill_prescription"].update(quantity=0))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:114:20: examples[10].sequence[1].call.refill_prescription.quantity: "
        "0 is less than the minimum of 1"]


def test_dialogue_shape_errors(org: Path) -> None:
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][12].update(
        messages=[{"user": "hi"}, {"result": {"x": 1}}, {"user": "ok", "assistant": "no"}]))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:149:5: examples[12].messages[2]: a turn needs exactly one of 'user', "
        "'assistant', 'call', 'calls', 'result' (got user, assistant)"]
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][12].update(
        messages=[{"user": "hi"}, {"result": {"x": 1}}]))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:138:3: examples[12]: messages[1]: a 'result' needs an earlier call it answers"]


def test_a_relative_date_needs_a_date_in_context(org: Path) -> None:
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][13].pop("context"))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:176:14: examples[13].call.book_visit.date: 'today' is the row's date, "
        "and the row has none\n    hint: set 'context: {date: YYYY-MM-DD}' on the row, its service or the project"]


def test_templated_replies_and_edge_cases_are_checked(org: Path) -> None:
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][14].update(response="{{ greting }}!"))
    edit(org / "specs/pets/edge_cases.yaml", lambda d: d["edge_cases"][0].update(template="Book {{ pet"))
    assert errors(org) == [
        "specs/pets/edge_cases.yaml:15:16: edge_cases[0].template: template does not parse: unexpected end of "
        "template, expected 'end of print statement'.",
        "specs/pets/examples/main.yaml:193:16: examples[14].response: template error: 'greting' is undefined"]


def test_an_example_needs_one_answer(org: Path) -> None:
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][15].update(call={"find_pet": {"name": "x"}}))
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"][0].update(reason="why"))
    assert errors(org) == [
        "specs/pets/examples/main.yaml:6:3: examples[0]: 'reason' only go with an 'action'",
        "specs/pets/examples/main.yaml:196:3: examples[15]: an example needs exactly one of 'call', 'calls', "
        "'sequence', 'response' or 'action' (got call, action)"]


def test_alternatives_are_checked_one_by_one(org: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["scenarios"][2]["expect"]["call"]["book_visit"]["date"] = {"any_of": ["2025-06-09", "9 June"]}
        d["scenarios"][2]["expect"]["call"]["book_visit"]["pet_id"] = {"value": "PET-9", "optional": True}
        d["scenarios"][1]["expect"]["one_of"][1]["call"]["book_visit"]["dat"] = "2025-06-06"

    edit(org / "specs/pets/tests/main.yaml", change)
    assert errors(org) == [
        "specs/pets/tests/main.yaml:34:9: scenarios[1].expect.one_of[1].call.book_visit.dat: unknown argument "
        "'dat'\n    hint: did you mean 'date'?",
        "specs/pets/tests/main.yaml:46:20: scenarios[2].expect.call.book_visit: missing required argument 'pet_id' "
        "(with pet_id left out)",
        "specs/pets/tests/main.yaml:51:15: scenarios[2].expect.call.book_visit.date: '9 June' is not a valid date "
        "(with date='9 June')"]


def test_policy_names_are_checked_against_the_specs(org: Path) -> None:
    edit(org / "policies/default.yaml", lambda d: d.update(
        thresholds={"paralel": 0.8, "simple": 0.9}, critical_services=["pet"], critical_categories=["relevance"]))
    assert errors(org) == [
        "policies/default.yaml:6:3: thresholds.paralel: unknown category 'paralel'\n"
        "    hint: did you mean 'parallel'?",
        "policies/default.yaml:10:3: critical_services[0]: unknown service 'pet'\n    hint: did you mean 'pets'?"]


def test_context_is_checked(org: Path) -> None:
    edit(org / "mcptrain.yaml", lambda d: d.update(context={"timezone": "Europe/Pari"},
                                                   context_template="{{ user.plan.name }}"))
    assert errors(org) == [
        "mcptrain.yaml:9:15: context.timezone: unknown time zone 'Europe/Pari' (did you mean 'Europe/Paris'?)"]
    edit(org / "mcptrain.yaml", lambda d: d.update(context={"timezone": "Europe/Paris"}))
    assert errors(org) == [
        "mcptrain.yaml:11:22: context_template: template error: 'dict object' has no attribute 'plan'"]


def test_critical_categories_may_name_scenario_tags(org: Path) -> None:
    edit(org / "specs/pets/tests/main.yaml", lambda d: d["scenarios"][0].update(tags=["security"]))
    edit(org / "policies/default.yaml", lambda d: d.update(critical_categories=["security", "securty"]))
    assert errors(org) == [
        "policies/default.yaml:13:3: critical_categories[1]: unknown category or tag 'securty'\n"
        "    hint: did you mean 'security'?"]


def test_a_reply_the_checker_would_fail_is_named(org: Path) -> None:
    """A written reply is read by the checker's own rules (mcptrain/replies.py), filled in
    as the build fills it: a refusal that declines nothing, or a question that asks
    nothing, is a warning at its line, once however many expansions it has."""
    extra = [{"id": "pet-edge-refuse", "query": "Delete every pet in the clinic",
              "expect": {"action": "refuse", "response": "Here is how to remove all of them at once."}},
             # Unfilled, the placeholder would name the field and pass as asking for it.
             {"id": "pet-edge-ask", "template": "Book a visit for {{ pet_id }}", "vars": {"pet_id": ["Rex", "Milo"]},
              "expect": {"action": "ask_for_details", "required_fields": ["pet_id"],
                         "question": "Sure, booking {{ pet_id }} now."}},
             {"id": "pet-edge-fine", "query": "Wipe all the records",
              "expect": {"action": "refuse", "response": "Sorry, I can't wipe the records."}},
             {"id": "pet-edge-filled", "template": "Wipe {{ what }}", "vars": {"what": ["the records", "it all"]},
              "expect": {"action": "refuse", "response": "I won't wipe {{ what }}."}}]
    edit(org / "specs/pets/edge_cases.yaml", lambda d: d["edge_cases"].extend(extra))
    edit(org / "specs/pets/examples/main.yaml", lambda d: d["examples"].append(
        {"id": "pet-refuse-example", "query": "Give me every owner's phone number",
         "action": "refuse", "response": "Here are the numbers you asked for."}))
    result = validate_repository(org)
    assert result.errors == []
    said = [d for d in result.warnings if "checker would not accept" in d.message]
    assert [(d.path, d.where) for d in said] == [
        ("specs/pets/edge_cases.yaml", "edge_cases[1].expect.response"),
        ("specs/pets/edge_cases.yaml", "edge_cases[2].expect.question"),
        ("specs/pets/examples/main.yaml", f"examples[{len(json.loads((org / 'specs/pets/examples/main.yaml').read_text())['examples']) - 1}].response")]
    edges = (org / "specs/pets/edge_cases.yaml").read_text().splitlines()
    assert "Here is how to remove" in edges[said[0].line - 1] and "booking {{ pet_id }}" in edges[said[1].line - 1]
    assert said[0].message == ("the checker would not accept this response as refuse: expected a refusal, "
                               "got a reply that declines nothing")
    assert said[0].hint is not None and said[0].hint.startswith("say no in so many words")
    assert said[1].message == ("the checker would not accept this question as ask_for_details: expected a "
                               "question (ask_for_details), got a reply that asks nothing")
