"""Tool calls: what a model produced (`ToolCall`) and what it should have (`Expected`).

Expected values follow BFCL's answer format: every argument holds a list of acceptable
values, and `""` in that list means the argument may be omitted. `OneOf` is that list
as a record, so a plain spec call (`{create_payment: {amount: 5000}}`, one acceptable
value each) and a BFCL ground truth reach the checker in the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError

BEHAVIOURS = ("clarify", "ask_for_details", "refuse", "no_tool", "use_tool")
OMIT = ""  # BFCL: "" among the acceptable values means "may be omitted"


@dataclass(frozen=True)
class ToolCall:
    """One call a model made: the tool's name and its arguments (a JSON object)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict, hash=False)

    def show(self) -> str:
        return show_call(self.name, self.arguments)


@dataclass(frozen=True)
class OneOf:
    """The acceptable values of one argument; `may_omit` is BFCL's `""`."""

    values: tuple[Any, ...]
    may_omit: bool = False


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    arguments: Mapping[str, OneOf] = field(default_factory=dict, hash=False)

    def show(self) -> str:
        return show_call(self.name, {k: v for k, v in self.arguments.items() if v.values})


@dataclass(frozen=True)
class Expected:
    """The right answer for one step: calls (order-free), a behaviour (`action`), or any one
    of several such answers (`options`, a scenario's `one_of`)."""

    calls: tuple[ExpectedCall, ...] = ()
    action: str | None = None
    required_fields: tuple[str, ...] = ()
    options: tuple[Expected, ...] = ()

    @classmethod
    def from_accept(cls, accept: Sequence[Mapping[str, Any]]) -> Expected:
        """From a canonical row's `accept`: each `{"action", "required_fields"}` or
        `{"ground_truth": [...]}` (BFCL's form, `""` = may be omitted)."""
        options = tuple(cls.behaviour(o["action"], o.get("required_fields") or ()) if o.get("action")
                        else cls.from_bfcl(o.get("ground_truth")) for o in accept)
        return options[0] if len(options) == 1 else cls(options=options)

    def show(self) -> str:
        if self.options:
            return " | ".join(o.show() for o in self.options)
        if self.action is not None or not self.calls:
            return self.action or "no_tool"
        return ", ".join(c.show() for c in self.calls)

    @classmethod
    def from_calls(cls, calls: Iterable[Mapping[str, Mapping[str, Any]] | ToolCall]) -> Expected:
        """From plain calls `{name: {arg: value}}` (or ToolCalls): one acceptable value each."""
        out: list[ExpectedCall] = []
        for call in calls:
            pairs = [(call.name, call.arguments)] if isinstance(call, ToolCall) else call.items()
            for name, args in pairs:
                out.append(ExpectedCall(name, {k: OneOf((v,)) for k, v in (args or {}).items()}))
        return cls(tuple(out)) if out else cls(action="no_tool")

    @classmethod
    def from_bfcl(cls, ground_truth: Sequence[Mapping[str, Mapping[str, Any]]] | None) -> Expected:
        """From BFCL's `ground_truth`: `[{func: {param: [acceptable values]}}]`; none = no_tool."""
        out = [ExpectedCall(name, {k: _bfcl_alternatives(v) for k, v in (params or {}).items()})
               for call in ground_truth or [] for name, params in call.items()]
        return cls(tuple(out)) if out else cls(action="no_tool")

    @classmethod
    def behaviour(cls, action: str, required_fields: Iterable[str] = ()) -> Expected:
        if action not in BEHAVIOURS:
            raise ValueError(f"unknown action {action!r} (expected one of {', '.join(BEHAVIOURS)})")
        return cls(action=action, required_fields=tuple(required_fields))

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Expected:
        """From a canonical assistant turn; a turn without calls expects no tool call."""
        return cls.from_calls(calls_in_message(message))


def calls_in_message(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    """The calls of a canonical or OpenAI assistant message (arguments object or JSON string)."""
    out = []
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function", tc)
        args = fn.get("arguments") or {}
        out.append(ToolCall(fn["name"], json.loads(args) if isinstance(args, str) else dict(args)))
    return tuple(out)


def _bfcl_alternatives(values: Any) -> OneOf:
    if not isinstance(values, list):  # not BFCL's list form: the value itself
        return OneOf((_bfcl_value(values),))
    kept = tuple(_bfcl_value(v) for v in values if not (isinstance(v, str) and v == OMIT))
    return OneOf(kept, may_omit=len(kept) != len(values))


def _bfcl_value(value: Any) -> Any:
    # Inside one acceptable value, a dict's values are again lists of acceptable values
    # (BFCL's dict checker); a list is a literal list whose dicts follow the same rule.
    if isinstance(value, dict):
        return {k: _bfcl_alternatives(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bfcl_value(v) for v in value]
    return value


def load_bfcl_answers(path: Path) -> dict[str, Expected]:
    """Read the `bfcl_answers.json` sidecar that `mcptrain.importers.bfcl` writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StageError(f"{path}: cannot read answers: {e.strerror}") from None
    except ValueError as e:
        raise StageError(f"{path}: not valid JSON ({e})") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, dict):
        raise StageError(f"{path}: expected an object with 'items' (a bfcl_answers.json sidecar)")
    out: dict[str, Expected] = {}
    for item_id, item in items.items():
        if item.get("action"):
            out[item_id] = Expected.behaviour(item["action"])
        else:
            out[item_id] = Expected.from_bfcl(item.get("ground_truth"))
    return out


def show_value(value: Any, limit: int = 60) -> str:
    text = repr(_plain(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_call(name: str, arguments: Mapping[str, Any]) -> str:
    inner = ", ".join(f"{k}={show_value(v, 40)}" for k, v in arguments.items())
    return f"{name}({inner})"


def _plain(value: Any) -> Any:
    """A value for display: each OneOf shows its first acceptable value."""
    if isinstance(value, OneOf):
        return _plain(value.values[0]) if value.values else OMIT
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
