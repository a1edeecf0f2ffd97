"""BFCL-compatible AST checking of one step, fixed where BFCL is known to be wrong.

BFCL's rules are the baseline: exact function names, required parameters present,
no parameter outside the schema, a list of acceptable values per parameter, strict
types (an int is accepted for a float), strings compared after BFCL's normalisation.
Where BFCL is wrong this checker differs, on purpose:

- parallel calls are paired by a maximum bipartite matching, so order never matters
  (BFCL pairs greedily, and its no-order mode still fails some correct answers);
- an explicit argument equal to the schema `default` equals leaving it out, both ways;
- nested objects and lists of objects are checked recursively, per key;
- strings are case-sensitive where the schema says a value is an identifier (`enum`,
  `pattern`, `format`, `const`, or `x-case-sensitive: true`), case-folded elsewhere;
- lists are order-free where the schema says so (`x-order-free` or `uniqueItems`);
- `format: date`/`date-time` values compare as dates (`Z` equals `+00:00`), ISO only;
- malformed output is a failure, never a correct abstention.

Java and JavaScript parameters of imported BFCL items (`x-bfcl` in the schema) take
strings in the language's syntax; both sides are decoded as BFCL decodes them first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mcptrain.evaluation.calls import Expected, ExpectedCall, OneOf, ToolCall, show_value
from mcptrain.evaluation.parsing import Parsed
from mcptrain.replies import asks_question, reply_problem
from mcptrain.specs.bfcl_values import decode

Outcome = Literal["correct", "wrong_function", "wrong_arguments", "missing_call", "extra_call",
                  "malformed", "abstained", "clarified"]
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "relevance", "multi_turn",
              "edge_case", "zero_shot")
_PRIORITY = ("wrong_function", "wrong_arguments", "missing_call", "extra_call")
_BFCL_PUNCT = re.compile(r"[\s,./\-_*^]")  # BFCL's standardize_string, plus all whitespace
_KINDS = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
          dict: "object", type(None): "null"}


@dataclass(frozen=True)
class Match:
    """The verdict on one step: what happened, whether it counts, and why."""

    outcome: Outcome
    correct: bool
    reason: str


def tool_schemas(tools: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Tool name -> parameter schema, from OpenAI function tools, MCP tools or BFCL docs."""
    if isinstance(tools, Mapping):
        return dict(tools)
    out: dict[str, dict[str, Any]] = {}
    for tool in tools:
        fn = tool.get("function", tool)
        out[fn["name"]] = fn.get("parameters") or fn.get("inputSchema") or {}
    return out


def check_output(parsed: Parsed, expected: Expected,
                 tools: Sequence[Mapping[str, Any]] | Mapping[str, Any] = ()) -> Match:
    """Score one parsed output against what was expected of that step."""
    if expected.options:
        return _check_options(parsed, expected.options, tools)
    if parsed.malformed is not None:
        return Match("malformed", False, f"malformed output: {parsed.malformed}")
    if expected.action is not None or not expected.calls:
        return _check_behaviour(parsed, expected)
    if not parsed.calls:
        wanted = ", ".join(c.show() for c in expected.calls)
        if asks_question(parsed.text):
            return Match("clarified", False, f"asked a question instead of calling {wanted}")
        return Match("abstained", False, f"no tool call; expected {wanted}")
    return _check_calls(parsed.calls, expected.calls, tool_schemas(tools))


def check_with_mistakes(parsed: Parsed, expected: Expected,
                        tools: Sequence[Mapping[str, Any]] | Mapping[str, Any] = (),
                        mistakes: Sequence[Mapping[str, Any]] = ()) -> Match:
    """`check_output`, and when the output is wrong and matches one of the row's documented
    common mistakes (`[{"call": {name: args}, "reason": ...}]`, see dataset/knowledge.py),
    the reason names it: `argument 'amount': expected 725, got 72500 — common mistake: ...`."""
    match = check_output(parsed, expected, tools)
    if match.correct or not mistakes or not parsed.calls or parsed.malformed is not None:
        return match
    schemas = tool_schemas(tools)
    for mistake in mistakes:
        wrong = Expected.from_calls([mistake["call"]])
        if _check_calls(parsed.calls, wrong.calls, schemas).correct:
            return Match(match.outcome, False, f"{match.reason} — common mistake: {mistake['reason']}")
    return match


