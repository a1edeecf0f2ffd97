"""Generating a model's outputs for the scored items: in chunks, with an output cache."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mcptrain.errors import PROMPT_TOO_LONG
from mcptrain.fingerprint import sha256_json


def predict_items(predictor: Any, rows: Sequence[dict[str, Any]], description: str = "generating",
                  chunk: int = 64, cache: OutputCache | None = None) -> dict[str, str]:
    """The predictor's raw output for every scored item of `rows` (by item id).

    Items go to the predictor in chunks (a progress bar advances per chunk) of one system
    turn each — the same system prompt and tools, so one cached prefix: a chunk that ran
    across two tool blocks decoded as two part-filled batches, each to its longest row
    (`chunks`). With a `cache`, items whose exact prompt it holds are not generated again.
    """
    from mcptrain import output
    from mcptrain.evaluation.report import eval_items

    items = eval_items(rows)
    outputs: dict[str, str] = {}
    if cache is not None:
        for item in items:
            hit = cache.get(item)
            if hit is not None:
                outputs[item.id] = hit
        items = [i for i in items if i.id not in outputs]
    if cache is not None and outputs:
        output.info(f"mcptrain: {len(outputs)} {description} outputs reused from {cache.path.name}, "
                    f"{len(items)} to generate")
    with output.progress(description, len(items)) as advance:
        for part in chunks(items, chunk):
            texts = predictor.predict([{**item.row, "messages": item.prompt} for item in part])
            outputs.update((item.id, text) for item, text in zip(part, texts, strict=True))
            if cache is not None:  # a refusal depends on max_seq_len, not on the prompt: not kept
                cache.put((i, t) for i, t in zip(part, texts, strict=True) if not t.startswith(PROMPT_TOO_LONG))
            advance(len(part))
    return outputs


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """`items` (EvalItems) in runs of at most `size` that share a system turn (system
    prompt and tools): by service, then by system turn, in first-seen order; a run never
    spans two system turns, and a system turn splits into as few runs as `size` allows."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for item in sorted(items, key=lambda i: str(i.row.get("service", ""))):
        system = next((m.get("content") for m in item.prompt[:1] if m.get("role") == "system"), None)
        key = (str(item.row.get("service", "")), json.dumps([system, item.row.get("tools")], sort_keys=True, default=str))
        groups.setdefault(key, []).append(item)
    out: list[list[Any]] = []
    for members in groups.values():
        runs = -(-len(members) // size)  # as few runs as the size allows, as even as possible
        step = -(-len(members) // runs)
        out.extend(members[start : start + step] for start in range(0, len(members), step))
    return out


class OutputCache:
    """A model's outputs by prompt content, kept across evaluations (the base model's, so a
    retrained candidate does not pay for the baseline again). One JSON line per prompt:
    `{"key": sha256 of the prompt and tools, "output": ...}`, rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self.entries[str(entry["key"])] = str(entry["output"])
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}  # absent or damaged: a cache, so start over

    @staticmethod
    def key(item: Any) -> str:
        # The vocabulary's values shape the grammar too (said values, training/grounding.py).
        return sha256_json({"messages": item.prompt, "tools": item.row.get("tools"),
                            "canonical_values": item.row.get("canonical_values") or {}})

    def get(self, item: Any) -> str | None:
        return self.entries.get(self.key(item))

    def put(self, pairs: Any) -> None:
        from mcptrain.files import replace_file

        for item, text in pairs:
            self.entries[self.key(item)] = text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.path, "".join(json.dumps({"key": k, "output": v}, ensure_ascii=False) + "\n"
                                        for k, v in sorted(self.entries.items())))


class LazyPredictor:
    """A predictor built on first use: a fully cached baseline never loads its model."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.build = build
        self.predictor: Any = None

    def predict(self, rows: Any) -> Any:
        if self.predictor is None:
            self.predictor = self.build()
        return self.predictor.predict(rows)


def write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """The raw outputs, in the format `mcptrain eval --predictions` reads back."""
    from mcptrain.files import replace_file

    replace_file(path, "".join(json.dumps({"id": k, "output": v}, ensure_ascii=False) + "\n"
                               for k, v in outputs.items()))
