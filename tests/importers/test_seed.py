from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import Diagnostic
from mcptrain.importers.json_document import JsonDocument, read_json
from mcptrain.importers.seed import SeedImport, document_kind, plan_import, spec_files
from mcptrain.specs.loader import Specs, load_specs
from mcptrain.specs.yaml import parse_document
from tests.conftest import HERE

FIXTURES = HERE / "fixtures" / "seed"
ALL = ["create_payment.json", "get_customer_by_name.json", "get_payments.json",
       "mcp-training-data.json", "test-dataset.json", "training-dataset.json"]


def fixture(name: str) -> JsonDocument:
    diags: list[Diagnostic] = []
    doc = read_json(FIXTURES / name, name, diags)
    assert doc is not None, diags
    return doc


def document(data: dict[str, Any] | str, name: str = "seed.json") -> JsonDocument:
    text = data if isinstance(data, str) else json.dumps(data, indent=2)
    return JsonDocument(name, text, json.loads(text))


def empty() -> Specs:
    return Specs(root=Path("."), project=None, services={}, policies=[])


def plan(*docs: JsonDocument, existing: Specs | None = None) -> SeedImport:
    return plan_import(list(docs), existing or empty())


def spec(result: SeedImport, rel: str) -> Any:
    (text,) = [f.text for f in result.files if f.rel == rel]
    return parse_document(text.encode(), rel).data


def messages(result: SeedImport) -> list[str]:
    return [d.format() for d in result.diagnostics]


TOOL = {"name": "create_payment", "description": "Charge.",
        "inputSchema": {"type": "object", "properties": {"amount": {"type": "integer"},
                                                         "status": {"type": "string"}}}}


# ---------------------------------------------------------------- documents


@pytest.mark.parametrize(("name", "kind"), [
    ("create_payment.json", "per-tool document"),
    ("training-dataset.json", "training dataset"),
    ("test-dataset.json", "test dataset"),
    ("mcp-training-data.json", "discovery document"),
])
def test_document_kind_comes_from_the_keys(name: str, kind: str) -> None:
    assert document_kind(fixture(name).data) == kind


def test_a_document_of_another_kind_is_an_error() -> None:
    result = plan(document({"foo": 1, "bar": []}))
    assert messages(result) == [
        "seed.json:1:1: not a seed document: expected 'tool', 'training_examples', 'test_scenarios' "
        "or 'endpoints' at the top level (found 'foo', 'bar')"
    ]
    assert result.files == []


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "service": "payment-service",\n  "tool": {"name": "x",}\n}\n')
    diags: list[Diagnostic] = []
    assert read_json(path, "broken.json", diags) is None
    assert [d.format() for d in diags] == [
        "broken.json:3:24: invalid JSON: Expecting property name enclosed in double quotes"
    ]


@pytest.mark.parametrize(("raw", "message"), [
    (b"[1, 2]", "x.json:1:1: expected a JSON object at the top level (got an array)"),
    (b'{"a": "\xff"}', "x.json:1:8: file is not valid UTF-8 (byte 0xff)"),
    (b"[" * 100_000, "x.json:1:1: invalid JSON: nesting is too deep"),
])
def test_unreadable_documents(tmp_path: Path, raw: bytes, message: str) -> None:
    (tmp_path / "x.json").write_bytes(raw)
    diags: list[Diagnostic] = []
    assert read_json(tmp_path / "x.json", "x.json", diags) is None
    assert [d.format() for d in diags] == [message]


def test_positions_of_json_paths() -> None:
    doc = document('{"a": [1, {"b": {"c": 2}}], "d":\n  "e"}')
    assert doc.position(("a", 1, "b", "c")) == (1, 23)
    assert doc.position(("d",)) == (2, 3)
    assert doc.position(("a", 7)) == (1, 7)  # missing: the deepest part that exists
    assert doc.position(("zz", "y")) == (1, 1)


# ---------------------------------------------------------------- the whole seed


@pytest.fixture(scope="module")
def imported() -> SeedImport:
    return plan(*(fixture(n) for n in ALL))


