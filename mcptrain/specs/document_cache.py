"""The parsed documents of `mcptrain validate`'s other spec files, kept by their bytes.

The Project, Service, ToolSet, Vocabulary, TestScenarios and GatePolicy files are loaded on
every run (an edited examples file is checked against them, and the checks across files
read them), but parsing them with positions was most of the time of a run that re-checked
one examples file. So the data and the positions (`Document.positions()`) of each such file
are kept under the sha256 of its bytes: an unchanged file is rebuilt from them, validated
and checked exactly as if it had been parsed, and its positions are decoded only if a
diagnostic asks for one.

The file (`.mcptrain/cache/validate/documents.json`, beside the summaries) is a JSON header
(the format and the code, as `validate_cache.code_identity` names it), then one line per
document: `sha256<TAB>crc32<TAB>data<TAB>positions`. A line whose checksum or JSON is wrong
(a write cut short, a damaged disk) is ignored with a warning and its file parsed again;
a damaged header discards the whole file. Row files (Examples, EdgeCases) are not kept here:
their summaries are (`validate_cache.py`). A document whose mappings have keys that are not
strings is not kept either (JSON would turn them into strings).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.files import replace_file
from mcptrain.specs.yaml import Document

FORMAT = 1
FILE = "documents.json"
ROW_KINDS = ("Examples", "EdgeCases")


@dataclass
class DocumentCache:
    path: Path
    shown: str
    code: str  # the code that wrote it (a different one: the cache starts empty)
    warnings: list[str]  # where its warnings go (the summaries' list: `validate` prints them)
    lines: dict[str, str] = field(default_factory=dict)  # sha256 -> its line
    _kept: dict[str, str] = field(default_factory=dict)  # sha256 -> line: what this run used or made
    _dirty: bool = False

    @classmethod
    def open(cls, path: Path, shown: str, code: str, warnings: list[str]) -> DocumentCache:
        cache = cls(path, shown, code, warnings)
        raw = read_cache(path, shown, warnings, "parsing every file")
        if raw is None:
            return cache
        try:
            header, *lines = raw.decode("utf-8").split("\n")
            data = json.loads(header)
            if not isinstance(data, dict):
                raise TypeError("the header is not a mapping")
        except (ValueError, TypeError) as e:
            cache.warnings.append(f"ignoring the damaged validate cache {shown} ({type(e).__name__}: {e}); "
                                  "parsing every file (it is rewritten)")
            cache._dirty = True
            return cache
        if data.get("format") != FORMAT or data.get("code") != code:
            cache._dirty = True
            return cache  # another mcptrain wrote it: start again, nothing is wrong
        for line in lines:
            cache.lines[line.partition("\t")[0]] = line
        return cache

    def get(self, sha: str, shown: str) -> Document | None:
        """The document of the bytes `sha` names, as file `shown`; None when not kept (or damaged)."""
        line = self.lines.get(sha)
        if line is None:
            return None
        try:
            _, crc, data_json, positions = line.split("\t")
            if int(crc, 16) != zlib.crc32(f"{data_json}\t{positions}".encode()):
                raise ValueError("its checksum does not match")
            data = json.loads(data_json)
            if not isinstance(data, dict):
                raise TypeError("its data is not a mapping")
        except (ValueError, TypeError) as e:
            self.warnings.append(f"ignoring a damaged entry of the validate cache {self.shown} "
                                 f"({type(e).__name__}: {e}); parsing {shown} again")
            self._dirty = True
            return None
        self._kept[sha] = line
        return Document.from_positions(shown, data, positions)

    def put(self, sha: str, doc: Document) -> None:
        """Keep a document parsed in this run (not a row file's, nor one JSON cannot hold)."""
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") in ROW_KINDS or not _string_keys(data):
            return
        data_json = json.dumps(data, separators=(",", ":"))
        positions = json.dumps(doc.positions(), separators=(",", ":"))
        crc = zlib.crc32(f"{data_json}\t{positions}".encode())
        self._kept[sha] = f"{sha}\t{crc:08x}\t{data_json}\t{positions}"
        self._dirty = True

    def save(self) -> None:
        """Write what this run used or made (documents of deleted files are dropped), when it changed."""
        if not self._dirty and self._kept.keys() == self.lines.keys():
            return
        header = json.dumps({"format": FORMAT, "code": self.code})
        try:
            replace_file(self.path, "\n".join([header, *self._kept.values()]))
        except OSError as e:
            self.warnings.append(f"cannot write the validate cache {self.shown} ({e.strerror})")


def read_cache(path: Path, shown: str, warnings: list[str], instead: str) -> bytes | None:
    """The bytes of a validate cache file: None when there is none, or when it cannot be
    read (with a warning that says what the run does `instead`)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        warnings.append(f"cannot read the validate cache {shown} ({e.strerror}); {instead}")
        return None


def _string_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _string_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_string_keys(v) for v in value)
    return True
