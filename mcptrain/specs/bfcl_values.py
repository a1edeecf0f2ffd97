"""BFCL's Java and JavaScript values: strings that encode typed values.

A tool parameter annotated `x-bfcl: {language, type, items}` (an imported BFCL Java or
JavaScript function) takes such a string; the annotation is part of the spec language,
so it lives here, where the importer and the checker both read it.

In BFCL's simple_java and simple_javascript categories every argument a model writes is a
string in the language's own syntax (`"true"`, `"123L"`, `"new int[]{1, 2}"`,
`"new HashMap<String, String>() {{ put(\\"k\\", \\"v\\"); }}"`, `"['a', 'b']"`); the checker
decodes it by the parameter's BFCL type name before comparing it with the typed answer.
`decode` is BFCL's converter (bfcl_eval/eval_checker/ast_eval/type_convertor, Apache-2.0),
regexes and fall-backs unchanged, so both rule sets read a value as BFCL does; `encode`
writes a typed answer in that syntax (the reference value of an imported scenario).
"""

from __future__ import annotations

import json
import re
from typing import Any

JAVA_TYPES = ("byte", "short", "integer", "float", "double", "long", "boolean", "char", "Array",
              "ArrayList", "Set", "HashMap", "Hashtable", "Queue", "Stack", "String", "any")
JS_TYPES = ("String", "integer", "float", "Bigint", "Boolean", "dict", "array", "any")
_NESTED = ("Array", "ArrayList", "array")


def language_of(bfcl_category: str) -> str:
    """The language of a BFCL category's functions: java, javascript or python."""
    if bfcl_category.endswith("javascript"):
        return "javascript"
    return "java" if bfcl_category.endswith("java") else "python"


def decode(value: str, language: str, bfcl_type: str, item_type: str | None = None) -> Any:
    """A model's string argument read as BFCL reads it (`language`: java or javascript)."""
    if language == "java":
        return _java(value, bfcl_type, item_type if bfcl_type in _NESTED else None)
    return _js(value, bfcl_type, item_type if bfcl_type in _NESTED else None)


def encode(value: Any, language: str, bfcl_type: str, item_type: str | None = None) -> str:
    """A typed BFCL answer written as the string a model would write for it."""
    if isinstance(value, str):
        return value
    if language == "java":
        return _java_literal(value, bfcl_type, item_type)
    if isinstance(value, bool):
        return "true" if value else "false"
    if bfcl_type == "Bigint" and isinstance(value, int):
        return f"{value}n"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)


# ---------------------------------------------------------------- Java


def _java(value: str, kind: str, nested: str | None) -> Any:
    if kind in ("byte", "short", "integer"):
        return int(value) if re.match(r"^-?\d+$", value) else value
    if kind == "float":
        ok = re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", value)
        return float(re.sub(r"[fF]$", "", value)) if ok else value
    if kind == "double":
        return float(value) if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$", value) else value
    if kind == "long":
        return int(re.sub(r"[lL]$", "", value)) if re.match(r"^-?\d+[lL]$", value) else value
    if kind == "boolean":
        return value == "true" if value in ("true", "false") else value
    if kind == "ArrayList":
        return _java_arraylist(value, nested)
    if kind == "Array":
        return _java_array(value, nested)
    if kind == "HashMap":
        return _java_hashmap(value)
    return value  # char (BFCL's own regex never matches), String, any; BFCL raises on Set and Queue


def _java_element(text: str, nested: str | None) -> Any:
    if nested in ("char", "String"):
        return text[1:-1]  # drop the quotes
    return _java(text, nested, None) if nested else _java_value(text)


def _java_arraylist(text: str, nested: str | None) -> Any:
    m = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
    if m:
        return [_java_element(e.strip(), nested) for e in m.group(1).split(",")]
    m = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
    if m:
        return [_java_element(e.strip(), nested) for e in re.findall(r"add\((.+?)\)", m.group(1))]
    return [] if re.search(r"new\s+ArrayList<\w*>\(\)", text) else text


