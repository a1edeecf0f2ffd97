"""`mcptrain validate`'s content-hashed cache: reused only while a file and its inputs are
unchanged, and never changing what validate reports (compared with `--no-cache` runs)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mcptrain.specs import yaml as spec_yaml
from mcptrain.specs.validate_cache import ValidateCache
from mcptrain.specs.validator import validate_repository
from tests.cli import mcptrain
from tests.conftest import PROJECTS, REPO

CACHE = Path(".mcptrain/cache/validate/summaries.json")
DOCUMENTS = CACHE.with_name("documents.json")
PROJECT_NAMES = sorted(p.name for p in PROJECTS.iterdir() if (p / "mcptrain.yaml").exists() or (p / "specs").exists())


def validate(root: Path, *args: str) -> tuple[int, str, str]:
    code, out, err = mcptrain("validate", str(root), *args)
    return code, re.sub(r" in \d+\.\d+s;", " in (time);", out), err


def same_as_uncached(root: Path) -> tuple[int, str, str]:
    """validate with the cache, checked against a run without it; returns the cached run."""
    cached = validate(root)
    assert cached == validate(root, "--no-cache")
    return cached


def copy_of(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    if name == "demo":
        root.mkdir()
        for part in ("specs", "policies"):
            shutil.copytree(REPO / part, root / part)
        shutil.copy(REPO / "mcptrain.yaml", root)
    else:
        shutil.copytree(PROJECTS / name, root)
    return root


def hits(root: Path) -> tuple[int, int]:
    """(summaries reused, files parsed as YAML) of a cached validate of `root`, in-process
    (what it learnt is saved, as `mcptrain validate` does)."""
    cache = ValidateCache.open(root / CACHE, str(CACHE))
    calls = 0
    real = spec_yaml.parse_document

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    spec_yaml.parse_document = counting  # type: ignore[assignment]
    try:
        validate_repository(root, cache=cache)
    finally:
        spec_yaml.parse_document = real
    cache.save(str(CACHE))
    return cache.hits, calls


@pytest.mark.parametrize("name", ["demo", *PROJECT_NAMES])
def test_cached_runs_report_what_uncached_runs_report(name: str, tmp_path: Path) -> None:
    root = copy_of(name, tmp_path)
    uncached = validate(root, "--no-cache")
    assert not (root / ".mcptrain").exists()  # --no-cache writes nothing
    cold, warm = validate(root), validate(root)
    assert cold == uncached and warm == uncached
    if (PROJECTS / name / "expected.txt").exists():
        assert warm[2] == (PROJECTS / name / "expected.txt").read_text()  # errors of cached files, file:line
    if name in ("demo", "good", "broken_calls", "broken_ids", "broken_contamination"):
        assert hits(root)[0] > 0  # the warm run did reuse summaries


def test_an_unchanged_repository_is_not_parsed_again(tmp_path: Path) -> None:
    root = copy_of("demo", tmp_path)
    validate(root)
    reused, parsed = hits(root)
    assert reused > 20 and parsed == 0  # row files as summaries, the others from documents.json
    tools = next((root / "specs").rglob("tools.yaml"))
    tools.write_text(tools.read_text() + "\n# a comment\n")
    assert hits(root) == (0, 1 + reused)  # the ToolSet moved: it and every row file are read again
    assert hits(root) == (reused, 0)


def test_an_edited_file_s_new_error_appears_and_its_old_one_goes(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    charges = root / "specs/payment/examples/charges.yaml"
    text = charges.read_text()
    assert validate(root)[0] == 0
    charges.write_text(text.replace("invoice_id: INV-123}", "invoice: INV-123}", 1))
    code, _, err = same_as_uncached(root)
    assert code == 1
    assert ("specs/payment/examples/charges.yaml:7:58: examples[0].call.create_payment.invoice: unknown argument "
            "'invoice'\n    hint: did you mean 'invoice_id'?\n") in err
    charges.write_text(text.replace("call: {get_payments: {status: pending}}", "call: {get_payments: {status: archived}}"))
    code, _, err = same_as_uncached(root)
    assert code == 1 and "unknown argument 'invoice'" not in err
    assert re.search(r"charges\.yaml:\d+:\d+: examples\[4\]\.call\.get_payments\.status: expected one of .*\(got 'archived'\)", err)
    charges.write_text(text)
    assert same_as_uncached(root)[0] == 0


def test_a_changed_toolset_checks_its_examples_again(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    assert validate(root)[0] == 0
    tools = root / "specs/payment/tools.yaml"
    tools.write_text(tools.read_text().replace("invoice_id:", "invoice_ref:"))
    assert hits(root)[0] == 0  # the edge cases file too is checked against the new tools
    code, _, err = same_as_uncached(root)
    assert code == 1 and ("specs/payment/examples/charges.yaml:7:58: examples[0].call.create_payment.invoice_id: "
                          "unknown argument 'invoice_id'\n    hint: did you mean 'invoice_ref'?\n") in err


def test_a_changed_project_file_checks_every_file_again(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    assert validate(root)[0] == 0
    project = root / "mcptrain.yaml"
    project.write_text(project.read_text() + "max_template_expansions: 2\n")
    code, _, err = same_as_uncached(root)
    assert code == 1 and "charges.yaml" in err and "expansions" in err


def test_a_duplicate_id_against_a_cached_file_is_reported(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    assert validate(root)[0] == 0
    (root / "specs/payment/examples/more.yaml").write_text(
        "apiVersion: mcptrain/v1\nkind: Examples\nservice: payment-service\nexamples:\n"
        "  - id: pay-004\n    query: Where is payment P-9?\n    call: {get_payment_status: {payment_id: P-9}}\n")
    code, _, err = same_as_uncached(root)
    assert code == 1 and hits(root)[0] >= 1
    assert ("specs/payment/examples/more.yaml:5:9: examples[0].id: duplicate id 'pay-004' "
            "(first used at specs/payment/examples/charges.yaml:") in err


@pytest.mark.parametrize("damage", [
    lambda text: "not json at all",
    lambda text: text[: len(text) // 2],  # a write cut short
    lambda text: text.replace('"findings":[', '"findings":[[1]', 1),  # valid JSON, wrong shape
])
def test_a_damaged_cache_is_ignored_with_a_warning(damage: object, tmp_path: Path) -> None:
    root = copy_of("broken_calls", tmp_path)
    expected = validate(root, "--no-cache")
    validate(root)
    (root / CACHE).write_text(damage((root / CACHE).read_text()))  # type: ignore[operator]
    code, out, err = validate(root)
    warning = f"mcptrain: warning: ignoring the damaged validate cache {CACHE} ("
    assert err.startswith(warning) and err.count(warning) == 1
    assert "checking every file (it is rewritten)\n" in err
    assert (code, out, err.split("\n", 1)[1]) == expected
    assert validate(root) == expected  # rewritten whole


def test_a_cache_another_mcptrain_wrote_is_replaced_silently(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    expected = validate(root)
    (root / CACHE).write_text('{"format": 1, "code": "an older mcptrain"}\n{}\nkey\t{}\n')
    assert validate(root) == expected  # no warning: nothing is wrong, the summaries are recomputed
    assert hits(root)[0] > 0



def test_a_tool_removed_from_a_cached_toolset_is_reported_where_examples_call_it(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    assert validate(root) == validate(root)  # cold, then warm: every document and summary cached
    tools = root / "specs/payment/tools.yaml"
    text = tools.read_text()
    removed = re.sub(r"  - name: get_latest_order\n(    .*\n|      .*\n)+", "", text)
    assert removed != text and "get_latest_order" not in removed
    tools.write_text(removed)
    code, _, err = same_as_uncached(root)
    assert code == 1
    assert re.search(r"specs/payment/examples/charges\.yaml:16:\d+: examples\[1\]\.sequence\[1\]\.call\.get_latest_order: "
                     r"unknown tool 'get_latest_order'", err)
    tools.write_text(text)  # back as it was: its old document is parsed again, the examples re-checked
    assert same_as_uncached(root)[0] == 0


def test_an_edited_examples_file_moves_a_warning_in_a_cached_toolset(tmp_path: Path) -> None:
    root = copy_of("good", tmp_path)
    code, _, err = validate(root)
    assert code == 0 and "get_customer_by_name' has no examples" not in err
    charges = root / "specs/payment/examples/charges.yaml"
    text = charges.read_text()
    without = re.sub(r"  - id: pay-002\n(    .*\n)+", "", text)  # the only example calling it
    assert "get_customer_by_name" not in without
    charges.write_text(without)
    code, _, err = same_as_uncached(root)  # the ToolSet's document and positions come from the cache
    assert ("specs/payment/tools.yaml:28:11: warning: tools[3].name: tool 'get_customer_by_name' has no examples\n"
            in err)


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda text: re.sub(r'(\t\[\d+,)(\d)', lambda m: m.group(1) + str((int(m.group(2)) + 1) % 10), text, count=1),
     "ValueError: its checksum does not match"),  # a flipped digit in one entry's positions
    (lambda text: text[: len(text) - 40], "ValueError: "),  # a write cut short in the last entry
    (lambda text: re.sub(r"^(\w+\t\w+)\t", r"\1 ", text, count=1, flags=re.M), "ValueError: "),  # fields run together
])
def test_a_damaged_document_entry_is_ignored_and_its_file_parsed_again(damage: object, reason: str,
                                                                      tmp_path: Path) -> None:
    root = copy_of("broken_schema", tmp_path)
    expected = validate(root, "--no-cache")
    assert validate(root) == expected
    text = (root / DOCUMENTS).read_text()
    (root / DOCUMENTS).write_text(damage(text))  # type: ignore[operator]
    code, out, err = validate(root)
    first, rest = err.split("\n", 1)
    assert first.startswith(f"mcptrain: warning: ignoring a damaged entry of the validate cache {DOCUMENTS} ({reason}")
    assert re.search(r"\); parsing specs/\S+\.yaml again$", first)
    assert (code, out, rest) == expected  # the diagnostics are the ones a run without the cache gives
    assert validate(root) == expected and (root / DOCUMENTS).read_text() == text  # rewritten as it was


def test_a_damaged_document_cache_header_discards_the_documents(tmp_path: Path) -> None:
    root = copy_of("broken_schema", tmp_path)
    expected = validate(root, "--no-cache")
    validate(root)
    text = (root / DOCUMENTS).read_text()
    (root / DOCUMENTS).write_text("{not json\n" + text.split("\n", 1)[1])
    code, out, err = validate(root)
    first, rest = err.split("\n", 1)
    assert first.startswith(f"mcptrain: warning: ignoring the damaged validate cache {DOCUMENTS} (")
    assert (code, out, rest) == expected and validate(root) == expected
    assert (root / DOCUMENTS).read_text() == text


def test_a_document_json_cannot_hold_is_parsed_every_time(tmp_path: Path) -> None:
    """A mapping key that is a number would come back from JSON as a string, which the
    spec models accept where the YAML's integer is an error: such a file is never cached."""
    root = copy_of("good", tmp_path)
    tools = root / "specs/payment/tools.yaml"
    tools.write_text(tools.read_text().replace("    description: List payments by status.\n",
                                               "    description: List payments by status.\n"
                                               "    annotations: {1: read-only}\n", 1))
    expected = validate(root, "--no-cache")
    assert expected[0] == 1 and "tools[2].annotations[1]: expected a string (got 1)" in expected[2]
    assert validate(root) == expected and validate(root) == expected
    reused, parsed = hits(root)
    assert parsed == 1  # only the ToolSet: the other files come from the cache