def test_the_seed_becomes_one_service(imported: SeedImport) -> None:
    assert [(f.rel, f.summary) for f in imported.files] == [
        ("specs/payment/service.yaml", "payment-service"),
        ("specs/payment/tools.yaml", "3 tools"),
        ("specs/payment/examples/imported.yaml", "12 examples"),
        ("specs/payment/edge_cases.yaml", "5 edge cases"),
        ("specs/payment/tests/imported.yaml", "4 scenarios"),
        ("specs/payment/vocabulary.yaml", "2 terms, 1 rule"),
    ]
    assert imported.summaries == {
        "create_payment.json": "per-tool document (1 tool; 4 examples; 3 edge cases; 1 vocabulary rule; 1 vocabulary term)",
        "get_customer_by_name.json": "per-tool document (1 tool; 2 examples)",
        "get_payments.json": "per-tool document (1 tool; 3 examples; 1 edge case; 1 vocabulary term)",
        "mcp-training-data.json": "discovery document (payment-service 1.2.0; endpoints not fetched: "
                                  "training_dataset, test_dataset, tools; download and import them too)",
        "test-dataset.json": "test dataset (4 scenarios)",
        "training-dataset.json": "training dataset (3 examples; 1 edge case; 1 already present)",
    }
    assert messages(imported) == [
        "create_payment.json:79:16: warning: domain_vocabulary.refunds: not imported: 'refunds' is not a "
        "parameter of create_payment\n    hint: name the parameter as 'tool.parameter' to import it as a rule or term; it is kept as a comment in "
            "vocabulary.yaml",
        "mcp-training-data.json:6:32: warning: mcp_training_data_version: ignored key "
        "'mcp_training_data_version'; mcptrain has no place for it",
    ]


def test_files_start_with_a_modeline_and_their_sources(imported: SeedImport) -> None:
    texts = {f.rel: f.text.splitlines() for f in imported.files}
    assert texts["specs/payment/service.yaml"][:2] == [
        "# yaml-language-server: $schema=../../schemas/Service.json",
        "# Imported by `mcptrain import seed` from mcp-training-data.json; edit freely.",
    ]
    assert texts["specs/payment/tests/imported.yaml"][0] == (
        "# yaml-language-server: $schema=../../../schemas/TestScenarios.json")


def test_service_comes_from_the_discovery_document(imported: SeedImport) -> None:
    assert spec(imported, "specs/payment/service.yaml") == {
        "apiVersion": "mcptrain/v1", "kind": "Service", "name": "payment-service", "version": "1.2.0",
        "owners": ["@acme/payments"], "description": "Charges, refunds and payment status.",
    }


def test_per_tool_examples(imported: SeedImport) -> None:
    examples = spec(imported, "specs/payment/examples/imported.yaml")["examples"]
    assert [e["id"] for e in examples] == [f"payment-seed-{n:03d}" for n in range(1, 13)]
    assert all(e["source"] == "imported" for e in examples)
    assert examples[0] == {
        "id": "payment-seed-001",
        "query": "Charge customer $50 for invoice INV-123",
        "call": {"create_payment": {"amount": 5000, "currency": "USD", "invoice_id": "INV-123"}},
        "explanation": "Amounts are always in cents.",
        "common_mistakes": [
            {"wrong": {"create_payment": {"amount": 50}}, "reason": "amount must be in cents"},
            {"wrong": {"create_payment": {"amount": "$50", "invoice_id": "INV-123"}},
             "reason": "amount is an integer, not a string"},
        ],
        "source": "imported",
    }
    # a mistake given as plain text joins the explanation rather than being lost
    assert examples[1]["explanation"] == (
        "Common mistake: Leaving currency at its USD default when the user names another one")


def test_sequences_keep_results_and_fill_placeholders(imported: SeedImport) -> None:
    example = spec(imported, "specs/payment/examples/imported.yaml")["examples"][3]
    assert example["sequence"][1] == {
        "call": {"get_payments": {"customer_id": "C-17", "status": "pending"}},  # was "{{customer_id}}"
        "result": {"payments": [{"invoice_id": "INV-7", "amount": 4200}]},
    }


