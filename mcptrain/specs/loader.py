"""Find and load every spec file of a repository into typed specs.

Every problem becomes a Diagnostic with a file, line and column; loading goes on
after an error so that one run reports all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from mcptrain.errors import Diagnostic
from mcptrain.locations import dotted
from mcptrain.specs import models as s
from mcptrain.specs.summary import RowSummary
from mcptrain.specs.yaml import Document, YAMLError, load_document
from mcptrain.suggestions import did_you_mean

T = TypeVar("T")
PROJECT_FILE = "mcptrain.yaml"
SPEC_DIRS = ("specs", "policies")
SOURCE_MARK = ".source.json"  # in a folder `mcptrain pull` wrote: the source it came from


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A spec and the document it came from (for error positions)."""

    spec: T
    doc: Document

    @property
    def path(self) -> str:
        return self.doc.path


@dataclass
class ServiceBundle:
    name: str
    service: Loaded[s.ServiceSpec] | None = None
    toolsets: list[Loaded[s.ToolSetSpec]] = field(default_factory=list)
    examples: list[Loaded[s.ExamplesSpec]] = field(default_factory=list)
    edge_cases: list[Loaded[s.EdgeCasesSpec]] = field(default_factory=list)
    vocabularies: list[Loaded[s.VocabularySpec]] = field(default_factory=list)
    tests: list[Loaded[s.TestScenariosSpec]] = field(default_factory=list)
    # Examples / EdgeCases files `mcptrain validate` took from its cache: (kind, path, summary)
    cached: list[tuple[str, str, RowSummary]] = field(default_factory=list)

    def files(self) -> list[Loaded[Any]]:
        head: list[Loaded[Any]] = [self.service] if self.service else []
        return [*head, *self.toolsets, *self.examples, *self.edge_cases, *self.vocabularies, *self.tests]


@dataclass
class Specs:
    root: Path
    project: Loaded[s.ProjectSpec] | None
    services: dict[str, ServiceBundle]
    policies: list[Loaded[s.GatePolicySpec]]
    file_count: int = 0
    order: dict[str, int] = field(default_factory=dict)  # path -> position among the files found
    # (kind, service) of each file that declares a kind but failed its model: its own errors
    # say why, so checks that would miss what it holds stay quiet (`from_document`)
    unloaded: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def project_spec(self) -> s.ProjectSpec:
        if self.project is not None:
            return self.project.spec
        return s.ProjectSpec.model_validate(
            {"apiVersion": s.API_VERSION, "kind": "Project", "name": self.root.resolve().name or "model"}
        )


def pulled_from(root: Path, rel: str) -> str | None:
    """The `sources:` name whose pull wrote the spec file `rel`, None for a person's file."""
    import json

    folder = (root / rel).parent
    while folder != root and folder.parent != folder:
        mark = folder / SOURCE_MARK
        if mark.is_file():
            try:
                name = json.loads(mark.read_text(encoding="utf-8")).get("name")
            except (OSError, ValueError, AttributeError):
                return None  # a broken mark proves nothing: treated as a person's folder
            return name if isinstance(name, str) else None
        folder = folder.parent
    return None


def find_spec_files(root: Path) -> list[Path]:
    """mcptrain.yaml plus every *.yaml/*.yml under specs/ and policies/, sorted."""
    found: list[Path] = []
    if (root / PROJECT_FILE).is_file():
        found.append(root / PROJECT_FILE)
    for sub in SPEC_DIRS:
        base = root / sub
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                    found.append(Path(dirpath) / name)
    return found


def load_specs(root: Path) -> tuple[Specs, list[Diagnostic]]:
    """Load a repository. Returns what could be loaded and every diagnostic found."""
    diags: list[Diagnostic] = []
    specs = Specs(root=root, project=None, services={}, policies=[])
    files = find_spec_files(root)
    specs.file_count = len(files)
    for i, path in enumerate(files):
        shown = display_path(path, root)
        specs.order[shown] = i
        loaded = load_file(path, shown, diags, specs.unloaded)
        if loaded is None:
            continue
        place(specs, loaded, diags)
    return specs, diags


def load_project(root: Path) -> tuple[s.ProjectSpec, list[Diagnostic]]:
    """Only mcptrain.yaml (the defaults when there is none), for commands that need no other spec."""
    diags: list[Diagnostic] = []
    specs = Specs(root=root, project=None, services={}, policies=[])
    if (root / PROJECT_FILE).is_file():
        loaded = load_file(root / PROJECT_FILE, PROJECT_FILE, diags)
        if loaded is not None and isinstance(loaded.spec, s.ProjectSpec):
            specs.project = loaded
    return specs.project_spec, diags


def load_file(path: Path, shown: str, diags: list[Diagnostic],
              unloaded: list[tuple[str, str | None]] | None = None) -> Loaded[Any] | None:
    doc = read_document(path, shown, diags)
    return from_document(doc, diags, unloaded) if doc is not None else None


def read_document(path: Path, shown: str, diags: list[Diagnostic]) -> Document | None:
    """The parsed file, or None with a diagnostic when it cannot be read or is not YAML."""
    try:
        return load_document(path, shown)
    except YAMLError as e:
        diags.append(Diagnostic(shown, e.line, e.col, "", e.message))
    except OSError as e:
        diags.append(Diagnostic(shown, 1, 1, "", f"cannot read file: {e.strerror}"))
    return None


