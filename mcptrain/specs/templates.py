"""Sandboxed jinja2 expansion of example templates.

A template example (`template` + `vars`) expands over the cross product of its vars.
Strings in the call's arguments are templates too; one that is exactly a single
`{{ ... }}` expression keeps the expression's native type, so
`amount: "{{ (dollars * 100) | int }}"` gives the integer 2000, not the string "2000".
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

_SINGLE_EXPR = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.S)
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# Rendering is bounded too: a template cannot build huge strings through range().
_ENV.globals.pop("range", None)
_ENV.globals.pop("lipsum", None)
MAX_RENDERED_CHARS = 10_000


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
            try:
                expr = _ENV.compile_expression(m.group("expr"), undefined_to_none=False)
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
    try:
        return _ENV.from_string(source)
    except TemplateError as e:
        raise TemplateExpansionError(f"template does not parse: {e}", loc) from None


def _render(template: Any, values: dict[str, Any], loc: tuple[str | int, ...]) -> str:
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
