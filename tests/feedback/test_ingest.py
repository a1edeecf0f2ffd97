"""`mcptrain ingest FILE`: planted PII never reaches any output; duplicates, near
duplicates and test-scenario look-alikes are rejected; a new file per ingest."""

from __future__ import annotations

import json
from pathlib import Path

from mcptrain.feedback.pii import Scrubber
from mcptrain.specs.yaml import load_document
from tests.cli import mcptrain

PII = ["olga.petrova@mail.example", "+44 20 7946 0958", "4539 1488 0343 6467", "Olga Petrova"]


def _records() -> list[dict[str, object]]:
    base = {"timestamp": "2026-11-30T10:00:00Z", "service": "payment-service"}
    return [
        {**base, "query": "Charge Olga Petrova 40 dollars, receipt to olga.petrova@mail.example, call +44 20 7946 0958",
         "model_tool": "create_payment", "model_parameters": {"amount": 40, "customer_id": "Olga Petrova"},
         "correct_tool": "create_payment", "correct_parameters": {"amount": 4000, "customer_id": "Olga Petrova"},
         "explanation": "Amounts are in cents; card 4539 1488 0343 6467 was on file."},
        {**base, "query": "Charge customer $50 for invoice INV-123",  # an existing example: duplicate
         "correct_tool": "create_payment", "correct_parameters": {"amount": 5000, "invoice_id": "INV-123"}},
        {**base, "query": "Charge the customer $50 for invoice INV-123",  # near duplicate
         "correct_tool": "create_payment", "correct_parameters": {"amount": 5000, "invoice_id": "INV-123"}},
        {**base, "query": "Bill the customer fifty bucks on invoice INV-123",  # the test scenario: contamination
         "correct_tool": "create_payment", "correct_parameters": {"amount": 5000, "invoice_id": "INV-123"}},
        {**base, "query": "Refund the last payment of the quarter",  # an unknown argument: refused by validation
         "correct_tool": "get_payments", "correct_parameters": {"quarter": 4}},
        {**base, "query": "Take money from someone", "correct_action": {"action": "ask_for_details",
                                                                         "question": "Who, and how much?",
                                                                         "required_fields": ["amount"]}},
    ]


def test_ingest_scrubs_dedupes_rejects_and_writes_a_new_file(good_project: Path, tmp_path: Path) -> None:
    feed = tmp_path / "failures.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in _records()) + "\n", encoding="utf-8")
    code, out, err = mcptrain("ingest", str(feed), "--root", str(good_project), "--name-field", "customer_id")
    assert code == 0, err
    assert "mcptrain: 2 of 6 records added (PII scrubbed: 1 card, 1 email, 1 name, 1 phone); wrote " in out
    assert f"{feed}:2: duplicate: same query as pay-001" in err
    assert f"{feed}:3: near-duplicate: close to pay-001" in err
    assert f"{feed}:4: contamination: matches test scenario PAY-T-001" in err
    assert f"{feed}:5: invalid: examples[1].call.get_payments.quarter: unknown argument 'quarter'" in err
    (written,) = (good_project / "specs/payment/examples").glob("production-*.yaml")
    data = load_document(written).data
    first, second = data["examples"]
    assert first["query"] == "Charge Person 1 40 dollars, receipt to person1@example.com, call +1-555-0101"
    assert first["call"] == {"create_payment": {"amount": 4000, "customer_id": "Person 1"}}
    assert first["common_mistakes"] == [{"wrong": {"create_payment": {"amount": 40, "customer_id": "Person 1"}},
                                         "reason": "Amounts are in cents; card 4000 0000 0000 0001 was on file."}]
    assert (first["source"], first["created_at"]) == ("production", "2026-11-30")
    assert second["action"] == "ask_for_details"
    assert mcptrain("validate", str(good_project))[0] == 0
    from mcptrain.dataset.build import build_dataset

    build_dataset(good_project)  # the dataset, too, is grepped below
    summary = next((good_project / ".mcptrain/ingest").glob("*.md")).read_text(encoding="utf-8")
    assert "| payment-service | create_payment | 1 |" in summary and "| payment-service | (behaviour) | 1 |" in summary
    everything = out + err + summary + "".join(p.read_text(encoding="utf-8", errors="replace")
                                              for p in good_project.rglob("*") if p.is_file())
    for value in PII:
        assert value not in everything

    code, out, err = mcptrain("ingest", str(feed), "--root", str(good_project), "--name-field", "customer_id")
    assert code == 0 and "0 of 6 records added" in out  # everything is in the specs now


def test_the_scrubber_keeps_ids_and_dates() -> None:
    s = Scrubber()
    text = "Invoice INV-2024-0012 on 2026-11-30 for C-17, amount 123456789, phone (415) 555-2671"
    assert s.scrub(text) == "Invoice INV-2024-0012 on 2026-11-30 for C-17, amount 123456789, phone +1-555-0101"
    assert s.scrub("card 4111 1111 1111 1112 is not a card (Luhn)") == "card 4111 1111 1111 1112 is not a card (Luhn)"
    # An apostrophe inside an address is part of it: no "sam.o'" left behind.
    assert Scrubber().scrub("mail sam.o'neill@acme.io or 'bob@acme.io'") == (
        "mail person1@example.com or 'person2@example.com'")


