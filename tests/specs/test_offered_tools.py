"""An item's own `tools:`: what its row offers, what its calls are checked against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcptrain.dataset.build import build_dataset
from mcptrain.specs.validator import validate_repository
from tests.builders import all_rows, read_rows, tool, write, write_project, write_service


def scenario(sid: str, call: dict[str, Any], tools: list[Any] | None = None, query: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "query": query or f"please handle case {sid} for me now",
                           "expect": {"call": call}}
    if tools is not None:
        out["tools"] = tools
    return out


def errors(root: Path) -> list[str]:
    return [d.format() for d in validate_repository(root).errors]


def test_a_scenario_offers_a_subset_of_its_service_tools_by_name(tmp_path: Path) -> None:
    write_project(tmp_path)
    names = write_service(tmp_path, "pay", scenarios=[
        scenario("S-1", {"pay_get": {"ref": "R-9"}}, tools=["pay_get", "pay_list"]),
        scenario("S-2", {"pay_get": {"ref": "R-8"}})])
    build_dataset(tmp_path)
    rows = {r["id"]: r for r in read_rows(tmp_path / "datasets" / "scenarios.jsonl")}
    assert [t["function"]["name"] for t in rows["S-1"]["tools"]] == ["pay_get", "pay_list"]
    assert [t["function"]["name"] for t in rows["S-2"]["tools"]] == names  # the service's, as before
    export = [json.loads(line) for line in (tmp_path / "datasets/openai/scenarios.jsonl").read_text().splitlines()]
    assert sorted(len(e["tools"]) for e in export) == [2, len(names)]


def test_inline_definitions_let_one_name_have_several_schemas(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "bench", tools=1, scenarios=[
        scenario("B-1", {"area": {"base": "3"}}, tools=[tool("area", "base", required=("base",))]),
        scenario("B-2", {"area": {"radius": "2"}}, tools=[tool("area", "radius"), tool("volume", "side")])])
    assert errors(tmp_path) == []
    build_dataset(tmp_path)
    rows = {r["id"]: r for r in all_rows(tmp_path / "datasets")}
    schemas = {sid: {t["function"]["name"]: sorted(t["function"]["parameters"]["properties"])
                     for t in rows[sid]["tools"]} for sid in ("B-1", "B-2")}
    assert schemas == {"B-1": {"area": ["base"]}, "B-2": {"area": ["radius"], "volume": ["side"]}}
    assert rows["B-1"]["category"] == "simple"


def test_calls_are_checked_against_the_tools_the_item_offers(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "pay", scenarios=[
        scenario("S-1", {"pay_create": {"ref": "R-1"}}, tools=["pay_get"]),
        scenario("S-2", {"area": {"radius": "2"}}, tools=[tool("area", "base")]),
        scenario("S-3", {"pay_get": {"ref": "R-1"}}, tools=["pay_gte", "pay_get", "pay_get"])])
    path = "specs/pay/tests/scenarios.yaml"
    found = [e.replace(str(tmp_path) + "/", "") for e in errors(tmp_path)]
    assert any(e.startswith(path) and "scenarios[0].expect.call.pay_create: unknown tool 'pay_create' "
               "(not among the tools this item offers)" in e for e in found), found
    assert any("scenarios[1].expect.call.area.radius: unknown argument 'radius'" in e for e in found), found
    assert any("scenarios[2].tools[0]: unknown tool 'pay_gte' in service 'pay'" in e for e in found), found
    assert any("scenarios[2].tools[2]: tool 'pay_get' is offered twice" in e for e in found), found


def test_two_services_may_both_have_a_tool_of_the_same_name(tmp_path: Path) -> None:
    write_project(tmp_path)
    for service, param in (("docs", "text"), ("web", "url")):
        d = tmp_path / "specs" / service
        write(d / "service.yaml", {"kind": "Service", "name": service, "owners": ["@t/t"]})
        write(d / "tools.yaml", {"kind": "ToolSet", "service": service, "tools": [tool("search", param)]})
        write(d / "examples" / "main.yaml", {"kind": "Examples", "service": service, "examples": [
            {"id": f"{service}-{i}", "query": f"{service} lookup number {i} about topic {i * 7}",
             "call": {"search": {param: f"v{i}"}}} for i in range(6)]})
    assert errors(tmp_path) == []
    build_dataset(tmp_path)
    for row in all_rows(tmp_path / "datasets"):
        (offered,) = row["tools"]  # nothing mixes the two searches in one prompt
        want = "text" if row["service"] == "docs" else "url"
        assert list(offered["function"]["parameters"]["properties"]) == [want]


def test_a_name_defined_twice_in_one_service_is_an_error(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "pay", tools=1)
    write(tmp_path / "specs/pay/more_tools.yaml", {"kind": "ToolSet", "service": "pay",
                                                   "tools": [tool("pay_create", "x")]})
    assert any("tool 'pay_create' is already defined in" in e for e in errors(tmp_path))


def test_any_vocabulary_unit_is_accepted_and_the_known_ones_are_checked(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "ship", tools=2)
    write(tmp_path / "specs/ship/vocabulary.yaml", {"kind": "Vocabulary", "service": "ship", "rules": [
        {"parameter": "ship_create.ref", "unit": "grams"},
        {"parameter": "ship_create.note", "unit": "basis_points", "rule": "1 bp = 0.01%"},
        {"parameter": "ship_get.ref", "unit": "seconds"},
        {"parameter": "ship_get.note", "unit": "cents"}]})
    found = errors(tmp_path)
    assert len(found) == 2, found
    assert "rules[2].unit: unit 'seconds' needs an integer or a number parameter (ship_get.ref is 'string')" \
        in found[0]
    assert "rules[3].unit: unit 'cents' needs an integer parameter (ship_get.note is 'string')" in found[1]
