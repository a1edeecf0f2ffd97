"""e2e: the real CLI over the example projects; exact output checked.

Each `tests/projects/broken_*` (and `hostile`) holds its expected diagnostics in
`expected.txt`; together they document every check `mcptrain validate` makes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECTS, REPO

MCPTRAIN = [sys.executable, "-m", "mcptrain"]
BROKEN = sorted(p.name for p in PROJECTS.iterdir() if (p / "expected.txt").exists())


def run_validate(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # --no-cache: these projects live in the source tree; tests/specs/test_validate_cache.py
    # runs them with the cache, on copies.
    return subprocess.run(
        [*MCPTRAIN, "validate", ".", "--no-cache", *args], cwd=path, capture_output=True, text=True, env=env,
        timeout=600,  # a hang guard: --strict loads the real tokenizer, slow on a loaded machine
    )


@pytest.mark.e2e
@pytest.mark.parametrize("name", BROKEN)
def test_broken_project_reports_exact_errors(name: str) -> None:
    project = PROJECTS / name
    proc = run_validate(project)
    assert proc.stderr == (project / "expected.txt").read_text()
    assert proc.returncode == int((project / "expected_rc.txt").read_text())
    assert proc.returncode == 1


@pytest.mark.e2e
def test_good_project_is_valid() -> None:
    proc = run_validate(PROJECTS / "good")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mcptrain: 8 files valid (1 service, 5 tools, 3 warnings) in ")
    assert proc.stdout.rstrip().endswith("next: mcptrain build")


@pytest.mark.e2e
def test_strict_turns_warnings_into_errors() -> None:
    proc = run_validate(PROJECTS / "good", "--strict")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == "mcptrain: 3 errors in 1 file"


@pytest.mark.e2e
def test_github_actions_annotations() -> None:
    import os

    env = dict(os.environ, GITHUB_ACTIONS="true")
    proc = run_validate(PROJECTS / "broken_ids", env=env)
    assert proc.stdout.splitlines() == [
        "::error file=specs/pay/edge_cases.yaml,line=5,col=9::edge_cases[0].id: duplicate id 'pay-001' (first used at specs/pay/examples.yaml:5:9)",
        "::error file=specs/pay/examples.yaml,line=8,col=9::examples[1].id: duplicate id 'pay-001' (first used at specs/pay/examples.yaml:5:9)",
    ]


@pytest.mark.e2e
def test_json_output() -> None:
    import json

    proc = run_validate(PROJECTS / "broken_sequence", "--json")
    data = json.loads(proc.stdout)
    assert data["valid"] is False
    assert [d["where"] for d in data["diagnostics"]] == [
        "examples[0].sequence[0].call.get_payments.customer_id"
    ]


def test_shipped_specs_validate() -> None:
    """Meta-test: the demo organisation that ships in the repo validates cleanly."""
    from mcptrain.specs.validator import validate_repository

    if not (REPO / "specs").is_dir():
        pytest.skip("no demo specs yet")
    result = validate_repository(REPO)
    assert [d.format() for d in result.errors] == []
    assert len(result.specs.services) >= 4
    assert result.tool_count >= 20


def test_balance_warnings_name_the_thin_tools() -> None:
    """The seed's balance check: a tool under half the average number of example calls."""
    from mcptrain.specs.validator import validate_repository

    result = validate_repository(PROJECTS / "good")
    assert [d.format() for d in result.diagnostics if d.severity == "warning"] == [
        f"specs/payment/tools.yaml:{line}:11: warning: tools[{i}].name: tool '{name}' has 1 example calls, "
        "under half the average (4.0)"
        for i, line, name in [(2, 22, "get_payments"), (3, 28, "get_customer_by_name"), (4, 35, "get_latest_order")]
    ]