def test_training_dataset_messages(imported: SeedImport) -> None:
    examples = spec(imported, "specs/payment/examples/imported.yaml")["examples"]
    by_query = {e["query"]: e for e in examples}
    assert by_query["Put through a 30 dollar charge on invoice INV-55"]["call"] == {
        "create_payment": {"amount": 3000, "currency": "USD", "invoice_id": "INV-55"}}
    assert by_query["Are payments for C-1 and C-2 still pending?"]["calls"] == [
        {"get_payments": {"customer_id": "C-1", "status": "pending"}},
        {"get_payments": {"customer_id": "C-2", "status": "pending"}},
    ]
    assert by_query["Has Priya got any failed payments?"]["sequence"] == [
        {"call": {"get_customer_by_name": {"name": "Priya"}}, "result": {"customer_id": "C-42"}},
        {"call": {"get_payments": {"customer_id": "C-42", "status": "failed"}}, "result": {"payments": []}},
    ]
    edge = spec(imported, "specs/payment/edge_cases.yaml")["edge_cases"][-1]
    assert edge == {"id": "payment-seed-edge-005", "query": "Thanks, that's all for today!",
                    "expect": {"action": "no_tool", "response": "You're welcome. Have a good day!"}}


def test_edge_cases(imported: SeedImport) -> None:
    cases = spec(imported, "specs/payment/edge_cases.yaml")["edge_cases"]
    assert cases[0] == {
        "id": "payment-seed-edge-001", "scenario": "Ambiguous amount", "query": "Charge them twenty",
        "tool": "create_payment",
        "expect": {"action": "clarify", "question": "Did you mean $20.00, and which customer?"},  # ask_clarification
    }
    assert cases[1]["expect"] == {"action": "ask_for_details", "reason": "Nothing to charge and no one to charge it to.",
                                  "required_fields": ["amount", "customer_id"]}
    assert cases[2]["expect"]["action"] == "refuse"


def test_vocabulary(imported: SeedImport) -> None:
    voc = spec(imported, "specs/payment/vocabulary.yaml")
    assert voc["terms"] == [
        {"parameter": "create_payment.currency",  # phrase -> value
         "values": {"USD": ["dollars", "bucks"], "EUR": ["euros"], "GBP": ["pounds", "quid"]}},
        {"parameter": "get_payments.status",  # value -> phrases, from a list-shaped domain_vocabulary
         "values": {"pending": ["waiting", "in progress", "not done"], "completed": ["done", "went through"],
                    "failed": ["declined", "bounced"]}},
    ]
    assert voc["rules"] == [{
        "parameter": "create_payment.amount", "unit": "cents", "rule": "Always convert to cents",
        "examples": [{"user_says": "$50", "value": 5000}, {"user_says": "fifty bucks", "value": 5000},
                     {"user_says": "$7.99", "value": 799}],
    }]
    text = next(f.text for f in imported.files if f.rel.endswith("vocabulary.yaml"))
    assert ('# Not imported (no such parameter); map them by hand:\n#   create_payment.json domain_vocabulary.refunds: '
            '{"rule": "A refund is never a negative payment; use refund_payment"}\n') in text


def test_test_scenarios(imported: SeedImport) -> None:
    scenarios = spec(imported, "specs/payment/tests/imported.yaml")["scenarios"]
    assert [s["id"] for s in scenarios] == ["PAY-T-001", "PAY-T-002", "PAY-T-003", "PAY-T-004"]
    assert scenarios[0] == {
        "id": "PAY-T-001", "priority": "critical", "query": "Bill the customer fifty bucks on invoice INV-123",
        "expect": {"call": {"create_payment": {"amount": 5000, "invoice_id": "INV-123"}}},
        "min_accuracy_required": 0.98,
    }
    assert scenarios[1]["min_accuracy_required"] == 0.95  # given as 95
    assert (scenarios[2]["priority"], scenarios[2]["tags"]) == ("normal", ["seed-priority:medium"])
    assert scenarios[3]["expect"] == {"action": "no_tool"}  # expected_tool: null


# ---------------------------------------------------------------- an existing repository


def test_importing_again_adds_nothing(tmp_path: Path, imported: SeedImport) -> None:
    for f in imported.files:
        (tmp_path / f.rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.rel).write_text(f.text)
    again = plan(*(fixture(n) for n in ALL), existing=load_specs(tmp_path)[0])
    assert again.files == []
    assert again.summaries["create_payment.json"] == "per-tool document (9 already present)"