def _java_array(text: str, nested: str | None) -> Any:
    m = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
    if not m:
        return text
    parts = [x.strip() for x in m.group(1).split(",") if x.strip()]
    return [_java(x, nested, None) if nested else _java_value(x) for x in parts]


def _java_hashmap(text: str) -> Any:
    m = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
    if m:
        return {k: _java_value(v.strip()) for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", m.group(1))}
    return {} if re.search(r"new\s+HashMap<.*?>\s*\(\)", text) else text


def _java_value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if re.match(r"^-?\d+[lL]$", text):
        return int(text[:-1])
    if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", text):
        return float(re.sub(r"[fF]$", "", text))
    return _number(text)


def _java_literal(value: Any, kind: str, item: str | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # BFCL's reader: an Array's typed elements go through the type converter, which keeps
        # a String as written; ArrayList's String/char elements and untyped ones lose their quotes.
        quoted = item is None or (kind == "ArrayList" and item in ("String", "char"))
        parts = ", ".join(_java_scalar(v, item) if quoted or not isinstance(v, str) else v for v in value)
        if kind == "ArrayList":
            return f"new ArrayList<>(Arrays.asList({parts}))"
        return f"new {_JAVA_ARRAY.get(item or '', 'Object')}[]{{{parts}}}"
    if isinstance(value, dict):
        puts = " ".join(f'put("{k}", {_java_scalar(_first(v), None)});' for k, v in value.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
    if kind == "long":
        return f"{value}L"
    if kind == "float":
        return f"{value}f"
    return str(value)


_JAVA_ARRAY = {"integer": "int", "long": "long", "double": "double", "float": "float",
               "boolean": "boolean", "char": "char", "String": "String"}


def _java_scalar(value: Any, kind: str | None) -> str:
    if isinstance(value, str):
        return f"'{value}'" if kind == "char" else f'"{value}"'
    return _java_literal(value, kind or "", None)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


# ---------------------------------------------------------------- JavaScript


def _js(value: str, kind: str, nested: str | None) -> Any:
    if kind == "String":
        quoted = (value.startswith('"') and value.endswith('"')) or (value.startswith("'") and value.endswith("'"))
        return value[1:-1] if quoted else value
    if kind == "integer":
        return int(value) if re.match(r"^-?\d+$", value) else value
    if kind == "float":
        return float(value) if re.match(r"^-?\d+(\.\d+)?$", value) else value
    if kind == "Bigint":
        return int(value[:-1]) if re.match(r"^-?\d+n$", value) else value
    if kind == "Boolean":
        return value == "true" if value in ("true", "false") else value
    if kind == "dict":
        return _js_dict(value.strip())
    if kind == "array":
        return _js_array(value.strip(), nested)
    return value  # any


def _js_array(code: str, nested: str | None) -> Any:
    two_d = re.match(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)", code)
    try:
        if two_d:
            rows = []
            for idx, inner in enumerate(re.findall(r"\[(.*?)\]", two_d.group(0))):
                inner = inner.strip()
                if idx == 0 and inner.startswith("["):
                    inner = inner[1:]
                rows.append([_js_value(e.strip()) for e in inner.split(",")])
            return rows
        m = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", code)
        if not m:
            return code
        body = (m.group(1) if m.group(1) is not None else m.group(2) or "").strip()
        elements = body.split(",") if body else []
        if nested:
            return [_js(e.strip(), nested, None) for e in elements]
        return [_js_value(e.strip()) for e in elements]
    except ValueError:
        return code


def _js_dict(code: str) -> Any:
    if code == "{}":
        return {}
    m = re.match(r"\{(.*?)\}", code)
    if not m:
        return code
    out: dict[str, Any] = {}
    for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", m.group(1)):
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key.strip().strip("'\"")] = _js_array(value, None)
        elif value.startswith("{") and value.endswith("}"):
            out[key.strip().strip("'\"")] = _js_dict(value)
        else:
            out[key.strip().strip("'\"")] = _js_value(value.strip("'\""))
    return out


def _js_value(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if (text.startswith('"') and text.endswith('"')) or (text.startswith("'") and text.endswith("'")):
        return text[1:-1]
    return _number(text)


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
