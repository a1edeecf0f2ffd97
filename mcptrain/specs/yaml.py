"""The only module that imports the YAML libraries.

Reading is PyYAML's C composer (libyaml) plus a small constructor of our own that
refuses what specs never need: alias bombs, deep nesting, huge files, non-UTF-8
bytes, custom tags. The composed node tree is kept so that any data path can be
turned into `line:col` only when an error needs it (the happy path pays nothing).
Round-trip edits (registry, importers) go through ruamel.yaml so comments survive.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml as pyyaml

try:  # the C loader is what makes validation fast; fall back only where libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

class _SpecLoader(_Loader):
    """libyaml's composer with a memoised implicit-tag resolver.

    Plain scalars resolve by value alone (specs use no path resolvers), and keys and
    enum-like values repeat thousands of times; the stock resolver re-runs its regexes
    for every one of them, which was half of all validation time.
    """

    _tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is pyyaml.ScalarNode and implicit[0]:
            tag = self._tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(self._tags) < 200_000:
                    self._tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 64

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_BOOL = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}

Loc = Sequence[str | int]


class YAMLError(Exception):
    """A file that is not acceptable YAML; carries a 1-based line and column."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


class Document:
    """A parsed file: its data and the node tree that knows where each value is (or, for a
    document `mcptrain validate` kept in its cache, the positions alone: `positions()`)."""

    __slots__ = ("path", "data", "_root", "_tree")

    def __init__(self, path: str, data: Any, root: pyyaml.Node | None) -> None:
        self.path = path
        self.data = data
        self._root = root
        self._tree: Any = None  # `positions()` of a cached document: its JSON until first asked

    @classmethod
    def from_positions(cls, path: str, data: Any, positions: str) -> Document:
        """A document rebuilt from its data and the JSON of its `positions()`, which is
        decoded only if a position is asked for."""
        doc = cls(path, data, None)
        doc._tree = positions
        return doc

    def positions(self) -> Any:
        """Where every value and key is, as plain data: `[line, col]` for a scalar,
        `[line, col, {key as written: [key line, key col, value]}]` for a mapping,
        `[line, col, [item, ...]]` for a list (0-based, as the node tree holds them)."""
        if self._root is None:
            return self._tree_data()
        return _positions_of(self._root)

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value at `loc`, or of its key with `key=True`.

        Walks as deep as the path exists and reports the deepest node found, so a
        missing key points at the mapping that should have held it.
        """
        node = self._root
        if node is None:
            tree = self._tree_data()
            return _tree_position(tree, loc, key) if tree is not None else (1, 1)
        best = node.start_mark
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, pyyaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, pyyaml.ScalarNode) and k.value == str(part):
                        best = k.start_mark if (key and last) else v.start_mark
                        node = v
                        break
                else:
                    break
            elif isinstance(node, pyyaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    node = node.value[part]
                    best = node.start_mark
                else:
                    break
            else:
                break
        return best.line + 1, best.column + 1

    def _tree_data(self) -> Any:
        if isinstance(self._tree, str):
            self._tree = json.loads(self._tree)
        return self._tree


def _positions_of(node: pyyaml.Node) -> list[Any]:
    mark = node.start_mark
    if isinstance(node, pyyaml.MappingNode):
        keys: dict[str, list[Any]] = {}
        for k, v in node.value:  # the first of two keys written alike answers, as in `position`
            keys.setdefault(k.value, [k.start_mark.line, k.start_mark.column, _positions_of(v)])
        return [mark.line, mark.column, keys]
    if isinstance(node, pyyaml.SequenceNode):
        return [mark.line, mark.column, [_positions_of(v) for v in node.value]]
    return [mark.line, mark.column]


def _tree_position(node: Any, loc: Loc, key: bool) -> tuple[int, int]:
    """`Document.position` over `positions()` instead of the node tree."""
    line, col = node[0], node[1]
    for i, part in enumerate(loc):
        children = node[2] if len(node) > 2 else None
        if isinstance(children, dict):
            entry = children.get(str(part))
            if entry is None:
                break
            node = entry[2]
            line, col = (entry[0], entry[1]) if key and i == len(loc) - 1 else (node[0], node[1])
        elif isinstance(children, list) and isinstance(part, int) and 0 <= part < len(children):
            node = children[part]
            line, col = node[0], node[1]
        else:
            break
    return line + 1, col + 1


def load_document(path: Path, display: str | None = None) -> Document:
    """Read one YAML file safely. Raises YAMLError with a position on any problem."""
    shown = display or str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise YAMLError(
            f"file is {size / 1048576:.1f} MiB; spec files are limited to "
            f"{MAX_FILE_BYTES // 1048576} MiB (split it into several files)"
        )
    raw = path.read_bytes()
    return parse_document(raw, shown)


def parse_document(raw: bytes, display: str) -> Document:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise YAMLError(f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})", line, col) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        root = pyyaml.compose(text, Loader=_SpecLoader)
    except pyyaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YAMLError(f"invalid YAML: {e.problem or e.context}", line, col) from None
    except pyyaml.YAMLError as e:  # e.g. a second document in the stream
        raise YAMLError(f"invalid YAML: {e}") from None
    except RecursionError:
        raise YAMLError(f"nesting is deeper than {MAX_DEPTH} levels") from None
    if root is None:
        return Document(display, None, None)
    builder = _Builder()
    data = builder.build(root, 0)
    return Document(display, data, root)


class _Builder:
    """Turns composed nodes into plain Python values, with alias and depth limits."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.aliases = 0

    def build(self, node: pyyaml.Node, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise YAMLError(
                f"nesting is deeper than {MAX_DEPTH} levels",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        ident = id(node)
        if ident in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YAMLError(
                    f"more than {MAX_ALIASES} aliases (a YAML alias bomb?); specs need none",
                    node.start_mark.line + 1,
                    node.start_mark.column + 1,
                )
        elif not isinstance(node, pyyaml.ScalarNode):
            self.seen.add(ident)
        if isinstance(node, pyyaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, pyyaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _tag_error(node)
            return [self.build(v, depth + 1) for v in node.value]
        if isinstance(node, pyyaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise _tag_error(node)
            out: dict[Any, Any] = {}
            for k, v in node.value:
                if k.tag == "tag:yaml.org,2002:merge":
                    raise YAMLError(
                        "merge keys ('<<') are not supported in specs",
                        k.start_mark.line + 1,
                        k.start_mark.column + 1,
                    )
                if not isinstance(k, pyyaml.ScalarNode):
                    raise YAMLError(
                        "mapping keys must be plain scalars",
                        k.start_mark.line + 1,
                        k.start_mark.column + 1,
                    )
                key = _scalar(k)
                if key in out:
                    raise YAMLError(
                        f"duplicate key {key!r}", k.start_mark.line + 1, k.start_mark.column + 1
                    )
                out[key] = self.build(v, depth + 1)
            return out
        raise _tag_error(node)  # pragma: no cover


def _tag_error(node: pyyaml.Node) -> YAMLError:
    return YAMLError(
        f"unsupported YAML tag {node.tag!r}",
        node.start_mark.line + 1,
        node.start_mark.column + 1,
    )


def _scalar(node: pyyaml.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
        return value
    if tag == "tag:yaml.org,2002:int":
        v = value.replace("_", "")
        try:
            if v.startswith(("0x", "-0x", "+0x")):
                return int(v, 16)
            if v.startswith(("0o", "-0o", "+0o")):
                return int(v, 8)
            return int(v)
        except ValueError:
            raise YAMLError(
                f"cannot read {value!r} as an integer",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            ) from None
    if tag == "tag:yaml.org,2002:float":
        v = value.replace("_", "").lower()
        if v in (".inf", "+.inf"):
            return float("inf")
        if v == "-.inf":
            return float("-inf")
        if v == ".nan":
            return float("nan")
        return float(v)
    if tag == "tag:yaml.org,2002:bool":
        return _BOOL[value.lower()]
    if tag == "tag:yaml.org,2002:null":
        return None
    raise _tag_error(node)


def dump_yaml(data: Any) -> str:
    """Plain block-style YAML for files mcptrain writes from scratch."""
    return pyyaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


class _Dumper(pyyaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: pyyaml.SafeDumper, data: str) -> pyyaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def load_roundtrip(path: Path) -> Any:
    """Load a file for a comment-preserving edit."""
    return parse_roundtrip(path.read_text(encoding="utf-8"))


def new_mapping() -> Any:
    """An empty mapping a round-trip document can hold (block style)."""
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def dump_roundtrip(data: Any, *, width: int | None = None, sequence: tuple[int, int] = (4, 2),
                   null: str = "") -> str:
    """`width`: wrap lines longer than this (a large one keeps a person's long lines as written).
    `sequence`: a block list's indent and its dash's offset, (4, 2) for `  - a`, (2, 0) for
    `- a` under its key (`sequence_indent` reads a file's own). `null`: how None is written
    (ruamel's default is nothing: `default:`)."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=sequence[0], offset=sequence[1])
    if null:
        rt.Representer = _null_representer(null)
    if width is not None:
        rt.width = width
    buf = io.StringIO()
    rt.dump(data, buf)
    return buf.getvalue()


def sequence_indent(text: str) -> tuple[int, int]:
    """The block lists' indent and dash offset `text` uses (for `dump_roundtrip`), so an
    edit keeps the file's own style; (4, 2) when it has none to read."""
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        _, indent, offset = load_yaml_guess_indent(text)
    except Exception:  # noqa: BLE001 - a file it cannot read keeps the default style
        return (4, 2)
    if not isinstance(indent, int) or not isinstance(offset, int) or indent < 2 or offset < 0:
        return (4, 2)
    return (indent, offset)


def _null_representer(word: str) -> Any:
    from ruamel.yaml.representer import RoundTripRepresenter

    class NullRepresenter(RoundTripRepresenter):  # a subclass: the global one stays as it is
        pass

    NullRepresenter.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", word))
    return NullRepresenter


def parse_roundtrip(text: str) -> Any:
    """Parse `text` for a comment-preserving edit (the registry read from a git ref)."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    return rt.load(text)


def roundtrip_value(data: Any, *, flow_width: int = 90) -> Any:
    """Plain data as round-trip nodes: mappings and lists of scalars short enough for one line
    are written in flow style (`{accuracy: 0.9, correct: 9, n: 10}`), the rest in block style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(data, dict):
        node: Any = CommentedMap((k, roundtrip_value(v, flow_width=flow_width)) for k, v in data.items())
    elif isinstance(data, list):
        node = CommentedSeq(roundtrip_value(v, flow_width=flow_width) for v in data)
    else:
        return data
    leaves = data.values() if isinstance(data, dict) else data
    if data and all(not isinstance(v, dict | list) for v in leaves) and len(str(data)) <= flow_width:
        node.fa.set_flow_style()
    return node
