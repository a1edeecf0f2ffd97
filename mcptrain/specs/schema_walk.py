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
