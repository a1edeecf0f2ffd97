"""Write a live server's tools into a service's ToolSet, comments kept (ruamel round-trip).

New tools are appended to the service's first ToolSet file; a changed tool is updated in
the file that defines it, key by key, so comments inside its schema survive; a tool the
server no longer lists is reported and kept (its examples still refer to it: removing it
is a person's decision). Only ToolSet files are touched, never examples or anything else.
Nothing touches the disk here: `plan_toolset_update` returns each file's new text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mcptrain.errors import MCPTrainError
from mcptrain.specs import models as s
from mcptrain.specs.loader import ServiceBundle
from mcptrain.specs.yaml import (
    YAMLError,
    dump_roundtrip,
    dump_yaml,
    parse_document,
    parse_roundtrip,
    sequence_indent,
)

KEEP_LINES = 4096  # re-wrap nothing a person wrote on one line
TOOL_KEYS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


@dataclass
class FileEdit:
    rel: str  # relative to the repository root
    text: str
    new: bool  # a file to create (the service had no ToolSet)


@dataclass
class ToolsetUpdate:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # listed in the specs, gone from the server
    unchanged: list[str] = field(default_factory=list)
    edits: list[FileEdit] = field(default_factory=list)


def spec_tools(live: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """The server's tools as ToolSpec would read them; an error naming the tool if one is unusable."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(live):
        tool = {k: raw[k] for k in TOOL_KEYS if raw.get(k) is not None}
        name = tool.get("name", f"#{i}")
        tool.setdefault("description", tool.get("title") or str(name))
        try:
            s.ToolSpec.model_validate(tool)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise MCPTrainError(f"{where}: tool {name!r}: {loc}: {first['msg']}; nothing written") from None
        out.append(tool)
    names = [t["name"] for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise MCPTrainError(f"{where}: lists tool {dupes[0]!r} twice; nothing written")
    return out


def plan_toolset_update(root: Path, service: str, bundle: ServiceBundle | None,
                        live: list[dict[str, Any]]) -> ToolsetUpdate:
    update = ToolsetUpdate()
    by_name = {t["name"]: t for t in live}
    toolsets = bundle.toolsets if bundle else []
    if not toolsets:
        folder = _folder(root, service, bundle)
        update.added = list(by_name)
        text = dump_yaml({"apiVersion": s.API_VERSION, "kind": "ToolSet", "service": service, "tools": live})
        update.edits.append(FileEdit(f"{folder}/tools.yaml", _checked(text, f"{folder}/tools.yaml"), True))
        return update
    listed = {t.name for ts in toolsets for t in ts.spec.tools}
    update.added = [n for n in by_name if n not in listed]
    for i, loaded in enumerate(toolsets):
        written = (root / loaded.path).read_text(encoding="utf-8")
        data, style = parse_roundtrip(written), sequence_indent(written)
        touched = False
        for tool in data["tools"]:
            name = tool.get("name")
            if name not in by_name:
                update.removed.append(name)
            elif _merge_tool(tool, by_name[name]):
                update.changed.append(name)
                touched = True
            else:
                update.unchanged.append(name)
        if i == 0 and update.added:
            data["tools"].extend(_commented(by_name[n]) for n in update.added)
            touched = True
        if touched:
            text = dump_roundtrip(data, width=KEEP_LINES, sequence=style, null="null")
            update.edits.append(FileEdit(loaded.path, _checked(text, loaded.path), False))
    return update


def _merge_tool(target: Any, live: dict[str, Any]) -> bool:
    """Make the round-trip mapping `target` equal `live`, key by key; whether anything changed."""
    changed = False
    for key in TOOL_KEYS:
        if key not in live:
            if key in target and key != "description":  # a description the server lacks stays
                del target[key]
                changed = True
            continue
        if key not in target:
            target[key] = _commented(live[key])
            changed = True
        elif _plain(target[key]) != live[key]:
            target[key] = _merge_value(target[key], live[key])
            changed = True
    return changed


def _merge_value(old: Any, new: Any) -> Any:
    """`new`, reusing `old`'s round-trip mappings where both are mappings (their comments stay)."""
    if _plain(old) == new:
        return old
    if isinstance(new, dict) and hasattr(old, "items") and not isinstance(old, str):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merge_value(old[key], value) if key in old else _commented(value)
        return old
    return _commented(new)


def _commented(value: Any) -> Any:
    """Plain data as round-trip nodes in block style (how a person writes a ToolSet)."""
    from mcptrain.specs.yaml import new_mapping

    if isinstance(value, dict):
        out = new_mapping()
        for k, v in value.items():
            out[k] = _commented(v)
        return out
    if isinstance(value, list):
        return [_commented(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "items") and not isinstance(value, str):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _checked(text: str, rel: str) -> str:
    """`text` if it reads back as a ToolSet; an internal error otherwise (never a broken file)."""
    try:
        s.ToolSetSpec.model_validate(parse_document(text.encode("utf-8"), rel).data)
    except (YAMLError, ValidationError) as e:
        raise RuntimeError(f"the updated {rel} would not read back as a ToolSet: {e}") from e
    return text


def _folder(root: Path, service: str, bundle: ServiceBundle | None) -> str:
    if bundle is not None and bundle.files():
        return Path(bundle.files()[0].path).parent.as_posix()
    return f"specs/{service}"
