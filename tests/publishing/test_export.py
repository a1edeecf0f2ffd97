"""`mcptrain export SERVICE`: the seed's three documents, read back by `mcptrain import seed`."""

from __future__ import annotations

import json
from pathlib import Path

from mcptrain.publishing.documents import publish_service
from mcptrain.specs.loader import load_specs
from tests.cli import mcptrain


def _published(root: Path) -> dict[str, dict[str, object]]:
    specs, _ = load_specs(root)
    return publish_service(specs.services["payment-service"], 1000).documents()


def test_export_writes_the_three_documents_in_the_seeds_shapes(good_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    code, stdout, err = mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out),
                                 "--base-url", "https://payments.acme.test")
    assert code == 0, err
    assert "exported payment-service 1.2.0: 18 training rows, 1 test scenario into" in stdout
    discovery = json.loads((out / ".well-known/mcp-training-data.json").read_text(encoding="utf-8"))
    assert discovery["service"] == "payment-service" and discovery["version"] == "1.2.0"
    assert discovery["training_data"]["endpoint"] == "https://payments.acme.test/mcp/training-dataset"
    assert discovery["training_data"]["authentication"] == "bearer"
    assert discovery["training_data"]["metadata"]["total_examples"] == 18
    assert discovery["training_data"]["metadata"]["tools_covered"][0] == "create_payment"
    assert discovery["training_data"]["consent"] == {"public_discovery": False, "public_model_training": False,
                                                     "restrictions": []}
    assert discovery["test_data"] == {"available": True, "endpoint": "https://payments.acme.test/mcp/test-dataset",
                                      "critical_scenarios": 1, "total_scenarios": 1, "min_accuracy_required": 0.98}
    training = json.loads((out / "mcp/training-dataset").read_text(encoding="utf-8"))
    first = training["training_examples"][0]
    assert first["messages"] == [
        {"role": "user", "content": "Charge customer $50 for invoice INV-123"},
        {"role": "assistant", "content": json.dumps({"tool_call": {"name": "create_payment", "parameters": {
            "amount": 5000, "currency": "USD", "invoice_id": "INV-123"}}})}]
    templated = [r["id"] for r in training["training_examples"] if r["id"].startswith("pay-003")]
    assert templated == [f"pay-003-{i:03d}" for i in range(1, 13)]  # 3 verbs x 2 amounts x 2 invoices
    test = json.loads((out / "mcp/test-dataset").read_text(encoding="utf-8"))
    assert test["test_scenarios"] == [{"id": "PAY-T-001", "priority": "critical",
                                       "query": "Bill the customer fifty bucks on invoice INV-123",
                                       "expected_tool": "create_payment",
                                       "expected_params": {"amount": 5000, "invoice_id": "INV-123"},
                                       "min_accuracy_required": 0.98}]


def test_export_round_trips_through_the_seed_importer(good_project: Path, tmp_path: Path) -> None:
    out, fresh = tmp_path / "site", tmp_path / "fresh"
    assert mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out))[0] == 0
    assert mcptrain("init", str(fresh))[0] == 0
    files = [str(out / ".well-known/mcp-training-data.json"), str(out / "mcp/training-dataset"),
             str(out / "mcp/test-dataset")]
    code, stdout, err = mcptrain("import", "seed", *files, "--root", str(fresh))
    assert code == 0, err
    assert "warning" not in err
    code, _, err = mcptrain("validate", str(fresh))
    assert code == 0, err
    before, after = _published(good_project), _published(fresh)
    assert after["/mcp/training-dataset"] == before["/mcp/training-dataset"]
    assert after["/mcp/test-dataset"] == before["/mcp/test-dataset"]
    keep = ("service", "version", "description", "owners", "endpoints", "test_data")
    assert {k: after["/.well-known/mcp-training-data.json"][k] for k in keep} == \
           {k: before["/.well-known/mcp-training-data.json"][k] for k in keep}


def test_an_unknown_service_is_named(good_project: Path) -> None:
    code, _, err = mcptrain("export", "payment", "--root", str(good_project))
    assert code == 1
    assert "no service 'payment' in specs/ (did you mean 'payment-service'?)" in err


