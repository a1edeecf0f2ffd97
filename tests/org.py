"""A two-service vet organisation that uses every row shape of the spec language: a
cross-service workflow, clashing tool names, dialogues, context, instructions, templated
no-tool answers and edge cases, and scenarios with alternatives. `features` picks a subset
(the property test writes many), so each shape can also be checked alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.builders import write

FEATURES = ("cross_service", "clash", "dialogue", "context", "instructions", "no_tool_template",
            "edge_template", "one_of", "any_of", "uses")


def tool(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"name": name, "description": description,
            "inputSchema": {"type": "object", "properties": props, "required": required}}


PET_TOOLS = [
    tool("find_pet", "Find a pet by name.", {"name": {"type": "string"}}, ["name"]),
    tool("get_status", "A pet's visit status.", {"pet_id": {"type": "string", "pattern": "^PET-[0-9]+$"}}, ["pet_id"]),
    tool("book_visit", "Book a visit.", {"pet_id": {"type": "string"}, "date": {"type": "string", "format": "date"},
                                         "clinic": {"type": "string"}}, ["pet_id", "date"]),
]
PHARMACY_TOOLS = [
    tool("refill_prescription", "Refill a pet's prescription.",
         {"pet_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "default": 1}}, ["pet_id"]),
    tool("get_status", "A refill order's status.", {"order_id": {"type": "string"}}, ["order_id"]),
]
NAMES = ["Rex", "Milo", "Luna", "Bella", "Max", "Coco"]


def write_org(root: Path, features: tuple[str, ...] = FEATURES, **project: Any) -> Path:
    on = set(features)
    write(root / "mcptrain.yaml", {"kind": "Project", "name": "vet", "dvc": {"enabled": False}, **project,
                                   **({"context": {"timezone": "Europe/Paris"}} if "context" in on else {})})
    pets: dict[str, Any] = {"kind": "Service", "name": "pets", "owners": ["@vet/pets"]}
    if "instructions" in on:
        pets["instructions"] = "Pet ids look like PET-12; find the pet first when only a name is given."
    if "uses" in on:
        pets["uses"] = ["pharmacy"]
    write(root / "specs/pets/service.yaml", pets)
    write(root / "specs/pharmacy/service.yaml", {"kind": "Service", "name": "pharmacy", "owners": ["@vet/rx"],
                                                  **({"context": {"user": {"pharmacy": "Central"}}}
                                                     if "context" in on else {})})
    pharmacy_tools = PHARMACY_TOOLS if "clash" in on else PHARMACY_TOOLS[:1]
    write(root / "specs/pets/tools.yaml", {"kind": "ToolSet", "service": "pets", "tools": PET_TOOLS})
    write(root / "specs/pharmacy/tools.yaml", {"kind": "ToolSet", "service": "pharmacy", "tools": pharmacy_tools})
    write(root / "specs/pets/examples/main.yaml", {"kind": "Examples", "service": "pets",
                                                   "examples": pet_examples(on)})
    write(root / "specs/pharmacy/examples/main.yaml", {"kind": "Examples", "service": "pharmacy", "examples": [
        {"id": "rx-1", "template": "Refill {{ n }} packs for {{ pet }}", "vars": {
            "n": [2, 3, 4], "pet": ["PET-1", "PET-2", "PET-3"]},
         "call": {"refill_prescription": {"pet_id": "{{ pet }}", "quantity": "{{ n }}"}}},
        *([{"id": "rx-2", "query": "Where is refill order RX-9?", "call": {"get_status": {"order_id": "RX-9"}}}]
          if "clash" in on else []),
    ]})
    edge: dict[str, Any] = {"id": "pets-edge-1", "tool": "book_visit",
                            "expect": {"action": "ask_for_details", "required_fields": ["date"]}}
    if "edge_template" in on:
        edge |= {"template": "Book a visit for {{ pet }}", "vars": {"pet": NAMES[:4]}}
    else:
        edge |= {"query": "Book a visit for my dog"}
    write(root / "specs/pets/edge_cases.yaml", {"kind": "EdgeCases", "service": "pets", "edge_cases": [edge]})
    write(root / "specs/pets/tests/main.yaml", {"kind": "TestScenarios", "service": "pets",
                                                "scenarios": pet_scenarios(on)})
    write(root / "policies/default.yaml", {"kind": "GatePolicy", "name": "default",
                                           "thresholds": {"simple": 0.5}, "critical_services": ["pets"]})
    return root


def pet_examples(on: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"id": f"pet-find-{i}", "query": f"Look up the pet called {name}", "call": {"find_pet": {"name": name}}}
        for i, name in enumerate(NAMES)]
    out += [{"id": f"pet-status-{i}", "query": f"How is PET-{i + 10} doing?",
             "call": {"get_status": {"pet_id": f"PET-{i + 10}"}}} for i in range(4)]
    if "cross_service" in on:
        out.append({"id": "pet-refill", "query": "Find Rex and refill his prescription",
                    "sequence": [{"call": {"find_pet": {"name": "Rex"}}, "result": {"pet_id": "PET-7"}},
                                 {"call": {"refill_prescription": {"pet_id": "PET-7"}}}]})
    if "clash" in on:
        out.append({"id": "pet-rx-status", "query": "Status of refill RX-4 and of pet PET-4",
                    "services": ["pharmacy"],
                    "calls": [{"pharmacy__get_status": {"order_id": "RX-4"}}, {"get_status": {"pet_id": "PET-4"}}]})
    if "dialogue" in on:
        out.append({"id": "pet-dialogue", "messages": [
            {"user": "I need to book a visit for Milo"}, {"assistant": "Sure. Which day suits you?"},
            {"user": "2025-07-01 please"}, {"call": {"find_pet": {"name": "Milo"}}}, {"result": {"pet_id": "PET-3"}}],
            "call": {"book_visit": {"pet_id": "PET-3", "date": "2025-07-01"}}})
    if "context" in on:
        out.append({"id": "pet-tomorrow", "query": "Book PET-5 in for tomorrow", "context": {"date": "2025-06-05"},
                    "call": {"book_visit": {"pet_id": "PET-5", "date": "{{ today | plus_days(1) }}"}}})
    if "no_tool_template" in on:
        out.append({"id": "pet-chat", "template": "{{ greeting }}, how are you today?",
                    "vars": {"greeting": ["Hello", "Good morning", "Hey there"]},
                    "response": "{{ greeting }}! I'm well, thanks. How can I help with your pet?"})
        out.append({"id": "pet-refuse", "query": "Prescribe my dog antibiotics without a visit",
                    "action": "refuse", "reason": "only a vet can prescribe after an examination"})
    return out


def pet_scenarios(on: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": "pet-t-1", "priority": "critical", "query": "Please find the animal Nala",
                                  "expect": {"call": {"find_pet": {"name": "Nala"}}}}]
    if "one_of" in on:
        out.append({"id": "pet-t-2", "query": "Book a visit for PET-8",
                    "expect": {"one_of": [{"action": "ask_for_details", "required_fields": ["date"]},
                                          {"call": {"book_visit": {"pet_id": "PET-8", "date": "2025-06-06"}}}]}})
    if "any_of" in on:
        out.append({"id": "pet-t-3", "query": "Book PET-9 at the Downtown clinic on 2025-06-09",
                    "expect": {"call": {"book_visit": {"pet_id": "PET-9", "date": "2025-06-09", "clinic": {
                        "any_of": ["Downtown", "Downtown clinic"], "optional": True}}}}})
    if "context" in on:
        out.append({"id": "pet-t-4", "query": "Can PET-2 come in next Tuesday?", "context": {"date": "2025-06-05"},
                    "expect": {"call": {"book_visit": {"pet_id": "PET-2",
                                                       "date": "{{ today | next_weekday('tuesday') }}"}}}})
    if "dialogue" in on:
        out.append({"id": "pet-t-5", "messages": [
            {"user": "My cat needs a checkup"}, {"assistant": "What's your cat's name?"}, {"user": "Her name is Coco"}],
            "expect": {"call": {"find_pet": {"name": "Coco"}}}})
    if "cross_service" in on:
        out.append({"id": "pet-t-6", "query": "Get Bella's pills refilled, 2 packs",
                    "expect": {"sequence": [{"call": {"find_pet": {"name": "Bella"}}, "result": {"pet_id": "PET-1"}},
                                            {"call": {"refill_prescription": {"pet_id": "PET-1", "quantity": 2}}}]}})
    return out
