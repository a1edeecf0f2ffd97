"""`mcptrain validate`'s content-hashed cache: an unchanged Examples or EdgeCases file is
neither parsed nor checked again; its summary (`summary.py`) is reused.

A summary is kept under a key made of everything its checks read:

* the file's bytes (sha256) and its path (diagnostics name it);
* the code: mcptrain's version, the source of `mcptrain/specs/` and the versions of the
  libraries whose messages reach the diagnostics (a different one discards the whole cache);
* the inputs shared by every row file: the path and bytes of each Project, Service, ToolSet
  and Vocabulary file that loaded (the tools a row may call, their schemas, synonyms,
  contexts, the template limit), and the services in the order they were found.

So an edited ToolSet, vocabulary or project file re-checks every row file, and an edited
examples file re-checks only itself. The checks across files (duplicate ids, contamination,
tool balance, the project's context template, policy names) always run, over the summaries.
Files that fail to load, the other kinds, and a row file whose service has no Service spec
are always read again. The cache is one file written atomically: a JSON header, the kinds
of the row files' contents, then one `key<TAB>summary` line per row file, so a run that
re-checked one file writes one new line and copies the others as they were. A damaged
cache is ignored with a warning and rewritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.errors import Diagnostic
from mcptrain.files import replace_file
from mcptrain.fingerprint import sha256_json
from mcptrain.specs import models as s
from mcptrain.specs.document_cache import FILE as DOCUMENTS_FILE
from mcptrain.specs.document_cache import DocumentCache, read_cache
from mcptrain.specs.loader import (
    Loaded,
    ServiceBundle,
    Specs,
    display_path,
    find_spec_files,
    from_document,
    load_file,
    place,
    read_document,
)
from mcptrain.specs.summary import RowSummary

FORMAT = 1
ROW_KINDS: dict[type[Any], str] = {s.ExamplesSpec: "Examples", s.EdgeCasesSpec: "EdgeCases"}
SHARED_KINDS = (s.ProjectSpec, s.ServiceSpec, s.ToolSetSpec, s.VocabularySpec)


@dataclass
class _Pending:
    """A file the cache knows the kind of: checked again only if its summary is missing."""

    path: Path
    shown: str
    kind: str
    service: str


@dataclass
class ValidateCache:
    path: Path
    documents: DocumentCache  # the other files' parsed documents (`document_cache.py`)
    warnings: list[str] = field(default_factory=list)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)  # file sha256 -> (kind, service)
    entries: dict[str, tuple[str, RowSummary]] = field(default_factory=dict)  # key -> (its line, summary)
    hits: int = 0
    _kept: dict[str, str] = field(default_factory=dict)  # key -> line: what this run used or made
    _kinds_seen: dict[str, tuple[str, str]] = field(default_factory=dict)
    _shas: dict[str, str] = field(default_factory=dict)  # shown path -> sha256 of its bytes
    _shared = ""
    _dirty = False

    @classmethod
    def open(cls, path: Path, shown: str) -> ValidateCache:
        """The cache at `path` (`shown` names it in a warning); empty when absent or damaged.
        The documents are kept beside it, in `documents.json`."""
        warnings: list[str] = []
        documents = DocumentCache.open(path.with_name(DOCUMENTS_FILE), str(Path(shown).with_name(DOCUMENTS_FILE)),
                                       code_identity(), warnings)
        cache = cls(path, documents, warnings)
        raw = read_cache(path, shown, warnings, "checking every file")
        if raw is None:
            return cache
        try:
            header, _, rest = raw.decode("utf-8").partition("\n")
            data = json.loads(header)
            if data.get("format") != FORMAT or data.get("code") != code_identity():
                return cache  # another mcptrain wrote it: start again, nothing is wrong
            kinds_line, *lines = rest.split("\n")
            kinds = {_str(sha): (_str(kind), _str(svc)) for sha, (kind, svc) in json.loads(kinds_line).items()}
            if lines.pop() != "":
                raise ValueError("the last line is cut short")
            entries = {}
            for line in lines:
                key, text = line.split("\t", 1)
                entries[key] = (line, RowSummary.from_json(json.loads(text)))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            cache.warnings.append(f"ignoring the damaged validate cache {shown} ({type(e).__name__}: {e}); "
                                  "checking every file (it is rewritten)")
            return cache
        cache.kinds, cache.entries = kinds, entries
        return cache

    def load_specs(self, root: Path) -> tuple[Specs, list[Diagnostic]]:
        """`loader.load_specs`, except row files with a cached summary are placed as summaries."""
        diags: list[Diagnostic] = []
        specs = Specs(root=root, project=None, services={}, policies=[])
        files = find_spec_files(root)
        specs.file_count = len(files)
        shared: list[tuple[str, str]] = []
        pending: list[_Pending] = []
        for i, path in enumerate(files):
            shown = display_path(path, root)
            specs.order[shown] = i
            sha = _sha_of(path)
            if sha is not None:
                self._shas[shown] = sha
            known = self.kinds.get(sha) if sha is not None else None
            if known is not None:
                pending.append(_Pending(path, shown, *known))
                specs.services.setdefault(known[1], ServiceBundle(known[1]))
                continue
            loaded = self._load(path, shown, sha, diags, specs.unloaded)
            if loaded is None:
                continue
            place(specs, loaded, diags)
            kind = ROW_KINDS.get(type(loaded.spec))
            if kind is not None and sha is not None:
                self._kinds_seen[sha] = (kind, loaded.spec.service)
            elif isinstance(loaded.spec, SHARED_KINDS) and sha is not None:
                shared.append((shown, sha))
        self._shared = sha256_json({"files": shared, "services": list(specs.services)})
        for item in pending:
            self._place_pending(specs, item, diags)
        return specs, diags

    def _load(self, path: Path, shown: str, sha: str | None, diags: list[Diagnostic],
              unloaded: list[tuple[str, str | None]]) -> Loaded[Any] | None:
        """A file whose kind the cache does not know: its document kept in `documents`, or parsed
        (and then kept there)."""
        doc = self.documents.get(sha, shown) if sha is not None else None
        if doc is None:
            doc = read_document(path, shown, diags)
            if doc is None:
                return None
            if sha is not None:
                self.documents.put(sha, doc)
        return from_document(doc, diags, unloaded)

    def _place_pending(self, specs: Specs, item: _Pending, diags: list[Diagnostic]) -> None:
        bundle = specs.services[item.service]
        sha = self._shas[item.shown]
        entry = self.entries.get(self._key(item.shown)) if bundle.service is not None else None
        if entry is not None:
            line, summary = entry
            self._kinds_seen[sha] = (item.kind, item.service)
            self._kept[self._key(item.shown)] = line
            bundle.cached.append((item.kind, item.shown, summary))
            self.hits += 1
            return
        loaded = load_file(item.path, item.shown, diags, specs.unloaded)
        if loaded is not None:
            place(specs, loaded, diags)
            if type(loaded.spec) in ROW_KINDS:
                self._kinds_seen[sha] = (ROW_KINDS[type(loaded.spec)], loaded.spec.service)

    def store(self, shown: str, summary: RowSummary) -> None:
        """Keep the summary of a row file the validator checked in this run."""
        if shown in self._shas:
            key = self._key(shown)
            self._kept[key] = f"{key}\t{json.dumps(summary.to_json(), ensure_ascii=False, separators=(',', ':'))}"
            self._dirty = True

    def save(self, shown: str) -> None:
        """Write what this run used or made (the rest is dropped), when it changed."""
        self.documents.save()
        if not self._dirty and self._kept.keys() == self.entries.keys() and self._kinds_seen == self.kinds:
            return
        header = json.dumps({"format": FORMAT, "code": code_identity()})
        kinds = json.dumps({sha: list(kind) for sha, kind in self._kinds_seen.items()}, ensure_ascii=False)
        try:
            replace_file(self.path, "\n".join([header, kinds, *self._kept.values(), ""]))
        except OSError as e:
            self.warnings.append(f"cannot write the validate cache {shown} ({e.strerror})")

    def _key(self, shown: str) -> str:
        return f"{self._shas[shown]}:{self._shared}:{hashlib.sha256(shown.encode()).hexdigest()[:16]}"


_IDENTITY: list[str] = []


def code_identity() -> str:
    """mcptrain's version, the source behind validation and the libraries behind its messages."""
    if not _IDENTITY:
        from importlib.metadata import version

        import mcptrain

        digest = hashlib.sha256(mcptrain.__version__.encode())
        # The specs package, and the reply rules its edge-case check reads (mcptrain/replies.py).
        sources = [*sorted(Path(__file__).parent.glob("*.py")), Path(__file__).parent.parent / "replies.py"]
        for source in sources:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        for lib in ("pydantic", "jsonschema", "jsonschema-rs", "jinja2", "rapidfuzz"):
            digest.update(f"{lib}={version(lib)}".encode())
        _IDENTITY.append(digest.hexdigest())
    return _IDENTITY[0]


def _sha_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string (got {value!r})")
    return value
