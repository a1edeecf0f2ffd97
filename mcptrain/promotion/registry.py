"""The model registry: `models/registry.yaml`, every version of every model, kept in git.

Edited round-trip (ruamel.yaml): a person's comments, key order and formatting survive
every edit mcptrain makes. Read with positions and validated like any spec, so a registry
broken by hand is reported as `models/registry.yaml:line:col: ...` and never rewritten.

    apiVersion: mcptrain/v1
    kind: ModelRegistry
    models:
      acme-assistant:            # the Project's name
        - version: 1.0.0
          status: production     # candidate | production | deprecated | rejected
          ...                    # see ModelVersionSpec (specs/models.py)

Public API (used by promotion, the reconciler and the commands): `read_registry`,
`parse_registry`, `Registry` (`versions`, `production`, `find`, `put_candidate`,
`release`, `text`), `production_summary`, `metrics_of`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mcptrain.errors import Diagnostic, SpecError
from mcptrain.specs.loader import pydantic_diagnostics
from mcptrain.specs.models import API_VERSION, ModelRegistrySpec, ModelVersionSpec
from mcptrain.specs.yaml import (
    YAMLError,
    dump_roundtrip,
    parse_document,
    parse_roundtrip,
    roundtrip_value,
)

REGISTRY_FILE = "models/registry.yaml"
HEADER = ("# yaml-language-server: $schema=../schemas/ModelRegistry.json\n"
          "# The model registry, written by `mcptrain promote` and `mcptrain release`; comments and\n"
          "# order you add here are kept. `mcptrain registry show` lists it.\n")
UNRELEASED = ("candidate", "rejected")


class Registry:
    """One registry document: `spec` the validated view, the round-trip tree underneath."""

    def __init__(self, tree: Any, spec: ModelRegistrySpec, display: str = REGISTRY_FILE) -> None:
        self._tree = tree
        self.spec = spec
        self.display = display

    def versions(self, model: str) -> list[ModelVersionSpec]:
        return list(self.spec.models.get(model, []))

    def production(self, model: str) -> ModelVersionSpec | None:
        return next((v for v in self.versions(model) if v.status == "production"), None)

    def find(self, model: str, version: str) -> ModelVersionSpec | None:
        return next((v for v in self.versions(model) if v.version == version), None)

    def put_candidate(self, model: str, entry: dict[str, Any]) -> list[str]:
        """Add `entry` (a ModelVersionSpec as plain data) in place of the model's unreleased
        entries (candidate or rejected, never released); the versions it replaced."""
        ModelVersionSpec.model_validate(entry)
        seq = self._model_seq(model)
        replaced = [str(item["version"]) for item in seq
                    if item.get("status") in UNRELEASED and not item.get("released_at")]
        for i in reversed(range(len(seq))):
            if str(seq[i]["version"]) in replaced:
                del seq[i]
        seq.append(roundtrip_value(entry))
        self._revalidate()
        return replaced

    def release(self, model: str, version: str, when: str) -> str | None:
        """Mark `version` production (released at `when`) and the previous production
        deprecated; the previous production version, if any."""
        previous = None
        for item in self._model_seq(model):
            if item.get("status") == "production" and str(item["version"]) != version:
                item["status"] = "deprecated"
                previous = str(item["version"])
            if str(item["version"]) == version:
                item["status"] = "production"
                item["released_at"] = when
        self._revalidate()
        return previous

    def text(self) -> str:
        return dump_roundtrip(self._tree)

    def _model_seq(self, model: str) -> Any:
        models = self._tree.setdefault("models", roundtrip_value({}))
        if models is None:
            models = self._tree["models"] = roundtrip_value({})
        models.fa.set_block_style()
        if models.get(model) is None:
            models[model] = roundtrip_value([])
        seq = models[model]
        if hasattr(seq, "fa"):
            seq.fa.set_block_style()
        return seq

    def _revalidate(self) -> None:
        self.spec = ModelRegistrySpec.model_validate(self._tree)


def empty_registry() -> Registry:
    text = f"{HEADER}apiVersion: {API_VERSION}\nkind: ModelRegistry\nmodels: {{}}\n"
    return parse_registry(text)


def read_registry(root: Path) -> Registry:
    """`models/registry.yaml` of the working tree (an empty registry when there is none);
    SpecError with every problem at its file:line:col when it is invalid."""
    path = root / REGISTRY_FILE
    if not path.is_file():
        return empty_registry()
    return parse_registry(path.read_text(encoding="utf-8"), REGISTRY_FILE)


def parse_registry(text: str, display: str = REGISTRY_FILE) -> Registry:
    diags = check_registry(text, display)
    if diags:
        raise SpecError(diags)
    tree = parse_roundtrip(text)
    return Registry(tree, ModelRegistrySpec.model_validate(tree), display)


def check_registry(text: str, display: str = REGISTRY_FILE) -> list[Diagnostic]:
    """Every problem of a registry document (`mcptrain validate` reports these too)."""
    try:
        doc = parse_document(text.encode("utf-8"), display)
    except YAMLError as e:
        return [Diagnostic(display, e.line, e.col, "", e.message)]
    if not isinstance(doc.data, dict):
        return [Diagnostic(display, 1, 1, "", "expected a mapping with 'apiVersion: mcptrain/v1' and "
                                              "'kind: ModelRegistry'")]
    try:
        spec = ModelRegistrySpec.model_validate(doc.data)
    except ValidationError as e:
        return pydantic_diagnostics(e, doc)
    out = []
    for name, versions in spec.models.items():
        seen: set[str] = set()
        live = []
        for i, v in enumerate(versions):
            if v.version in seen:
                line, col = doc.position(("models", name, i, "version"))
                out.append(Diagnostic(display, line, col, f"models.{name}[{i}].version",
                                      f"version {v.version} is listed twice"))
            seen.add(v.version)
            if v.status == "production":
                live.append(i)
        for i in live[1:]:
            line, col = doc.position(("models", name, i, "status"))
            out.append(Diagnostic(display, line, col, f"models.{name}[{i}].status",
                                  f"a second production version ({versions[live[0]].version} is production)",
                                  hint="at most one version of a model is production; mark the older one deprecated"))
    return out


def metrics_of(summary: dict[str, Any]) -> dict[str, Any]:
    """An evaluation summary's scores as the registry keeps them (ModelVersionSpec.metrics)."""
    def score(s: dict[str, Any]) -> dict[str, Any]:
        return {"accuracy": round(float(s["accuracy"]), 4), "correct": int(s["correct"]), "n": int(s["n"])}

    by = summary.get("by", {})
    return {"overall": score(summary["overall"]),
            **{dim: {k: score(v) for k, v in by.get(dim, {}).items()} for dim in ("category", "service", "priority")}}


def production_summary(entry: ModelVersionSpec) -> dict[str, Any]:
    """A registry entry's metrics in the shape `gates.apply_gates` reads as `production`."""
    def score(s: Any) -> dict[str, Any]:  # exact, not the rounded accuracy the file shows
        return {"accuracy": s.correct / s.n if s.n else 0.0, "correct": s.correct, "n": s.n}

    m = entry.metrics
    return {"overall": score(m.overall),
            "by": {dim: {k: score(s) for k, s in getattr(m, dim).items()}
                   for dim in ("category", "service", "priority")}}


def history(registry: Registry) -> Iterator[tuple[str, ModelVersionSpec]]:
    for name, versions in registry.spec.models.items():
        for v in versions:
            yield name, v