def test_ids_skip_those_in_use_and_the_service_folder_is_reused(good_project: Path) -> None:
    existing, _ = load_specs(good_project)
    data = {"service": "payment-service", "training_examples": [
        {"user_query": "Charge 5 dollars to C-9", "correct_tool": "create_payment",
         "correct_parameters": {"amount": 500}, "id": "pay-001"},
        {"user_query": "Charge 6 dollars to C-9", "correct_tool": "create_payment",
         "correct_parameters": {"amount": 600}}]}
    result = plan(document(data), existing=existing)
    assert [f.rel for f in result.files] == ["specs/payment/examples/imported.yaml"]  # service.yaml exists
    ids = [e["id"] for e in spec(result, "specs/payment/examples/imported.yaml")["examples"]]
    assert ids == ["payment-seed-001", "payment-seed-002"]
    assert messages(result) == [
        "seed.json:10:13: warning: training_examples[0].id: id 'pay-001' is already used or not a valid id; "
        "imported as 'payment-seed-001'"]


def test_a_tool_that_differs_from_the_repository_is_not_imported(good_project: Path) -> None:
    existing, _ = load_specs(good_project)
    result = plan(document({"service": "payment-service", "tool": TOOL}), existing=existing)
    assert result.files == []
    assert messages(result) == [
        "seed.json:4:13: warning: tool.name: tool 'create_payment' is already defined in "
        "specs/payment/tools.yaml with a different inputSchema; not imported\n"
        "    hint: compare the two and update the spec by hand"]


def test_a_test_dataset_alone_goes_to_the_repositorys_service(good_project: Path) -> None:
    existing, _ = load_specs(good_project)
    result = plan(fixture("test-dataset.json"), existing=existing)
    assert [f.rel for f in result.files] == ["specs/payment/tests/imported.yaml"]
    tests = spec(result, "specs/payment/tests/imported.yaml")
    assert tests["service"] == "payment-service"
    # PAY-T-001's query is already a scenario of the good project
    assert [s["id"] for s in tests["scenarios"]] == ["PAY-T-002", "PAY-T-003", "PAY-T-004"]
    assert result.summaries == {"test-dataset.json": "test dataset (3 scenarios; 1 already present)"}


def test_a_test_dataset_alone_in_an_empty_repository_is_an_error() -> None:
    result = plan(fixture("test-dataset.json"))
    assert messages(result)[0] == (
        "test-dataset.json:3:5: test_scenarios[0]: cannot tell which service this belongs to\n"
        "    hint: add \"service\" to the document (or its metadata), or import it together with the "
        "service's per-tool or discovery document")
    assert len(result.errors) == 4 and result.files == []


# ---------------------------------------------------------------- tolerance and errors


def test_every_problem_is_reported_at_its_json_path() -> None:
    text = """{
  "service": "payment-service",
  "tool": {"name": "create_payment", "description": "Charge.", "inputSchema": {"type": "object", "properties": {"amount": {"type": "integer"}}}},
  "training_examples": [
    {"user_query": "Charge $5", "correct_tool": "create_payment", "correct_parameters": "{\\"amount\\": 5"},
    {"user_query": 42, "correct_tool": "create_payment", "correct_parameters": {}},
    {"user_query": "Charge $7", "correct_tool": "create_payment", "correct_parameters": {},
     "common_mistakes": [{"wrong_parameters": {"amount": 7}}]}
  ],
  "edge_cases": [
    {"user_query": "Charge them", "correct_behavior": {"action": "guess"}},
    {"user_query": "Charge", "correct_behavior": {"action": "ask_for_details"}}
  ],
  "domain_vocabulary": {"amount": {"our_values": ["a", "b"], "user_might_say": ["x"]}},
  "test_scenarios": [{"query": "Charge 3", "priority": "urgent", "expected_tool": "create_payment"}]
}"""
    result = plan(document(text, "bad.json"))
    assert [d.format() for d in result.errors] == [
        "bad.json:5:89: training_examples[0].correct_parameters: arguments are not valid JSON: "
        "Expecting ',' delimiter (at character 13)",
        "bad.json:6:20: training_examples[1].user_query: expected a non-empty string (got a number)",
        "bad.json:8:26: training_examples[2].common_mistakes[0]: a common mistake needs a 'reason'",
        "bad.json:11:66: edge_cases[0].correct_behavior.action: expected one of 'clarify', "
        "'ask_for_details', 'refuse', 'no_tool' (got 'guess')",
        "bad.json:12:5: edge_cases[1]: cannot convert: expect: action 'ask_for_details' needs 'required_fields'",
        "bad.json:15:56: test_scenarios[0].priority: expected one of 'critical', 'high', 'normal' (got 'urgent')",
        "bad.json:14:80: domain_vocabulary.amount.user_might_say: a list of phrases needs exactly one value "
        "in 'our_values' to map to (got 2)\n    hint: map each phrase: {\"waiting\": \"pending\"}",
    ]
    assert result.files == []


