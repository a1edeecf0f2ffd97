from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mcptrain.cli import app
from mcptrain.specs.validator import validate_repository
from tests.conftest import HERE

FIXTURES = HERE / "fixtures" / "seed"
SEED = ["seed/create_payment.json", "seed/get_customer_by_name.json", "seed/get_payments.json",
        "seed/mcp-training-data.json", "seed/test-dataset.json", "seed/training-dataset.json"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project made by `mcptrain init`, with the seed fixtures copied into seed/."""
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["init", ".", "--name", "acme"]).exit_code == 0
    shutil.copytree(FIXTURES, tmp_path / "seed")
    return tmp_path


def import_seed(*args: str) -> Result:
    return CliRunner().invoke(app, ["import", "seed", *args])


def test_import_into_a_new_project_validates(project: Path) -> None:
    result = import_seed(*SEED)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "read seed/create_payment.json: per-tool document (1 tool; 4 examples; 3 edge cases; "
        "1 vocabulary rule; 1 vocabulary term)",
        "read seed/get_customer_by_name.json: per-tool document (1 tool; 2 examples)",
        "read seed/get_payments.json: per-tool document (1 tool; 3 examples; 1 edge case; 1 vocabulary term)",
        "read seed/mcp-training-data.json: discovery document (payment-service 1.2.0; endpoints not fetched: "
        "training_dataset, test_dataset, tools; download and import them too)",
        "read seed/test-dataset.json: test dataset (4 scenarios)",
        "read seed/training-dataset.json: training dataset (3 examples; 1 edge case; 1 already present)",
        "wrote specs/payment/service.yaml (payment-service)",
        "wrote specs/payment/tools.yaml (3 tools)",
        "wrote specs/payment/examples/imported.yaml (12 examples)",
        "wrote specs/payment/edge_cases.yaml (5 edge cases)",
        "wrote specs/payment/tests/imported.yaml (4 scenarios)",
        "wrote specs/payment/vocabulary.yaml (2 terms, 1 rule)",
        "mcptrain: imported 6 documents into 6 files; next: review specs/payment/, then run `mcptrain validate`",
    ]
    assert result.stderr.splitlines()[0] == (
        "seed/create_payment.json:79:16: warning: domain_vocabulary.refunds: not imported: 'refunds' is not "
        "a parameter of create_payment")
    validated = validate_repository(project)
    assert [d.format() for d in validated.diagnostics] == []
    assert sorted(validated.specs.services) == ["payment-service"]


def test_importing_twice_writes_nothing(project: Path) -> None:
    import_seed(*SEED)
    before = sorted(p for p in (project / "specs").rglob("*"))
    result = import_seed(*SEED)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "mcptrain: nothing new to import (everything is already in the specs)"
    assert sorted(p for p in (project / "specs").rglob("*")) == before


def test_never_overwrites_an_existing_file(project: Path) -> None:
    mine = project / "specs" / "payment" / "examples" / "imported.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# a person's file that no spec loader has seen yet\n")
    (mine.parent / "imported.imported-2.yaml").write_text("# and another\n")
    result = import_seed("seed/create_payment.json", "seed/get_payments.json",
                         "seed/get_customer_by_name.json", "seed/mcp-training-data.json")
    assert result.exit_code == 0, result.output
    assert ("wrote specs/payment/examples/imported.imported-3.yaml (9 examples; "
            "specs/payment/examples/imported.yaml exists and was kept)") in result.stdout.splitlines()
    assert mine.read_text() == "# a person's file that no spec loader has seen yet\n"
    assert (mine.parent / "imported.imported-2.yaml").read_text() == "# and another\n"


def test_errors_write_nothing(project: Path) -> None:
    (project / "seed" / "broken.json").write_text('{"service": "payment-service",\n "tool": }\n')
    result = import_seed("seed/create_payment.json", "seed/broken.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "seed/broken.json:2:10: invalid JSON: Expecting value"
    assert result.stderr.splitlines()[-1] == "mcptrain: 1 error in 1 file; nothing written"
    assert not (project / "specs" / "payment").exists()


def test_a_missing_file_is_an_error(project: Path) -> None:
    result = import_seed("seed/nope.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "seed/nope.json:1:1: cannot read file: No such file or directory",
        "mcptrain: 1 error in 1 file; nothing written",
    ]


def test_root_must_be_a_project(tmp_path: Path) -> None:
    result = import_seed(str(FIXTURES / "create_payment.json"), "--root", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == (f"mcptrain: {tmp_path}/mcptrain.yaml not found; run `mcptrain init {tmp_path}` "
                             "first, or pass --root\n")
    assert list(tmp_path.iterdir()) == []


def test_root_option(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other")
    assert CliRunner().invoke(app, ["init", str(other)]).exit_code == 0
    result = import_seed(*SEED, "--root", str(other))
    assert result.exit_code == 0, result.output
    assert (other / "specs" / "payment" / "service.yaml").is_file()
    assert not (project / "specs" / "payment").exists()


CHAPTER_TOOL = """\
apiVersion: mcptrain/v1
kind: ToolSet
service: payment-service
tools:
  - name: create_payment
    description: Charge a customer. Amounts are in cents.
    inputSchema:
      type: object
      properties:
        amount: {type: integer, minimum: 1, description: Amount in cents}
        currency: {type: string, enum: [USD, EUR, GBP], default: USD}
        invoice_id: {type: string, pattern: "^INV-[0-9]+$"}
      required: [amount]
"""


def test_the_chapters_payloads_import_as_calls_and_score_in_its_format(project: Path) -> None:
    import json

    from mcptrain.specs.yaml import load_document
    from tests.cli import mcptrain

    service = project / "specs" / "payment"
    service.mkdir(parents=True)
    (service / "service.yaml").write_text("apiVersion: mcptrain/v1\nkind: Service\nname: payment-service\n"
                                          "owners: ['@acme/payments']\n")
    (service / "tools.yaml").write_text(CHAPTER_TOOL)
    (project / "mcptrain.yaml").write_text((project / "mcptrain.yaml").read_text()
                                           .replace("dvc:\n", "dvc:\n  enabled: false\n"))
    result = import_seed("seed/chapter/training-dataset.json", "seed/chapter/test-dataset.json")
    assert result.exit_code == 0, result.output
    assert "ignored key" not in result.output
    (example,) = load_document(service / "examples" / "imported.yaml").data["examples"]
    # the assistant's {"tool_call": ...} is a call, not a reply that teaches abstention
    assert example["call"] == {"create_payment": {"amount": 5000, "currency": "USD", "invoice_id": "INV-123"}}
    assert (example["source"], example["quality"], example["created_at"]) == ("production", "gold", "2025-01-10")
    (scenario,) = load_document(service / "tests" / "imported.yaml").data["scenarios"]
    assert scenario["expect"] == {"call": {"create_payment": {"amount": 5000, "invoice_id": "INV-123"}}}
    assert (scenario["id"], scenario["priority"], scenario["min_accuracy_required"]) == ("PAY-001", "critical", 0.98)

    # The chapter tests on its own training query: validation says so and builds nothing.
    code, out, err = mcptrain("build", str(project))
    assert code == 1 and "query equals a training query" in err and "(contamination)" in err
    (service / "examples" / "imported.yaml").unlink()
    code, out, err = mcptrain("build", str(project))
    assert code == 0, err
    # A model answering in the chapter's own format scores.
    answer = json.dumps({"tool_call": {"name": "create_payment",
                                       "parameters": {"amount": 5000, "currency": "USD", "invoice_id": "INV-123"}}})
    wrong = json.dumps({"tool_call": {"name": "create_payment", "parameters": {"amount": 50, "invoice_id": "INV-123"}}})
    for output, correct in ((answer, 1), (wrong, 0)):
        predictions = project / "predictions.jsonl"
        predictions.write_text(json.dumps({"id": "PAY-001", "output": output}) + "\n")
        code, out, err = mcptrain("eval", str(project), "--split", "scenarios", "--predictions", str(predictions),
                                  "--out", str(project / "scored"), "--no-chart")
        assert code == 0, err
        report = json.loads((project / "scored" / "report.json").read_text())
        assert report["candidate"]["overall"] == {"n": 1, "correct": correct, "accuracy": float(correct)}
