"""A JSON Schema's own schemas, walked by keyword.

A tool's `inputSchema` holds schemas only under certain keywords: maps of them
(`properties`), lists of them (`anyOf`), or one (`items`). Walking every value instead
reads a parameter *named* `format`, `type` or `properties` as that keyword, and data under
`default`, `const` or `examples` as schemas. The grammar and the spec validator both walk
schemas this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMAS = ("items", "additionalItems", "additionalProperties", "unevaluatedItems",
              "unevaluatedProperties", "contains", "propertyNames", "not", "if", "then", "else")


def subschemas(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """`node` and every schema inside it, parents first, each with its path of keys and
    indexes from `path`. A parent may be changed when it is yielded: its children are read
    after that (`items` as a list is draft 4's tuple form)."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key in SUBSCHEMA_MAPS:
        children = node.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                yield from subschemas(child, (*path, key, name))
    for key in (*SUBSCHEMA_LISTS, *SUBSCHEMAS):
        child = node.get(key)
        if isinstance(child, list):
            for i, one in enumerate(child):
                yield from subschemas(one, (*path, key, i))
        else:
            yield from subschemas(child, (*path, key))


def pointer_token(name: str) -> str:
    """`name` as one token of a JSON Pointer ("#/$defs/<token>")."""
    return name.replace("~", "~0").replace("/", "~1")


def resolve_local_ref(root: Any, ref: str) -> Any:
    """What a local `$ref` ("#/$defs/Address") points at inside `root`, or None."""
    if not ref.startswith("#/"):
        return None
    target = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        target = target.get(token) if isinstance(target, dict) else None
    return target


def map_subschemas(node: dict[str, Any], change: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of `node` with `change` applied to each schema directly inside it (under the
    keywords `subschemas` walks, but those in `skip`); everything else, data included, is
    kept as it is."""
    out = dict(node)
    for key in SUBSCHEMA_MAPS:
        if key not in skip and isinstance(out.get(key), dict):
            out[key] = {name: change(child) for name, child in out[key].items()}
    for key in (*SUBSCHEMA_LISTS, *SUBSCHEMAS):
        child = out.get(key)
        if isinstance(child, list):
            out[key] = [change(one) for one in child]
        elif isinstance(child, dict):
            out[key] = change(child)
    return out
