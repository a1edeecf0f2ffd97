from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.evaluation.calls import Expected, load_bfcl_answers
from mcptrain.evaluation.checker import check_output
from mcptrain.evaluation.parsing import parse_output
from mcptrain.importers.bfcl import BfclImportError, import_bfcl
from mcptrain.specs.validator import validate_repository
from mcptrain.specs.yaml import load_document
from tests.conftest import HERE

FIXTURES = HERE / "fixtures" / "bfcl"


def project(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "mcptrain.yaml").write_text("apiVersion: mcptrain/v1\nkind: Project\nname: bfcl\n", encoding="utf-8")
    return tmp_path


def run(tmp_path: Path, category: str, service: str | None = None, *, answers: bool = True) -> tuple[Path, Any]:
    out = project(tmp_path) / "specs" / (service or f"bfcl-{category}")
    answer_file = FIXTURES / "possible_answer" / f"BFCL_v3_{category}.json" if answers else None
    return out, import_bfcl(FIXTURES / f"BFCL_v3_{category}.json", answer_file, out, service or f"bfcl-{category}")


def load(path: Path) -> Any:
    return load_document(path).data


def item_tools(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Scenario id -> the functions it offers (inline MCP tools)."""
    return {s["id"]: s["tools"] for s in load(out / "tests" / "bfcl.yaml")["scenarios"]}


def write_lines(path: Path, *rows: Any) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_simple_becomes_a_valid_service(tmp_path: Path) -> None:
    out, result = run(tmp_path, "simple")
    assert [p.relative_to(out).as_posix() for p in result.written] == [
        "service.yaml", "tests/bfcl.yaml", "bfcl_answers.json"]  # no tools.yaml: each item offers its own
    assert (result.scenarios, result.tools, result.skipped, result.warnings) == (3, 3, [], [])
    validation = validate_repository(tmp_path)
    assert [d.format() for d in validation.errors] == []


def test_types_map_to_json_schema(tmp_path: Path) -> None:
    out, _ = run(tmp_path, "simple")
    tools = {t["name"]: t["inputSchema"] for offered in item_tools(out).values() for t in offered}
    assert tools["finance.compound_interest"]["type"] == "object"
    assert tools["finance.compound_interest"]["properties"]["principal"]["type"] == "number"
    flight = tools["book_flight"]["properties"]
    assert flight["route"]["type"] == "object"
    assert flight["route"]["properties"]["origin"] == {"type": "string", "description": "IATA code."}
    assert flight["seat"] == {"type": "array", "items": {}, "description": "Row and letter."}


def test_scenarios_keep_ids_and_first_acceptable_values(tmp_path: Path) -> None:
    out, _ = run(tmp_path, "simple")
    scenarios = {s["id"]: s for s in load(out / "tests" / "bfcl.yaml")["scenarios"]}
    assert list(scenarios) == ["simple_0", "simple_1", "simple_2"]
    assert scenarios["simple_0"]["expect"] == {"call": {"geometry.triangle_area": {"base": 10, "height": 5,
                                                                                   "unit": "units"}}}
    assert scenarios["simple_0"]["category"] == "simple"
    assert scenarios["simple_0"]["tags"] == ["bfcl", "simple"]
    assert scenarios["simple_2"]["expect"]["call"]["book_flight"] == {
        "route": {"origin": "SFO", "destination": "JFK"}, "date": "2026-03-01", "passengers": ["Ann", "Bo"],
        "seat": [12, "C"]}


def test_sidecar_keeps_every_acceptable_value(tmp_path: Path) -> None:
    out, _ = run(tmp_path, "simple")
    sidecar = json.loads((out / "bfcl_answers.json").read_text(encoding="utf-8"))
    assert sidecar["format"] == "mcptrain-bfcl-answers/2"
    assert sidecar["items"]["simple_2"]["bfcl_category"] == "simple"
    assert sidecar["items"]["simple_2"]["functions"][0]["parameters"]["type"] == "dict"  # BFCL's doc, as written
    assert sidecar["items"]["simple_2"]["ground_truth"][0]["book_flight"]["passengers"] == [["Ann", "Bo"], ["Bo", "Ann"]]
    answers = load_bfcl_answers(out / "bfcl_answers.json")
    tools = item_tools(out)["simple_2"]
    got = ('[book_flight(route={"origin": "SFO", "destination": "JFK"}, date="2026-03-01", '
           'passengers=["Bo", "Ann"])]')
    assert check_output(parse_output(got), answers["simple_2"], tools).correct
    wrong = '[book_flight(route={"origin": "SFO", "destination": "LAX"}, date="2026-03-01", passengers=["Bo"])]'
    assert check_output(parse_output(wrong), answers["simple_2"], tools).reason == \
        "argument 'route.destination': expected 'JFK', got 'LAX'"


def test_parallel_and_parallel_multiple(tmp_path: Path) -> None:
    out, _ = run(tmp_path / "a", "parallel")
    scenarios = load(out / "tests" / "bfcl.yaml")["scenarios"]
    assert scenarios[0]["expect"] == {"calls": [{"weather.get": {"city": "Paris", "unit": "celsius"}},
                                                {"weather.get": {"city": "Tokyo", "unit": "celsius"}}]}
    assert scenarios[0]["category"] == "parallel"
    out, _ = run(tmp_path / "b", "parallel_multiple")
    scenarios = load(out / "tests" / "bfcl.yaml")["scenarios"]
    assert scenarios[0]["expect"] == {"calls": [{"weather.get": {"city": "Oslo"}}, {"stock.price": {"ticker": "NVDA"}}]}
    assert scenarios[0]["category"] == "parallel_multiple"
    answers = load_bfcl_answers(out / "bfcl_answers.json")
    # Any order; BFCL's answer says `unit` must be left out, and "celsius" is its default.
    got = '[stock.price(ticker="NVDA"), weather.get(city="oslo", unit="celsius")]'
    tools = item_tools(out)["parallel_multiple_0"]
    assert check_output(parse_output(got), answers["parallel_multiple_0"], tools).correct
    assert check_output(parse_output(got.replace("celsius", "fahrenheit")), answers["parallel_multiple_0"],
                        tools).reason == "weather.get: argument 'unit': expected it omitted, got 'fahrenheit'"


def test_multiple(tmp_path: Path) -> None:
    out, result = run(tmp_path, "multiple")
    assert result.tools == 2
    scenarios = load(out / "tests" / "bfcl.yaml")["scenarios"]
    assert [s["category"] for s in scenarios] == ["multiple", "multiple"]


def test_irrelevance_needs_no_answer_file(tmp_path: Path) -> None:
    out, result = run(tmp_path, "irrelevance", answers=False)
    scenarios = load(out / "tests" / "bfcl.yaml")["scenarios"]
    assert [(s["id"], s["expect"], s["category"]) for s in scenarios] == [
        ("irrelevance_0", {"action": "no_tool"}, "relevance"),
        ("irrelevance_1", {"action": "no_tool"}, "relevance"),
        ("irrelevance_2", {"action": "no_tool"}, "relevance")]
    assert load_bfcl_answers(out / "bfcl_answers.json")["irrelevance_0"] == Expected(action="no_tool")
    assert [d.format() for d in validate_repository(tmp_path).errors] == []


def test_never_overwrites(tmp_path: Path) -> None:
    out, _ = run(tmp_path, "simple")
    before = (out / "tests" / "bfcl.yaml").read_text(encoding="utf-8")
    with pytest.raises(BfclImportError) as e:
        run(tmp_path, "simple")
    assert str(e.value) == (
        f"{out / 'tests' / 'bfcl.yaml'}: exists; mcptrain never overwrites a file\n"
        f"{out / 'bfcl_answers.json'}: exists; mcptrain never overwrites a file\n"
        "    hint: import into a new folder, or move the existing files away")
    assert (out / "tests" / "bfcl.yaml").read_text(encoding="utf-8") == before


def test_an_existing_service_file_is_kept(tmp_path: Path) -> None:
    out = project(tmp_path) / "specs" / "svc"
    out.mkdir(parents=True)
    (out / "service.yaml").write_text("# ours\n", encoding="utf-8")
    result = import_bfcl(FIXTURES / "BFCL_v3_multiple.json", FIXTURES / "possible_answer" / "BFCL_v3_multiple.json",
                         out, "svc")
    assert (out / "service.yaml").read_text(encoding="utf-8") == "# ours\n"
    assert out / "service.yaml" not in result.written


def test_problems_are_all_reported(tmp_path: Path) -> None:
    data = write_lines(
        tmp_path / "data.json",
        {"id": "simple_0", "question": [[{"role": "user", "content": "q"}]],
         "function": [{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "String"}}}}]},
        "{not json",
        {"id": "bad id!", "question": "q", "function": []},
        {"id": "simple_3", "question": "q", "function": "f"},
    )
    answers = write_lines(tmp_path / "answers.json", {"id": "simple_9", "ground_truth": []})
    with pytest.raises(BfclImportError) as e:
        import_bfcl(data, answers, tmp_path / "out", "bad service")
    assert str(e.value).splitlines() == [
        "service name 'bad service' must match ^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        f"{data}:2: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
        "BFCL files hold one JSON object per line",
        f"{answers}:1: id 'simple_9' is not in data.json",
        f"{data}:1: simple_0: function 'f' parameter 'x': unknown BFCL type 'String' (expected one of 'dict', "
        "'float', 'tuple', 'integer', 'string', 'boolean', 'array', 'any', 'object', 'number', 'null')",
        f"{data}:3: 'id' must be a string matching ^[A-Za-z0-9][A-Za-z0-9._:-]*$ (got 'bad id!')",
        f"{data}:4: simple_3: 'function' must be a list of function docs with 'name'",
    ]
    assert not (tmp_path / "out").exists()


def test_bad_ground_truth(tmp_path: Path) -> None:
    data = write_lines(tmp_path / "d.json", {"id": "simple_0", "question": "q", "function": [{"name": "f"}]})
    answers = write_lines(tmp_path / "a.json", {"id": "simple_0", "ground_truth": {"f": {}}})
    with pytest.raises(BfclImportError) as e:
        import_bfcl(data, answers, tmp_path / "out", "svc")
    assert str(e.value) == (f"{answers}:1: simple_0: 'ground_truth' must be a list of "
                            "{function: {parameter: [acceptable values]}}")


def test_skips_and_warnings(tmp_path: Path) -> None:
    f1 = {"name": "f", "description": "F.", "parameters": {"type": "dict", "properties": {
        "n": {"type": "integer", "enum": [1, 2]}}}}
    f2 = {**f1, "description": "Another F."}
    data = write_lines(
        tmp_path / "d.json",
        {"id": "simple_0", "question": [[{"role": "system", "content": "s"}, {"role": "user", "content": "q0"}]],
         "function": [f1]},
        {"id": "simple_1", "question": [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]],
         "function": [f1]},
        {"id": "simple_2", "question": "q2", "function": [f2]},
        {"id": "simple_3", "question": "q3", "function": [f1]},
    )
    answers = write_lines(tmp_path / "a.json", {"id": "simple_0", "ground_truth": [{"f": {"n": [7, 2]}}]},
                          {"id": "simple_2", "ground_truth": [{"f": {"n": [9]}}]})
    result = import_bfcl(data, answers, tmp_path / "out", "svc")
    assert result.skipped == [
        "simple_1: multi-turn BFCL entries are not imported (2 turns; a scenario holds one query)",
        "simple_3: no ground truth in the answer file"]
    assert result.warnings == ["simple_0: non-user messages in the question were dropped"]
    assert result.contradictions == [  # BFCL's answer breaks its own function doc: no scenario can hold it
        "simple_2: BFCL's answer contradicts the item's own functions: no acceptable value of 'n' fits its "
        "schema (9)"]
    scenarios = load(tmp_path / "out" / "tests" / "bfcl.yaml")["scenarios"]
    assert scenarios[0]["expect"] == {"call": {"f": {"n": 2}}}  # 7 is outside the enum
    assert scenarios[0]["query"] == "q0"