def test_tolerated_variants() -> None:
    data = {
        "service": {"name": "billing", "version": "v2.1", "owners": [{"team": "@acme/billing"}]},
        "tool": {"type": "function", "function": {"name": "bill", "description": "Bill.", "parameters": {
            "type": "object", "properties": {"status": {"type": "string", "enum": ["open", "paid"]}}}}},
        "training_examples": [
            {"query": "Bill it", "correct_sequence": [{"name": "bill", "arguments": "{\"status\": \"open\"}"}]},
            {"user_query": "Mark it paid", "parameters": {"status": "paid"}, "created_at": "2025-03-04T10:00:00Z"},
            {"user_query": "Do the thing", "correct_behavior": {"action": "Ask for more info",
                                                                 "required_fields": "status"}},
        ],
        "domain_vocabulary": {"bill.status": {"our_values": ["paid"], "user_might_say": ["settled", "done"]}},
    }
    result = plan(document(data))
    assert result.errors == []
    assert spec(result, "specs/billing/service.yaml")["version"] == "2.1.0"
    assert spec(result, "specs/billing/service.yaml")["owners"] == ["@acme/billing"]
    assert spec(result, "specs/billing/tools.yaml")["tools"][0]["inputSchema"]["properties"]["status"]["enum"] == ["open", "paid"]
    examples = spec(result, "specs/billing/examples/imported.yaml")["examples"]
    assert examples[0]["sequence"] == [{"call": {"bill": {"status": "open"}}}]
    assert examples[1]["call"] == {"bill": {"status": "paid"}}  # the document's only tool
    assert examples[1]["created_at"] == "2025-03-04"
    case = spec(result, "specs/billing/edge_cases.yaml")["edge_cases"][0]
    assert case["expect"] == {"action": "ask_for_details", "required_fields": ["status"]}
    assert spec(result, "specs/billing/vocabulary.yaml")["terms"] == [
        {"parameter": "bill.status", "values": {"paid": ["settled", "done"]}}]


def test_placeholders_no_result_provides_are_warned_about() -> None:
    data = {"service": "s", "tool": TOOL, "training_examples": [{"user_query": "Pay it", "correct_sequence": [
        {"tool": "create_payment", "parameters": {"status": "{{ status }}"}}]}]}
    result = plan(document(data))
    assert messages(result)[0] == (
        "seed.json:22:9: warning: training_examples[0].correct_sequence[0]: '{{ status }}' refers to a value "
        "no earlier step's result provides; the model would learn to write it literally\n"
        "    hint: add the earlier step's 'result'")


def test_a_service_without_owners_is_warned_about() -> None:
    result = plan(document({"service": "s", "tool": TOOL}))
    assert messages(result) == [
        "seed.json:2:14: warning: service: service 's' has no owners; `mcptrain validate` requires them\n"
        "    hint: add 'owners: [\"@org/team\"]' to specs/s/service.yaml"]


def test_conversations_with_several_user_turns_become_dialogues() -> None:
    data = {"service": "s", "tool": TOOL, "training_examples": [{"messages": [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "I want to pay"}, {"role": "assistant", "content": "How much?"},
        {"role": "user", "content": "50 cents"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "create_payment", "arguments": '{"amount": 50}'}}]},
    ]}, {"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"}, {"role": "assistant", "content": "Goodbye!"}]}]}
    result = plan(document(data))
    examples = spec(result, "specs/s/examples/imported.yaml")["examples"]
    assert [e["messages"] for e in examples] == [
        [{"user": "I want to pay"}, {"assistant": "How much?"}, {"user": "50 cents"}],
        [{"user": "hi"}, {"assistant": "hello"}, {"user": "bye"}]]
    assert examples[0]["call"] == {"create_payment": {"amount": 50}}
    assert (examples[1]["action"], examples[1]["response"]) == ("no_tool", "Goodbye!")


