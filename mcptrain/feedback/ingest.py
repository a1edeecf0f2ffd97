"""Production failures and human corrections into a new Examples file per service.

A record (one JSON object per line):

    {"query": "...", "model_tool": "...", "model_parameters": {...},
     "correct_tool": "...", "correct_parameters": {...}    # or "correct_action": {"action": "clarify", ...}
     "explanation": "...", "timestamp": "2026-11-30T10:00:00Z", "service": "payment-service"}

Each becomes an example with `source: production` (`production_correction` when a person
corrected the model), the model's own call kept as a `common_mistakes` entry. In order:
PII scrubbed (`pii.Scrubber`); rejected when the query is a test scenario's or close to
one (contamination, the build's own threshold); dropped when it duplicates an existing
example or an earlier record (exact, then near); validated with the repository (a row the
validator refuses is reported with its reason and left out). Nothing here writes: the
caller writes `Ingest.files`, each a new file, never a person's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.errors import Diagnostic
from mcptrain.feedback.pii import Scrubber
from mcptrain.fingerprint import sha256_json
from mcptrain.specs.loader import Loaded, Specs
from mcptrain.specs.models import ExamplesSpec
from mcptrain.specs.validator import normalize_query, validate_repository
from mcptrain.specs.yaml import dump_yaml, parse_document

ACTIONS = ("clarify", "ask_for_details", "refuse", "no_tool")


@dataclass
class Outcome:
    line: int
    status: str  # added / duplicate / near-duplicate / contamination / invalid
    detail: str = ""
    service: str | None = None
    tool: str | None = None


@dataclass
class Ingest:
    outcomes: list[Outcome] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # rel path -> text
    pii: dict[str, int] = field(default_factory=dict)

    def added(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "added"]


def read_records(path: Path, diags: list[Diagnostic]) -> list[tuple[int, dict[str, Any]]]:
    """The file's records with their line numbers; each bad line a Diagnostic at it."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = raw[: e.start].count(b"\n") + 1
        diags.append(Diagnostic(str(path), at, e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1, "",
                                f"not valid UTF-8 (byte 0x{raw[e.start]:02x}); nothing read"))
        return []
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            diags.append(Diagnostic(str(path), n, e.colno, "", f"invalid JSON: {e.msg}"))
            continue
        except RecursionError:
            diags.append(Diagnostic(str(path), n, 1, "", "invalid JSON: nesting is too deep"))
            continue
        except ValueError as e:  # an integer of thousands of digits
            diags.append(Diagnostic(str(path), n, 1, "", f"invalid JSON: {e}"))
            continue
        problem = _record_problem(data)
        if problem is not None:
            diags.append(Diagnostic(str(path), n, 1, problem[0], problem[1]))
            continue
        records.append((n, data))
    return records


