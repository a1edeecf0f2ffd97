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
