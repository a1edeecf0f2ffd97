from __future__ import annotations

import json
from typing import Any

from mcptrain.dataset.compiler import compile_service
from mcptrain.specs.validator import validate_repository
from mcptrain.training.masking import mask_rows
from mcptrain.training.prompt import HERMES, encode_row
from tests.conftest import PROJECTS


def good_rows() -> list[dict[str, Any]]:
    result = validate_repository(PROJECTS / "good")
    return compile_service(result.specs.services["payment-service"], result.specs.project_spec).rows


def names_in(row: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in row["tools"]}


def test_a_masked_row_names_no_real_tool_anywhere_and_stays_consistent() -> None:
    rows = good_rows()
    masked, n = mask_rows(rows, 1.0, seed=7)
    assert n == len(rows) == len(masked)
    for before, after in zip(rows, masked, strict=True):
        real, fake = names_in(before), names_in(after)
        assert real.isdisjoint(fake) and len(fake) == len(real)
        text = json.dumps(after["messages"]) + json.dumps(after["tools"])
        assert not any(f'"{name}"' in text for name in real), after["id"]
        # every call and tool result names an offered (made-up) tool, in the same order as before
        calls = [(c["function"]["name"], c["function"]["arguments"]) for m in after["messages"]
                 for c in m.get("tool_calls") or []]
        old = [(c["function"]["name"], c["function"]["arguments"]) for m in before["messages"]
               for c in m.get("tool_calls") or []]
        assert [a for _, a in calls] == [a for _, a in old] and all(name in fake for name, _ in calls)
        assert all(m["name"] in fake for m in after["messages"] if m["role"] == "tool")
        assert after["target_tools"] == before["target_tools"]  # reports keep the real names
    assert rows == good_rows()  # the input rows are left as they were


def test_the_share_is_honoured_deterministic_and_zero_is_off() -> None:
    rows = [{**r, "id": f"{r['id']}-{i}"} for i in range(40) for r in good_rows()]
    first, n = mask_rows(rows, 0.25, seed=1)
    assert first == mask_rows(rows, 0.25, seed=1)[0]
    assert 0.15 * len(rows) < n < 0.35 * len(rows)
    assert sum(a is not b for a, b in zip(rows, first, strict=True)) == n
    assert mask_rows(rows, 0.0, seed=1) == (rows, 0)


def test_masked_rows_of_one_block_share_a_handful_of_prefixes(tiny_tokenizer: Any) -> None:
    rows = [{**r, "id": f"{r['id']}-{i}"} for i in range(30) for r in good_rows()]
    masked, n = mask_rows(rows, 1.0, seed=3)
    block = [r for r in masked if r["id"].startswith("pay-001-")]
    prefixes = set()
    for row in block:
        e = encode_row(tiny_tokenizer, HERMES, row)
        prefixes.add(tuple(e.input_ids[: e.shared]))
    assert 1 < len(prefixes) <= 3  # the block's renamings (VARIANTS), each shared by its rows
