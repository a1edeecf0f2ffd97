"""Constrained tool calling: the grammar of what a model may write for a row's tools.

The model may answer in free text, but once it writes `<tool_call>` the rest of the
block must be `{"name": <an offered tool>, "arguments": <an object valid for that
tool's inputSchema>}</tool_call>`. The grammar is an xgrammar *structural tag* (the
form vLLM's structured outputs take as `structural_tag`): free text, triggered by
`<tool_call>{"name": ` into one tag per tool whose content is the tool's JSON schema.
xgrammar was chosen over llguidance by measured speed on this CPU
(`benchmarks/grammar_bench.py`, README).

Arguments are generated in the order the tool's schema declares its properties, and
canonical rows keep their keys sorted (the training data and the rendered tool block
both list properties alphabetically), so the order is normalised to sorted here: the
model is held to the order it was trained on. An object with `properties` admits no
other keys unless its schema says so (a model may not invent arguments). Whitespace inside the JSON is capped at
one character (the `", "` / `": "` separators the training format uses), so a model
cannot loop on spaces.

`ToolCallGrammar` compiles once per distinct tool list (a service's tools, a BFCL
item's functions) and hands out one matcher per row; `mask_logits` sets every token the
grammar forbids to -inf before the argmax.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from mcptrain.specs.schema_walk import pointer_token, subschemas

GRAMMAR_DIR = "grammars"  # in the artifact folder, next to the adapter
TRIGGER = "<tool_call>"
END = "</tool_call>"
NAME_OPENER = TRIGGER + '{"name": "'  # what the grammar writes before a tool's name (call_prefix)
# JSON Schema keywords the grammar engine cannot enforce token by token; they are
# dropped from the grammar (the checker still validates the full schema).
UNSUPPORTED_FORMATS = frozenset({"email", "uri", "hostname", "ipv4", "ipv6"})


def written_calls(text: str) -> list[tuple[str, Any]]:
    """(name, arguments) of each call block in `text` as the grammar writes them
    (`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`); a block that is not such
    JSON is skipped (the evaluator, not the decoder, reports malformed output)."""
    return [call for _, _, call in call_blocks(text) if call is not None]


def call_blocks(text: str) -> list[tuple[int, int, tuple[str, Any] | None]]:
    """Each call block of `text`, in order: where it starts (its `<tool_call>`), where it
    ends (after its `</tool_call>`; without one, where the next block or the text starts),
    and its (name, arguments), None for a block that is not such JSON."""
    blocks = []
    start = text.find(TRIGGER)
    while start >= 0:
        following = text.find(TRIGGER, start + len(TRIGGER))
        stop = following if following >= 0 else len(text)
        body, closed, _ = text[start + len(TRIGGER): stop].partition(END)
        call = None
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            call = (data["name"], data.get("arguments"))
        blocks.append((start, start + len(TRIGGER) + len(body) + len(END) if closed else stop, call))
        start = following
    return blocks


def tool_function(tool: dict[str, Any]) -> dict[str, Any]:
    """`{"type": "function", "function": {...}}` or a bare function: the function."""
    function = tool.get("function", tool)
    return function if isinstance(function, dict) else {}


def call_prefix(name: str) -> str:
    """What the training format writes before a call's arguments."""
    return f'{TRIGGER}{{"name": {json.dumps(name, ensure_ascii=False)}, "arguments": '


def grammar_schema(schema: Any) -> Any:
    """`schema` as the grammar enforces it: properties in sorted order (the order
    canonical rows are written in), formats the engine cannot check by token dropped.
    A tool without a schema takes any object."""
    if not isinstance(schema, dict):
        return {"type": "object"}
    out = copy.deepcopy(schema)
    _normalise(out)
    if "type" not in out:
        out["type"] = "object"
    return out


def _normalise(schema: Any) -> None:
    for _, node in subschemas(schema):  # by keyword: a parameter named `format` stays a parameter
        if isinstance(node.get("format"), str) and node["format"] in UNSUPPORTED_FORMATS:
            del node["format"]
        props = node.get("properties")
        if isinstance(props, dict):
            node["properties"] = {k: props[k] for k in sorted(props)}
            node.setdefault("additionalProperties", False)  # no invented arguments


