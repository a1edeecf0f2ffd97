"""Convert the public BFCL format into spec files for one service (one BFCL category).

BFCL data files are JSON Lines (despite the `.json` name): `id`, `question` (a list of
turns, each a list of `{role, content}` messages) and `function` (the item's own list of
1-37 function docs, whose types use BFCL's names; one name recurs across items with
different parameters). Answer files hold `{"id", "ground_truth": [{func: {param:
[acceptable values]}}]}`, where `""` among the values means the parameter may be
omitted; irrelevance and relevance files have no answers.

Written into `out_dir` (never over an existing file):
- `service.yaml` (only when absent) and `tests/bfcl.yaml` (TestScenarios, BFCL ids kept
  as scenario ids): each scenario offers exactly its item's functions, inline under
  `tools:` (so the prompt, the checker and the grammar see what BFCL offers that item),
  and each call holds the first acceptable value of every argument;
- `bfcl_answers.json`, the sidecar with every acceptable value, BFCL's own category and
  the item's function docs as BFCL wrote them, keyed by id: the alternatives
  (`mcptrain.evaluation.calls.load_bfcl_answers`) and what `eval --rules bfcl` needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mcptrain.errors import MCPTrainError
from mcptrain.files import write_new_file
from mcptrain.importers.bfcl_schema import call_args, mcp_tool
from mcptrain.specs import models as s
from mcptrain.specs.bfcl_values import language_of
from mcptrain.specs.yaml import dump_yaml

ANSWERS_FILE = "bfcl_answers.json"
ANSWERS_FORMAT = "mcptrain-bfcl-answers/2"
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
    contradictions: list[str] = field(default_factory=list)  # items whose answer breaks their own schema
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
    names: set[str] = set()
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
        bfcl_category = _CATEGORY.sub("", item_id)
        language = language_of(bfcl_category)
        item_tools = [t for t in (mcp_tool(d, language, f"{where}: {item_id}", errors) for d in docs) if t]
        if len({t["name"] for t in item_tools}) != len(item_tools):
            errors.append(f"{where}: {item_id}: 'function' lists the same name twice")
            continue
        names.update(t["name"] for t in item_tools)
        query = _query(entry.get("question"), item_id, result)
        if query is None:
            continue
        answer = answers.get(item_id)
        if answer is None and "relevance" not in bfcl_category:
            result.skipped.append(f"{item_id}: no ground truth in the answer file")
            continue
        truth = answer[1].get("ground_truth") if answer else None
        if answer is not None and not _valid_truth(truth):
            errors.append(f"{answer_file}:{answer[0]}: {item_id}: 'ground_truth' must be a list of "
                          "{function: {parameter: [acceptable values]}}")
            continue
        category = _category(bfcl_category)
        scenario: dict[str, Any] = {"id": item_id, "query": query, "category": category,
                                    "tags": ["bfcl", bfcl_category], "tools": item_tools}
        item: dict[str, Any] = {"category": category, "bfcl_category": bfcl_category, "functions": docs}
        if truth:
            schemas = {t["name"]: t["inputSchema"] for t in item_tools}
            problems = [f"it calls {name!r}, which the item does not offer"
                        for call in truth for name in call if name not in schemas]
            calls = [{name: call_args(params, schemas.get(name, {}), problems)}
                     for call in truth for name, params in call.items()]
            if problems:  # no scenario can hold it: mcptrain validates expected calls
                result.contradictions.append(f"{item_id}: BFCL's answer contradicts the item's own "
                                             f"functions: {'; '.join(problems)}")
                continue
            scenario["expect"] = {"call": calls[0]} if len(calls) == 1 else {"calls": calls}
            item["ground_truth"] = truth
        else:  # irrelevance: no call is right; relevance: any call of an offered function is
            item["action"] = "no_tool" if "irrelevance" in bfcl_category else "use_tool"
            scenario["expect"] = {"action": item["action"]}
        sidecar[item_id] = item
        scenarios.append(scenario)
    if errors:
        more = [f"... and {len(errors) - 20} more"] if len(errors) > 20 else []
        raise BfclImportError("\n".join(errors[:20] + more))
    files = _planned(out_dir, service_name, owners, data_file, scenarios, sidecar)
    existing = [p for p, _ in files[1:] if p.exists()]
    if existing:
        raise BfclImportError("\n".join(f"{p}: exists; mcptrain never overwrites a file" for p in existing),
                              hint="import into a new folder, or move the existing files away")
    for path, text in files:
        if path.name == "service.yaml" and path.exists():
            continue  # the team's own Service spec stays
        write_new_file(path, text)
        result.written.append(path)
    result.scenarios, result.tools = len(scenarios), len(names)
    return result


def _planned(out_dir: Path, service: str, owners: Sequence[str], data_file: Path,
             scenarios: list[dict[str, Any]], sidecar: dict[str, Any]) -> list[tuple[Path, str]]:
    header = {"apiVersion": s.API_VERSION}
    service_doc = {**header, "kind": "Service", "name": service, "owners": list(owners),
                   "description": f"Imported from BFCL ({data_file.name}); each scenario offers its own "
                                  "functions, as BFCL does."}
    tests = {**header, "kind": "TestScenarios", "service": service, "scenarios": scenarios}
    for spec, doc in ((s.ServiceSpec, service_doc), (s.TestScenariosSpec, tests)):
        try:
            spec.model_validate(doc)
        except ValidationError as e:  # the checks above should make this unreachable
            raise BfclImportError(f"{data_file}: the converted {doc['kind']} does not validate: {e}") from None
    answers = {"format": ANSWERS_FORMAT, "source": data_file.name, "items": sidecar}
    note = "# Imported from BFCL by mcptrain; set the owning team in 'owners'.\n"
    return [(out_dir / "service.yaml", note + dump_yaml(service_doc)),
            (out_dir / "tests" / "bfcl.yaml", dump_yaml(tests)),
            (out_dir / ANSWERS_FILE, json.dumps(answers, indent=1, ensure_ascii=False) + "\n")]


def default_service(data_file: Path) -> str:
    """`BFCL_v4_simple_python.json` -> `bfcl-simple-python`: one folder per category, so
    several categories import into one project side by side."""
    stem = re.sub(r"^BFCL_v\d+_", "", data_file.name.split(".")[0], flags=re.IGNORECASE)
    return "bfcl-" + stem.lower().replace("_", "-")


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
    # simple_python, simple_java, simple_javascript (v4); java, javascript, sql, rest (v3)
    return "simple" if name.startswith("simple") or name in ("java", "javascript", "sql", "rest") else name


def _valid_truth(truth: Any) -> bool:
    return isinstance(truth, list) and all(
        isinstance(c, dict) and len(c) == 1 and all(isinstance(p, dict) for p in c.values()) for c in truth)