DIALOGUES = """\
apiVersion: mcptrain/v1
kind: Examples
service: payment-service
examples:
  - id: dlg-001
    messages:
      - user: Find the customer Ada Lovelace
      - call: {get_customer_by_name: {name: Ada Lovelace}}
      - result: {customer_id: C-42}
      - assistant: Found Ada Lovelace (C-42). What should I do for her?
      - user: Charge her $12 on invoice INV-9
    call: {create_payment: {amount: 1200, customer_id: C-42, invoice_id: INV-9}}
  - id: dlg-002
    messages:
      - user: Payments that failed, and the ones still pending
      - calls: [{get_payments: {status: failed}}, {get_payments: {status: pending}}]
      - result: []
      - result: [{payment_id: P-7}]
      - user: And the status of that pending one?
    call: {get_payment_status: {payment_id: P-7}}
"""
SCENARIOS = """\
apiVersion: mcptrain/v1
kind: TestScenarios
service: payment-service
scenarios:
  - id: PAY-T-ALT
    query: Take 20 euros from customer C-9
    expect: {call: {create_payment: {amount: 2000, currency: EUR, customer_id: {any_of: [C-9, c-9]},
                                     invoice_id: {value: INV-0, optional: true}}}}
  - id: PAY-T-ONE-OF
    query: What happened to my latest payment, customer C-3?
    expect:
      one_of:
        - call: {get_payments: {}}
        - call: {get_latest_order: {customer_id: C-3}}
  - id: PAY-T-DLG
    messages:
      - user: I am customer C-5
      - assistant: Thanks, what can I do for you?
      - user: Show my failed payments
    expect: {call: {get_payments: {status: failed}}}
"""


def test_dialogues_and_argument_alternatives_round_trip(good_project: Path, tmp_path: Path) -> None:
    """export -> import seed -> export: dialogues (the training payload's conversations) and
    per-argument alternatives (`expected_params` values) come back as they were; a scenario's
    several answers or dialogue have no place in the test payload and are named as skipped."""
    (good_project / "specs/payment/examples/dialogues.yaml").write_text(DIALOGUES, encoding="utf-8")
    (good_project / "specs/payment/tests/more.yaml").write_text(SCENARIOS, encoding="utf-8")
    assert mcptrain("validate", str(good_project))[0] == 0
    out, fresh = tmp_path / "site", tmp_path / "fresh"
    code, _, err = mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out))
    assert code == 0, err
    assert err.splitlines() == [
        "mcptrain: warning: not exported: PAY-T-ONE-OF: a scenario with alternative answers (the test payload "
        "holds one expected answer)",
        "mcptrain: warning: not exported: PAY-T-DLG: a scenario with a dialogue (a test scenario is one query)"]
    training = json.loads((out / "mcp/training-dataset").read_text(encoding="utf-8"))
    (dlg,) = [r for r in training["training_examples"] if r["id"] == "dlg-001"]
    assert [m["role"] for m in dlg["messages"]] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert json.loads(dlg["messages"][1]["content"]) == {
        "tool_call": {"name": "get_customer_by_name", "parameters": {"name": "Ada Lovelace"}}}

    assert mcptrain("init", str(fresh))[0] == 0
    files = [str(out / ".well-known/mcp-training-data.json"), str(out / "mcp/training-dataset"),
             str(out / "mcp/test-dataset")]
    code, _, err = mcptrain("import", "seed", *files, "--root", str(fresh))
    assert code == 0, err
    assert "warning" not in err
    assert mcptrain("validate", str(fresh))[0] == 0
    specs, _ = load_specs(fresh)
    examples = {e.id: e for f in specs.services["payment-service"].examples for e in f.spec.examples}
    original = {e.id: e for f in load_specs(good_project)[0].services["payment-service"].examples
                for e in f.spec.examples}
    for ident in ("dlg-001", "dlg-002"):
        assert examples[ident].messages == original[ident].messages and examples[ident].call == original[ident].call
    scenarios = {sc.id: sc for f in specs.services["payment-service"].tests for sc in f.spec.scenarios}
    assert scenarios["PAY-T-ALT"].expect.call == {"create_payment": {
        "amount": 2000, "currency": "EUR", "customer_id": {"any_of": ["C-9", "c-9"]},
        "invoice_id": {"value": "INV-0", "optional": True}}}
    before, after = _published(good_project), _published(fresh)
    assert after["/mcp/training-dataset"] == before["/mcp/training-dataset"]
    assert after["/mcp/test-dataset"] == before["/mcp/test-dataset"]


def test_export_never_writes_over_a_persons_file(good_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    (out / "mcp").mkdir(parents=True)
    (out / "mcp/test-dataset").write_text("<html>our own page</html>\n", encoding="utf-8")
    code, _, err = mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out))
    assert code == 1
    assert f"{out / 'mcp/test-dataset'} exists and is not an export of payment-service; nothing written" in err
    assert (out / "mcp/test-dataset").read_text(encoding="utf-8") == "<html>our own page</html>\n"
    assert sorted(p.name for p in out.rglob("*")) == ["mcp", "test-dataset"]

    (out / "mcp/test-dataset").unlink()
    assert mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out))[0] == 0
    code, _, err = mcptrain("export", "payment-service", "--root", str(good_project), "--out", str(out))
    assert code == 0, err  # its own earlier export is replaced
