from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcptrain.files import write_new_file
from mcptrain.specs.yaml import MAX_FILE_BYTES, YAMLError, load_document, parse_document


def test_positions_point_at_keys_and_values() -> None:
    doc = parse_document(b"a:\n  b: [1, {c: x}]\n", "f.yaml")
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.position(("a", "b", 1, "c")) == (2, 14)
    assert doc.position(("a", "b", 1, "c"), key=True) == (2, 11)
    # a path that does not exist reports the deepest node that does
    assert doc.position(("a", "missing")) == (2, 3)


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
