"""BFCL's own verdicts (`mcptrain eval --rules bfcl`), flaws included.

A port of BFCL's AST checker (bfcl_eval/eval_checker/ast_eval/ast_checker.py and the
relevance runner in eval_runner.py, Apache-2.0), kept literal so a number scored here
can be compared with the leaderboard. Its flaws are reproduced on purpose; `--rules both`
lists every item where they make the verdict differ from mcptrain's rules
(`checker.py`). The ones that matter in practice:

- parallel calls are paired greedily, the first output that matches an answer claims it;
- an argument not in the answer is "unexpected" even when it equals the schema default;
- a wrong type is accepted when it has the type of the answer (BFCL's "variable" rule);
- strings are compared case-folded and without spaces and `,./-_*^` everywhere, ids too;
- dicts are compared one level deep; lists of dicts position by position;
- an irrelevance item counts any output that does not parse as calls as correct,
  malformed output included.

The item needs BFCL's own function docs (BFCL's type names) and its answer, which
`mcptrain import bfcl` keeps in the `bfcl_answers.json` sidecar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mcptrain.evaluation.calls import ToolCall
from mcptrain.evaluation.checker import Match
from mcptrain.evaluation.parsing import Parsed
from mcptrain.specs import bfcl_values
from mcptrain.specs.bfcl_values import language_of

PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool,
                                 "array": list, "tuple": list, "dict": dict, "any": str}
JAVA_TYPES: dict[str, type] = {"byte": int, "short": int, "integer": int, "float": float, "double": float,
                               "long": int, "boolean": bool, "char": str, "Array": list, "ArrayList": list,
                               "Set": set, "HashMap": dict, "Hashtable": dict, "Queue": list, "Stack": list,
                               "String": str, "any": str}
JS_TYPES: dict[str, type] = {"String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
                             "dict": dict, "array": list, "any": str}
_NESTED = ("Array", "ArrayList", "array")


class _Invalid(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def check_bfcl(parsed: Parsed, functions: Sequence[Mapping[str, Any]],
               ground_truth: Sequence[Mapping[str, Mapping[str, Any]]] | None, bfcl_category: str) -> Match:
    """BFCL's verdict on one output: `functions` are the item's BFCL docs, `ground_truth`
    its possible answer (None for irrelevance and relevance items)."""
    calls = [] if parsed.malformed is not None else list(parsed.calls)
    if "irrelevance" in bfcl_category:
        if calls:
            return Match("extra_call", False, "BFCL: valid syntax, decoded a call when it should not")
        return Match("correct", True, "BFCL: no call decoded" + (" (the output was malformed)"
                                                                  if parsed.malformed else ""))
    if bfcl_category.endswith("relevance"):
        if calls:
            return Match("correct", True, "BFCL: decoded a call, as relevance asks")
        return Match("abstained", False, "BFCL: no call decoded where relevance needs one")
    if parsed.malformed is not None or not calls:
        return Match("malformed" if parsed.malformed else "abstained", False,
                     "BFCL: failed to decode the output as function calls")
    answers = list(ground_truth or [])
    try:
        _ast_checker(functions, calls, answers, language_of(bfcl_category), bfcl_category)
    except _Invalid as e:
        outcome: Any = "wrong_arguments"
        if e.error_type.endswith("wrong_count"):
            outcome = "extra_call" if len(calls) > len(answers) else "missing_call"
        elif e.error_type.endswith("wrong_func_name"):
            outcome = "wrong_function"
        return Match(outcome, False, f"BFCL {e.error_type}: {e}")
    return Match("correct", True, "BFCL: valid")


def _ast_checker(functions: Sequence[Mapping[str, Any]], calls: list[ToolCall],
                 answers: list[Mapping[str, Mapping[str, Any]]], language: str, category: str) -> None:
    if "parallel" in category:
        _parallel_no_order(functions, calls, answers, language)
    elif "multiple" in category:
        if len(calls) != len(answers):
            raise _Invalid("multiple_function_checker:wrong_count", "Wrong number of functions.")
        _simple(_find(functions, next(iter(answers[0]))), calls[0], answers[0], language)
    else:
        if len(calls) != 1:
            raise _Invalid("simple_function_checker:wrong_count", "Wrong number of functions.")
        _simple(functions[0], calls[0], answers[0], language)


def _find(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    return next((f for f in functions if f["name"] == name), {"name": name, "parameters": {}})


def _parallel_no_order(functions: Sequence[Mapping[str, Any]], calls: list[ToolCall],
                       answers: list[Mapping[str, Mapping[str, Any]]], language: str) -> None:
    if len(calls) != len(answers):
        raise _Invalid("parallel_function_checker_no_order:wrong_count", "Wrong number of functions.")
    matched: list[int] = []
    for i, answer in enumerate(answers):
        doc = _find(functions, next(iter(answer)))
        found = False
        for index, call in enumerate(calls):
            if index in matched:
                continue
            try:
                _simple(doc, call, answer, language)
            except _Invalid:
                continue
            matched.append(index)  # greedy: the first match claims this output for good
            found = True
            break
        if not found:
            raise _Invalid("parallel_function_checker_no_order:cannot_find_match",
                           f"Could not find a matching function for index {i} of possible answers.")


def _simple(doc: Mapping[str, Any], call: ToolCall, answer: Mapping[str, Mapping[str, Any]],
            language: str) -> None:
    possible = dict(next(iter(answer.values())))
    name = doc["name"]
    params = doc.get("parameters") or {}
    details = params.get("properties") or {}
    if call.name != name:
        raise _Invalid("simple_function_checker:wrong_func_name",
                       f"Function name {name!r} not found in model output.")
    args = call.arguments
    for param in params.get("required") or []:
        if param not in args:
            raise _Invalid("simple_function_checker:missing_required", f"Missing required parameter: {param!r}.")
    for param, value in args.items():
        if param not in details or param not in possible:
            raise _Invalid("simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}.")
        _check_param(param, value, details[param], possible[param], language)
    for param, values in possible.items():
        if param not in args and "" not in values:
            raise _Invalid("simple_function_checker:missing_optional",
                           f"Optional parameter {param!r} not provided and not marked as optional.")


def _check_param(param: str, value: Any, detail: Mapping[str, Any], possible: list[Any], language: str) -> None:
    kind = str(detail.get("type"))
    nested: type | None = None
    table = {"java": JAVA_TYPES, "javascript": JS_TYPES}.get(language, PYTHON_TYPES)
    if kind not in table:
        raise _Invalid("type_error:unsupported", f"BFCL has no {language} type {kind!r}.")
    expected = table[kind]
    if language in ("java", "javascript"):
        if not isinstance(value, str):
            raise _Invalid(f"type_error:{'java' if language == 'java' else 'js'}",
                           f"Incorrect type for parameter {param!r}. Expected type String, got "
                           f"{type(value).__name__}. Parameter value: {value!r}.")
        item = (detail.get("items") or {}).get("type") if kind in _NESTED else None
        nested = table.get(str(item)) if item else None
        value = bfcl_values.decode(value, language, kind, item)
    elif kind in ("array", "tuple"):
        nested = PYTHON_TYPES.get(str((detail.get("items") or {}).get("type")))
    if language == "python" and kind == "float" and type(value) is int:
        value = float(value)  # Python's int -> float promotion
    is_variable = _type_check(param, value, possible, kind, expected, nested)
    if not is_variable:
        if expected is dict:
            return _dict_check(param, value, possible)
        if expected is list and nested is dict:
            return _list_dict_check(param, value, possible)
        if expected is str:
            return _string_check(param, value, possible)
        if expected is list:
            return _list_check(param, value, possible)
    if value not in possible:
        raise _Invalid("value_error:others",
                       f"Invalid value for parameter {param!r}: {value!r}. Expected one of {possible}.")
    return None


def _answer_type(possible: list[Any]) -> type | None:
    return next((type(a) for a in possible if a != ""), None)


def _type_check(param: str, value: Any, possible: list[Any], kind: str, expected: type,
                nested: type | None) -> bool:
    """BFCL's type_checker: raises on a wrong type; returns its `is_variable`."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    if type(value) is expected:
        if nested is None:
            return is_variable
        value_items: list[Any] = list(value) if isinstance(value, list | set | tuple) else []
        for item in possible:
            if type(item) is list and not all(_nested_ok(v, item, nested) for v in value_items):
                continue
            return is_variable
        raise _Invalid("type_error:nested", f"Nested type checking failed for parameter {param!r}. Expected "
                                            f"outer type {kind} with inner type {nested.__name__}. "
                                            f"Parameter value: {value!r}.")
    if answer_type is not None and type(value) is answer_type:
        return True
    raise _Invalid("type_error:simple", f"Incorrect type for parameter {param!r}. Expected type {kind}, "
                                        f"got {type(value).__name__}. Parameter value: {value!r}.")


