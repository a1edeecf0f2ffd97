"""Sandboxed jinja2 expansion of example templates.

A template example (`template` + `vars`) expands over the cross product of its vars.
Strings in the call's arguments are templates too; one that is exactly a single
`{{ ... }}` expression keeps the expression's native type, so
`amount: "{{ (dollars * 100) | int }}"` gives the integer 2000, not the string "2000".
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

_SINGLE_EXPR = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.S)
MAX_RENDERED_CHARS = 10_000
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def plus_days(value: Any, days: int) -> str:
    """`{{ today | plus_days(7) }}`: the ISO date `days` after `value`."""
    return (_as_date(value) + dt.timedelta(days=int(days))).isoformat()


def next_weekday(value: Any, weekday: str) -> str:
    """`{{ today | next_weekday('tuesday') }}`: the first such day after `value` (never `value`)."""
    want = WEEKDAYS.index(str(weekday).strip().lower())
    start = _as_date(value)
    return (start + dt.timedelta(days=(want - start.weekday() - 1) % 7 + 1)).isoformat()


_ENVS: list[Any] = []


def _env() -> Any:
    """The sandboxed jinja2 environment, made when a first template is rendered (a repository
    without templates never imports jinja2: `mcptrain validate` starts faster)."""
    if not _ENVS:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        # Rendering is bounded too: a template cannot build huge strings through range().
        env.globals.pop("range", None)
        env.globals.pop("lipsum", None)
        env.filters["plus_days"] = plus_days
        env.filters["next_weekday"] = next_weekday
        _ENVS.append(env)
    return _ENVS[0]


def context_values(date: dt.date | None) -> dict[str, Any]:
    """The variables a row's context gives its calls: `today` (ISO date) when it has a date."""
    return {"today": date.isoformat()} if date is not None else {}


def render_text(source: str, values: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    """A templated reply or question, rendered like the query."""
    if "{{" not in source and "{%" not in source:
        return source
    return _render(_compile(source, loc), values, loc).strip()


class TemplateExpansionError(Exception):
    """A template cannot be expanded; `loc` is relative to the example."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ("template",)) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


@dataclass(frozen=True)
class Expansion:
    index: int
    query: str
    values: dict[str, Any]


def count_expansions(variables: dict[str, list[Any]]) -> int:
    return math.prod(len(v) for v in variables.values())


def expand_queries(template: str, variables: dict[str, list[Any]], limit: int) -> list[Expansion]:
    """Every rendering of `template` over the cross product of `variables`."""
    total = count_expansions(variables)
    if total > limit:
        raise TemplateExpansionError(
            f"template expands to {total} queries; the limit is {limit} "
            "(max_template_expansions in mcptrain.yaml)",
            ("vars",),
        )
    for name, values in variables.items():
        if not values:
            raise TemplateExpansionError(f"variable {name!r} has no values", ("vars", name))
    compiled = _compile(template, ("template",))
    names = list(variables)
    out = []
    for i, combo in enumerate(itertools.product(*(variables[n] for n in names))):
        bound: dict[str, Any] = dict(zip(names, combo, strict=True))
        out.append(Expansion(i, _render(compiled, bound, ("template",)).strip(), bound))
    return out


def render_value(value: Any, values: dict[str, Any], loc: tuple[str | int, ...]) -> Any:
    """Render templated strings inside a call's arguments (recursively)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        m = _SINGLE_EXPR.match(value.strip())
        if m:
            from jinja2 import TemplateError, Undefined

            try:
                expr = _env().compile_expression(m.group("expr"), undefined_to_none=False)
                result = expr(**values)
            except TemplateError as e:
                raise TemplateExpansionError(f"template error: {e}", loc) from None
            except (ArithmeticError, TypeError, ValueError) as e:
                raise TemplateExpansionError(f"template error: {e}", loc) from None
            if isinstance(result, Undefined):
                raise TemplateExpansionError(
                    f"template error: {m.group('expr').strip()!r} is undefined", loc
                )
            return result
        return _render(_compile(value, loc), values, loc)
    if isinstance(value, dict):
        return {k: render_value(v, values, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, values, (*loc, i)) for i, v in enumerate(value)]
    return value


def _compile(source: str, loc: tuple[str | int, ...]) -> Any:
    from jinja2 import TemplateError

    try:
        return _env().from_string(source)
    except TemplateError as e:
        raise TemplateExpansionError(f"template does not parse: {e}", loc) from None


def _render(template: Any, values: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    from jinja2 import TemplateError

    try:
        text = template.render(**values)
    except TemplateError as e:
        raise TemplateExpansionError(f"template error: {e}", loc) from None
    except (ArithmeticError, TypeError, ValueError) as e:
        raise TemplateExpansionError(f"template error: {e}", loc) from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateExpansionError(
            f"template renders to {len(text)} characters (limit {MAX_RENDERED_CHARS})", loc
        )
    return str(text)


def render_context(template: str, context: Any) -> str:
    """A row's context (a ContextSpec, or None) as the system prompt states it; "" for none."""
    if context is None:
        return ""
    values = {
        "date": context.date.isoformat() if context.date else None,
        "weekday": WEEKDAYS[context.date.weekday()].capitalize() if context.date else None,
        "time": context.time, "timezone": context.timezone, "user": dict(context.user),
    }
    return _render(_compile(template, ("context_template",)), values, ("context_template",)).strip()


def fill_value(value: Any, values: dict[str, Any], loc: tuple[str | int, ...]) -> Any:
    """`render_value` when there is something to fill in (a template's vars, a context's
    `today`); otherwise the value as written, so a literal `{{` (Java's double-brace
    initialisation in an imported BFCL answer, say) stays as it is."""
    return render_value(value, values, loc) if values else value


def fill_text(text: str, values: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    return render_text(text, values, loc) if values else text


def mentions_today(value: Any) -> bool:
    """A written value that asks for the row's date (`{{ today ... }}`)."""
    if isinstance(value, str):
        return "{{" in value and "today" in value
    if isinstance(value, dict):
        return any(mentions_today(v) for v in value.values())
    if isinstance(value, list):
        return any(mentions_today(v) for v in value)
    return False
