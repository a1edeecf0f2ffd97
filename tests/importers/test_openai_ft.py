"""`mcptrain import openai FILE`: OpenAI fine-tuning JSONL with tools into specs."""

from __future__ import annotations

import json
from pathlib import Path

from mcptrain.specs.yaml import load_document
from tests.cli import mcptrain

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.",
                                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                         "required": ["city"]}}}


def _row(query: str, city: str) -> dict[str, object]:
    return {"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": query},
                         {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
                             "name": "get_weather", "arguments": json.dumps({"city": city})}}]}],
            "tools": [TOOL]}


def test_import_openai_writes_tools_and_examples(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert mcptrain("init", str(root))[0] == 0
    feed = tmp_path / "ft.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in [_row("Weather in Lisbon?", "Lisbon"),
                                                       _row("Is it raining in Oslo", "Oslo")]) + "\n", encoding="utf-8")
    code, out, err = mcptrain("import", "openai", str(feed), "--service", "weather", "--root", str(root))
    assert code == 0, err
    assert "wrote specs/weather/tools.yaml (1 tool)" in out
    examples = load_document(next((root / "specs/weather/examples").glob("*.yaml"))).data["examples"]
    assert [(e["query"], e["call"]) for e in examples] == [("Weather in Lisbon?", {"get_weather": {"city": "Lisbon"}}),
                                                          ("Is it raining in Oslo", {"get_weather": {"city": "Oslo"}})]
    assert mcptrain("import", "openai", str(feed), "--service", "weather", "--root", str(root))[1].endswith(
        "nothing new to import (everything is already in the specs)\n")


def test_a_bad_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert mcptrain("init", str(root))[0] == 0
    feed = tmp_path / "ft.jsonl"
    bad = _row("Weather in Rome", "Rome")
    bad["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{not json"  # type: ignore[index]
    feed.write_text(json.dumps(_row("Weather in Lisbon?", "Lisbon")) + "\n\n" + json.dumps(bad) + "\n{oops\n",
                    encoding="utf-8")
    code, _, err = mcptrain("import", "openai", str(feed), "--service", "weather", "--root", str(root))
    assert code == 1
    assert f"{feed}:4:2: invalid JSON: Expecting property name enclosed in double quotes" in err
    assert f"{feed}:3:1: messages[2].tool_calls[0].function.arguments:" in err
    assert not (root / "specs/weather").exists()
