from __future__ import annotations

import json
import re
import shutil
from typing import Any

import jsonschema
import pytest

from mcptrain.dataset.resample import resample_row
from tests.conftest import REPO

TOOLS = [{"type": "function", "function": {"name": "ship", "parameters": {
    "type": "object", "required": ["order_id"],
    "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]+$"},
                   "quantity": {"type": "integer", "minimum": 1, "maximum": 50},
                   "note": {"type": "string"}}}}}]


def row(query: str, args: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    return {"id": "r1", "tools": TOOLS, "messages": [
        {"role": "system", "content": "s"}, {"role": "user", "content": query},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "ship", "arguments": args}}]}, *extra]}


def test_ids_and_counts_are_replaced_everywhere_consistently() -> None:
    original = row("Ship 12 units of ORD-4411 (ORD-4411 is urgent)", {"order_id": "ORD-4411", "quantity": 12},
                   {"role": "tool", "content": '{"order_id": "ORD-4411"}'})
    out = resample_row(original, 7)
    assert out is not None
    args = out["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert args["order_id"] != "ORD-4411" and re.fullmatch(r"ORD-[0-9]{4}", args["order_id"])
    assert out["messages"][1]["content"] == f"Ship {args['quantity']} units of {args['order_id']} ({args['order_id']} is urgent)"
    assert out["messages"][3]["content"] == f'{{"order_id": "{args["order_id"]}"}}'
    assert 10 <= args["quantity"] <= 50 and args["quantity"] != 12
    assert original["messages"][1]["content"].startswith("Ship 12 units of ORD-4411")  # input untouched
    assert resample_row(original, 7) == out  # deterministic


def test_values_the_query_does_not_state_are_left_alone() -> None:
    # 5000 cents from "$50": a conversion to learn, not a value to copy; free text has no pattern
    assert resample_row(row("Ship ORD-1 with a note: fragile", {"order_id": "ORD-9", "note": "fragile"}), 1) is None
    same = row("Ship 3 or 3 more of ORD-5", {"order_id": "ORD-5", "quantity": 3})
    out = resample_row(same, 1)
    assert out is not None  # the id changes; the count is ambiguous (stated twice) and stays
    assert out["messages"][2]["tool_calls"][0]["function"]["arguments"]["quantity"] == 3


def test_every_resampled_demo_row_still_validates(tmp_path: Any) -> None:
    from mcptrain.dataset.build import build_dataset

    for name in ("mcptrain.yaml", "specs", "policies"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    build_dataset(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "datasets" / "train.jsonl").read_text().splitlines()]
    changed = 0
    for r in rows:
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in r["tools"]}
        for seed in range(5):
            out = resample_row(r, seed)
            if out is None:
                continue
            changed += 1
            for m in out["messages"]:
                for c in m.get("tool_calls") or []:
                    jsonschema.validate(c["function"]["arguments"], schemas[c["function"]["name"]])
    assert changed > 1000


@pytest.mark.parametrize("query", ["Ship ORD-77", "ship 7 of ORD-77"])
def test_scored_rows_are_never_resampled(query: str, tmp_path: Any) -> None:
    from mcptrain.dataset.build import resample_training_rows

    rows = [{**row(query, {"order_id": "ORD-77"}), "service": "s", "kind": "example", "split": split,
             "tools": TOOLS} for split in ("train", "test", "holdout", "scenarios")]
    out, changed = resample_training_rows(rows, 1)
    assert changed == 1
    assert out[0] != rows[0] and out[1:] == rows[1:]
