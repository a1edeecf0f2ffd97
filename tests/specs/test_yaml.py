from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcptrain.files import write_new_file
from mcptrain.specs.yaml import MAX_FILE_BYTES, Document, YAMLError, load_document, parse_document
from tests.conftest import PROJECTS, REPO


def test_positions_point_at_keys_and_values() -> None:
    doc = parse_document(b"a:\n  b: [1, {c: x}]\n", "f.yaml")
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.position(("a", "b", 1, "c")) == (2, 14)
    assert doc.position(("a", "b", 1, "c"), key=True) == (2, 11)
    # a path that does not exist reports the deepest node that does
    assert doc.position(("a", "missing")) == (2, 3)


def _paths(data: Any, base: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into `data`, and one step past each (a missing key, an index out of range)."""
    yield base
    if isinstance(data, dict):
        yield (*base, "no-such-key")
        for k, v in data.items():
            yield from _paths(v, (*base, k))
    elif isinstance(data, list):
        yield (*base, len(data))
        yield (*base, "0")  # a string never indexes a list
        for i, v in enumerate(data):
            yield from _paths(v, (*base, i))
    else:
        yield (*base, 0)


def test_positions_kept_as_data_answer_like_the_node_tree() -> None:
    """`mcptrain validate` keeps a document's positions as JSON: every path, present or not,
    key or value, must point where the parsed file points."""
    files = [*sorted((REPO / "specs").rglob("*.yaml")), *sorted(PROJECTS.rglob("*.yaml"))]
    texts = [f.read_bytes() for f in files] + [
        b"1: a\n'1': b\nx: {1.0: c, null: d, true: e}\n",  # keys that read alike: the first one answers
        b"- [a, [b, {c: [d]}]]\n- &x {k: v}\n- *x\n",  # nested lists, an alias
    ]
    checked = 0
    for raw in texts:
        try:
            doc = parse_document(raw, "f.yaml")
        except YAMLError:
            continue
        kept = Document.from_positions("f.yaml", doc.data, json.dumps(doc.positions()))
        for path in _paths(doc.data):
            for key in (False, True):
                assert kept.position(path, key=key) == doc.position(path, key=key), (raw[:80], path, key)
                checked += 1
    assert checked > 10_000


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (MAX_FILE_BYTES + 1) + b"\n")
    with pytest.raises(YAMLError) as e:
        load_document(big)
    assert e.value.message == "file is 8.0 MiB; spec files are limited to 8 MiB (split it into several files)"


def test_alias_bomb_is_refused_quickly() -> None:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    prev = "a"
    for n in "bcdefghijk":
        text += f"{n}: &{n} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = n
    started = time.perf_counter()
    with pytest.raises(YAMLError, match="alias bomb"):
        parse_document(text.encode(), "bomb.yaml")
    assert time.perf_counter() - started < 1.0


def test_libyaml_nesting_limit_is_a_clean_error() -> None:
    with pytest.raises(YAMLError) as e:
        parse_document(b"a: " + b"[" * 5000 + b"]" * 5000, "deep.yaml")
    assert "nesting" in e.value.message or "invalid YAML" in e.value.message


def test_duplicate_keys_and_merge_keys_are_errors() -> None:
    with pytest.raises(YAMLError) as e:
        parse_document(b"a: 1\na: 2\n", "d.yaml")
    assert (e.value.message, e.value.line, e.value.col) == ("duplicate key 'a'", 2, 1)
    with pytest.raises(YAMLError) as e:
        parse_document(b"base: &b {x: 1}\nc:\n  <<: *b\n", "m.yaml")
    assert e.value.message == "merge keys ('<<') are not supported in specs"


def test_scalars_keep_yaml_types_and_dates_stay_text() -> None:
    doc = parse_document(b"i: 0x1F\nf: 1.5\nb: yes\nn: ~\nd: 2026-01-05\ns: '007'\n", "s.yaml")
    assert doc.data == {"i": 31, "f": 1.5, "b": True, "n": None, "d": "2026-01-05", "s": "007"}


def test_write_new_file_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "x.yaml"
    target.write_text("mine\n")
    with pytest.raises(FileExistsError):
        write_new_file(target, "theirs\n")
    assert target.read_text() == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.yaml"]  # no temp file left behind
