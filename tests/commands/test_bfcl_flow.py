"""e2e: a BFCL data set through the CLI — import, build, score a predictions file keyed by
BFCL id (BFCL's Python-call syntax, dotted function names) without loading a model."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import mcptrain
from tests.conftest import HERE

FIXTURES = HERE / "fixtures" / "bfcl"


def test_import_build_and_score_bfcl_predictions(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert mcptrain("init", str(root), "--name", "bfcl")[0] == 0
    code, out, err = mcptrain("import", "bfcl", str(FIXTURES / "BFCL_v3_simple.json"),
                              str(FIXTURES / "possible_answer" / "BFCL_v3_simple.json"),
                              "--service", "bfcl-simple", "--root", str(root))
    assert code == 0, err
    assert (root / "specs" / "bfcl-simple" / "bfcl_answers.json").is_file()
    code, out, err = mcptrain("validate", str(root))
    assert code == 0, out + err
    code, out, err = mcptrain("build", str(root), "--no-dvc")
    assert code == 0, err

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(p) + "\n" for p in [
        {"id": "simple_0", "output": "[geometry.triangle_area(base=10, height=5)]"},
        {"id": "simple_1", "output": "[finance.compound_interest(principal=1500, rate=0.05, years=7)]"},
    ]), encoding="utf-8")
    out_dir = tmp_path / "report"
    code, out, err = mcptrain("eval", str(root), "--predictions", str(preds), "--split", "scenarios",
                              "--service", "bfcl-simple", "--out", str(out_dir), "--no-chart")
    assert code == 0, err
    items = {i["id"]: i["candidate"] for i in json.loads((out_dir / "report.json").read_text())["items"]}
    assert set(items) == {"simple_0", "simple_1", "simple_2"}
    # An omitted optional argument whose acceptable values include "" is fine (BFCL's rule).
    assert items["simple_0"]["outcome"] == "correct"
    assert items["simple_1"]["outcome"] == "wrong_arguments" and "rate" in items["simple_1"]["reason"]
    assert items["simple_2"]["reason"] == "no output for this item"


V4 = ("simple_python", "simple_java", "simple_javascript", "live_multiple", "live_irrelevance", "live_relevance")


def import_v4(root: Path) -> None:
    assert mcptrain("init", str(root), "--name", "bfcl")[0] == 0
    for category in V4:
        answers = FIXTURES / "possible_answer" / f"BFCL_v4_{category}.json"
        code, out, err = mcptrain("import", "bfcl", str(FIXTURES / f"BFCL_v4_{category}.json"),
                                  *([str(answers)] if answers.exists() else []), "--root", str(root))
        assert code == 0, err


def test_every_category_imports_side_by_side_and_builds(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    import_v4(root)
    assert sorted(p.name for p in (root / "specs").iterdir() if p.name.startswith("bfcl-")) == [
        "bfcl-live-irrelevance", "bfcl-live-multiple", "bfcl-live-relevance", "bfcl-simple-java",
        "bfcl-simple-javascript", "bfcl-simple-python"]
    code, out, err = mcptrain("build", str(root), "--no-dvc")
    assert code == 0, out + err
    rows = {r["id"]: r for r in map(json.loads, (root / "datasets" / "scenarios.jsonl").read_text().splitlines())}

    def offered(row_id: str) -> dict[str, list[str]]:
        return {t["function"]["name"]: sorted(t["function"]["parameters"].get("properties", {}))
                for t in rows[row_id]["tools"]}

    # One name, two schemas, each item with its own (BFCL's simple_python_25 and _31).
    assert offered("simple_python_25") == {"calculate_final_velocity": ["gravity", "height", "initial_velocity"]}
    assert offered("simple_python_31") == {"calculate_final_velocity": ["acceleration", "initial_velocity", "time"]}
    # Each question is offered its own functions: 37 for one, 2 for another, none for a third.
    assert [len(rows[i]["tools"]) for i in ("live_multiple_985-216-0", "live_multiple_0-0-0",
                                            "live_irrelevance_120-9-0")] == [37, 2, 0]
    openai = [json.loads(line) for line in (root / "datasets/openai/scenarios.jsonl").read_text().splitlines()]
    assert sorted(len(e["tools"]) for e in openai) == sorted(len(r["tools"]) for r in rows.values())
    # Java values are strings in Java's syntax, BFCL's type kept beside them.
    (java,) = rows["simple_java_1"]["messages"][-1]["tool_calls"]
    assert java["function"]["arguments"]["useShortName"] == "true"
    assert java["function"]["arguments"]["params"] == \
        'new HashMap<String, Object>() {{ put("limit", 50); put("schemaFilter", "public"); }}'
    params = rows["simple_java_1"]["tools"][0]["function"]["parameters"]["properties"]
    assert params["params"] == {"type": "string", "description": params["params"]["description"],
                                "x-bfcl": {"language": "java", "type": "HashMap"}}
    assert rows["live_relevance_0-0-0"]["expected_action"] == "use_tool"


def reference_predictions(root: Path, path: Path, **overrides: object) -> Path:
    """Each scenario's reference answer as the model's output; `overrides` replace some."""
    lines = []
    for row in map(json.loads, (root / "datasets" / "scenarios.jsonl").read_text().splitlines()):
        turn = row["messages"][-1]
        output: object = {"role": "assistant", "tool_calls": turn["tool_calls"]} if turn.get("tool_calls") \
            else "That is not something these tools can do."
        if row.get("expected_action") == "use_tool":
            output = f'[{row["tools"][0]["function"]["name"]}(prompt="a masked woman")]'
        lines.append({"id": row["id"], "output": overrides.get(row["id"], output)})
    path.write_text("".join(json.dumps(p) + "\n" for p in lines), encoding="utf-8")
    return path


def test_rules_both_agree_where_bfcl_is_right_and_list_its_flaws(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    import_v4(root)
    assert mcptrain("build", str(root), "--no-dvc")[0] == 0
    preds = reference_predictions(root, tmp_path / "preds.jsonl", **{
        # An irrelevance item answered with malformed output: BFCL counts it as a correct abstention.
        "live_irrelevance_0-0-0": "<tool_call>{not json</tool_call>",
        # Right values, a Python float where BFCL's doc says integer: wrong by both.
        "simple_python_0": "[calculate_triangle_area(base=10.5, height=5)]"})
    out_dir = tmp_path / "report"
    code, out, err = mcptrain("eval", str(root), "--predictions", str(preds), "--split", "scenarios",
                              "--rules", "both", "--out", str(out_dir), "--no-chart")
    assert code == 0, err
    data = json.loads((out_dir / "report.json").read_text())["rules_comparison"]
    flaws = {d["id"]: (d["mcptrain"]["correct"], d["bfcl"]["correct"]) for d in data["disagreements"]}
    assert flaws == {"live_irrelevance_0-0-0": (False, True),  # malformed output is not an abstention
                     "simple_java_64": (True, False)}  # BFCL reads a dict answer's string as its letters
    assert data["by_category"]["simple_java"]["mcptrain"]["correct"] == 5
    assert data["by_category"]["simple_python"] == {
        "mcptrain": {"n": 4, "correct": 3, "accuracy": 0.75}, "bfcl": {"n": 4, "correct": 3, "accuracy": 0.75}}
    assert "simple_java_64: right by mcptrain rules; bfcl: BFCL value_error:dict_value" in out
    assert "## mcptrain's rules and BFCL's" in (out_dir / "report.md").read_text()
    code, out, err = mcptrain("eval", str(root), "--predictions", str(preds), "--split", "scenarios",
                              "--rules", "bfcl", "--out", str(tmp_path / "bfcl"), "--no-chart")
    assert code == 0, err
    bfcl = json.loads((tmp_path / "bfcl" / "report.json").read_text())
    assert bfcl["rules"] == "bfcl"
    assert bfcl["candidate"]["overall"]["correct"] == data["overall"]["bfcl"]["correct"]
