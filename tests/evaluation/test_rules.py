"""BFCL's own rules beside mcptrain's: the same verdict where BFCL is right, the opposite
exactly on BFCL's known flaws."""

from __future__ import annotations

from typing import Any

import pytest

from mcptrain.evaluation.bfcl_rules import check_bfcl
from mcptrain.evaluation.calls import Expected
from mcptrain.evaluation.checker import check_output
from mcptrain.evaluation.parsing import parse_output
from mcptrain.importers.bfcl_schema import mcp_tool
from mcptrain.specs.bfcl_values import decode, encode

WEATHER = {"name": "weather.get", "description": "Current weather.", "parameters": {
    "type": "dict", "required": ["city"], "properties": {
        "city": {"type": "string", "description": "City."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "days": {"type": "integer", "description": "Days ahead.", "default": 0}}}}
PAY = {"name": "pay", "description": "Pay.", "parameters": {"type": "dict", "required": ["amount", "currency"],
       "properties": {"amount": {"type": "float"}, "currency": {"type": "string", "enum": ["USD", "EUR"]},
                      "meta": {"type": "dict", "properties": {"note": {"type": "string"}}}}}}


def verdicts(output: str, docs: list[dict[str, Any]], truth: list[dict[str, Any]] | None,
             category: str) -> tuple[bool, bool]:
    """(mcptrain's verdict, BFCL's) on one output."""
    tools = [t for t in (mcp_tool(d, "python", "test", []) for d in docs) if t]
    expected = Expected.from_bfcl(truth)
    parsed = parse_output(output)
    return check_output(parsed, expected, tools).correct, check_bfcl(parsed, docs, truth, category).correct


@pytest.mark.parametrize(("output", "truth", "category", "both"), [
    ('[weather.get(city="Paris")]', [{"weather.get": {"city": ["Paris"], "unit": ["", "celsius"]}}], "simple", True),
    ('[weather.get(city="paris, ")]', [{"weather.get": {"city": ["Paris"]}}], "simple", True),  # BFCL's folding
    ('[weather.get(city="Rome")]', [{"weather.get": {"city": ["Paris"]}}], "simple", False),
    ('[weather.get(city="Paris", days="2")]', [{"weather.get": {"city": ["Paris"], "days": [2]}}], "simple", False),
    ('[pay(amount=5, currency="USD")]', [{"pay": {"amount": [5.0], "currency": ["USD"]}}], "multiple", True),
    ('[weather.get(city="A"), weather.get(city="B")]',
     [{"weather.get": {"city": ["B"]}}, {"weather.get": {"city": ["A"]}}], "parallel", True),
    ('[weather.get(city="A")]', [{"weather.get": {"city": ["A"]}}, {"weather.get": {"city": ["B"]}}],
     "parallel", False),
    ("I don't know.", None, "irrelevance", True),
    ('[weather.get(city="A")]', None, "irrelevance", False),
])
def test_the_rule_sets_agree_where_bfcl_is_right(output: str, truth: Any, category: str, both: bool) -> None:
    assert verdicts(output, [WEATHER, PAY], truth, category) == (both, both)


def test_greedy_pairing_of_parallel_calls_fails_a_right_answer() -> None:
    truth = [{"weather.get": {"city": ["Paris", "Lyon"]}}, {"weather.get": {"city": ["Paris"]}}]
    output = '[weather.get(city="Paris"), weather.get(city="Lyon")]'
    assert verdicts(output, [WEATHER], truth, "parallel") == (True, False)


def test_an_explicit_default_is_unexpected_to_bfcl() -> None:
    truth = [{"weather.get": {"city": ["Paris"]}}]
    assert verdicts('[weather.get(city="Paris", unit="celsius")]', [WEATHER], truth, "simple") == (True, False)


def test_bfcl_folds_the_case_of_identifiers() -> None:
    truth = [{"pay": {"amount": [5.0], "currency": ["USD"]}}]
    assert verdicts('[pay(amount=5.0, currency="usd")]', [PAY], truth, "simple") == (False, True)


def test_bfcl_accepts_a_wrong_type_that_matches_the_answer_s_type() -> None:
    # BFCL's "variable" rule: an answer typed unlike its doc accepts values of the answer's type
    # (mcptrain's import refuses such an answer: it contradicts the function's own schema).
    truth = [{"weather.get": {"city": ["Paris"], "days": ["two"]}}]
    assert check_bfcl(parse_output('[weather.get(city="Paris", days="two")]'), [WEATHER], truth, "simple").correct
    assert not check_bfcl(parse_output('[weather.get(city="Paris", days=2)]'), [WEATHER], truth, "simple").correct


def test_malformed_output_is_a_correct_abstention_to_bfcl() -> None:
    assert verdicts("<tool_call>{oops</tool_call>", [WEATHER], None, "irrelevance") == (False, True)


def test_relevance_needs_any_call() -> None:
    parsed = parse_output('[weather.get(city="Nowhere")]')
    assert check_bfcl(parsed, [WEATHER], None, "live_relevance").correct
    assert check_output(parsed, Expected.behaviour("use_tool")).correct
    assert not check_output(parse_output("Sure."), Expected.behaviour("use_tool")).correct


@pytest.mark.parametrize(("value", "language", "kind", "item", "text"), [
    (True, "java", "boolean", None, "true"),
    (123, "java", "long", None, "123L"),
    ([101, 202], "java", "Array", "integer", "new int[]{101, 202}"),
    (["a", "b"], "java", "ArrayList", "String", 'new ArrayList<>(Arrays.asList("a", "b"))'),
    (["-v", "-p"], "java", "Array", "String", "new String[]{-v, -p}"),  # BFCL keeps Array Strings as written
    ({"limit": [50]}, "java", "HashMap", None, 'new HashMap<String, Object>() {{ put("limit", 50); }}'),
    (True, "javascript", "Boolean", None, "true"),
    (["completed", "failed"], "javascript", "array", "String", '["completed", "failed"]'),
    ({"a": 1}, "javascript", "dict", None, '{"a": 1}'),
])
def test_java_and_javascript_values_round_trip_through_bfcl_s_reader(
        value: Any, language: str, kind: str, item: str | None, text: str) -> None:
    assert encode(value, language, kind, item) == text
    want = {k: v[0] if isinstance(v, list) else v for k, v in value.items()} if isinstance(value, dict) else value
    assert decode(text, language, kind, item) == want