def test_a_schema_that_does_not_compile_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A `pattern` that is no regular expression, a `$ref` to nowhere: the meta-schema
    passes them, compiling the validator does not."""
    import shutil

    from mcptrain.specs.validator import validate_repository

    shutil.copytree(PROJECTS / "good", tmp_path / "good")
    tools = tmp_path / "good/specs/payment/tools.yaml"
    tools.write_text(tools.read_text().replace('pattern: "^INV-[0-9]+$"', 'pattern: "^INV-[0-9+$"')
                     .replace("payment_id: {type: string}", "payment_id: {$ref: '#/$defs/nowhere'}"))
    result = validate_repository(tmp_path / "good")
    assert [d.format() for d in result.errors] == [
        "specs/payment/tools.yaml:12:45: tools[0].inputSchema.properties.invoice_id.pattern: "
        "'^INV-[0-9+$' is not a 'regex'",
        "specs/payment/tools.yaml:18:7: tools[1].inputSchema: Pointer '/$defs/nowhere' does not exist",
    ]


def test_a_comma_in_a_flow_mapping_is_a_warning_where_it_splits_the_text(tmp_path: Path) -> None:
    """`{description: Amount in cents, at least 1}` is legal YAML and legal JSON Schema: the
    text ends at the comma and `at least 1` becomes a keyword with no value, which JSON
    Schema ignores. The validator says so where the comma is. A `default: null` is data,
    and a parameter named `format` is a parameter: neither is warned about."""
    import shutil

    from mcptrain.specs.validator import validate_repository

    shutil.copytree(PROJECTS / "good", tmp_path / "good")
    tools = tmp_path / "good/specs/payment/tools.yaml"
    tools.write_text(tools.read_text()
                     .replace("description: Amount in cents}", "description: Amount in cents, at least 1}")
                     .replace("customer_id: {type: string}\n      required: [amount]",
                              "customer_id: {type: string, default: null}\n"
                              "        format: {type: object, properties: {paper: {type: string}}}\n"
                              "      required: [amount]"))
    result = validate_repository(tmp_path / "good")
    assert result.errors == []
    assert [d.format() for d in result.diagnostics if "JSON Schema keyword" in d.message] == [
        "specs/payment/tools.yaml:10:75: warning: tools[0].inputSchema.properties.amount.at least 1: "
        "'at least 1' is not a JSON Schema keyword and has no value\n"
        '    hint: a comma inside a YAML flow mapping ends the text before it: quote the text '
        '({description: "a, b"})']


def test_the_readmes_spec_format_excerpts_validate_together(tmp_path: Path) -> None:
    """A new user pastes the README's tools.yaml, charges.yaml, vocabulary.yaml and
    edge_cases.yaml: they validate together, warned only that the excerpts hold few
    examples (a user trying the README found the first two did not, and had to find the
    other two's shapes in schemas/)."""
    import re
    import shutil

    from mcptrain.specs.validator import validate_repository

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = {m.group(1): m.group(0) for m in re.finditer(r"# (specs/payment/[\w/.]+\.yaml)[^\n]*\n.*?(?=```)",
                                                          readme, re.S)}
    assert set(blocks) == {"specs/payment/tools.yaml", "specs/payment/examples/charges.yaml",
                           "specs/payment/vocabulary.yaml", "specs/payment/edge_cases.yaml"}
    project = tmp_path / "org"
    shutil.copytree(PROJECTS / "good", project, ignore=shutil.ignore_patterns("tools.yaml", "examples",
                                                                              "edge_cases.yaml", "tests", "vocabulary.yaml"))
    for rel, text in blocks.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    result = validate_repository(project)
    assert [d.format() for d in result.diagnostics if "example calls" not in d.message] == []


@pytest.mark.parametrize("cached", [False, True])
def test_a_file_that_fails_to_load_is_reported_once_not_again_by_its_neighbours(cached: bool, tmp_path: Path) -> None:
    """A typo in service.yaml is its own error, not also "service has no Service spec" at
    the tools file; an Examples file that fails to load is its own error, not also
    example-count warnings computed without it (both seen by a user trying the README)."""
    import shutil

    from mcptrain.specs.validate_cache import ValidateCache
    from mcptrain.specs.validator import validate_repository

    root = tmp_path / "good"
    shutil.copytree(PROJECTS / "good", root)
    service = root / "specs/payment/service.yaml"
    service.write_text(service.read_text().replace("owners:", "owner:"))
    charges = root / "specs/payment/examples/charges.yaml"
    charges.write_text(charges.read_text().replace("  - id: pay-005\n", "  - id: pay-005\n    quality: platinum\n"))

    def check() -> list[str]:
        cache = ValidateCache.open(root / ".mcptrain/cache/validate.txt", "cache") if cached else None
        return [d.format().split("\n")[0] for d in validate_repository(root, cache=cache).diagnostics]

    got = check()
    assert got == [
        "specs/payment/examples/charges.yaml:29:14: examples[4].quality: expected 'gold', 'silver' or 'bronze' "
        "(got 'platinum')",
        "specs/payment/service.yaml:5:1: owner: unknown key",
    ], got
    assert check() == got  # again, from what the first run kept

    service.write_text(service.read_text().replace("owner:", "owners:"))
    charges.write_text(charges.read_text().replace("    quality: platinum\n", ""))
    assert [line for line in check() if "example calls" in line]  # the counts are back


def test_an_object_arguments_unknown_and_missing_keys_are_errors_at_their_place(tmp_path: Path) -> None:
    """Inside an object argument (a pydantic model, in a FastMCP server's schema), an
    unknown key is an error at that key, with a suggestion, and a missing required key is
    an error at the object (a user trying a FastMCP import found both passed, or were
    reported at the call)."""
    import shutil

    from mcptrain.specs.validator import validate_repository

    shutil.copytree(PROJECTS / "good", tmp_path / "good")
    tools = tmp_path / "good/specs/payment/tools.yaml"
    tools.write_text(tools.read_text().replace(
        "        customer_id: {type: string}\n      required: [amount]",
        "        customer_id: {type: string}\n"
        "        billing: {$ref: '#/$defs/Address'}\n"
        "      required: [amount]\n"
        "      $defs:\n"
        "        Address: {type: object, additionalProperties: false, required: [city],\n"
        "                  properties: {city: {type: string}, zip: {type: string}}}"))
    charges = tmp_path / "good/specs/payment/examples/charges.yaml"
    charges.write_text(charges.read_text().replace(
        "call: {create_payment: {amount: 5000, currency: USD, invoice_id: INV-123}}",
        "call: {create_payment: {amount: 5000, currency: USD, invoice_id: INV-123, billing: {city: Lyon, zipp: '69001'}}}"
    ).replace("    call: {get_payments: {status: pending}}",
              "    call: {get_payments: {status: pending}}\n"
              "  - id: pay-006\n"
              "    query: Charge $12 to the Paris office\n"
              "    call: {create_payment: {amount: 1200, billing: {zip: '75001'}}}"))
    result = validate_repository(tmp_path / "good")
    assert [d.format() for d in result.errors] == [
        "specs/payment/examples/charges.yaml:7:101: examples[0].call.create_payment.billing.zipp: unknown key 'zipp'\n"
        "    hint: did you mean 'zip'?",
        "specs/payment/examples/charges.yaml:33:52: examples[5].call.create_payment.billing: "
        "missing required key 'city'"]


def test_the_demo_organisation_is_big_enough_to_train_on(tmp_path: Path) -> None:
    """What issue 2 asks of the demo: per-tool volume, sequences, parallel calls, critical
    scenarios on payments, security and data deletion, and no warnings."""
    import shutil
    from collections import Counter

    from mcptrain.dataset.build import build_dataset
    from mcptrain.specs.validator import validate_repository

    result = validate_repository(REPO)
    assert [d.format() for d in result.diagnostics if d.severity == "warning"] == []
    for part in ("mcptrain.yaml", "specs", "policies"):
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / part)
    build_dataset(tmp_path)  # datasets/ only; DVC is a separate step
    rows = [r for f in sorted((tmp_path / "datasets").glob("*.jsonl")) for r in read_jsonl(f)]
    examples = [r for r in rows if r["kind"] == "example"]
    per_tool = Counter(t for r in examples for t in set(r["target_tools"]))
    assert len(per_tool) == result.tool_count >= 20
    assert min(per_tool.values()) >= 15, per_tool.most_common()[-3:]
    assert len({r["source_id"] for r in examples if r["category"] == "multi_turn"}) >= 5
    assert len({r["source_id"] for r in examples if r["category"].startswith("parallel")}) >= 3
    critical = [r for r in rows if r["kind"] == "scenario" and r["priority"] == "critical"]
    assert {r["service"] for r in critical} >= {"payment-service", "identity-service"}
    assert any("request_data_deletion" in r["target_tools"] for r in critical)


def read_jsonl(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
