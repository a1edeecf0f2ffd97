from __future__ import annotations

from typing import Any

from mcptrain.evaluation.report import eval_items
from mcptrain.evaluation.runner import chunks, predict_items


def _row(i: int, service: str, tools: str, system: str = "You help.") -> dict[str, Any]:
    return {"id": f"{service}-{tools}-{i}", "service": service, "category": "simple",
            "tools": [{"type": "function", "function": {"name": tools, "parameters": {"type": "object"}}}],
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": f"q{i}"},
                         {"role": "assistant", "content": "ok"}]}


def test_chunks_never_span_two_system_turns_and_fill_as_few_batches_as_possible() -> None:
    rows = ([_row(i, "b", "t1") for i in range(70)] + [_row(i, "a", "t2") for i in range(5)]
            + [_row(i, "b", "t3") for i in range(3)] + [_row(i, "a", "t2", system="Other.") for i in range(4)])
    items = eval_items(rows)
    runs = chunks(items, 64)
    assert sorted(i.id for run in runs for i in run) == sorted(i.id for i in items)  # nothing lost or doubled
    for run in runs:
        assert len(run) <= 64
        assert len({(i.row["service"], i.prompt[0]["content"], i.row["tools"][0]["function"]["name"])
                     for i in run}) == 1
    assert sorted(len(r) for r in runs) == [3, 4, 5, 35, 35]  # 70 rows of one tool block: two even runs


def test_predict_items_sends_the_predictor_one_system_turn_at_a_time() -> None:
    seen: list[set[str]] = []

    class Recorder:
        def predict(self, prompts: list[dict[str, Any]]) -> list[str]:
            seen.append({p["tools"][0]["function"]["name"] for p in prompts})
            return ["ok"] * len(prompts)

    rows = [_row(i, "s", "t1") for i in range(3)] + [_row(i, "s", "t2") for i in range(3)]
    outputs = predict_items(Recorder(), rows, chunk=64)
    assert len(outputs) == 6 and all(len(s) == 1 for s in seen) and len(seen) == 2
