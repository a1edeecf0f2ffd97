"""BFCL function docs -> MCP tools, and BFCL answers -> one value per argument.

BFCL's docs use its own type names (`dict`, `float`, `tuple`, `any`; Java's `String`,
`HashMap`, `long`...), which no JSON Schema tool accepts. Python categories translate
to JSON Schema. In Java and JavaScript categories every argument is a string in the
language's syntax (BFCL's checker decodes it by type), so each parameter becomes
`type: string` with BFCL's type kept in `x-bfcl: {language, type, items}`; the checker
decodes by it (`mcptrain.specs.bfcl_values`).
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from mcptrain.specs import bfcl_values

TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer",
         "string": "string", "boolean": "boolean", "array": "array", "any": None,
         "object": "object", "number": "number", "null": "null"}
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # ToolSpec.name


def mcp_tool(doc: dict[str, Any], language: str, where: str, errors: list[str]) -> dict[str, Any] | None:
    """One BFCL function doc as an MCP tool (name, description, inputSchema), or None."""
    name = str(doc["name"])
    if not _TOOL_NAME.fullmatch(name) or len(name) > 128:
        errors.append(f"{where}: function name {name!r} is not a valid tool name")
        return None
    params = doc.get("parameters") or {"type": "dict", "properties": {}}
    n_errors = len(errors)
    if language == "python":
        schema = _schema(params, f"{where}: function {name!r}", errors)
    else:
        schema = _encoded(params, language, f"{where}: function {name!r}", errors)
    if len(errors) > n_errors:
        return None
    schema["type"] = "object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        errors.append(f"{where}: function {name!r}: the converted schema is invalid: {e.message}")
        return None
    return {"name": name, "description": str(doc.get("description") or f"The {name} function."),
            "inputSchema": schema}


def _schema(node: Any, where: str, errors: list[str]) -> Any:
    """BFCL's type names -> JSON Schema, recursively (properties, items, additionalProperties)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if "type" in node:
        bfcl = node["type"]
        if bfcl not in TYPES:
            errors.append(f"{where}: unknown BFCL type {bfcl!r} (expected one of "
                          f"{', '.join(repr(t) for t in TYPES)})")
            return out
        if TYPES[bfcl] is None:
            del out["type"]
        else:
            out["type"] = TYPES[bfcl]
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _schema(v, f"{where} parameter {k!r}", errors)
                             for k, v in node["properties"].items()}
    if isinstance(node.get("items"), list):  # tuple form -> Draft 2020-12's prefixItems
        out["prefixItems"] = [_schema(v, where, errors) for v in out.pop("items")]
    elif isinstance(node.get("items"), dict):
        out["items"] = _schema(node["items"], where, errors)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _schema(node["additionalProperties"], where, errors)
    return out


def _encoded(params: dict[str, Any], language: str, where: str, errors: list[str]) -> dict[str, Any]:
    """Java / JavaScript parameters: strings in the language's syntax, BFCL's type kept."""
    known = bfcl_values.JAVA_TYPES if language == "java" else bfcl_values.JS_TYPES
    props: dict[str, Any] = {}
    for key, node in (params.get("properties") or {}).items():
        kind = node.get("type") if isinstance(node, dict) else None
        if kind not in known:
            errors.append(f"{where} parameter {key!r}: unknown BFCL {language} type {kind!r} "
                          f"(expected one of {', '.join(repr(t) for t in known)})")
            continue
        tag: dict[str, Any] = {"language": language, "type": kind}
        items = node.get("items")
        if isinstance(items, dict) and isinstance(items.get("type"), str):
            tag["items"] = items["type"]
        props[key] = {"type": "string", **({"description": node["description"]} if node.get("description") else {}),
                      "x-bfcl": tag}
    out: dict[str, Any] = {"type": "object", "properties": props}
    if params.get("required"):
        out["required"] = list(params["required"])
    return out


def call_args(params: dict[str, Any], schema: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """One value per argument for the scenario: the first acceptable value that fits the schema
    (for Java / JavaScript, the first written as the string a model would write). Where BFCL's
    answer contradicts the function's own doc, `problems` says how."""
    props = schema.get("properties", {})
    out = {}
    for param, values in params.items():
        values = values if isinstance(values, list) else [values]
        options = [_first_values(v) for v in values if not (isinstance(v, str) and v == "")]
        may_omit = len(options) < len(values)
        if not options:
            continue  # only "": the argument is optional and expected to be left out
        if param not in props:
            problems.append(f"it passes {param!r}, which the function does not have")
            continue
        tag = (props.get(param) or {}).get("x-bfcl")
        if isinstance(tag, dict):
            options = [bfcl_values.encode(v, tag["language"], tag["type"], tag.get("items")) for v in options]
        check = Draft202012Validator(props.get(param, {}))
        fitting = [v for v in options if check.is_valid(v)]
        if not fitting and may_omit:
            continue  # BFCL's `["", None]`: left out is the acceptable answer that fits
        if not fitting:
            problems.append(f"no acceptable value of {param!r} fits its schema ({options[0]!r})")
        out[param] = (fitting or options)[0]
    problems += [f"it leaves out the required parameter {p!r}" for p in schema.get("required", []) if p not in out]
    return out


def _first_values(value: Any) -> Any:
    """A BFCL acceptable value made plain: a nested dict's value lists become their first value."""
    if isinstance(value, dict):
        out = {}
        for k, alts in value.items():
            alts = alts if isinstance(alts, list) else [alts]
            kept = [a for a in alts if not (isinstance(a, str) and a == "")]
            if kept:
                out[k] = _first_values(kept[0])
        return out
    if isinstance(value, list):
        return [_first_values(v) for v in value]
    return value
