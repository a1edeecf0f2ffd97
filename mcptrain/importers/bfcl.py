"""Convert the public BFCL format into spec files for one service.

BFCL data files are JSON Lines (despite the `.json` name): `id`, `question` (a list of
turns, each a list of `{role, content}` messages) and `function` (a list of docs whose
types use BFCL's names). Answer files hold `{"id", "ground_truth": [{func: {param:
[acceptable values]}}]}`, where `""` among the values means the parameter may be
omitted; irrelevance files have no answers (the model must not call).

Written into `out_dir` (never over an existing file):
- `service.yaml` (only when absent), `tools.yaml` (ToolSet), `tests/bfcl.yaml`
  (TestScenarios, BFCL ids kept as scenario ids; each call holds the first acceptable
  value of every argument);
- `bfcl_answers.json`, the sidecar with every acceptable value, keyed by id. A scenario's
  `expect` holds one value per argument, so the alternatives live here, and
  `mcptrain.calls.load_bfcl_answers` reads them back as `Expected` records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from mcptrain.errors import MCPTrainError
from mcptrain.files import write_new_file
from mcptrain.specs import models as s
from mcptrain.specs.yaml import dump_yaml

ANSWERS_FILE = "bfcl_answers.json"
ANSWERS_FORMAT = "mcptrain-bfcl-answers/1"
TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer",
         "string": "string", "boolean": "boolean", "array": "array", "any": None,
         "object": "object", "number": "number", "null": "null"}
_CATEGORY = re.compile(r"_\d+(-\d+)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class BfclImportError(MCPTrainError):
    """The BFCL files cannot be imported; the message lists every problem."""


@dataclass
class BfclImport:
    written: list[Path]
    scenarios: int
    tools: int
    skipped: list[str] = field(default_factory=list)  # "<id>: why" for items not imported
    warnings: list[str] = field(default_factory=list)


def import_bfcl(data_file: Path, answer_file: Path | None, out_dir: Path, service_name: str, *,
                owners: Sequence[str] = ("@bfcl/imported",)) -> BfclImport:
    """Convert one BFCL data file (+ its answer file, if any) into specs under `out_dir`."""
    errors: list[str] = []
    if not _IDENTIFIER.fullmatch(service_name):
        errors.append(f"service name {service_name!r} must match {_IDENTIFIER.pattern}")
    entries = _read_lines(data_file, errors)
    answers = {str(a.get("id")): (n, a) for n, a in _read_lines(answer_file, errors)} if answer_file else {}
    ids = {str(e.get("id")) for _, e in entries}
    for answer_id, (n, _) in answers.items():
        if answer_id not in ids:
            errors.append(f"{answer_file}:{n}: id {answer_id!r} is not in {data_file.name}")
    result = BfclImport([], 0, 0)
    tools: dict[str, tuple[dict[str, Any], str]] = {}  # name -> (MCP tool, first id)
    scenarios: list[dict[str, Any]] = []
    sidecar: dict[str, Any] = {}
    for n, entry in entries:
        where = f"{data_file}:{n}"
        item_id = entry.get("id")
        if not isinstance(item_id, str) or not _IDENTIFIER.fullmatch(item_id):
            errors.append(f"{where}: 'id' must be a string matching {_IDENTIFIER.pattern} (got {item_id!r})")
            continue
        docs = entry.get("function")
        docs = [docs] if isinstance(docs, dict) else docs
        if not isinstance(docs, list) or not all(isinstance(d, dict) and d.get("name") for d in docs):
            errors.append(f"{where}: {item_id}: 'function' must be a list of function docs with 'name'")
            continue
        item_tools = []
        for doc in docs:
            tool = _tool(doc, f"{where}: {item_id}", errors)
            if tool is None:
                continue
            item_tools.append(tool)
            first = tools.setdefault(tool["name"], (tool, item_id))
            if first[0] != tool:
                result.warnings.append(f"{item_id}: function {tool['name']!r} differs from its definition "
                                       f"in {first[1]}; the first is kept in tools.yaml")
        query = _query(entry.get("question"), item_id, result)
        if query is None:
            continue
        bfcl_category = _CATEGORY.sub("", item_id)
        answer = answers.get(item_id)
        if answer is None and "irrelevance" not in bfcl_category:
            result.skipped.append(f"{item_id}: no ground truth in the answer file")
            continue
        truth = answer[1].get("ground_truth") if answer else None
        if answer is not None and not _valid_truth(truth):
            errors.append(f"{answer_file}:{answer[0]}: {item_id}: 'ground_truth' must be a list of "
                          "{function: {parameter: [acceptable values]}}")
            continue
        category = _category(bfcl_category)
        scenario: dict[str, Any] = {"id": item_id, "query": query, "category": category,
                                    "tags": ["bfcl", bfcl_category]}
        if truth:
            schemas = {t["name"]: t["inputSchema"] for t in item_tools}
            calls = [{name: _call_args(params, schemas.get(name, {}), item_id, result)}
                     for call in truth for name, params in call.items()]
            scenario["expect"] = {"call": calls[0]} if len(calls) == 1 else {"calls": calls}
            sidecar[item_id] = {"category": category, "ground_truth": truth,
                                "tools": [t["name"] for t in item_tools]}
        else:
            scenario["expect"] = {"action": "no_tool"}
            sidecar[item_id] = {"category": category, "action": "no_tool",
                                "tools": [t["name"] for t in item_tools]}
        scenarios.append(scenario)
    if errors:
        more = [f"... and {len(errors) - 20} more"] if len(errors) > 20 else []
        raise BfclImportError("\n".join(errors[:20] + more))
    files = _planned(out_dir, service_name, owners, data_file, [t for t, _ in tools.values()], scenarios, sidecar)
    existing = [p for p, _ in files[1:] if p.exists()]
    if existing:
        raise BfclImportError("\n".join(f"{p}: exists; mcptrain never overwrites a file" for p in existing),
                              hint="import into a new folder, or move the existing files away")
    for path, text in files:
        if path.name == "service.yaml" and path.exists():
            continue  # the team's own Service spec stays
        write_new_file(path, text)
        result.written.append(path)
    result.scenarios, result.tools = len(scenarios), len(tools)
    return result


def _planned(out_dir: Path, service: str, owners: Sequence[str], data_file: Path, tools: list[dict[str, Any]],
             scenarios: list[dict[str, Any]], sidecar: dict[str, Any]) -> list[tuple[Path, str]]:
    header = {"apiVersion": s.API_VERSION}
    service_doc = {**header, "kind": "Service", "name": service, "owners": list(owners),
                   "description": f"Imported from BFCL ({data_file.name})."}
    toolset = {**header, "kind": "ToolSet", "service": service, "tools": tools}
    tests = {**header, "kind": "TestScenarios", "service": service, "scenarios": scenarios}
    for spec, doc in ((s.ServiceSpec, service_doc), (s.ToolSetSpec, toolset), (s.TestScenariosSpec, tests)):
        try:
            spec.model_validate(doc)
        except ValidationError as e:  # the checks above should make this unreachable
            raise BfclImportError(f"{data_file}: the converted {doc['kind']} does not validate: {e}") from None
    answers = {"format": ANSWERS_FORMAT, "source": data_file.name, "items": sidecar}
    note = "# Imported from BFCL by mcptrain; set the owning team in 'owners'.\n"
    return [(out_dir / "service.yaml", note + dump_yaml(service_doc)),
            (out_dir / "tools.yaml", dump_yaml(toolset)),
            (out_dir / "tests" / "bfcl.yaml", dump_yaml(tests)),
            (out_dir / ANSWERS_FILE, json.dumps(answers, indent=1, ensure_ascii=False) + "\n")]


def _read_lines(path: Path, errors: list[str]) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        errors.append(f"{path}: cannot read: {e.strerror}")
        return []
    except UnicodeDecodeError:
        errors.append(f"{path}: not UTF-8 text")
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as e:
            errors.append(f"{path}:{n}: not valid JSON ({e}); BFCL files hold one JSON object per line")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}:{n}: expected a JSON object")
            continue
        out.append((n, data))
    return out


def _tool(doc: dict[str, Any], where: str, errors: list[str]) -> dict[str, Any] | None:
    name = str(doc["name"])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) or len(name) > 128:  # ToolSpec.name
        errors.append(f"{where}: function name {name!r} is not a valid tool name")
        return None
    params = doc.get("parameters") or {"type": "dict", "properties": {}}
    n_errors = len(errors)
    schema = _schema(params, f"{where}: function {name!r}", errors)
    if len(errors) > n_errors:
        return None
    schema["type"] = "object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        errors.append(f"{where}: function {name!r}: the converted schema is invalid: {e.message}")
        return None
    return {"name": name, "description": str(doc.get("description") or f"The {name} function."),
            "inputSchema": schema}


def _schema(node: Any, where: str, errors: list[str]) -> Any:
    """BFCL's type names -> JSON Schema, recursively (properties, items, additionalProperties)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if "type" in node:
        bfcl = node["type"]
        if bfcl not in TYPES:
            errors.append(f"{where}: unknown BFCL type {bfcl!r} (expected one of "
                          f"{', '.join(repr(t) for t in TYPES)})")
            return out
        if TYPES[bfcl] is None:
            del out["type"]
        else:
            out["type"] = TYPES[bfcl]
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _schema(v, f"{where} parameter {k!r}", errors)
                             for k, v in node["properties"].items()}
    if isinstance(node.get("items"), list):  # tuple form -> Draft 2020-12's prefixItems
        out["prefixItems"] = [_schema(v, where, errors) for v in out.pop("items")]
    elif isinstance(node.get("items"), dict):
        out["items"] = _schema(node["items"], where, errors)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _schema(node["additionalProperties"], where, errors)
    return out


