from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import ConfigError
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.backends.prompt import PROMPT_FILE, build_prompt
from tests.training.tiny import make_row

PROJECT = ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "acme",
                                      "backend": "prompt", "system_prompt": "Be precise."})


def rows() -> list[dict[str, Any]]:
    out = [make_row(i) for i in range(9)]
    out[0]["quality"] = "bronze"  # r-3 (gold) shows get_weather instead
    for r in out:  # the system turn the compiler writes: the project's system prompt
        r["messages"][0] = {"role": "system", "content": PROJECT.system_prompt}
    return out


def failure(query: str, tool: str | None, row_id: str = "test-1", action: str | None = None,
            split: str = "validation") -> dict[str, Any]:
    """A row the last evaluation got wrong (a validation row unless `split` says otherwise)."""
    return {"id": row_id, "service": "demo", "target_tools": [tool] if tool else [], "split": split,
            "expected_action": action, "messages": [{"role": "user", "content": query}]}


def test_every_tool_once_then_the_closest_row_to_each_failure(tmp_path: Path) -> None:
    failed = [failure("Please cancel ORD-107 for me", "cancel_order"),
              failure("tell me a joke", None, "test-2", action="no_tool")]
    art = build_prompt(PROJECT, rows(), tmp_path, failed=failed)
    # r-3/r-1/r-2 show each tool once; r-5 is cancel_order's remaining closest phrasing
    # ("Cancel order ORD-105 please"); nothing in train is like the call-less failure.
    assert art.data["examples"] == {"demo": ["r-3", "r-1", "r-2", "r-5"]}
    assert art.data["failures_addressed"] == {"test-1": "r-5"}
    assert art.data["failures_unaddressed"] == ["test-2"]
    assert "ORD-107" not in art.data["system_prompts"]["demo"]  # the scored item never leaks
    prompt = art.data["system_prompts"]["demo"]
    assert prompt.startswith("Be precise.\n\nExamples of correct replies:\nUser: What is the weather in Cairo?\n")
    assert 'Assistant: <tool_call>{"name": "get_weather", "arguments": {"city": "Cairo"}}</tool_call>' in prompt
    on_disk = json.loads((tmp_path / PROMPT_FILE).read_text(encoding="utf-8"))
    assert on_disk == art.data and art.version == art.data["sha256"][:12]


@pytest.mark.parametrize("split", ["test", "holdout", "zero_shot", "orchestration", "scenarios"])
def test_a_failed_scored_item_changes_nothing(tmp_path: Path, split: str) -> None:
    plain = build_prompt(PROJECT, rows(), tmp_path / "plain")
    planted = build_prompt(PROJECT, rows(), tmp_path / "planted",
                           failed=[failure("Please cancel ORD-107 for me", "cancel_order", split=split)])
    assert planted.data["system_prompts"] == plain.data["system_prompts"]
    assert planted.version == plain.version and planted.data["failures_unaddressed"] == []


def test_the_prompt_builds_on_the_rows_system_turn_with_its_domain_knowledge(tmp_path: Path) -> None:
    known = rows()
    for r in known:
        r["messages"][0]["content"] = "Be precise.\n\nRules for arguments:\n- cancel_order.order_id: as written"
    art = build_prompt(PROJECT, known, tmp_path)
    assert art.data["system_prompts"]["demo"].startswith(
        "Be precise.\n\nRules for arguments:\n- cancel_order.order_id: as written\n\nExamples of correct replies:")


def test_version_is_the_content_hash(tmp_path: Path) -> None:
    a = build_prompt(PROJECT, rows(), tmp_path / "a")
    b = build_prompt(PROJECT, list(reversed(rows())), tmp_path / "b")
    c = build_prompt(PROJECT, rows(), tmp_path / "c", failed=[failure("weather in Oslo", "get_weather")])
    assert a.version == b.version != c.version


def test_limit(tmp_path: Path) -> None:
    art = build_prompt(PROJECT, rows(), tmp_path, failed=[failure("cancel ORD-1", "cancel_order")],
                       max_examples_per_service=2)
    assert art.data["examples"]["demo"] == ["r-3", "r-1"] and art.data["failures_unaddressed"] == ["test-1"]


@pytest.mark.parametrize("template, message", [
    ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__'"),
    ("{{ missing }}", "'missing' is undefined"),
    ("{% for i in range(10**9) %}x{% endfor %}", "'range' is undefined"),
    ("{{ 'x' * 200000 }}", "the rendered prompt has 200000 characters"),
])
def test_the_template_is_sandboxed(tmp_path: Path, template: str, message: str) -> None:
    with pytest.raises(ConfigError, match="prompt template: ") as e:
        build_prompt(PROJECT, rows(), tmp_path, template=template)
    assert message in str(e.value)
