"""Grammar engines side by side: xgrammar vs llguidance on the demo's tool calls.

For each engine: compile the grammar of every service's tool list, then replay the
demo's training targets token by token, computing the allowed-token mask before every
token (what constrained decoding pays per generated token). Both run in this process,
one after the other, on the same token sequences, so the ratio is what to read.

    .venv/bin/python benchmarks/grammar_bench.py [--rows 120]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mcptrain.training.grammar import TRIGGER, call_prefix, grammar_schema, tool_function
from mcptrain.training.model import EMBEDDED, load_tokenizer
from mcptrain.training.predictor import hermes_calls


def targets(rows: list[dict]) -> list[tuple[list[dict], str]]:
    out = []
    for row in rows:
        assistant = next(m for m in row["messages"] if m["role"] == "assistant")
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in assistant.get("tool_calls") or []]
        out.append((row["tools"], hermes_calls(calls) if calls else (assistant.get("content") or "")))
    return out


def bench_xgrammar(tok, stop, items):
    import xgrammar as xgr

    from mcptrain.training.grammar import ToolCallGrammar

    started = time.perf_counter()
    grammar = ToolCallGrammar(tok, [stop])
    for tools, _ in items:
        grammar.compile(tools)
    compile_s = time.perf_counter() - started
    bitmask = grammar.bitmask(1)
    tokens, rejected, started = 0, 0, time.perf_counter()
    for tools, text in items:
        matcher = grammar.matcher(tools)
        for t in [*tok(text, add_special_tokens=False)["input_ids"], stop]:
            matcher.fill_next_token_bitmask(bitmask, 0)
            tokens += 1
            if not matcher.accept_token(t):
                rejected += 1
                break
    del xgr
    return compile_s, time.perf_counter() - started, tokens, rejected


def bench_llguidance(tok, stop, items):
    import llguidance
    import llguidance.hf
    import llguidance.torch

    started = time.perf_counter()
    lltok = llguidance.hf.from_tokenizer(tok)
    compiled: dict[str, str] = {}
    for tools, _ in items:
        key = json.dumps(tools, sort_keys=True)
        if key not in compiled:
            tags = [llguidance.StructTag(trigger=TRIGGER, begin=call_prefix(tool_function(t)["name"]),
                                         grammar=grammar_schema(tool_function(t).get("parameters")),
                                         end="}</tool_call>") for t in tools]
            grammar = llguidance.StructTag.to_grammar(tags, assume_special=False)
            compiled[key] = grammar
            llguidance.LLMatcher(lltok, grammar)  # compile once (lexer built here)
    compile_s = time.perf_counter() - started
    bitmask = llguidance.torch.allocate_token_bitmask(1, lltok.vocab_size)
    tokens, rejected, started = 0, 0, time.perf_counter()
    for tools, text in items:
        matcher = llguidance.LLMatcher(lltok, compiled[json.dumps(tools, sort_keys=True)])
        for t in [*tok(text, add_special_tokens=False)["input_ids"], stop]:
            llguidance.torch.fill_next_token_bitmask(matcher, bitmask, 0)
            tokens += 1
            if not matcher.consume_token(t):
                rejected += 1
                break
    return compile_s, time.perf_counter() - started, tokens, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=120)
    parser.add_argument("--dataset", type=Path, default=Path("datasets/train.jsonl"))
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.dataset.read_text(encoding="utf-8").splitlines()][: args.rows]
    tok = load_tokenizer(EMBEDDED)
    stop = tok.get_vocab()["<|im_end|>"]
    items = targets(rows)
    results = {"xgrammar": bench_xgrammar(tok, stop, items), "llguidance": bench_llguidance(tok, stop, items)}
    print(f"{len(items)} rows, {len({json.dumps(t, sort_keys=True) for t, _ in items})} tool lists")
    for name, (compile_s, mask_s, tokens, rejected) in results.items():
        print(f"{name:>10}: compile {compile_s * 1000:8.1f} ms; masks {mask_s / tokens * 1e6:8.1f} us/token "
              f"over {tokens} tokens; rejected targets {rejected}")
    x, g = results["xgrammar"], results["llguidance"]
    print(f"per-token mask: llguidance / xgrammar = {(g[1] / g[2]) / (x[1] / x[2]):.2f}x")


if __name__ == "__main__":
    main()
