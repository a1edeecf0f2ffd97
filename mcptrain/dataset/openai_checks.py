"""The checks of OpenAI's "Data preparation and analysis for chat model fine-tuning"
(openai-cookbook, examples/Chat_finetuning_data_prep.ipynb), run on every exported line.

The cookbook's format errors, with the same names: `data_type`,
`missing_messages_list`, `message_missing_key`, `message_unrecognized_key`,
`unrecognized_role`, `missing_content`, `example_missing_assistant_message`. The
cookbook predates tool calling, so its key and role lists are widened by what the
fine-tuning API accepts for tools (`tool_calls`, `tool_call_id`, role `tool`), and an
assistant message with `tool_calls` needs no `content` (as `function_call` needed none);
the shape of tool calls and tools is checked too (`tool_call_*`, `tool_message_*`,
`tools_*`).

Its data warnings: `missing_system`, `missing_user`, and conversations longer than
16,385 and 65,536 tokens. Tokens are *estimated* (no tiktoken offline): a word or a
single punctuation character counts as one token, plus the cookbook's 3 per message,
1 per name and 3 for the reply; tools count as their JSON text. Byte-pair encoders
split rare words further, so treat the figure as an estimate, not a bill.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MESSAGE_KEYS = ("role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id")
ROLES = ("system", "user", "assistant", "function", "tool")
EXAMPLE_KEYS = ("messages", "tools", "parallel_tool_calls")
TOKEN_LIMITS = (16_385, 65_536)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@lru_cache(maxsize=8192)  # the system prompt and tool names recur on every line
def estimate_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass
class FormatReport:
    examples: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    max_tokens: int = 0
    total_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "errors": dict(sorted(self.errors.items())),
                "warnings": dict(sorted(self.warnings.items())), "estimated_tokens_max": self.max_tokens,
                "estimated_tokens_total": self.total_tokens,
                "token_estimate": "words and punctuation marks, not tiktoken: an estimate"}


class FormatChecker:
    """Checks examples one at a time; a tools list shared by many lines is checked once."""

    def __init__(self) -> None:
        self.report = FormatReport()
        self._tools: dict[int, tuple[Any, list[str], list[str], set[str], int]] = {}

    def check(self, ex: Any) -> list[str]:
        """The format errors of one example (also counted, with warnings, in `report`)."""
        errors, warnings = self._check(ex)
        self.report.examples += 1
        self.report.errors.update(errors)
        self.report.warnings.update(warnings)
        return errors

    def _check(self, ex: Any) -> tuple[list[str], list[str]]:
        if not isinstance(ex, dict):
            return ["data_type"], []
        messages = ex.get("messages", None)
        if not messages or not isinstance(messages, list):
            return ["missing_messages_list"], []
        errors: list[str] = []
        warnings: list[str] = []
        if any(k not in EXAMPLE_KEYS for k in ex):
            errors.append("example_unrecognized_key")
        names: set[str] | None = None
        tokens = 3
        if "tools" in ex:
            t_errors, t_warnings, names, t_tokens = self._tools_info(ex["tools"])
            errors += t_errors
            warnings += t_warnings
            tokens += t_tokens
        call_ids: set[str] = set()
        for message in messages:
            if not isinstance(message, dict):
                errors.append("data_type")
                continue
            errors += _message_errors(message, names, call_ids)
            tokens += 3 + sum(estimate_tokens(v) for v in _texts(message))
            if "name" in message:
                tokens += 1
        roles = [m.get("role") for m in messages if isinstance(m, dict)]
        if "assistant" not in roles:
            errors.append("example_missing_assistant_message")
        if "system" not in roles:
            warnings.append("missing_system")
        if "user" not in roles:
            warnings.append("missing_user")
        warnings += [f"over_{limit}_tokens" for limit in TOKEN_LIMITS if tokens > limit]
        self.report.max_tokens = max(self.report.max_tokens, tokens)
        self.report.total_tokens += tokens
        return errors, warnings

    def _tools_info(self, tools: Any) -> tuple[list[str], list[str], set[str], int]:
        cached = self._tools.get(id(tools))
        if cached is not None and cached[0] is tools:
            return cached[1], cached[2], cached[3], cached[4]
        errors: list[str] = []
        warnings: list[str] = []
        names: set[str] = set()
        if not isinstance(tools, list):
            errors.append("tools_not_a_list")
            tools_list: list[Any] = []
        else:
            tools_list = tools
        for tool in tools_list:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or tool.get("type") != "function":
                errors.append("tools_malformed")
                continue
            name = fn.get("name")
            if not isinstance(name, str) or not isinstance(fn.get("parameters", {}), dict):
                errors.append("tools_malformed")
                continue
            if not _FUNCTION_NAME.match(name):
                warnings.append("tools_name_not_accepted_by_openai")
            names.add(name)
        try:
            tokens = estimate_tokens(json.dumps(tools, ensure_ascii=False))
        except (TypeError, ValueError):
            errors.append("tools_malformed")
            tokens = 0
        self._tools[id(tools)] = (tools, errors, warnings, names, tokens)
        return errors, warnings, names, tokens


def _message_errors(message: dict[str, Any], names: set[str] | None, call_ids: set[str]) -> list[str]:
    errors = []
    tool_calls = message.get("tool_calls")
    function_call = message.get("function_call")
    if "role" not in message or ("content" not in message and not tool_calls and not function_call):
        errors.append("message_missing_key")
    if any(k not in MESSAGE_KEYS for k in message):
        errors.append("message_unrecognized_key")
    role = message.get("role", None)
    if role not in ROLES:
        errors.append("unrecognized_role")
    content = message.get("content", None)
    if tool_calls or function_call:  # a call needs no text, but text must be text
        if content is not None and not isinstance(content, str):
            errors.append("missing_content")
    elif not content or not isinstance(content, str):
        errors.append("missing_content")
    if tool_calls is not None:
        errors += _tool_call_errors(role, tool_calls, names, call_ids)
    if role == "tool":
        ref = message.get("tool_call_id")
        if not isinstance(ref, str) or not ref:
            errors.append("tool_message_missing_id")
        elif ref not in call_ids:
            errors.append("tool_message_unknown_id")
    if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
        errors.append("message_bad_weight")
    return errors


def _tool_call_errors(role: Any, tool_calls: Any, names: set[str] | None, call_ids: set[str]) -> list[str]:
    if role != "assistant" or not isinstance(tool_calls, list) or not tool_calls:
        return ["tool_calls_malformed"]
    errors = []
    for tc in tool_calls:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or tc.get("type") != "function" or not isinstance(fn.get("name"), str):
            errors.append("tool_call_malformed")
            continue
        call_id = tc.get("id")
        if not isinstance(call_id, str) or not call_id:
            errors.append("tool_call_missing_id")
        elif call_id in call_ids:
            errors.append("tool_call_duplicate_id")
        else:
            call_ids.add(call_id)
        arguments = fn.get("arguments")
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            errors.append("tool_call_arguments_not_a_json_object_string")
        if names is not None and fn["name"] not in names:
            errors.append("tool_call_unknown_function")
    return errors


def _texts(message: dict[str, Any]) -> list[str]:
    out = [v for k, v in message.items() if k in ("content", "name") and isinstance(v, str)]
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if isinstance(fn, dict):
            out += [v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str)]
    return out
