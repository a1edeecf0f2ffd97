"""Spec shapes shared by examples, edge cases and scenarios beyond a single query and a
call: the conversation so far (`messages:`), the facts a row is asked in (`context:`),
and per-argument alternatives in scenarios (`{any_of: [...], optional: true}`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TURN_KEYS = ("user", "assistant", "call", "calls", "result")
ALTERNATIVE_KEYS = frozenset({"any_of", "value", "optional"})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TurnSpec(_Spec):
    """One turn of a dialogue: exactly one of `user`, `assistant`, `call`, `calls`, `result`."""

    user: str | None = Field(default=None, min_length=1, description="What the user says.")
    assistant: str | None = Field(default=None, min_length=1, description="The assistant's text reply.")
    call: dict[str, dict[str, Any]] | None = Field(
        default=None, description="The assistant calls one tool: `{tool: {argument: value}}`.")
    calls: list[dict[str, dict[str, Any]]] | None = Field(
        default=None, min_length=2, description="The assistant calls several tools at once.")
    result: Any = Field(default=None, description="What the oldest unanswered call returned.")

    @field_validator("call", "calls", mode="before")
    @classmethod
    def _check_calls(cls, v: Any) -> Any:
        from mcptrain.specs.models import _one_call

        if isinstance(v, list):
            return [_one_call(c) for c in v]
        return _one_call(v)

    @model_validator(mode="after")
    def _one_kind(self) -> TurnSpec:
        given = [k for k in TURN_KEYS if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("a turn needs exactly one of " + ", ".join(repr(k) for k in TURN_KEYS)
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in TURN_KEYS if k in self.model_fields_set)


def check_dialogue(turns: list[TurnSpec]) -> None:
    """The conversation before the answer: starts with the user, ends waiting for the
    assistant (a user turn or a tool result), and answers only calls that were made."""
    if not turns:
        raise ValueError("'messages' needs at least one turn")
    if turns[0].kind != "user":
        raise ValueError("'messages' must start with a 'user' turn")
    if turns[-1].kind not in ("user", "result"):
        raise ValueError("'messages' must end with a 'user' or 'result' turn (the answer comes after it)")
    unanswered = 0
    for i, turn in enumerate(turns):
        if turn.kind == "call":
            unanswered += 1
        elif turn.kind == "calls":
            unanswered += len(turn.calls or [])
        elif turn.kind == "result":
            if unanswered == 0:
                raise ValueError(f"messages[{i}]: a 'result' needs an earlier call it answers")
            unanswered -= 1


class ContextSpec(_Spec):
    """Facts a row is asked in, rendered into its system prompt (`context_template`)."""

    date: dt.date | None = Field(
        default=None, description="Today's date for the row; relative dates ('next Tuesday') "
                                  "resolve against it (`{{ today | next_weekday('tuesday') }}` in calls).")
    time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                             description="The local time, HH:MM.")
    timezone: str | None = Field(default=None, min_length=1, description="An IANA time zone, e.g. Europe/Paris.")
    user: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Attributes of the user: `{clinic: Downtown, plan: pro}`.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        import zoneinfo

        if v is None:
            return v
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            from mcptrain.suggestions import did_you_mean

            hint = did_you_mean(v, sorted(zoneinfo.available_timezones()))
            raise ValueError(f"unknown time zone {v!r}" + (f" ({hint})" if hint else "")) from None
        return v


def merge_contexts(*contexts: ContextSpec | None) -> ContextSpec | None:
    """Later contexts override earlier ones field by field; `user` maps are merged."""
    out: dict[str, Any] = {}
    user: dict[str, Any] = {}
    for ctx in contexts:
        if ctx is None:
            continue
        for name in ("date", "time", "timezone"):
            if getattr(ctx, name) is not None:
                out[name] = getattr(ctx, name)
        user.update(ctx.user)
    if not out and not user:
        return None
    return ContextSpec(**out, user=user)


def is_alternatives(value: Any) -> bool:
    """`{any_of: [...]}` / `{value: v, optional: true}`: a scenario argument's acceptable values."""
    return (isinstance(value, dict) and bool(value) and set(value) <= ALTERNATIVE_KEYS
            and ("any_of" in value) != ("value" in value))


def alternatives_of(value: Any) -> tuple[list[Any], bool]:
    """(acceptable values, may be omitted) of a scenario argument."""
    if not is_alternatives(value):
        return [value], False
    values = list(value["any_of"]) if "any_of" in value else [value["value"]]
    return values, bool(value.get("optional", False))