def test_production_context_becomes_a_dialogue_or_the_row_context() -> None:
    data = {"service": "s", "tool": TOOL, "training_examples": [
        {"user_query": "the same again", "correct_tool": "create_payment", "correct_parameters": {"amount": 70},
         "context": [{"role": "user", "content": "pay 70 cents"},
                     {"role": "assistant", "tool_calls": [{"function": {"name": "create_payment",
                                                                       "arguments": {"amount": 70}}}]},
                     {"role": "tool", "content": '{"status": "ok"}'}]},
        {"user_query": "pay my usual", "correct_tool": "create_payment", "correct_parameters": {"amount": 90},
         "context": {"date": "2025-06-05T10:00:00Z", "plan": "pro", "nested": {"dropped": 1}}}]}
    result = plan(document(data))
    first, second = spec(result, "specs/s/examples/imported.yaml")["examples"]
    assert first["messages"] == [{"user": "pay 70 cents"}, {"call": {"create_payment": {"amount": 70}}},
                                 {"result": {"status": "ok"}}, {"user": "the same again"}]
    assert "query" not in first
    assert (second["query"], second["context"]) == ("pay my usual", {"date": "2025-06-05", "user": {"plan": "pro"}})


def test_big_imports_are_split_into_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_files, "CHUNK", 2)
    rows = [{"user_query": f"Charge {n} cents", "correct_parameters": {"amount": n}} for n in range(1, 6)]
    result = plan(document({"service": "s", "tool": TOOL, "training_examples": rows}))
    assert [(f.rel, f.summary) for f in result.files if "examples" in f.rel] == [
        ("specs/s/examples/imported.yaml", "2 examples"),
        ("specs/s/examples/imported-2.yaml", "2 examples"),
        ("specs/s/examples/imported-3.yaml", "1 example"),
    ]


def test_scenario_shapes() -> None:
    data = {"service": "s", "tool": TOOL, "test_scenarios": [
        {"id": "T-1", "query": "Pay 1 then 2", "expected_sequence": [
            {"tool": "create_payment", "parameters": {"amount": 1}},
            {"tool": "create_payment", "parameters": {"amount": 2}}]},
        {"id": "T-2", "query": "Pay 3 and 4", "expected_calls": [
            {"tool": "create_payment", "parameters": {"amount": 3}},
            {"create_payment": {"amount": 4}}]},
        {"id": "T-3", "query": "Pay someone", "priority": "P0", "min_accuracy_required": "90%",
         "expected_action": {"action": "ask_for_details", "required_fields": ["amount"]}},
        {"id": "T-4", "query": "Is it sunny?", "expected_behavior": "respond directly"},
    ]}
    result = plan(document(data))
    assert result.errors == []
    scenarios = spec(result, "specs/s/tests/imported.yaml")["scenarios"]
    assert [s["expect"] for s in scenarios] == [
        {"sequence": [{"call": {"create_payment": {"amount": 1}}}, {"call": {"create_payment": {"amount": 2}}}]},
        {"calls": [{"create_payment": {"amount": 3}}, {"create_payment": {"amount": 4}}]},
        {"required_fields": ["amount"], "action": "ask_for_details"},
        {"action": "no_tool"},
    ]
    assert (scenarios[2]["priority"], scenarios[2]["min_accuracy_required"]) == ("critical", 0.9)