def from_document(doc: Document, diags: list[Diagnostic],
                  unloaded: list[tuple[str, str | None]] | None = None) -> Loaded[Any] | None:
    """The spec a parsed file declares, or None with diagnostics when it is not a valid one
    (then, if it names its kind, `(kind, service)` is added to `unloaded`)."""
    shown = doc.path
    data = doc.data
    if data is None:
        diags.append(Diagnostic(shown, 1, 1, "", "file is empty; expected a mapping with 'apiVersion' and 'kind'"))
        return None
    if not isinstance(data, dict):
        line, col = doc.position(())
        got = type(data).__name__.replace("str", "string").replace("dict", "mapping")
        diags.append(
            Diagnostic(shown, line, col, "", f"expected a mapping with 'apiVersion' and 'kind' at the top level (got a {got})")
        )
        return None
    kind = data.get("kind")
    model = s.KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        if "kind" not in data:
            line, col = doc.position(())
            diags.append(Diagnostic(shown, line, col, "kind", "missing; every spec file declares its kind",
                                    hint=f"add 'kind: <one of {', '.join(s.KINDS)}>'"))
        else:
            line, col = doc.position(("kind",))
            diags.append(Diagnostic(shown, line, col, "kind",
                                    f"expected one of {', '.join(repr(k) for k in s.KINDS)} (got {kind!r})",
                                    hint=did_you_mean(str(kind), list(s.KINDS))))
        return None
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        diags.extend(pydantic_diagnostics(e, doc))
        if unloaded is not None:
            service = data.get("name") if kind == "Service" else data.get("service")
            unloaded.append((str(kind), service if isinstance(service, str) else None))
        return None
    return Loaded(spec, doc)


def place(specs: Specs, loaded: Loaded[Any], diags: list[Diagnostic]) -> None:
    spec = loaded.spec
    if isinstance(spec, s.ProjectSpec):
        if specs.project is not None:
            line, col = loaded.doc.position(("kind",))
            diags.append(Diagnostic(loaded.path, line, col, "kind", f"a second Project spec (the first is {specs.project.path})"))
        else:
            specs.project = loaded
        return
    if isinstance(spec, s.GatePolicySpec):
        specs.policies.append(loaded)
        return
    name = spec.name if isinstance(spec, s.ServiceSpec) else spec.service
    bundle = specs.services.setdefault(name, ServiceBundle(name))
    if isinstance(spec, s.ServiceSpec):
        if bundle.service is not None:
            line, col = loaded.doc.position(("name",))
            diags.append(Diagnostic(loaded.path, line, col, "name",
                                    f"service {name!r} is already declared in {bundle.service.path}"))
        else:
            bundle.service = loaded
    elif isinstance(spec, s.ToolSetSpec):
        bundle.toolsets.append(loaded)
    elif isinstance(spec, s.ExamplesSpec):
        bundle.examples.append(loaded)
    elif isinstance(spec, s.EdgeCasesSpec):
        bundle.edge_cases.append(loaded)
    elif isinstance(spec, s.VocabularySpec):
        bundle.vocabularies.append(loaded)
    elif isinstance(spec, s.TestScenariosSpec):
        bundle.tests.append(loaded)


def pydantic_diagnostics(error: ValidationError, doc: Document) -> list[Diagnostic]:
    """One Diagnostic per pydantic error, pointing at the key or the value."""
    out = []
    for err in error.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        etype = err["type"]
        if etype == "extra_forbidden":
            line, col = doc.position(loc, key=True)
            key = loc[-1]
            parent = _parent_model_fields(error, loc)
            hint = did_you_mean(str(key), parent) if parent else None
            out.append(Diagnostic(doc.path, line, col, dotted(loc), "unknown key", hint=hint))
        elif etype == "missing":
            line, col = doc.position(loc[:-1])
            out.append(Diagnostic(doc.path, line, col, dotted(loc[:-1]) or "(top level)",
                                  f"missing required key {loc[-1]!r}"))
        else:
            line, col = doc.position(loc)
            msg = _message(err)
            out.append(Diagnostic(doc.path, line, col, dotted(loc), msg))
    return out


def _message(err: Any) -> str:
    etype = err["type"]
    got = err.get("input")
    shown = _show(got)
    ctx = err.get("ctx") or {}
    if etype == "literal_error":
        return f"expected {ctx.get('expected')} (got {shown})"
    if etype == "value_error":
        return str(ctx.get("error", err["msg"]))
    if etype in ("string_type", "int_type", "float_type", "bool_type", "dict_type", "list_type",
                 "int_parsing", "float_parsing", "bool_parsing", "date_parsing", "date_from_datetime_parsing",
                 "model_type", "date_type"):
        want = {"string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
                "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
                "bool_parsing": "true or false", "dict_type": "a mapping", "model_type": "a mapping",
                "list_type": "a list", "date_parsing": "a date (YYYY-MM-DD)",
                "date_from_datetime_parsing": "a date (YYYY-MM-DD)", "date_type": "a date (YYYY-MM-DD)"}[etype]
        return f"expected {want} (got {shown})"
    if etype == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')!r} (got {shown})"
    return f"{err['msg'][0].lower()}{err['msg'][1:]} (got {shown})"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parent_model_fields(error: ValidationError, loc: tuple[Any, ...]) -> list[str]:
    """Field names that were legal where an unknown key appeared (for did-you-mean)."""
    kinds: list[type[Any]] = [*s.KINDS.values(), s.ModelRegistrySpec]
    model: Any = next((m for m in kinds if m.__name__ == error.title), None)
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return []
        model = _inner_model(info.annotation)
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