def structural_tag(tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The structural tag for `tools` (OpenAI-shaped or bare functions), as JSON data."""
    tags = []
    for tool in tools:
        function = tool_function(tool)
        name = str(function.get("name", ""))
        tags.append({
            "type": "tag",
            "begin": call_prefix(name),
            "content": {"type": "json_schema", "json_schema": grammar_schema(function.get("parameters")),
                        "max_whitespace_cnt": 1},
            "end": "}" + END,
        })
    if not tags:  # nothing to call: free text only
        return {"type": "structural_tag", "format": {"type": "any_text", "excludes": [TRIGGER]}}
    return {"type": "structural_tag",
            "format": {"type": "triggered_tags", "triggers": [TRIGGER], "tags": tags}}


# xgrammar keeps what it compiled, keyed by the structural tag's text; a long-lived
# process (`mcptrain serve`, a long evaluation whose narrowed variants make a grammar per
# call) would otherwise grow without end. ~0.4 MB a grammar with SmolLM2's vocabulary.
GRAMMAR_CACHE_BYTES = 256 << 20


class ToolCallGrammar:
    """Compiled grammars for a tokenizer, one per distinct tool list, and their matchers."""

    def __init__(self, tokenizer: Any, stop_ids: Sequence[int],
                 cache_bytes: int = GRAMMAR_CACHE_BYTES) -> None:
        import xgrammar as xgr

        self.xgr = xgr
        vocab_size = len(tokenizer.get_vocab())
        self.info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                                       stop_token_ids=list(stop_ids))
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=2, cache_limit_bytes=cache_bytes)
        self.vocab_size = vocab_size

    def compile(self, tools: Sequence[dict[str, Any]] | None) -> Any:
        """The grammar of one tool list (xgrammar's cache, bounded, serves repeats)."""
        tag = json.dumps(structural_tag(list(tools or [])), ensure_ascii=False)
        return self.compiler.compile_structural_tag(tag)

    def matcher(self, tools: Sequence[dict[str, Any]] | None) -> Any:
        return self.xgr.GrammarMatcher(self.compile(tools))

    def bitmask(self, rows: int) -> Any:
        return self.xgr.allocate_token_bitmask(rows, self.vocab_size)

    def mask_logits(self, logits: Any, matchers: Sequence[Any], bitmask: Any) -> None:
        """Forbid, in place, every token row i's grammar does not allow next."""
        for i, matcher in enumerate(matchers):
            matcher.fill_next_token_bitmask(bitmask, i)
        width = logits.shape[-1]
        if width > self.vocab_size:  # embedding rows past the tokenizer's vocabulary
            logits[:, self.vocab_size:] = float("-inf")
        self.xgr.apply_token_bitmask_inplace(logits[:, : self.vocab_size], bitmask[: len(matchers)])


def call_schema(tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One call's JSON object as a JSON Schema: `{"name": <tool>, "arguments": <its
    schema>}`, one branch per tool (what llama.cpp's `json_schema` / GBNF converter takes
    for the inside of a `<tool_call>` block)."""
    branches: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for tool in tools:
        function = tool_function(tool)
        arguments = grammar_schema(function.get("parameters"))
        defs.update(_hoist_definitions(arguments, str(function.get("name", "")),
                                       f"#/anyOf/{len(branches)}/properties/arguments"))
        branches.append({
            "type": "object",
            "properties": {"name": {"const": function.get("name")}, "arguments": arguments},
            "required": ["name", "arguments"], "additionalProperties": False,
        })
    if not branches:
        return {"not": {}}
    return {"anyOf": branches, "$defs": defs} if defs else {"anyOf": branches}


def _hoist_definitions(arguments: dict[str, Any], tool: str, at: str) -> dict[str, Any]:
    """Take `arguments`' own `$defs` (and draft-7 `definitions`) out, renamed
    `<tool>.<name>`, and point its `$ref`s at them, for the root of the call schema:
    a local `$ref` ("#/$defs/Address", what pydantic and so FastMCP write) resolves
    against the document's root, where one tool's definitions are not, and two tools may
    both define an `Address`. Any other local `$ref` ("#", a recursive model) is pointed
    at `at`, where `arguments` now sits. Returns the renamed definitions."""
    moved = {f"#/{key}/{pointer_token(name)}": f"{tool}.{name}"
             for key in ("$defs", "definitions") if isinstance(arguments.get(key), dict)
             for name in arguments[key]}
    for _, node in subschemas(arguments):
        ref = node.get("$ref")
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            continue
        for old, new in moved.items():
            if ref == old or ref.startswith(old + "/"):
                node["$ref"] = "#/$defs/" + pointer_token(new) + ref[len(old):]
                break
        else:
            node["$ref"] = at + ref[1:]
    hoisted: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(arguments.get(key), dict):
            hoisted.update({f"{tool}.{name}": sub for name, sub in arguments.pop(key).items()})
    return hoisted


def export_grammars(out_dir: Any, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Write, per distinct tool list a row offers, the grammar serving must enforce to match
    evaluation: `<services>.structural_tag.json` (vLLM structured outputs) and
    `<services>.tool_call.schema.json` (llama.cpp), named after the services whose tools
    the list holds (`order-service+payment-service` for a cross-service list). Returns the
    file names written."""
    from pathlib import Path

    from mcptrain.files import write_json

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Rows may offer a subset of their services' tools; serving offers them all, so each
    # list of services gets one grammar covering every tool its rows offer (first definition
    # of a name wins).
    by_services: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        services = row.get("services") or [str(row.get("service") or "default")]
        offered = by_services.setdefault("+".join(str(s) for s in services), {})
        for tool in row.get("tools") or []:
            offered.setdefault(tool.get("function", tool)["name"], tool)
    written = []
    for service, named in sorted(by_services.items()):
        if not named:
            continue
        tools = list(named.values())
        for suffix, data in ((".structural_tag.json", structural_tag(tools)),
                             (".tool_call.schema.json", call_schema(tools))):
            write_json(folder / f"{service}{suffix}", data)
            written.append(f"{service}{suffix}")
    return written