def test_tools_carried_by_openai_rows_are_imported_once() -> None:
    fn = {"type": "function", "function": {"name": "refund", "description": "Refund a payment.", "strict": True,
                                           "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}
    rows = [{"tools": [fn], "messages": [{"role": "user", "content": f"Refund P-{n}"}, {"role": "assistant",
             "tool_calls": [{"function": {"name": "refund", "arguments": {"id": f"P-{n}"}}}]}]} for n in (1, 2)]
    result = plan(document({"training_examples": rows, "metadata": {"service": "refunds"}}))
    assert [f.rel for f in result.files] == ["specs/refunds/service.yaml", "specs/refunds/tools.yaml",
                                             "specs/refunds/examples/imported.yaml"]
    assert spec(result, "specs/refunds/tools.yaml")["tools"] == [
        {"name": "refund", "description": "Refund a payment.",
         "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}]


def test_an_edge_case_that_is_really_a_call_becomes_an_example() -> None:
    data = {"service": "s", "tool": TOOL, "edge_cases": [
        {"scenario": "Clear enough", "user_query": "Charge 5 cents",
         "correct_behavior": {"action": "proceed", "tool": "create_payment", "parameters": {"amount": 5}}}]}
    result = plan(document(data))
    assert [e["call"] for e in spec(result, "specs/s/examples/imported.yaml")["examples"]] == [
        {"create_payment": {"amount": 5}}]


def test_conflicting_service_details_keep_the_discovery_documents() -> None:
    discovery = document({"name": "s", "version": "2.0.0", "owners": "@acme/s", "endpoints": {}}, "d.json")
    per_tool = document({"service": "s", "version": "1.0.0", "tool": TOOL}, "t.json")
    result = plan(per_tool, discovery)
    assert spec(result, "specs/s/service.yaml")["version"] == "2.0.0"
    assert messages(result) == [
        "t.json:3:14: warning: version: version '1.0.0' differs from '2.0.0' given earlier; keeping '2.0.0'"]


@pytest.mark.parametrize(("data", "message"), [
    ({"service": "no good", "tool": TOOL},
     "seed.json:2:14: service: expected a service name of letters, digits, '.', '_', ':', '-' (got 'no good')"),
    ({"service": "s", "version": "one", "tool": TOOL},
     "seed.json:3:14: version: expected a version like '1.2.0' (got 'one')"),
    ({"service": "s", "tool": TOOL, "domain_vocabulary": [{"rule": "cents"}]},
     "seed.json:19:5: domain_vocabulary[0]: a vocabulary entry in a list needs 'parameter' (or 'term')"),
    ({"service": "s", "tool": TOOL, "training_examples": {"user_query": "x"}},
     "seed.json:18:24: training_examples: expected an array (got an object)"),
])
def test_document_level_errors(data: dict[str, Any], message: str) -> None:
    assert messages(plan(document(data)))[0] == message


def test_the_chapters_training_rows_keep_source_quality_explanation_and_mistakes() -> None:
    call = {"tool_call": {"name": "create_payment", "parameters": {"amount": 7250}}}
    parallel = [{"tool_call": {"name": "create_payment", "parameters": {"amount": a}}} for a in (100, 200)]
    data = {"service": "payment-service", "tools": [TOOL], "training_examples": [
        {"source": "production_correction", "quality": "high", "explanation": "Amounts are in cents.",
         "common_mistakes": [{"wrong_parameters": {"amount": 725000}, "reason": "dollars x100 twice"},
                             "forgetting the currency"],
         "messages": [{"role": "user", "content": "Charge $72.50"},
                      {"role": "assistant", "content": json.dumps(call)}]},
        {"source": "synthetic", "quality": "medium",
         "messages": [{"role": "user", "content": "Charge one and two dollars"},
                      {"role": "assistant", "content": json.dumps(parallel)}]},
        {"source": "the moon", "quality": "stellar",
         "messages": [{"role": "user", "content": "Charge three dollars"},
                      {"role": "assistant", "content": json.dumps({"tool_call": {"name": "create_payment",
                                                                                  "parameters": {"amount": 300}}})}]},
    ]}
    result = plan(document(data))
    first, second, third = spec(result, "specs/payment/examples/imported.yaml")["examples"]
    assert first == {"id": "payment-seed-001", "query": "Charge $72.50", "call": {"create_payment": {"amount": 7250}},
                     "source": "production_correction", "quality": "gold",
                     "explanation": "Amounts are in cents.\nCommon mistake: forgetting the currency",
                     "common_mistakes": [{"wrong": {"create_payment": {"amount": 725000}},
                                          "reason": "dollars x100 twice"}]}
    assert second["calls"] == [{"create_payment": {"amount": 100}}, {"create_payment": {"amount": 200}}]
    assert (second["source"], second["quality"]) == ("synthetic", "silver")
    assert (third["source"], "quality" in third) == ("imported", False)
    assert [m.split("warning: ", 1)[-1] for m in messages(result) if "unknown" in m] == [
        "training_examples[2].source: unknown source 'the moon' (expected one of correction, developer, generated, human, human_curated, "
        "imported, manual, production, production_correction, production_validated, synthetic); not kept",
        "training_examples[2].quality: unknown quality 'stellar' (expected one of bronze, gold, high, human_curated, low, medium, silver); "
        "not kept"]


# ---------------------------------------------------------------- the chapter's own per-tool document

PAYMENT_TOOLS = {"service": "payment-service", "tools": [
    {"name": "create_payment", "description": "Charge a customer.", "inputSchema": {"type": "object", "properties": {
        "amount": {"type": "integer"}, "currency": {"type": "string"}, "invoice_id": {"type": "string"},
        "customer_id": {"type": "string"}}, "required": ["amount"]}},
    {"name": "get_customer_by_name", "description": "Find a customer.", "inputSchema": {
        "type": "object", "properties": {"name": {"type": "string"}}}},
    {"name": "get_latest_order", "description": "A customer's latest order.", "inputSchema": {
        "type": "object", "properties": {"customer_id": {"type": "string"}}}},
    {"name": "get_payments", "description": "List payments.", "inputSchema": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed", "refunded"]}}}}]}


def test_the_chapter_s_per_tool_document_imports_as_printed() -> None:
    """`"tool": "create_payment"` (a string), `{prev.field}` references and `domain_vocabulary`,
    exactly as the design chapter prints them."""
    result = plan(fixture("chapter_per_tool.json"), document(PAYMENT_TOOLS, "tools.json"))
    assert [d for d in messages(result) if ": error:" in d or "ignored key" in d or "not imported" in d] == []
    (sequence,) = [e for e in spec(result, "specs/payment/examples/imported.yaml")["examples"]
                   if "sequence" in e]
    assert [s["call"] for s in sequence["sequence"]] == [
        {"get_customer_by_name": {"name": "John"}},
        {"get_latest_order": {"customer_id": "CUSTOMER-ID-1"}},
        {"create_payment": {"amount": 2200, "customer_id": "CUSTOMER-ID-1"}}]
    assert [s.get("result") for s in sequence["sequence"]] == [{"customer_id": "CUSTOMER-ID-1"},
                                                                 {"order_total": 2200}, None]
    assert sum("stand-in values" in m for m in messages(result)) == 2  # each invented result is reported
    vocabulary = spec(result, "specs/payment/vocabulary.yaml")
    rules = {r["parameter"]: r for r in vocabulary["rules"]}
    assert rules["create_payment.amount"]["unit"] == "cents"
    assert rules["create_payment.amount"]["examples"][0] == {"user_says": "$10", "value": 1000}
    assert rules["get_latest_order.customer_id"]["rule"] == (
        "Customer identification: use customer_id or email; never name alone. "
        "Names are not unique, always confirm with ID or email")
    (term,) = vocabulary["terms"]
    assert term["parameter"] == "get_payments.status"
    assert term["values"]["completed"] == ["successful", "done", "went through"]

    # The decoder reads the imported term as printed (said values, training/grounding.py).
    from mcptrain.training.grounding import said_values

    (get_payments,) = [{"type": "function", "function": {"name": t["name"], "parameters": t["inputSchema"]}}
                       for t in PAYMENT_TOOLS["tools"] if t["name"] == "get_payments"]
    canonical = {"get_payments": {"status": term["values"]}}

    def status(text: str) -> object:
        return said_values([get_payments], canonical, text)[0]["function"]["parameters"]["properties"].get("status")

    assert status("Show the payments that didn't work")["enum"] == ["failed"]  # type: ignore[index]
    assert status("which payments went through?")["enum"] == ["completed"]  # type: ignore[index]
    assert status("anything refunded or still processing?")["enum"] == ["processing", "refunded"]  # type: ignore[index]
    assert status("list the payments") is None  # optional, nothing said: left out


def test_a_vocabulary_entry_without_a_home_says_where_it_could_go() -> None:
    tools = {**PAYMENT_TOOLS, "tools": [{**PAYMENT_TOOLS["tools"][3], "inputSchema": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["pending", "succeeded"]}}}}]}
    result = plan(fixture("chapter_per_tool.json"), document(tools, "tools.json"))
    (message,) = [m for m in messages(result) if "payment_states" in m]
    assert message.startswith("chapter_per_tool.json:80:23: warning: domain_vocabulary.payment_states: not imported")
    assert "(the enum of get_payments.status holds some of its values, not all)" in message


def test_a_named_tool_nothing_defines_is_reported() -> None:
    result = plan(fixture("chapter_per_tool.json"))
    assert ("chapter_per_tool.json:4:11: warning: tool: tool 'create_payment' is named but not defined in the "
            "imported documents or the repository") in messages(result)[0]
