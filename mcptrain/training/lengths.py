"""Rows longer than `training.max_seq_len`, found before training instead of during it.

Training leaves out every row longer than `max_seq_len` tokens (`lora.py`); with rich
schemas a service's tool block alone can be ~1,000 tokens. `long_rows` tokenises rows
exactly as training does (the base model's tokenizer and prompt format), so `build` can
list them per service and tool and `validate --strict` can fail on them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.specs.models import ProjectSpec


@dataclass(frozen=True)
class LongRow:
    id: str
    source_id: str
    service: str
    tools: tuple[str, ...]  # the tools its answer calls (none for a behaviour)
    split: str
    tokens: int


@dataclass(frozen=True)
class LengthReport:
    limit: int
    rows: list[LongRow]
    tool_blocks: dict[str, int]  # services of a tools list ("a+b") -> tokens of its system turn

    def by_tool(self) -> list[tuple[str, str, int, int]]:
        """(service, tool or "-", rows over the limit, longest) in order."""
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in self.rows:
            for tool in row.tools or ("-",):
                groups[(row.service, tool)].append(row.tokens)
        return [(svc, tool, len(n), max(n)) for (svc, tool), n in sorted(groups.items())]

    def hint(self) -> str:
        blocks = sorted(self.tool_blocks.items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{name} {n}" for name, n in blocks)
        return (f"raise training.max_seq_len in mcptrain.yaml, or shorten the tool descriptions and "
                f"schemas (system turn with tools, in tokens: {shown})")


def checks_lengths(project: ProjectSpec) -> bool:
    """Whether the project's backend trains locally within `max_seq_len`."""
    from mcptrain.training.backends import get_backend

    return bool(getattr(get_backend(project.backend), "trains_locally", False))


def long_rows(project: ProjectSpec, rows: Iterable[dict[str, Any]], tokenizer: Any = None) -> LengthReport:
    """Every row longer than `training.max_seq_len` tokens, tokenised as training does.

    The system turn (most of a row's tokens) is tokenised once per distinct system prompt
    and tools list, the rest of every row in one batch; a row within 10% of the limit is
    then tokenised exactly as training does, segment by segment."""
    from mcptrain.training.prompt import choose_template, encode_row, render

    tokenizer = tokenizer if tokenizer is not None else fast_tokenizer(project.base_model)
    template = choose_template(tokenizer)
    limit = project.training.max_seq_len
    blocks: dict[str, int] = {}
    heads: dict[tuple[str, str], tuple[str, int]] = {}
    tool_keys: dict[int, str] = {}  # id of a tools list -> its JSON (rows read from files share none)
    rows = list(rows)
    tails: list[str] = []
    heads_of: list[int] = []  # tokens of the head cut off each tail (0: not cut)
    for row in rows:
        messages, tools = row["messages"], row.get("tools")
        if id(tools) not in tool_keys:
            tool_keys[id(tools)] = json.dumps(tools, sort_keys=True)
        key = (str(messages[0].get("content")), tool_keys[id(tools)])
        if key not in heads:
            head = render(template, messages[:1], tools)
            heads[key] = (head, len(tokenizer(head, add_special_tokens=False)["input_ids"]))
            name = "+".join(row.get("services") or [str(row.get("service"))])
            blocks[name] = max(blocks.get(name, 0), heads[key][1])
        full = render(template, messages, tools)
        cut = full.startswith(heads[key][0])
        tails.append(full[len(heads[key][0]):] if cut else full)
        heads_of.append(heads[key][1] if cut else 0)
    counts = tokenizer.count_batch(tails) if hasattr(tokenizer, "count_batch") else [
        len(tokenizer(x, add_special_tokens=False)["input_ids"]) for x in tails]
    found: list[LongRow] = []
    for row, head_tokens, n in zip(rows, heads_of, counts, strict=True):
        tokens = n + head_tokens
        if tokens > 0.9 * limit:
            tokens = len(encode_row(tokenizer, template, row))
        if tokens > limit:
            found.append(LongRow(str(row["id"]), str(row.get("source_id") or row["id"]), str(row.get("service")),
                                 tuple(row.get("target_tools") or ()), str(row.get("split") or "-"), tokens))
    return LengthReport(limit, found, blocks)


class FastTokenizer:
    """The base model's `tokenizer.json` through the `tokenizers` library: what transformers'
    fast tokenizer computes, without importing transformers (seconds on a small CPU)."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.inner = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = _tokenizer_config(folder)
        self.chat_template = _chat_template(folder, config)
        bos = config.get("bos_token")
        self.bos_token = bos.get("content") if isinstance(bos, dict) else bos  # what choose_template reads

    def get_vocab(self) -> dict[str, int]:
        return dict(self.inner.get_vocab(with_added_tokens=True))

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": self.inner.encode(text, add_special_tokens=add_special_tokens).ids}

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.inner.encode_batch(texts, add_special_tokens=False)]


def fast_tokenizer(base_model: str) -> Any:
    """`FastTokenizer` for the base model (a Hugging Face id fetches only its tokenizer
    files, never the weights); transformers' tokenizer when there is no tokenizer.json."""
    from mcptrain.training.model import EMBEDDED, load_tokenizer, resolve_base_model

    local = Path(base_model).expanduser()
    if base_model == EMBEDDED or local.is_dir() or local.suffix == ".gguf":
        folder = resolve_base_model(base_model)
    else:
        folder = _hub_tokenizer_files(base_model)
    if (folder / "tokenizer.json").is_file():
        return FastTokenizer(folder)
    return load_tokenizer(base_model)


def _hub_tokenizer_files(repo_id: str) -> Path:
    import os

    from huggingface_hub import snapshot_download

    from mcptrain.errors import ConfigError

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        return Path(snapshot_download(repo_id, local_files_only=offline, allow_patterns=[
            "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"]))
    except Exception as e:  # hub errors: bad id, no network, gated repo, offline cache miss
        raise ConfigError(f"the tokenizer of base_model {repo_id!r} cannot be fetched: {e}") from e


def _tokenizer_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _chat_template(folder: Path, config: dict[str, Any]) -> str | None:
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    template = config.get("chat_template")
    return template if isinstance(template, str) else None


def longest_per_source(report: LengthReport) -> dict[str, tuple[int, int]]:
    """source id -> (rows over the limit, longest), for pointing at the spec that made them."""
    out: dict[str, tuple[int, int]] = {}
    for row in report.rows:
        n, longest = out.get(row.source_id, (0, 0))
        out[row.source_id] = (n + 1, max(longest, row.tokens))
    return out
