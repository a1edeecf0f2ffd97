from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import ConfigError
from mcptrain.specs import ProjectSpec
from mcptrain.trainer.prompt_backend import PROMPT_FILE, build_prompt
from tests.trainer.tiny import make_row

PROJECT = ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "acme",
                                      "backend": "prompt", "system_prompt": "Be precise."})


def rows() -> list[dict[str, Any]]:
    out = [make_row(i) for i in range(9)]
    out[0]["quality"] = "bronze"  # r-3 (gold) shows get_weather instead
    return out


def test_every_tool_once_then_failed_ids(tmp_path: Path) -> None:
    art = build_prompt(PROJECT, rows(), tmp_path, failed_ids=["r-7", "test-99"])
    assert art.data["examples"] == {"demo": ["r-3", "r-1", "r-2", "r-7"]}
    assert art.data["failed_ids_used"] == ["r-7"] and art.data["failed_ids_missing"] == ["test-99"]
    prompt = art.data["system_prompts"]["demo"]
    assert prompt.startswith("Be precise.\n\nExamples of correct replies:\nUser: What is the weather in Cairo?\n")
    assert 'Assistant: <tool_call>{"name": "get_weather", "arguments": {"city": "Cairo"}}</tool_call>' in prompt
    on_disk = json.loads((tmp_path / PROMPT_FILE).read_text(encoding="utf-8"))
    assert on_disk == art.data and art.version == art.data["sha256"][:12]


def test_version_is_the_content_hash(tmp_path: Path) -> None:
    a = build_prompt(PROJECT, rows(), tmp_path / "a")
    b = build_prompt(PROJECT, list(reversed(rows())), tmp_path / "b")
    c = build_prompt(PROJECT, rows(), tmp_path / "c", failed_ids=["r-8"])
    assert a.version == b.version != c.version


def test_limit(tmp_path: Path) -> None:
    art = build_prompt(PROJECT, rows(), tmp_path, failed_ids=["r-7"], max_examples_per_service=2)
    assert art.data["examples"]["demo"] == ["r-3", "r-1"] and art.data["failed_ids_missing"] == ["r-7"]


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