def _nested_ok(value: Any, possible: list[Any], nested: type) -> bool:
    try:
        _type_check("", value, possible, nested.__name__, nested, None)
    except _Invalid:
        return False
    return True


def standardize(text: str) -> str:
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _string_check(param: str, value: str, possible: list[Any]) -> None:
    if standardize(value) not in [standardize(p) for p in possible if type(p) is str]:
        raise _Invalid("value_error:string", f"Invalid value for parameter {param!r}: {value!r}. "
                                             f"Expected one of {possible}. Case insensitive.")


def _list_check(param: str, value: list[Any], possible: list[Any]) -> None:
    got = [standardize(v) if type(v) is str else v for v in value]
    wants = [[standardize(v) if type(v) is str else v for v in p] for p in possible if isinstance(p, list)]
    if got not in wants:
        raise _Invalid("value_error:list/tuple", f"Invalid value for parameter {param!r}: {value!r}. "
                                                 f"Expected one of {possible}.")


def _dict_check(param: str, value: dict[str, Any], possible: list[Any]) -> None:
    error = _Invalid("dict_checker:unclear", f"Invalid value for parameter {param!r}.")
    for answer in possible:
        if answer == "":
            continue
        mismatch = _dict_mismatch(value, answer)
        if mismatch is None:
            return
        error = mismatch
    raise error