def _check_options(parsed: Parsed, options: Sequence[Expected],
                   tools: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> Match:
    """Correct when any acceptable answer matches; a failure explains the first (reference) one."""
    matches = [check_output(parsed, option, tools) for option in options]
    for k, match in enumerate(matches):
        if match.correct:
            return Match(match.outcome, True, f"{match.reason} (acceptable answer {k + 1} of {len(options)}: "
                                              f"{options[k].show()})")
    others = "; ".join(o.show() for o in options[1:])
    return Match(matches[0].outcome, False, f"{matches[0].reason} (nor any other acceptable answer: {others})")


def _check_behaviour(parsed: Parsed, expected: Expected) -> Match:
    action = expected.action or "no_tool"
    if action == "use_tool":  # BFCL's relevance: any call of an offered tool will do
        if parsed.calls:
            return Match("correct", True, "called a tool, as expected (use_tool)")
        return Match("abstained", False, "expected a tool call (use_tool), got none")
    if parsed.calls:
        got = ", ".join(c.show() for c in parsed.calls)
        return Match("extra_call", False, f"expected no tool call ({action}), got {got}")
    problem = reply_problem(action, parsed.text, expected.required_fields)
    if problem is not None:  # `asked`: a question, but of the wrong kind or detail
        return Match("clarified" if problem.asked else "abstained", False, problem.message)
    if action in ("clarify", "ask_for_details"):
        return Match("clarified", True, f"asked for clarification, as expected ({action})")
    if action == "refuse":
        return Match("correct", True, "declined, as expected (refuse)")
    # `no_tool` (BFCL's relevance) asks only that no tool is called: BFCL scores an empty
    # reply to an irrelevant question as correct, and so does this checker.
    return Match("correct", True, f"no tool call, as expected ({action})")


def _check_calls(got: Sequence[ToolCall], want: Sequence[ExpectedCall],
                 schemas: Mapping[str, dict[str, Any]]) -> Match:
    verdicts = [[_compare_call(e, g, schemas.get(e.name, {})) for g in got] for e in want]
    pairs = _max_matching([[v is None for v in row] for row in verdicts])
    if len(pairs) == len(want) == len(got):
        return Match("correct", True, "the call matches" if len(want) == 1 else f"all {len(want)} calls match")
    # The verdict above is exact. What follows only explains a failure: leftover calls
    # are paired greedily, same function first, so the reason names the closest miss.
    left_e = [i for i in range(len(want)) if i not in pairs]
    left_g = [j for j in range(len(got)) if j not in pairs.values()]
    problems: list[tuple[str, str]] = []
    for i in list(left_e):
        same = [j for j in left_g if got[j].name == want[i].name]
        if same:
            problems.append(_prefixed(verdicts[i][same[0]], want))
            left_e.remove(i)
            left_g.remove(same[0])
    for i, j in zip(list(left_e), list(left_g), strict=False):
        problems.append(_prefixed(verdicts[i][j], want))
        left_e.remove(i)
        left_g.remove(j)
    problems += [("missing_call", f"missing call {want[i].show()}") for i in left_e]
    problems += [("extra_call", f"unexpected call {got[j].show()}") for j in left_g]
    problems.sort(key=lambda p: _PRIORITY.index(p[0]))
    reason = "; ".join(r for _, r in problems[:3])
    if len(problems) > 3:
        reason += f" (and {len(problems) - 3} more)"
    return Match(problems[0][0], False, reason)  # type: ignore[arg-type]


def _prefixed(verdict: tuple[str, str, str] | None, want: Sequence[ExpectedCall]) -> tuple[str, str]:
    assert verdict is not None  # a correct pair would have been matched
    outcome, name, reason = verdict
    if len(want) > 1 and outcome == "wrong_arguments":  # which of the parallel calls
        return outcome, f"{name}: {reason}"
    return outcome, reason


def _max_matching(ok: list[list[bool]]) -> dict[int, int]:
    """Maximum bipartite matching (Kuhn's augmenting paths): exact for any number of calls."""
    owner: dict[int, int] = {}  # got index -> expected index

    def augment(i: int, seen: set[int]) -> bool:
        for j, good in enumerate(ok[i]):
            if good and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def _compare_call(want: ExpectedCall, got: ToolCall,
                  schema: dict[str, Any]) -> tuple[str, str, str] | None:
    if got.name != want.name:
        return "wrong_function", want.name, f"expected function {want.name!r}, got {got.name!r}"
    reason = _compare_object(want.arguments, got.arguments, schema, "")
    return None if reason is None else ("wrong_arguments", want.name, reason)


def _compare_object(want: Mapping[str, Any], got: Mapping[str, Any], schema: Any, path: str) -> str | None:
    schema = schema if isinstance(schema, dict) else {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else None
    for key, value in got.items():
        if key in want:
            continue
        sub = _join(path, key)
        if props is None or key not in props:
            return f"unexpected argument {sub!r}"
        sch = props[key] if isinstance(props[key], dict) else {}
        if "default" in sch and _compare(sch["default"], value, sch, sub) is None:
            continue  # an explicit default is the same as leaving it out
        return f"argument {sub!r}: expected it omitted, got {show_value(value)}"
    for key in schema.get("required", []) if props is not None else []:
        if key not in got:
            return f"missing required argument {_join(path, key)!r}"
    for key, alts in want.items():
        sub = _join(path, key)
        alts = alts if isinstance(alts, OneOf) else OneOf((alts,))
        sch = props.get(key, {}) if props else {}
        sch = sch if isinstance(sch, dict) else {}
        if key not in got:
            if alts.may_omit or ("default" in sch and any(
                    _compare(v, sch["default"], sch, sub) is None for v in alts.values)):
                continue  # leaving it out is the same as giving the default
            return f"argument {sub!r}: missing (expected {_show_alts(alts)})"
        reason = _compare(alts, got[key], sch, sub)
        if reason is not None and alts.may_omit and "default" in sch \
                and _compare(sch["default"], got[key], sch, sub) is None:
            reason = None
        if reason is not None:
            return reason
    return None


def _compare(want: Any, got: Any, schema: Any, path: str) -> str | None:
    """None when `got` is an acceptable `want`, else the reason it is not."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(want, OneOf):
        if not want.values:
            return f"argument {path!r}: expected it omitted, got {show_value(got)}"
        reasons = [_compare(v, got, schema, path) for v in want.values]
        if any(r is None for r in reasons):
            return None
        return reasons[0] if len(reasons) == 1 else \
            f"argument {path!r}: expected {_show_alts(want)}, got {show_value(got)}"
    tag = schema.get("x-bfcl")
    if isinstance(tag, dict) and isinstance(got, str):  # a BFCL Java / JavaScript value: read it as BFCL does
        def read(text: str) -> Any:
            return decode(text, str(tag.get("language")), str(tag.get("type")), tag.get("items"))
        want, got, schema = (read(want) if isinstance(want, str) else want), read(got), {}
    kind, got_kind = _kind(want, schema), _KINDS.get(type(got), type(got).__name__)
    numeric = kind in ("integer", "number") and got_kind in ("integer", "number")
    if not numeric and got_kind != kind:
        return (f"argument {path!r}: expected {show_value(want)}, got {show_value(got)} "
                f"({_a(got_kind)}, not {_a(kind)})")
    if isinstance(want, dict):
        return _compare_object(want, got, schema, path)
    if isinstance(want, list):
        return _compare_list(want, got, schema, path)
    if isinstance(want, str):
        return _compare_string(want, got, schema, path)
    return None if want == got else f"argument {path!r}: expected {show_value(want)}, got {show_value(got)}"


def _compare_list(want: list[Any], got: list[Any], schema: dict[str, Any], path: str) -> str | None:
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    mismatch = f"argument {path!r}: expected {show_value(want)}, got {show_value(got)}"
    if len(want) != len(got):
        return mismatch
    if schema.get("x-order-free") is True or schema.get("uniqueItems") is True:
        # Equality after normalisation is an equivalence, so first-fit pairing is exact.
        free = list(range(len(got)))
        for w in want:
            hit = next((j for j in free if _compare(w, got[j], items, path) is None), None)
            if hit is None:
                return f"{mismatch} (in any order)"
            free.remove(hit)
        return None
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        reason = _compare(w, g, items, f"{path}[{i}]")
        if reason is not None:
            return reason
    return None


def _compare_string(want: str, got: str, schema: dict[str, Any], path: str) -> str | None:
    fmt = schema.get("format")
    if fmt in ("date", "date-time"):
        w, g = _iso(want, fmt), _iso(got, fmt)
        if w is not None and g is not None and w == g:
            return None
        if w is not None and g is None:
            return (f"argument {path!r}: expected {show_value(want)}, got {show_value(got)} "
                    f"(not an ISO 8601 {fmt})")
    if _case_sensitive(schema):
        same = want == got
    else:
        same = _normalise(want) == _normalise(got)
    return None if same else f"argument {path!r}: expected {show_value(want)}, got {show_value(got)}"


def _case_sensitive(schema: dict[str, Any]) -> bool:
    if "x-case-sensitive" in schema:
        return schema["x-case-sensitive"] is True
    return any(k in schema for k in ("enum", "const", "pattern", "format"))


def _normalise(text: str) -> str:
    return _BFCL_PUNCT.sub("", text).lower().replace("'", '"')


def _iso(text: str, fmt: str) -> Any:
    try:
        if fmt == "date":
            return dt.date.fromisoformat(text)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    # Same instant: "Z" and "+00:00" (and any offset) compare as UTC; naive stays naive.
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value


def _kind(want: Any, schema: dict[str, Any]) -> str:
    kind = _KINDS.get(type(want), type(want).__name__)
    if kind in ("integer", "number") and schema.get("type") in ("integer", "number"):
        return str(schema["type"])
    return kind


def _a(kind: str) -> str:
    return "null" if kind == "null" else ("an " if kind[0] in "aeiou" else "a ") + kind


def _show_alts(alts: OneOf) -> str:
    if len(alts.values) == 1:
        return show_value(alts.values[0])
    return "one of " + ", ".join(show_value(v) for v in alts.values)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def categorize(row: Mapping[str, Any]) -> str:
    """A canonical row's BFCL category: its own `category` if it has one, else derived."""
    if row.get("category"):
        return str(row["category"])
    messages = row.get("messages", [])
    turns = [m for m in messages if m.get("role") == "assistant"]
    if len(turns) > 1 or any(m.get("role") == "tool" for m in messages):
        return "multi_turn"
    calls = turns[-1].get("tool_calls") or [] if turns else []
    if not calls:
        return "relevance" if row.get("expected_action") in (None, "no_tool") else "edge_case"
    if len(calls) == 1:
        return "simple" if len(row.get("tools") or []) <= 1 else "multiple"
    names = {(c.get("function") or c)["name"] for c in calls}
    return "parallel" if len(names) == 1 else "parallel_multiple"