def test_from_report_writes_a_review_file_that_ingest_takes_back(good_project: Path, tmp_path: Path) -> None:
    from mcptrain.dataset.build import build_dataset
    from mcptrain.dataset.handle import open_dataset

    build_dataset(good_project)
    scenario = next(r for r in open_dataset(good_project).rows("scenarios"))
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"items": [
        {"row_id": scenario["id"], "service": "payment-service", "candidate": {"correct": False,
                                                                               "reason": "wrong value for amount"}},
        {"row_id": "other", "service": "payment-service", "candidate": {"correct": True, "reason": ""}}]}),
        encoding="utf-8")
    review = tmp_path / "review.jsonl"
    code, out, err = mcptrain("ingest", str(report), "--from-report", "--out", str(review), "--root", str(good_project))
    assert code == 0, err
    (record,) = [json.loads(line) for line in review.read_text(encoding="utf-8").splitlines()]
    assert record["query"] == "" and record["failed_query"] == "Bill the customer fifty bucks on invoice INV-123"
    assert (record["correct_tool"], record["correct_parameters"]) == ("create_payment", {"amount": 5000,
                                                                                         "invoice_id": "INV-123"})
    assert record["model_error"] == "wrong value for amount"
    record["query"] = record["failed_query"]  # a person who copies the test question back: contamination
    review.write_text(json.dumps(record) + "\n", encoding="utf-8")
    code, out, err = mcptrain("ingest", str(review), "--root", str(good_project))
    assert "contamination: matches test scenario PAY-T-001" in err and "0 of 1 record added" in out
    record["query"] = "Put fifty dollars on invoice INV-9 for the customer"  # a new phrasing: taken
    record["correct_parameters"]["invoice_id"] = "INV-9"
    review.write_text(json.dumps(record) + "\n", encoding="utf-8")
    code, out, err = mcptrain("ingest", str(review), "--root", str(good_project))
    assert code == 0 and "1 of 1 record added" in out, err


def test_ingest_proposes_a_pull_request_through_the_forge(good_project: Path, tmp_path: Path) -> None:
    import subprocess

    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=good_project, check=True)
    feed = tmp_path / "failures.jsonl"
    feed.write_text(json.dumps(_records()[0]) + "\n", encoding="utf-8")
    code, out, err = mcptrain("ingest", str(feed), "--root", str(good_project), "--name-field", "customer_id")
    assert code == 0, err
    assert "mcptrain: pull request #1 opened (mcptrain/ingest/" in out
    (pull,) = [json.loads(p.read_text(encoding="utf-8")) for p in (good_project / ".mcptrain/forge/pulls").glob("*.json")]
    assert "| payment-service | create_payment | 1 |" in pull["body"]
    (written,) = (good_project / "specs/payment/examples").glob("production-*.yaml")
    on_branch = subprocess.run(["git", "show", f"{pull['head']}:specs/payment/examples/{written.name}"],
                               cwd=good_project, check=True, capture_output=True, text=True).stdout
    assert on_branch == written.read_text(encoding="utf-8")
    for value in PII:
        assert value not in json.dumps(pull) + on_branch


def test_bad_lines_are_named_by_line_and_field(good_project: Path, tmp_path: Path) -> None:
    feed = tmp_path / "failures.jsonl"
    good = {"query": "Show failed payments", "correct_tool": "get_payments", "correct_parameters": {"status": "failed"},
            "service": "payment-service"}
    feed.write_text("\n".join([json.dumps(good), '{"query": ', json.dumps({**good, "service": ["payment-service"]}),
                               json.dumps({**good, "correct_parameters": "status=failed"}),
                               '{"query": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}"]) + "\n", encoding="utf-8")
    code, out, err = mcptrain("ingest", str(feed), "--root", str(good_project), "--no-pr")
    assert code == 1
    assert f"{feed}:2:11: invalid JSON: Expecting value" in err
    assert f"{feed}:3:1: service: expected a string (got list)" in err
    assert f"{feed}:4:1: correct_parameters: expected an object of arguments (got str)" in err
    assert f"{feed}:5:1: invalid JSON: nesting is too deep" in err
    assert "1 of 1 record added" in out

    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(good).encode() + b'\n{"query": "caf\xe9"}\n')
    code, _, err = mcptrain("ingest", str(latin), "--root", str(good_project), "--no-pr")
    assert code == 1 and f"{latin}:2:15: not valid UTF-8 (byte 0xe9); nothing read" in err


def test_from_report_names_a_bad_report_at_its_line(good_project: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"items": [\n  {"row_id": 1,}\n]}\n', encoding="utf-8")
    code, _, err = mcptrain("ingest", str(report), "--root", str(good_project), "--from-report",
                            "--out", str(tmp_path / "review.jsonl"))
    assert code == 1 and f"{report}:2:16: invalid JSON: Expecting property name enclosed in double quotes" in err
    report.write_text('{"summary": {}}\n', encoding="utf-8")
    code, _, err = mcptrain("ingest", str(report), "--root", str(good_project), "--from-report",
                            "--out", str(tmp_path / "review.jsonl"))
    assert code == 1 and f"{report}:1:1: expected `mcptrain eval`'s report.json (an object with 'items')" in err
    assert not (tmp_path / "review.jsonl").exists()