def _query(question: Any, item_id: str, result: BfclImport) -> str | None:
    if isinstance(question, str):
        return question
    turns = question if isinstance(question, list) else []
    if len(turns) != 1 or not isinstance(turns[0], list):
        result.skipped.append(f"{item_id}: multi-turn BFCL entries are not imported "
                              f"({len(turns)} turns; a scenario holds one query)")
        return None
    users = [m.get("content", "") for m in turns[0] if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) != len(turns[0]):
        result.warnings.append(f"{item_id}: non-user messages in the question were dropped")
    query = "\n".join(str(u) for u in users).strip()
    if not query:
        result.skipped.append(f"{item_id}: the question has no user text")
        return None
    return query


def _category(bfcl_category: str) -> str:
    name = bfcl_category.removeprefix("live_")
    if "irrelevance" in name:
        return "relevance"
    if name in ("simple", "multiple", "parallel", "parallel_multiple"):
        return name
    return "simple" if name in ("java", "javascript", "sql", "rest") else name


def _valid_truth(truth: Any) -> bool:
    return isinstance(truth, list) and all(
        isinstance(c, dict) and len(c) == 1 and all(isinstance(p, dict) for p in c.values()) for c in truth)


def _call_args(params: dict[str, Any], schema: dict[str, Any], item_id: str, result: BfclImport) -> dict[str, Any]:
    """One value per argument for the scenario: the first acceptable value that fits the schema."""
    props = schema.get("properties", {})
    out = {}
    for param, values in params.items():
        values = values if isinstance(values, list) else [values]
        options = [_first_values(v) for v in values if not (isinstance(v, str) and v == "")]
        if not options:
            continue  # only "": the argument is optional and expected to be left out
        check = Draft202012Validator(props.get(param, {}))
        fitting = [v for v in options if check.is_valid(v)]
        if not fitting:
            result.warnings.append(f"{item_id}: argument {param!r}: no acceptable value fits the schema")
        out[param] = (fitting or options)[0]
    return out


def _first_values(value: Any) -> Any:
    """A BFCL acceptable value made plain: a nested dict's value lists become their first value."""
    if isinstance(value, dict):
        out = {}
        for k, alts in value.items():
            alts = alts if isinstance(alts, list) else [alts]
            kept = [a for a in alts if not (isinstance(a, str) and a == "")]
            if kept:
                out[k] = _first_values(kept[0])
        return out
    if isinstance(value, list):
        return [_first_values(v) for v in value]
    return value