def _dict_mismatch(value: dict[str, Any], answer: dict[str, Any]) -> _Invalid | None:
    for key, v in value.items():
        if key not in answer:
            return _Invalid("value_error:dict_key", f"Unexpected dict key parameter: {key!r}.")
        got = standardize(v) if type(v) is str else v
        wants = [standardize(a) if type(a) is str else a for a in answer[key]]
        if got not in wants:
            return _Invalid("value_error:dict_value",
                            f"Invalid value for parameter {key!r}: {v!r}. Expected one of {wants}.")
    for key, values in answer.items():
        if key not in value and "" not in values:
            return _Invalid("value_error:dict_key", f"Missing dict key parameter: {key!r}.")
    return None


def _list_dict_check(param: str, value: list[Any], possible: list[Any]) -> None:
    error = _Invalid("list_dict_checker:unclear", f"Invalid value for parameter {param!r}.")
    for answer in possible:
        if len(value) != len(answer):
            error = _Invalid("value_error:list_dict_count", "Wrong number of dictionaries in the list.")
            continue
        problems = [_dict_mismatch(v, a) if isinstance(v, dict) else _Invalid("value_error:dict_value", "not a dict")
                    for v, a in zip(value, answer, strict=True)]
        first = next((p for p in problems if p is not None), None)
        if first is None:
            return
        error = first
    raise error