def _record_problem(data: Any) -> tuple[str, str] | None:
    """(field, what is wrong) when a line is no usable record."""
    if not isinstance(data, dict) or not isinstance(data.get("query"), str) or not data["query"].strip():
        return "", "expected an object with a non-empty 'query'"
    for key in ("service", "correct_tool", "model_tool", "explanation", "timestamp"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return key, f"expected a string (got {type(data[key]).__name__})"
    for key in ("correct_parameters", "model_parameters"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return key, f"expected an object of arguments (got {type(data[key]).__name__})"
    return None


def plan_ingest(specs: Specs, diags: list[Diagnostic], records: list[tuple[int, dict[str, Any]]], *,
                name_fields: frozenset[str], default_service: str | None, stamp: str) -> Ingest:
    result = Ingest()
    existing = _queries(specs, "examples") + _queries(specs, "edge_cases")
    tests = _queries(specs, "scenarios")
    threshold = specs.project_spec.splits.near_duplicate_threshold * 100
    rows: dict[str, list[tuple[Outcome, dict[str, Any]]]] = {}
    pii: dict[str, int] = {}
    for n, record in records:
        scrub = Scrubber(name_fields)
        scrub.names_in([record.get("correct_parameters"), record.get("model_parameters")])
        clean = scrub.scrub(record)
        for kind, count in scrub.found.items():
            pii[kind] = pii.get(kind, 0) + count
        service = clean.get("service") or default_service
        outcome = Outcome(n, "added", service=service, tool=clean.get("correct_tool"))
        result.outcomes.append(outcome)
        if service not in specs.services:
            outcome.status, outcome.detail = "invalid", f"unknown service {service!r} (give 'service' or --service)"
            continue
        query = normalize_query(clean["query"])
        hit = _closest(query, tests, threshold)
        if hit is not None:
            outcome.status, outcome.detail = "contamination", f"matches test scenario {hit}"
            continue
        hit = _closest(query, existing, 100.0)
        if hit is not None:
            outcome.status, outcome.detail = "duplicate", f"same query as {hit}"
            continue
        hit = _closest(query, existing, threshold)
        if hit is not None:
            outcome.status, outcome.detail = "near-duplicate", f"close to {hit}"
            continue
        row = _example(clean, stamp, n)
        if isinstance(row, str):
            outcome.status, outcome.detail = "invalid", row
            continue
        existing.append((query, row["id"]))
        rows.setdefault(service, []).append((outcome, row))
    result.pii = pii
    for service, items in rows.items():
        _validate(specs, diags, service, items, stamp, result)
    return result


def _example(record: dict[str, Any], stamp: str, line: int) -> dict[str, Any] | str:
    row: dict[str, Any] = {"id": f"prod-{stamp}-{line:04d}", "query": record["query"].strip()}
    correct_tool, action = record.get("correct_tool"), record.get("correct_action")
    if isinstance(correct_tool, str) and correct_tool:
        row["call"] = {correct_tool: record.get("correct_parameters") or {}}
    elif action is not None:
        behaviour = action if isinstance(action, dict) else {"action": action}
        if behaviour.get("action") not in ACTIONS:
            return f"correct_action: expected one of {', '.join(ACTIONS)} (got {behaviour.get('action')!r})"
        row.update({k: v for k, v in behaviour.items() if k in ("action", "question", "required_fields", "reason",
                                                                "response")})
    else:
        return "needs 'correct_tool' (with 'correct_parameters') or 'correct_action'"
    if isinstance(record.get("explanation"), str) and record["explanation"].strip():
        row["explanation"] = record["explanation"].strip()
    model_tool = record.get("model_tool")
    wrong = {model_tool: record.get("model_parameters") or {}} if isinstance(model_tool, str) and model_tool else None
    if wrong is not None and wrong != row.get("call"):
        row["common_mistakes"] = [{"wrong": wrong, "reason": row.get("explanation") or "the model's call in production"}]
    row["source"] = "production_correction" if record.get("corrected_by") else "production"
    when = record.get("timestamp")
    if isinstance(when, str):
        try:
            row["created_at"] = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return f"timestamp: expected an ISO 8601 date or time (got {when!r})"
    return row


def _validate(specs: Specs, diags: list[Diagnostic], service: str, items: list[tuple[Outcome, dict[str, Any]]],
              stamp: str, result: Ingest) -> None:
    """Keep the rows the validator accepts (checked with the whole repository)."""
    bundle = specs.services[service]
    folder = Path(bundle.files()[0].path).parent.as_posix()
    rel = f"{folder}/examples/production-{stamp}.yaml"
    for _ in range(2):  # a second pass confirms the file once the refused rows are out
        text = dump_yaml({"apiVersion": "mcptrain/v1", "kind": "Examples", "service": service,
                          "examples": [row for _, row in items]})
        doc = parse_document(text.encode("utf-8"), rel)
        errors = _errors(specs, diags, service, doc)
        if not errors:
            break
        for index, message in errors.items():
            items[index][0].status, items[index][0].detail = "invalid", message
        items = [item for i, item in enumerate(items) if i not in errors]
    if items:
        result.files[rel] = text


def _errors(specs: Specs, diags: list[Diagnostic], service: str, doc: Any) -> dict[int, str]:
    import dataclasses
    import re

    try:
        spec = ExamplesSpec.model_validate(doc.data)
    except Exception as e:  # pydantic refuses a row: which one is in the error's location
        found = re.search(r"examples\.(\d+)", str(e))
        return {int(found.group(1)) if found else 0: str(e).splitlines()[1 if len(str(e).splitlines()) > 1 else 0]}
    bundle = dataclasses.replace(specs.services[service],
                                 examples=[*specs.services[service].examples, Loaded(spec, doc)])
    trial = dataclasses.replace(specs, services={**specs.services, service: bundle})
    out: dict[int, str] = {}
    for d in validate_repository(specs.root, (trial, list(diags))).errors:
        m = re.match(r"examples\[(\d+)\]", d.where)
        if d.path == doc.path and m:
            out.setdefault(int(m.group(1)), f"{d.where}: {d.message}")
    return out


def _queries(specs: Specs, section: str) -> list[tuple[str, str]]:
    kinds = {"examples": "examples", "edge_cases": "edge_cases", "scenarios": "tests"}
    out = []
    for bundle in specs.services.values():
        for loaded in getattr(bundle, kinds[section]):
            for item in getattr(loaded.spec, section):
                if item.query:
                    out.append((normalize_query(item.query), item.id))
    return out


def _closest(query: str, pool: list[tuple[str, str]], threshold: float) -> str | None:
    from rapidfuzz import fuzz

    for other, ident in pool:
        if other == query or (threshold < 100 and fuzz.ratio(query, other) >= threshold):
            return ident
    return None


def summary_markdown(result: Ingest, source: str) -> str:
    """The pull request's body: what was added per service and tool, and what was left out."""
    lines = [f"## Production feedback from `{source}`", "", "| service | tool | added |", "|---|---|---:|"]
    counts: dict[tuple[str, str], int] = {}
    for o in result.added():
        key = (o.service or "?", o.tool or "(behaviour)")
        counts[key] = counts.get(key, 0) + 1
    lines += [f"| {s} | {t} | {n} |" for (s, t), n in sorted(counts.items())]
    left = [o for o in result.outcomes if o.status != "added"]
    if left:
        lines += ["", "Left out:", ""] + [f"- line {o.line}: {o.status} ({o.detail})" for o in left]
    if result.pii:
        lines += ["", "PII scrubbed: " + ", ".join(f"{n} {k}" for k, n in sorted(result.pii.items()))]
    return "\n".join(lines) + "\n"


def stamp_of(records: list[tuple[int, dict[str, Any]]]) -> str:
    """The new file's name part: today and a hash of the records (re-ingesting the same
    file names the same file, which then exists and is not written again)."""
    return f"{dt.date.today():%Y%m%d}-{sha256_json([r for _, r in records])[:8]}"


def review_records(report: dict[str, Any], rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """`mcptrain eval`'s failures as records a person corrects and feeds back to `ingest`.

    The failed row itself is a test item and must never be trained on (ingest would reject
    it as contamination), so its question goes to `failed_query` and `query` is left for a
    person to fill with a new phrasing of the same need; the expected answer is filled in
    as the correction to confirm."""
    out = []
    for item in report.get("items", []):
        if item.get("candidate", {}).get("correct", True):
            continue
        row = rows.get(item.get("row_id", ""), {})
        user = [m.get("content") for m in row.get("messages", []) if m.get("role") == "user"]
        expected: dict[str, Any] = next((m for m in reversed(row.get("messages", [])) if m.get("role") == "assistant"), {})
        calls = expected.get("tool_calls") or []
        record: dict[str, Any] = {"query": "", "failed_row": item.get("row_id"), "failed_query": user[-1] if user else None,
                                  "service": item.get("service"), "model_error": item["candidate"].get("reason"),
                                  "explanation": "", "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        if calls:
            fn = calls[0].get("function", {})
            args = fn.get("arguments")
            record["correct_tool"] = fn.get("name")
            record["correct_parameters"] = json.loads(args) if isinstance(args, str) else args
        out.append(record)
    return out
